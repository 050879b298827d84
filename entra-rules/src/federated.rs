//! Entra's rules for federated identity credentials, as it applies them when a credential is
//! created (on an app through Microsoft Graph, on a user-assigned managed identity through ARM):
//!
//! - the name is 3 to 120 characters of `[A-Za-z0-9_-]`, starting with a letter or digit
//!   ([`check_name`]);
//! - the issuer is an `https://` URL with a host, at most 600 long ([`check_issuer`]);
//! - the subject is 1 to 600 long ([`check_subject`]);
//! - there is exactly one audience, 1 to 600 long ([`check_audiences`]);
//! - names, and issuer and subject together, are unique per identity ([`check_unique`]);
//! - an app or identity has at most [`MAX_FEDERATED_CREDENTIALS`] ([`check_count`]).
//!
//! [`validate_federated_credential`] applies the rules about one credential and
//! [`validate_federated_credentials`] every rule to an identity's list, in the order mock-entra
//! answers them (the limit first, then each credential in turn), returning the first refusal. A
//! loader that wants every problem at once calls the rules one by one.
//!
//! Lengths are counted in UTF-8 bytes. Entra documents characters; for ASCII, which issuer URLs
//! and nearly every subject are, the two agree, and bytes are never the more lenient count.

use std::ops::RangeInclusive;

/// The most federated identity credentials one app or managed identity may have.
pub const MAX_FEDERATED_CREDENTIALS: usize = 20;

/// How long a name may be.
pub const NAME_LENGTH: RangeInclusive<usize> = 3..=120;

/// The longest issuer, subject or audience Entra accepts.
pub const MAX_VALUE_LENGTH: usize = 600;

/// The audience Entra recommends, and the one credentials get when none is given.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A federated identity credential as the rules see it, borrowed from whoever holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FederatedCredentialRef<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audiences: &'a [String],
}

/// Why Entra refuses a federated identity credential. Each message names the field and what is
/// wrong with it; [`FederatedCredentialError::entra_message`] is what mock-entra answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FederatedCredentialError {
    #[error("the name `{name}` is {len} {} long; Entra allows 3 to 120", characters(*.len))]
    NameLength { name: String, len: usize },
    #[error("the name `{name}` starts with `{first}`; Entra wants a letter or digit first")]
    NameStart { name: String, first: char },
    #[error("the name `{name}` has `{found}`; Entra allows only letters, digits, `-` and `_`")]
    NameCharacter { name: String, found: char },
    #[error("the issuer `{issuer}` is not an https URL with a host; Entra accepts no other")]
    IssuerNotHttpsUrl { issuer: String },
    #[error("the issuer is {len} bytes long; Entra allows at most 600")]
    IssuerTooLong { issuer: String, len: usize },
    #[error("the subject is empty; Entra wants 1 to 600 bytes")]
    SubjectEmpty,
    #[error("the subject is {len} bytes long; Entra allows at most 600")]
    SubjectTooLong { len: usize },
    #[error("{count} audiences; Entra wants exactly one")]
    AudienceCount { count: usize },
    #[error("the audience is empty; Entra wants 1 to 600 bytes")]
    AudienceEmpty,
    #[error("the audience is {len} bytes long; Entra allows at most 600")]
    AudienceTooLong { len: usize },
    /// `earlier`: the index of the credential that already has the name.
    #[error(
        "another federated identity credential of this identity is named `{name}`; Entra refuses duplicates"
    )]
    DuplicateName { name: String, earlier: usize },
    /// `earlier`: the index of the credential that already has the issuer and subject.
    #[error(
        "another federated identity credential of this identity has the issuer `{issuer}` and the subject `{subject}`; Entra refuses duplicates"
    )]
    DuplicateIssuerSubject {
        issuer: String,
        subject: String,
        earlier: usize,
    },
    #[error("{count} federated identity credentials on one identity; Entra allows at most 20")]
    TooMany { count: usize },
}

impl FederatedCredentialError {
    /// What mock-entra answers for this refusal: the `problem` of its
    /// `DirectoryError::InvalidFederatedCredential` (the limit is its own variant,
    /// `TooManyFederatedCredentials`, and this is only its tail). Entra's own text where the fake
    /// has it: a duplicate issuer and subject is refused with ARM's message for managed identities,
    /// verbatim. The other rules have no AADSTS code (they are refused when a credential is
    /// created, not at the token endpoint); the fake describes them in its own words.
    pub fn entra_message(&self) -> String {
        use FederatedCredentialError as E;
        match self {
            E::NameLength { .. } | E::NameStart { .. } | E::NameCharacter { .. } => {
                "the name must be 3 to 120 characters of letters, digits, '-' and '_', starting \
                 with a letter or digit"
                    .to_owned()
            }
            E::IssuerNotHttpsUrl { issuer } | E::IssuerTooLong { issuer, .. } => {
                format!("the issuer {issuer:?} must be an https URL of at most 600 characters")
            }
            E::SubjectEmpty | E::SubjectTooLong { .. } => {
                "the subject must be 1 to 600 characters".to_owned()
            }
            E::AudienceCount { count } => format!("must have exactly one audience, has {count}"),
            E::AudienceEmpty | E::AudienceTooLong { .. } => {
                "the audience must be 1 to 600 characters".to_owned()
            }
            E::DuplicateName { .. } => "the name is already used on this identity".to_owned(),
            E::DuplicateIssuerSubject { .. } => {
                "Issuer and subject combination already exists for this Managed Identity".to_owned()
            }
            E::TooMany { count } => format!(
                "would have {count} federated identity credentials; Entra allows at most {MAX_FEDERATED_CREDENTIALS}"
            ),
        }
    }
}

/// `character` or `characters`, for `n`.
fn characters(n: usize) -> &'static str {
    if n == 1 { "character" } else { "characters" }
}

/// The name: 3 to 120 characters of letters, digits, `-` and `_`, a letter or digit first.
pub fn check_name(name: &str) -> Result<(), FederatedCredentialError> {
    if let Some(first) = name.chars().next()
        && !first.is_ascii_alphanumeric()
    {
        return Err(FederatedCredentialError::NameStart {
            name: name.to_owned(),
            first,
        });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(FederatedCredentialError::NameCharacter {
            name: name.to_owned(),
            found,
        });
    }
    // Only ASCII is left, so bytes are characters.
    if !NAME_LENGTH.contains(&name.len()) {
        return Err(FederatedCredentialError::NameLength {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(())
}

/// The host of an `https://` URL (up to the first `/`, `?` or `#`), if it has one.
pub fn issuer_host(issuer: &str) -> Option<&str> {
    let rest = issuer.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

/// The issuer: an `https://` URL with a host, at most 600 bytes.
pub fn check_issuer(issuer: &str) -> Result<(), FederatedCredentialError> {
    if issuer_host(issuer).is_none() {
        return Err(FederatedCredentialError::IssuerNotHttpsUrl {
            issuer: issuer.to_owned(),
        });
    }
    if issuer.len() > MAX_VALUE_LENGTH {
        return Err(FederatedCredentialError::IssuerTooLong {
            issuer: issuer.to_owned(),
            len: issuer.len(),
        });
    }
    Ok(())
}

/// The subject: 1 to 600 bytes, anything else goes.
pub fn check_subject(subject: &str) -> Result<(), FederatedCredentialError> {
    if subject.is_empty() {
        return Err(FederatedCredentialError::SubjectEmpty);
    }
    if subject.len() > MAX_VALUE_LENGTH {
        return Err(FederatedCredentialError::SubjectTooLong { len: subject.len() });
    }
    Ok(())
}

/// Exactly one audience.
pub fn check_audience_count(count: usize) -> Result<(), FederatedCredentialError> {
    if count != 1 {
        return Err(FederatedCredentialError::AudienceCount { count });
    }
    Ok(())
}

/// One audience: 1 to 600 bytes.
pub fn check_audience(audience: &str) -> Result<(), FederatedCredentialError> {
    if audience.is_empty() {
        return Err(FederatedCredentialError::AudienceEmpty);
    }
    if audience.len() > MAX_VALUE_LENGTH {
        return Err(FederatedCredentialError::AudienceTooLong {
            len: audience.len(),
        });
    }
    Ok(())
}

/// The audiences: exactly one, of 1 to 600 bytes.
pub fn check_audiences<S: AsRef<str>>(audiences: &[S]) -> Result<(), FederatedCredentialError> {
    check_audience_count(audiences.len())?;
    audiences
        .iter()
        .try_for_each(|a| check_audience(a.as_ref()))
}

/// How many credentials one app or identity would have: at most 20.
pub fn check_count(count: usize) -> Result<(), FederatedCredentialError> {
    if count > MAX_FEDERATED_CREDENTIALS {
        return Err(FederatedCredentialError::TooMany { count });
    }
    Ok(())
}

/// `fic` against the credentials the identity already has: its name, then its issuer and
/// subject together, must not be taken. The error says which of `earlier` has them.
pub fn check_unique<'a>(
    earlier: impl IntoIterator<Item = FederatedCredentialRef<'a>>,
    fic: FederatedCredentialRef<'_>,
) -> Result<(), FederatedCredentialError> {
    let earlier: Vec<FederatedCredentialRef<'a>> = earlier.into_iter().collect();
    if let Some(i) = earlier.iter().position(|f| f.name == fic.name) {
        return Err(FederatedCredentialError::DuplicateName {
            name: fic.name.to_owned(),
            earlier: i,
        });
    }
    if let Some(i) = earlier
        .iter()
        .position(|f| f.issuer == fic.issuer && f.subject == fic.subject)
    {
        return Err(FederatedCredentialError::DuplicateIssuerSubject {
            issuer: fic.issuer.to_owned(),
            subject: fic.subject.to_owned(),
            earlier: i,
        });
    }
    Ok(())
}

/// The rules about one credential on its own: name, issuer, subject, audiences, in that order.
pub fn validate_federated_credential(
    fic: FederatedCredentialRef<'_>,
) -> Result<(), FederatedCredentialError> {
    check_name(fic.name)?;
    check_issuer(fic.issuer)?;
    check_subject(fic.subject)?;
    check_audiences(fic.audiences)
}

/// Which credential of a list was refused (`None`: the list, for being too long), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub index: Option<usize>,
    pub error: FederatedCredentialError,
}

/// Every rule over one identity's credentials, in mock-entra's order: the limit, then each
/// credential in turn on its own and against those before it. The first refusal.
pub fn validate_federated_credentials(fics: &[FederatedCredentialRef<'_>]) -> Result<(), Refused> {
    check_count(fics.len()).map_err(|error| Refused { index: None, error })?;
    for (i, fic) in fics.iter().enumerate() {
        validate_federated_credential(*fic)
            .and_then(|()| check_unique(fics[..i].iter().copied(), *fic))
            .map_err(|error| Refused {
                index: Some(i),
                error,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = FederatedCredentialError;

    fn fic<'a>(
        name: &'a str,
        subject: &'a str,
        audiences: &'a [String],
    ) -> FederatedCredentialRef<'a> {
        FederatedCredentialRef {
            name,
            issuer: "https://issuer.example/",
            subject,
            audiences,
        }
    }

    fn exchange() -> Vec<String> {
        vec![EXCHANGE_AUDIENCE.to_owned()]
    }

    #[test]
    fn names_are_3_to_120_url_friendly_characters_starting_alphanumeric() {
        for ok in ["abc", "ok-name_1", "0lead", "A-_", &"x".repeat(120)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_name("ab"),
            Err(E::NameLength {
                name: "ab".into(),
                len: 2
            })
        );
        assert_eq!(
            check_name(""),
            Err(E::NameLength {
                name: String::new(),
                len: 0
            })
        );
        assert_eq!(
            check_name("a").map_err(|e| e.to_string()),
            Err("the name `a` is 1 character long; Entra allows 3 to 120".to_owned())
        );
        assert!(matches!(
            check_name(&"x".repeat(121)),
            Err(E::NameLength { len: 121, .. })
        ));
        assert_eq!(
            check_name("-bad"),
            Err(E::NameStart {
                name: "-bad".into(),
                first: '-'
            })
        );
        assert!(matches!(
            check_name("_bad"),
            Err(E::NameStart { first: '_', .. })
        ));
        assert_eq!(
            check_name("has space"),
            Err(E::NameCharacter {
                name: "has space".into(),
                found: ' '
            })
        );
        assert!(matches!(
            check_name("dot.ted"),
            Err(E::NameCharacter { found: '.', .. })
        ));
        // Not ASCII: refused for the character, whatever the byte count.
        assert!(matches!(
            check_name("ünï"),
            Err(E::NameStart { first: 'ü', .. })
        ));
        assert!(matches!(
            check_name("caf\u{e9}"),
            Err(E::NameCharacter { found: 'é', .. })
        ));
    }

    #[test]
    fn issuers_are_https_urls_with_a_host_of_at_most_600_bytes() {
        for ok in [
            "https://issuer.example",
            "https://issuer.example/",
            "https://token.actions.githubusercontent.com",
            "https://oidc.example/tenant/v2.0?x=1",
        ] {
            assert_eq!(check_issuer(ok), Ok(()), "{ok}");
        }
        let long_ok = format!("https://issuer.example/{}", "p".repeat(600 - 23));
        assert_eq!(long_ok.len(), 600);
        assert_eq!(check_issuer(&long_ok), Ok(()));
        let too_long = format!("{long_ok}p");
        assert_eq!(
            check_issuer(&too_long),
            Err(E::IssuerTooLong {
                issuer: too_long.clone(),
                len: 601
            })
        );
        for bad in [
            "",
            "http://plain.example",
            "HTTPS://upper.example",
            "https://",
            "https:///path",
            "https://?q",
            "https://#f",
            "issuer.example",
        ] {
            assert_eq!(
                check_issuer(bad),
                Err(E::IssuerNotHttpsUrl { issuer: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(
            issuer_host("https://oidc.example:8443/x"),
            Some("oidc.example:8443")
        );
    }

    #[test]
    fn subjects_are_1_to_600_bytes() {
        assert_eq!(check_subject("s"), Ok(()));
        assert_eq!(check_subject("system:serviceaccount:ns:sa"), Ok(()));
        assert_eq!(check_subject(&"s".repeat(600)), Ok(()));
        assert_eq!(check_subject(""), Err(E::SubjectEmpty));
        assert_eq!(
            check_subject(&"s".repeat(601)),
            Err(E::SubjectTooLong { len: 601 })
        );
        // 300 two-byte characters are 600 bytes; one more is too many.
        assert_eq!(check_subject(&"é".repeat(300)), Ok(()));
        assert_eq!(
            check_subject(&"é".repeat(301)),
            Err(E::SubjectTooLong { len: 602 })
        );
    }

    #[test]
    fn there_is_exactly_one_audience_of_1_to_600_bytes() {
        assert_eq!(check_audiences(&[EXCHANGE_AUDIENCE]), Ok(()));
        assert_eq!(check_audiences(&["a".repeat(600)]), Ok(()));
        assert_eq!(
            check_audiences::<&str>(&[]),
            Err(E::AudienceCount { count: 0 })
        );
        assert_eq!(
            check_audiences(&["a", "b"]),
            Err(E::AudienceCount { count: 2 })
        );
        assert_eq!(check_audiences(&[""]), Err(E::AudienceEmpty));
        assert_eq!(
            check_audiences(&["a".repeat(601)]),
            Err(E::AudienceTooLong { len: 601 })
        );
        assert_eq!(check_audience_count(1), Ok(()));
        assert_eq!(check_audience("api://custom"), Ok(()));
    }

    #[test]
    fn at_most_twenty_per_identity() {
        assert_eq!(check_count(0), Ok(()));
        assert_eq!(check_count(MAX_FEDERATED_CREDENTIALS), Ok(()));
        assert_eq!(check_count(21), Err(E::TooMany { count: 21 }));
    }

    #[test]
    fn names_and_issuer_subject_pairs_are_unique_per_identity() {
        let aud = exchange();
        let earlier = [fic("one", "sub-1", &aud), fic("two", "sub-2", &aud)];
        assert_eq!(check_unique(earlier, fic("three", "sub-3", &aud)), Ok(()));
        assert_eq!(
            check_unique(earlier, fic("two", "sub-3", &aud)),
            Err(E::DuplicateName {
                name: "two".into(),
                earlier: 1
            })
        );
        assert_eq!(
            check_unique(earlier, fic("three", "sub-1", &aud)),
            Err(E::DuplicateIssuerSubject {
                issuer: "https://issuer.example/".into(),
                subject: "sub-1".into(),
                earlier: 0
            })
        );
        // The same subject under another issuer is another credential.
        let other = FederatedCredentialRef {
            issuer: "https://other.example/",
            ..fic("three", "sub-1", &aud)
        };
        assert_eq!(check_unique(earlier, other), Ok(()));
        // Names compare exactly, as mock-entra compares them.
        assert_eq!(check_unique(earlier, fic("One", "sub-4", &aud)), Ok(()));
    }

    #[test]
    fn one_credential_is_checked_name_issuer_subject_audiences() {
        let aud = exchange();
        assert_eq!(
            validate_federated_credential(fic("fine", "s", &aud)),
            Ok(())
        );
        let all_wrong = FederatedCredentialRef {
            name: "-",
            issuer: "http://x",
            subject: "",
            audiences: &[],
        };
        assert!(matches!(
            validate_federated_credential(all_wrong),
            Err(E::NameStart { .. })
        ));
        let name_ok = FederatedCredentialRef {
            name: "fine",
            ..all_wrong
        };
        assert!(matches!(
            validate_federated_credential(name_ok),
            Err(E::IssuerNotHttpsUrl { .. })
        ));
        let issuer_ok = FederatedCredentialRef {
            issuer: "https://x",
            ..name_ok
        };
        assert_eq!(
            validate_federated_credential(issuer_ok),
            Err(E::SubjectEmpty)
        );
        let subject_ok = FederatedCredentialRef {
            subject: "s",
            ..issuer_ok
        };
        assert_eq!(
            validate_federated_credential(subject_ok),
            Err(E::AudienceCount { count: 0 })
        );
    }

    #[test]
    fn a_list_is_checked_limit_first_then_each_in_turn() {
        let aud = exchange();
        let names: Vec<String> = (0..21).map(|i| format!("fic-{i}")).collect();
        let subjects: Vec<String> = (0..21).map(|i| format!("sub-{i}")).collect();
        let list: Vec<FederatedCredentialRef<'_>> = names
            .iter()
            .zip(&subjects)
            .map(|(n, s)| fic(n, s, &aud))
            .collect();
        assert_eq!(validate_federated_credentials(&list[..20]), Ok(()));
        assert_eq!(
            validate_federated_credentials(&list),
            Err(Refused {
                index: None,
                error: E::TooMany { count: 21 }
            })
        );
        // The limit comes before a bad credential.
        let mut bad = list.clone();
        bad[0].name = "-";
        assert_eq!(
            validate_federated_credentials(&bad).map_err(|r| r.index),
            Err(None)
        );
        let short = [fic("one", "s", &aud), fic("x", "t", &aud)];
        assert!(matches!(
            validate_federated_credentials(&short),
            Err(Refused {
                index: Some(1),
                error: E::NameLength { .. }
            })
        ));
        let dup = [fic("one", "s", &aud), fic("two", "s", &aud)];
        assert!(matches!(
            validate_federated_credentials(&dup),
            Err(Refused {
                index: Some(1),
                error: E::DuplicateIssuerSubject { earlier: 0, .. }
            })
        ));
    }

    #[test]
    fn messages_are_lowercase_and_name_what_is_wrong() {
        let errors = [
            check_name("ab").unwrap_err(),
            check_name("-a").unwrap_err(),
            check_name("a b").unwrap_err(),
            check_issuer("http://x").unwrap_err(),
            check_issuer(&format!("https://x/{}", "p".repeat(600))).unwrap_err(),
            check_subject("").unwrap_err(),
            check_subject(&"s".repeat(601)).unwrap_err(),
            check_audiences(&["a", "b"]).unwrap_err(),
            check_audience("").unwrap_err(),
            check_audience(&"a".repeat(601)).unwrap_err(),
            E::DuplicateName {
                name: "n".into(),
                earlier: 0,
            },
            E::DuplicateIssuerSubject {
                issuer: "https://i".into(),
                subject: "s".into(),
                earlier: 0,
            },
            check_count(21).unwrap_err(),
        ];
        for e in errors {
            let text = e.to_string();
            let first = text.chars().next().unwrap_or(' ');
            assert!(!first.is_uppercase(), "{text}");
            assert!(text.contains("Entra"), "{text}");
            assert!(!e.entra_message().is_empty());
        }
    }

    /// The texts mock-entra has always answered (its `DirectoryError::InvalidFederatedCredential`
    /// problem), pinned so the fake keeps answering them.
    #[test]
    fn entra_messages_are_what_mock_entra_answers() {
        let name = "the name must be 3 to 120 characters of letters, digits, '-' and '_', starting with a letter or digit";
        assert_eq!(check_name("ab").unwrap_err().entra_message(), name);
        assert_eq!(check_name("-ab").unwrap_err().entra_message(), name);
        assert_eq!(check_name("a b").unwrap_err().entra_message(), name);
        assert_eq!(
            check_issuer("http://plain.example")
                .unwrap_err()
                .entra_message(),
            "the issuer \"http://plain.example\" must be an https URL of at most 600 characters"
        );
        assert_eq!(
            check_subject("").unwrap_err().entra_message(),
            "the subject must be 1 to 600 characters"
        );
        assert_eq!(
            check_audiences::<&str>(&[]).unwrap_err().entra_message(),
            "must have exactly one audience, has 0"
        );
        assert_eq!(
            check_audience("").unwrap_err().entra_message(),
            "the audience must be 1 to 600 characters"
        );
        assert_eq!(
            E::DuplicateName {
                name: "n".into(),
                earlier: 0
            }
            .entra_message(),
            "the name is already used on this identity"
        );
        assert_eq!(
            E::DuplicateIssuerSubject {
                issuer: "https://i".into(),
                subject: "s".into(),
                earlier: 0
            }
            .entra_message(),
            "Issuer and subject combination already exists for this Managed Identity"
        );
    }
}
