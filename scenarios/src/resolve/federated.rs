//! Federated credentials, of the world's identities and of the steps that add them: one issuer
//! (a URL or a cluster's), one subject (literal, or a cluster's ServiceAccount), audiences, and
//! every rule Entra applies when one is created (from `entra-rules`, the rules mock-entra
//! applies), so a file that loads has credentials the fake accepts.

use entra_rules::federated::{self as rules, FederatedCredentialError, FederatedCredentialRef};

use crate::diagnostic::did_you_mean;
use crate::located::{Located, Pos};
use crate::model::{self, EXCHANGE_AUDIENCE, ServiceAccountRef};
use crate::v1alpha1 as doc;

use super::MAX_FEDERATED_CREDENTIALS;
use super::context::Cx;
use super::names::is_https_url;

impl Cx<'_> {
    /// The credentials of the identity `owner` at `owner_path`: at most Entra's limit, each
    /// unique among those before it.
    pub(super) fn federated_credentials(
        &mut self,
        owner_path: &str,
        owner: &Located<String>,
        fics: &[doc::FederatedCredential],
    ) -> Vec<model::FederatedCredential> {
        if let (Some(over), Err(e)) = (
            fics.get(MAX_FEDERATED_CREDENTIALS),
            rules::check_count(fics.len()),
        ) {
            self.error(
                over.name.at,
                format!("{owner_path}.federatedCredentials[{MAX_FEDERATED_CREDENTIALS}]"),
                format!("`{}`: {e}", owner.value),
            );
        }
        let mut out: Vec<(model::FederatedCredential, Pos)> = Vec::new();
        for (k, f) in fics.iter().enumerate() {
            let path = format!("{owner_path}.federatedCredentials[{k}]");
            let fic = self.federated_credential(&path, f);
            self.unique_credential(&out, &fic, f.name.at, &path, "");
            out.push((fic, f.name.at));
        }
        out.into_iter().map(|(f, _)| f).collect()
    }

    /// One credential at `path`, checked on its own (uniqueness is the caller's, which knows the
    /// others).
    pub(super) fn federated_credential(
        &mut self,
        path: &str,
        f: &doc::FederatedCredential,
    ) -> model::FederatedCredential {
        self.entra(
            f.name.at,
            format!("{path}.name"),
            rules::check_name(&f.name),
        );
        let cluster = self.credential_cluster(path, f);
        let issuer = self.credential_issuer(path, f, cluster);
        // The cluster whose issuer this is, whether named or written as its URL.
        let issuer_cluster =
            cluster.or_else(|| self.clusters.iter().position(|c| c.issuer == issuer));
        let (subject, service_account) = self.credential_subject(path, f, cluster, issuer_cluster);
        if f.subject_matches_nothing && f.subject.is_none() {
            self.error(
                f.name.at,
                format!("{path}.subjectMatchesNothing"),
                "`subjectMatchesNothing` applies only to a literal `subject`",
            );
        }
        let audiences = self.credential_audiences(path, f);
        model::FederatedCredential {
            name: f.name.value.clone(),
            issuer,
            subject,
            audiences,
            cluster: f.cluster.as_ref().map(|c| c.value.clone()),
            service_account,
            subject_matches_nothing: f.subject_matches_nothing,
        }
    }

    /// Entra's uniqueness per identity: `fic` (written at `at`, under `path`) against the
    /// credentials the identity has (each with where its name was written). `when` qualifies the
    /// message (`at this step, `). False when refused.
    pub(super) fn unique_credential(
        &mut self,
        earlier: &[(model::FederatedCredential, Pos)],
        fic: &model::FederatedCredential,
        at: Pos,
        path: &str,
        when: &str,
    ) -> bool {
        let Err(e) =
            rules::check_unique(earlier.iter().map(|(f, _)| rules_view(f)), rules_view(fic))
        else {
            return true;
        };
        let (path, first) = match &e {
            FederatedCredentialError::DuplicateName { earlier: i, .. } => {
                (format!("{path}.name"), earlier.get(*i).map(|(_, p)| *p))
            }
            FederatedCredentialError::DuplicateIssuerSubject { earlier: i, .. } => {
                // A missing issuer or subject is an error of its own already.
                if fic.issuer.is_empty() || fic.subject.is_empty() {
                    return true;
                }
                (path.to_owned(), earlier.get(*i).map(|(_, p)| *p))
            }
            _ => (path.to_owned(), None),
        };
        let first = first
            .filter(|p| p.is_known())
            .map(|p| format!(" (first defined at line {})", p.line))
            .unwrap_or_default();
        self.error(at, path, format!("{when}{e}{first}"));
        false
    }

    /// The cluster the credential names (whose issuer it trusts), when it names one instead of
    /// an `issuer`.
    fn credential_cluster(&mut self, path: &str, f: &doc::FederatedCredential) -> Option<usize> {
        match (&f.issuer, &f.cluster) {
            (Some(_), Some(c)) => {
                self.error(
                    c.at,
                    format!("{path}.cluster"),
                    "give either `issuer` or `cluster`, not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    f.name.at,
                    path.to_owned(),
                    "a federated credential needs `issuer` (a URL) or `cluster` (whose issuer it trusts)",
                );
                None
            }
            (None, Some(c)) => self.cluster_ref(c, &format!("{path}.cluster")),
            (Some(_), None) => None,
        }
    }

    /// The issuer as written, or the issuer of the named cluster; empty when there is neither
    /// (reported by [`Self::credential_cluster`]).
    fn credential_issuer(
        &mut self,
        path: &str,
        f: &doc::FederatedCredential,
        cluster: Option<usize>,
    ) -> String {
        match (&f.issuer, cluster, &f.cluster) {
            (Some(url), _, _) => {
                self.entra(url.at, format!("{path}.issuer"), rules::check_issuer(url));
                url.value.clone()
            }
            (None, Some(ci), Some(c)) => {
                let issuer = self.clusters[ci].issuer.clone();
                // One that is not https at all is refused where the cluster gives it.
                if is_https_url(&issuer)
                    && let Err(e) = rules::check_issuer(&issuer)
                {
                    self.error(
                        c.at,
                        format!("{path}.cluster"),
                        format!("{e} (the issuer of cluster `{}`)", c.value),
                    );
                }
                issuer
            }
            _ => String::new(),
        }
    }

    /// The subject, literal or the named ServiceAccount's, and that ServiceAccount; an empty
    /// subject when it cannot be told (reported).
    fn credential_subject(
        &mut self,
        path: &str,
        f: &doc::FederatedCredential,
        cluster: Option<usize>,
        issuer_cluster: Option<usize>,
    ) -> (String, Option<ServiceAccountRef>) {
        match (&f.subject, &f.service_account) {
            (Some(_), Some(sa)) => {
                self.error(
                    sa.at,
                    format!("{path}.serviceAccount"),
                    "give either `subject` or `serviceAccount`, not both",
                );
                (String::new(), None)
            }
            (None, None) => {
                self.error(
                    f.name.at,
                    path.to_owned(),
                    "a federated credential needs `subject` or `serviceAccount` (`<namespace>/<name>`)",
                );
                (String::new(), None)
            }
            (None, Some(sa)) => {
                if f.cluster.is_none() {
                    self.error(
                        sa.at,
                        format!("{path}.serviceAccount"),
                        "`serviceAccount` needs `cluster` (the cluster the ServiceAccount lives in)",
                    );
                }
                match cluster {
                    Some(ci) => self.service_account_subject(path, ci, sa),
                    None => (String::new(), None),
                }
            }
            (Some(s), None) => {
                self.entra(s.at, format!("{path}.subject"), rules::check_subject(s));
                self.check_literal_subject(path, s, issuer_cluster, f.subject_matches_nothing);
                (s.value.clone(), None)
            }
        }
    }

    /// The subject of ServiceAccount `sa` of the cluster at `ci`, as Entra will see it.
    fn service_account_subject(
        &mut self,
        path: &str,
        ci: usize,
        sa: &Located<String>,
    ) -> (String, Option<ServiceAccountRef>) {
        match self.service_account_ref(ci, sa, &format!("{path}.serviceAccount")) {
            Some(r) => {
                let s = r.subject();
                self.entra(
                    sa.at,
                    format!("{path}.serviceAccount"),
                    rules::check_subject(&s),
                );
                (s, Some(r))
            }
            None => (String::new(), None),
        }
    }

    /// A literal `system:serviceaccount:` subject for a cluster's issuer must name one of its
    /// ServiceAccounts, unless the author says it deliberately does not.
    fn check_literal_subject(
        &mut self,
        path: &str,
        s: &Located<String>,
        issuer_cluster: Option<usize>,
        matches_nothing: bool,
    ) {
        let Some(ci) = issuer_cluster else {
            return;
        };
        let names = s
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
            .map(|(ns, name)| ServiceAccountRef {
                namespace: ns.to_owned(),
                name: name.to_owned(),
            });
        let exists = names
            .as_ref()
            .is_some_and(|r| self.clusters[ci].service_accounts.contains(r));
        let cluster = self.clusters[ci].name.clone();
        match (exists, matches_nothing) {
            (true, true) => self.error(
                s.at,
                format!("{path}.subjectMatchesNothing"),
                format!(
                    "`subjectMatchesNothing` is set, but `{}` names a ServiceAccount of cluster `{cluster}`",
                    s.value
                ),
            ),
            (false, false) => {
                let subjects: Vec<String> = self.clusters[ci]
                    .service_accounts
                    .iter()
                    .map(ServiceAccountRef::subject)
                    .collect();
                let hint = did_you_mean(&s.value, subjects.iter().map(String::as_str));
                self.error_hint(
                    s.at,
                    format!("{path}.subject"),
                    format!(
                        "subject `{}` names no ServiceAccount of cluster `{cluster}` (whose issuer this is); set `subjectMatchesNothing: true` if that is the point",
                        s.value
                    ),
                    hint,
                );
            }
            _ => {}
        }
    }

    /// The audiences as written (one, as Entra allows), or the exchange audience by default.
    fn credential_audiences(&mut self, path: &str, f: &doc::FederatedCredential) -> Vec<String> {
        if f.audiences.is_empty() {
            return vec![EXCHANGE_AUDIENCE.to_owned()];
        }
        if let Some(second) = f.audiences.get(1) {
            self.entra(
                second.at,
                format!("{path}.audiences"),
                rules::check_audience_count(f.audiences.len()),
            );
        }
        for (k, a) in f.audiences.iter().enumerate() {
            self.entra(
                a.at,
                format!("{path}.audiences[{k}]"),
                rules::check_audience(a),
            );
        }
        f.audiences.iter().map(|a| a.value.clone()).collect()
    }

    /// An error for a refusal of Entra's rules, at the field it is about.
    fn entra(&mut self, at: Pos, path: String, rule: Result<(), FederatedCredentialError>) {
        if let Err(e) = rule {
            self.error(at, path, e.to_string());
        }
    }
}

/// A resolved credential as Entra's rules see it.
fn rules_view(f: &model::FederatedCredential) -> FederatedCredentialRef<'_> {
    FederatedCredentialRef {
        name: &f.name,
        issuer: &f.issuer,
        subject: &f.subject,
        audiences: &f.audiences,
    }
}
