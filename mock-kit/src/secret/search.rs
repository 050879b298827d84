//! The leak search: every occurrence of every registered secret in a text, raw
//! ([`SecretRegistry::find_in`]) or through the encodings credentials take
//! ([`SecretRegistry::search`], with the decoders of [`crate::leak`]).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::registry::Inner;
use super::{MIN_SECRET_LEN, SecretInfo, SecretRegistry};
use crate::leak::{self, Form};

/// One occurrence of a registered secret in a searched text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretHit {
    pub secret: SecretInfo,
    /// Byte offset of the occurrence in the searched text: the raw value's, or the start of the
    /// encoded text it was decoded from.
    pub offset: usize,
    /// Bytes from `offset` that hold it (the raw value, or the whole encoded text), so that a
    /// redaction can replace them.
    pub len: usize,
    /// 1-based line of the occurrence, for `file:line` evidence.
    pub line: usize,
    /// How it was found: raw, or through which encodings.
    #[serde(default)]
    pub form: Form,
}

impl SecretHit {
    /// The bytes of the searched text that hold the secret.
    pub fn span(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl SecretRegistry {
    /// Every occurrence of every registered secret in `text` as it was minted (a JWT also by its
    /// signature segment alone), in order of position.
    pub fn find_in(&self, text: &str) -> Vec<SecretHit> {
        let bytes = text.as_bytes();
        let inner = self.inner.read().expect("secret registry lock");
        let mut hits = inner.raw_secret_hits(bytes);
        hits.sort_by_key(|h| h.offset);
        hits
    }

    /// Every occurrence of every registered secret in `text`, raw or in any of the encodings
    /// credentials take in logs, files and requests (see [`crate::leak`]): one hit per secret
    /// and place, the plainest form first, in order of position.
    pub fn search(&self, text: &[u8]) -> Vec<SecretHit> {
        let inner = self.inner.read().expect("secret registry lock");
        if inner.entries.is_empty() || text.len() < MIN_SECRET_LEN {
            return Vec::new();
        }
        let mut hits = inner.raw_secret_hits(text);
        for c in leak::candidates(text) {
            let outer = Outer {
                text,
                start: c.start,
                end: c.end,
                context: leak::context_before(text, c.start),
            };
            let mut layers = vec![c.layer];
            inner.decoded_hits(&c.bytes, &mut layers, c.wrapped, &outer, &mut hits);
        }
        plainest_per_place(hits)
    }

    /// The distinct secrets that occur in any of `texts`, in order of first appearance.
    pub fn distinct_in<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<SecretInfo> {
        let mut out: Vec<SecretInfo> = Vec::new();
        for text in texts {
            for hit in self.find_in(text) {
                if !out.iter().any(|s| s.fingerprint == hit.secret.fingerprint) {
                    out.push(hit.secret);
                }
            }
        }
        out
    }
}

/// One hit per secret and place (overlapping spans are the same occurrence, found again from
/// another alignment or line join): the plainest form wins. In order of position.
fn plainest_per_place(mut hits: Vec<SecretHit>) -> Vec<SecretHit> {
    hits.sort_by(|a, b| {
        let plainness = |h: &SecretHit| {
            (
                h.form.layers.len(),
                h.form.wrapped,
                h.form.jwt_signature,
                h.offset,
            )
        };
        plainness(a).cmp(&plainness(b))
    });
    let mut kept: Vec<SecretHit> = Vec::new();
    for h in hits {
        let seen = kept.iter().any(|k| {
            k.secret.fingerprint == h.secret.fingerprint
                && k.offset < h.offset + h.len.max(1)
                && h.offset < k.offset + k.len.max(1)
        });
        if !seen {
            kept.push(h);
        }
    }
    kept.sort_by_key(|h| h.offset);
    kept
}

/// A raw occurrence: which secret, where it starts and ends, and whether only its JWT signature
/// segment appeared.
struct RawHit {
    id: u64,
    start: usize,
    end: usize,
    signature_only: bool,
}

impl Inner {
    /// Every registered secret in `bytes`, raw.
    fn raw_hits(&self, bytes: &[u8]) -> Vec<RawHit> {
        let mut hits = Vec::new();
        if self.entries.is_empty() || bytes.len() < MIN_SECRET_LEN {
            return hits;
        }
        for end in MIN_SECRET_LEN..=bytes.len() {
            // The searched text is anyone's: no panic on it, even where none can happen.
            let Ok(window) = <&[u8; MIN_SECRET_LEN]>::try_from(&bytes[end - MIN_SECRET_LEN..end])
            else {
                continue;
            };
            let Some(ids) = self.by_tail.get(window) else {
                continue;
            };
            for &id in ids {
                let Some(entry) = self.entries.get(&id) else {
                    continue;
                };
                let value = entry.value.as_bytes();
                if end >= value.len() && &bytes[end - value.len()..end] == value {
                    hits.push(RawHit {
                        id,
                        start: end - value.len(),
                        end,
                        signature_only: false,
                    });
                } else if let Some(n) = entry.signature_len
                    && end >= n
                    && bytes[end - n..end] == value[value.len() - n..]
                {
                    hits.push(RawHit {
                        id,
                        start: end - n,
                        end,
                        signature_only: true,
                    });
                }
            }
        }
        hits
    }

    /// Every registered secret in `text` as it stands there, as hits.
    fn raw_secret_hits(&self, text: &[u8]) -> Vec<SecretHit> {
        self.raw_hits(text)
            .into_iter()
            .filter_map(|raw| Some((self.entries.get(&raw.id)?, raw)))
            .map(|(entry, raw)| SecretHit {
                secret: entry.info.clone(),
                offset: raw.start,
                len: raw.end - raw.start,
                line: line_of(text, raw.start),
                form: Form {
                    jwt_signature: raw.signature_only,
                    ..Form::raw()
                },
            })
            .collect()
    }

    /// Hits in `bytes`, decoded through `layers` (outermost first) from the encoded text `outer`;
    /// then one layer deeper, while [`leak::MAX_LAYERS`] allows.
    fn decoded_hits(
        &self,
        bytes: &[u8],
        layers: &mut Vec<leak::Layer>,
        wrapped: bool,
        outer: &Outer<'_>,
        out: &mut Vec<SecretHit>,
    ) {
        for raw in self.raw_hits(bytes) {
            let Some(entry) = self.entries.get(&raw.id) else {
                continue;
            };
            out.push(outer.hit(
                &entry.info,
                Form {
                    layers: layers.clone(),
                    jwt_signature: raw.signature_only,
                    wrapped,
                    context: outer.context,
                },
            ));
        }
        if layers.len() >= leak::MAX_LAYERS {
            return;
        }
        for c in leak::candidates(bytes) {
            layers.push(c.layer);
            self.decoded_hits(&c.bytes, layers, wrapped || c.wrapped, outer, out);
            layers.pop();
        }
    }
}

/// The outermost encoded text a nested search started from.
struct Outer<'a> {
    text: &'a [u8],
    start: usize,
    end: usize,
    context: Option<leak::Context>,
}

impl Outer<'_> {
    fn hit(&self, info: &SecretInfo, form: Form) -> SecretHit {
        SecretHit {
            secret: info.clone(),
            offset: self.start,
            len: self.end - self.start,
            line: line_of(self.text, self.start),
            form,
        }
    }
}

/// The 1-based line `offset` is on.
fn line_of(text: &[u8], offset: usize) -> usize {
    text[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::secret::{SecretKind, random_token};

    #[test]
    fn registry_finds_every_registered_secret_with_lines() {
        let reg = SecretRegistry::new();
        let (a, fa) = reg
            .register(
                SecretKind::EntraAccessToken,
                "contoso/app",
                "eyJhbGciOi.canary-one",
            )
            .unwrap();
        let b = reg.mint(SecretKind::AcrRefreshToken, "contosoacr", "acr_", 24);
        assert_eq!(reg.len(), 2);
        let text = format!(
            "starting\nAuthorization: Bearer {}\nok\npassword={} and again {}\n",
            a.expose(),
            b.expose(),
            a.expose()
        );
        let hits = reg.find_in(&text);
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert_eq!(hits[0].secret.fingerprint, fa);
        assert_eq!(hits[0].line, 2);
        assert_eq!(hits[1].secret.kind, "acr-refresh-token");
        assert_eq!(hits[1].line, 4);
        assert_eq!(hits[2].line, 4);
        assert_eq!(&text[hits[1].offset..hits[1].offset + 4], "acr_");
        let distinct = reg.distinct_in([text.as_str(), "nothing here"]);
        assert_eq!(distinct.len(), 2);
        assert!(reg.find_in("no secrets in this text at all").is_empty());
    }

    #[test]
    fn secrets_sharing_a_prefix_are_told_apart() {
        let reg = SecretRegistry::new();
        let a = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-AAAAAAAAAAAA";
        let b = "eyJhbGciOiJSUzI1NiJ9.same-claims.signature-BBBBBBBBBBBB";
        reg.register(SecretKind::Canary, "a", a).unwrap();
        reg.register(SecretKind::Canary, "b", b).unwrap();
        let hits = reg.find_in(&format!("token={b}"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].secret.label, "b");
        assert_eq!(hits[0].offset, 6);
        // A truncated copy is not the secret.
        assert!(reg.find_in(&a[..a.len() - 1]).is_empty());
        // Thousands of registrations stay searchable.
        for i in 0..5000 {
            reg.mint(
                SecretKind::Canary,
                &format!("n{i}"),
                "eyJhbGciOiJSUzI1NiJ9.",
                40,
            );
        }
        assert_eq!(reg.find_in(a).len(), 1);
    }

    /// A registry with one ACR refresh token (a JWT) and one client secret.
    fn canaries() -> (SecretRegistry, String, String) {
        let reg = SecretRegistry::new();
        let jwt = format!(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0LWEifQ.{}",
            random_token(342)
        );
        reg.register(
            SecretKind::AcrRefreshToken,
            "contosoacr.azurecr.io for a",
            jwt.clone(),
        )
        .unwrap();
        let cs = reg
            .mint(SecretKind::EntraClientSecret, "contoso/app", "cs8Q~", 35)
            .into_inner();
        (reg, jwt, cs)
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn forms(reg: &SecretRegistry, text: &str) -> Vec<(usize, SecretKind, String)> {
        reg.search(text.as_bytes())
            .into_iter()
            .map(|h| (h.line, h.secret.kind, h.form.to_string()))
            .collect()
    }

    #[test]
    fn encoded_secrets_are_found_with_their_form() {
        let (reg, jwt, cs) = canaries();
        let basic = b64(format!("00000000-0000-0000-0000-000000000000:{jwt}").as_bytes());
        let text = format!("GET /v2/ HTTP/1.1\nAuthorization: Basic {basic}\n");
        assert_eq!(
            forms(&reg, &text),
            [(
                2,
                SecretKind::AcrRefreshToken,
                "as base64 in an HTTP Basic header".to_owned()
            )]
        );
        // Docker's config.json: auths.<host>.auth is base64 of user:password.
        let config = format!(
            "{{\n  \"auths\": {{\n    \"contosoacr.azurecr.io\": {{\n      \"auth\": \"{basic}\"\n    }}\n  }}\n}}\n"
        );
        assert_eq!(
            forms(&reg, &config),
            [(
                4,
                SecretKind::AcrRefreshToken,
                "as base64 in a Docker config `auth` field".to_owned()
            )]
        );
        // A Kubernetes Secret: base64 of that config.json, wrapped at 76 characters.
        let secret_data = b64(config.as_bytes());
        let wrapped: Vec<String> = secret_data
            .as_bytes()
            .chunks(76)
            .map(|c| format!("    {}", String::from_utf8_lossy(c)))
            .collect();
        let manifest = format!("data:\n  .dockerconfigjson: |\n{}\n", wrapped.join("\n"));
        let found = forms(&reg, &manifest);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3);
        assert_eq!(found[0].2, "as base64 inside base64, line-wrapped");
        // base64url without padding, at every alignment of the blob.
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{prefix}:{cs}:suffix"));
            let found = forms(&reg, &format!("cache={blob}"));
            assert_eq!(found.len(), 1, "prefix {prefix:?}: {found:?}");
            assert_eq!(found[0].1, SecretKind::EntraClientSecret);
            // "base64url" when the text uses `-` or `_`; random text may use neither.
            assert!(found[0].2.starts_with("as base64"), "{found:?}");
        }
        // A base64 blob glued to other text still decodes from the right offset.
        let glued = format!("x{}", b64(format!("::{cs}").as_bytes()));
        assert_eq!(forms(&reg, &glued).len(), 1, "{glued}");
    }

    #[test]
    fn escaped_and_partial_forms_are_found() {
        let (reg, jwt, cs) = canaries();
        let sig = jwt.rsplit('.').next().unwrap();
        assert_eq!(
            forms(&reg, &format!("signature: {sig}\n")),
            [(
                1,
                SecretKind::AcrRefreshToken,
                "as its JWT signature segment".to_owned()
            )]
        );
        let pct: String = cs.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(
            forms(&reg, &format!("POST /x?client_secret={pct}&a=b")),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as percent-encoding".to_owned()
            )]
        );
        assert_eq!(
            forms(
                &reg,
                &format!("{{\"secret\":\"{}\"}}", cs.replace('~', "\\u007e"))
            ),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as JSON string escapes".to_owned()
            )]
        );
        assert_eq!(
            forms(&reg, &format!("export S={}", cs.replace('~', "\\~"))),
            [(
                1,
                SecretKind::EntraClientSecret,
                "as shell escapes".to_owned()
            )]
        );
        // The raw value is found once, raw, not again through a decoding of its own characters.
        assert_eq!(
            forms(&reg, &format!("a\n{jwt} and {cs}")),
            [
                (2, SecretKind::AcrRefreshToken, "raw".to_owned()),
                (2, SecretKind::EntraClientSecret, "raw".to_owned())
            ]
        );
        // Text that merely looks encoded finds nothing.
        let noise = b64(&[7u8; 600]);
        assert!(
            reg.search(format!("{noise} %41%42 a\\x41").as_bytes())
                .is_empty()
        );
        // Spans cover the encoded text, so a redaction can replace all of it.
        let basic = b64(format!("u:{cs}").as_bytes());
        let text = format!("Authorization: Basic {basic} done");
        let hit = &reg.search(text.as_bytes())[0];
        assert_eq!(&text[hit.span()], basic);
    }

    #[test]
    fn empty_registry_finds_nothing() {
        assert!(SecretRegistry::new().find_in("anything").is_empty());
    }
}
