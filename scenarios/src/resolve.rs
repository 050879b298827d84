//! From a decoded [`Document`] to the [`Scenario`] model: references resolved, defaults filled,
//! and every semantic error collected with its position (not just the first).
//!
//! Checked here: duplicate names, dangling references (with `did you mean`), malformed GUIDs,
//! names and URLs; federated credentials (one issuer, one subject, a subject that names a
//! ServiceAccount, and every rule Entra applies when one is created, from `entra-rules`, the
//! rules mock-entra applies: name, issuer, subject, audience, uniqueness per identity, at most
//! 20 per identity); ABAC conditions only where Azure honours them; fault matches that the target
//! can see; steps on shards, projects, registries and repositories that exist, and federated
//! credentials that exist when a step deletes them and are new when a step adds them.
//!
//! One of Entra's refusals is a warning, not an error: a step that adds a credential to an
//! identity that already has 20 at that point. Entra refuses it when the step runs and the world
//! does not change; a scenario may mean exactly that (the corpus's
//! `twenty-federated-credentials`).

use std::collections::{BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use entra_rules::federated::{self as rules, FederatedCredentialError, FederatedCredentialRef};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::located::{Located, Pos};
use crate::model::{self, EXCHANGE_AUDIENCE, IdentityKind, IdentityRef, ServiceAccountRef, guid};
use crate::v1alpha1 as doc;
use crate::vocab::{Backend, FaultTarget, Outcome, TokenScope};

/// The most federated identity credentials one app or identity may have (Entra's limit).
pub use entra_rules::MAX_FEDERATED_CREDENTIALS;

/// Variables the harness sets itself; `controller.env` may not override them.
const RESERVED_ENV: &[&str] = &[
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "KUBECONFIG",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

/// Resolves `doc`; the scenario is `Some` only when there was no error.
pub fn resolve(file: &str, doc: &doc::Document) -> (Option<model::Scenario>, Vec<Diagnostic>) {
    let mut cx = Cx::new(file, doc);
    let scenario = cx.scenario();
    let ok = !cx.diags.iter().any(Diagnostic::is_error);
    (ok.then_some(scenario), cx.diags)
}

struct IdentityEntry {
    tenant: String,
    name: String,
    kind: IdentityKind,
    client_id: Uuid,
    multi_tenant: bool,
    /// How many client secrets an app has.
    secrets: usize,
}

struct ClusterEntry {
    name: String,
    issuer: String,
    projects: Vec<String>,
    service_accounts: BTreeSet<ServiceAccountRef>,
    has_controller: bool,
}

struct Cx<'a> {
    file: &'a str,
    doc: &'a doc::Document,
    diags: Vec<Diagnostic>,
    identities: Vec<IdentityEntry>,
    clusters: Vec<ClusterEntry>,
}

impl<'a> Cx<'a> {
    fn new(file: &'a str, doc: &'a doc::Document) -> Self {
        let mut cx = Self {
            file,
            doc,
            diags: Vec::new(),
            identities: Vec::new(),
            clusters: Vec::new(),
        };
        cx.index();
        cx
    }

    fn error(&mut self, at: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, at, message).path(path));
    }

    fn warning(&mut self, at: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, at, message).path(path));
    }

    /// An error for a refusal of Entra's rules, at the field it is about.
    fn entra(&mut self, at: Pos, path: String, rule: Result<(), FederatedCredentialError>) {
        if let Err(e) = rule {
            self.error(at, path, e.to_string());
        }
    }

    /// Entra's uniqueness per identity: `fic` (written at `at`, under `path`) against the
    /// credentials the identity has (each with where its name was written). `when` qualifies the
    /// message (`at this step, `). False when refused.
    fn unique_credential(
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

    fn error_hint(
        &mut self,
        at: Pos,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(
            Diagnostic::error(self.file, at, message)
                .path(path)
                .hint(hint),
        );
    }

    /// Reports every name of `names` that was used before, at its second use.
    fn unique<'n>(
        &mut self,
        what: &str,
        names: impl IntoIterator<Item = (&'n Located<String>, String)>,
    ) {
        let mut seen: HashMap<String, Pos> = HashMap::new();
        for (name, path) in names {
            if let Some(first) = seen.get(&name.value) {
                let first = *first;
                self.error(
                    name.at,
                    path,
                    format!(
                        "duplicate {what} `{}` (first defined at line {})",
                        name.value, first.line
                    ),
                );
            } else {
                seen.insert(name.value.clone(), name.at);
            }
        }
    }

    /// Builds the name indexes references are resolved against.
    fn index(&mut self) {
        for t in &self.doc.world.tenants {
            for a in &t.apps {
                let client_id = parse_guid(a.client_id.as_ref())
                    .unwrap_or_else(|| guid::client_id(&t.name, &a.name));
                self.identities.push(IdentityEntry {
                    tenant: t.name.value.clone(),
                    name: a.name.value.clone(),
                    kind: IdentityKind::App,
                    client_id,
                    multi_tenant: a.multi_tenant,
                    secrets: a.secrets.len(),
                });
            }
            for m in &t.managed_identities {
                let client_id = parse_guid(m.client_id.as_ref())
                    .unwrap_or_else(|| guid::client_id(&t.name, &m.name));
                self.identities.push(IdentityEntry {
                    tenant: t.name.value.clone(),
                    name: m.name.value.clone(),
                    kind: IdentityKind::ManagedIdentity,
                    client_id,
                    multi_tenant: false,
                    secrets: 0,
                });
            }
        }
        for c in &self.doc.world.clusters {
            let mut sas = BTreeSet::new();
            for ns in c.projects.iter().chain(&c.namespaces) {
                for sa in &ns.service_accounts {
                    sas.insert(ServiceAccountRef {
                        namespace: ns.name.value.clone(),
                        name: sa.name.value.clone(),
                    });
                }
            }
            if let Some(ctl) = &c.controller {
                sas.insert(ServiceAccountRef {
                    namespace: ctl.namespace.value.clone(),
                    name: ctl.service_account.value.clone(),
                });
            }
            self.clusters.push(ClusterEntry {
                name: c.name.value.clone(),
                issuer: issuer_of(c),
                projects: c.projects.iter().map(|p| p.name.value.clone()).collect(),
                service_accounts: sas,
                has_controller: c.controller.is_some(),
            });
        }
    }

    fn scenario(&mut self) -> model::Scenario {
        let d = self.doc;
        if !is_dns_label(&d.metadata.name) {
            self.error(
                d.metadata.name.at,
                "metadata.name",
                format!(
                    "`{}` is not a valid scenario name: use lowercase letters, digits and `-`, starting and ending with a letter or digit",
                    d.metadata.name.value
                ),
            );
        }
        let world = self.world();
        let steps = self.steps(&world);
        let properties = d.properties.as_ref().map(|props| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (i, p) in props.iter().enumerate() {
                if seen.insert(p.value) {
                    out.push(p.value);
                } else {
                    self.error(
                        p.at,
                        format!("properties[{i}]"),
                        format!("property `{}` is listed twice", p.value.as_str()),
                    );
                }
            }
            out
        });
        let policy = self.policy();
        model::Scenario {
            name: d.metadata.name.value.clone(),
            name_at: d.metadata.name.at,
            description: d.metadata.description.clone(),
            tags: d.metadata.tags.clone(),
            references: d.metadata.references.clone(),
            file: self.file.to_owned(),
            world,
            steps,
            properties,
            policy,
        }
    }

    // ----- world -----

    fn world(&mut self) -> model::World {
        let w = &self.doc.world;
        self.unique(
            "tenant",
            w.tenants
                .iter()
                .enumerate()
                .map(|(i, t)| (&t.name, format!("world.tenants[{i}].name"))),
        );
        self.unique(
            "registry",
            w.registries
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.name, format!("world.registries[{i}].name"))),
        );
        self.unique(
            "cluster",
            w.clusters
                .iter()
                .enumerate()
                .map(|(i, c)| (&c.name, format!("world.clusters[{i}].name"))),
        );
        self.unique(
            "node",
            w.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (&n.name, format!("world.nodes[{i}].name"))),
        );
        self.unique(
            "fault",
            w.faults
                .iter()
                .enumerate()
                .map(|(i, f)| (&f.name, format!("world.faults[{i}].name"))),
        );
        let tenants = w
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| self.tenant(i, t))
            .collect();
        self.unique_client_ids();
        let registries = w
            .registries
            .iter()
            .enumerate()
            .map(|(i, r)| self.registry(i, r))
            .collect();
        let clusters = w
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| self.cluster(i, c))
            .collect();
        let nodes = w
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| self.node(i, n))
            .collect();
        let faults = w
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| self.fault(i, f))
            .collect();
        let mut leniency = Vec::new();
        for (i, l) in w.leniency.iter().enumerate() {
            if leniency.contains(&l.value) {
                self.error(
                    l.at,
                    format!("world.leniency[{i}]"),
                    "this leniency is listed twice",
                );
            } else {
                leniency.push(l.value);
            }
        }
        let options = self.options(&w.options);
        model::World {
            tenants,
            registries,
            clusters,
            nodes,
            faults,
            leniency,
            options,
        }
    }

    fn unique_client_ids(&mut self) {
        let mut seen: HashMap<Uuid, (String, String)> = HashMap::new();
        let mut clashes = Vec::new();
        for e in &self.identities {
            if let Some((t, n)) = seen.get(&e.client_id) {
                if *t == e.tenant && *n == e.name {
                    continue; // a duplicate name, reported as such
                }
                clashes.push((e.tenant.clone(), e.name.clone(), t.clone(), n.clone()));
            } else {
                seen.insert(e.client_id, (e.tenant.clone(), e.name.clone()));
            }
        }
        for (tenant, name, t, n) in clashes {
            let at = self.identity_pos(&tenant, &name);
            self.error(
                at,
                format!("identity {tenant}/{name}"),
                format!("client ID of `{tenant}/{name}` is also the client ID of `{t}/{n}`"),
            );
        }
    }

    fn identity_pos(&self, tenant: &str, name: &str) -> Pos {
        self.doc
            .world
            .tenants
            .iter()
            .filter(|t| t.name.value == tenant)
            .flat_map(|t| {
                t.apps
                    .iter()
                    .map(|a| &a.name)
                    .chain(t.managed_identities.iter().map(|m| &m.name))
            })
            .find(|n| n.value == name)
            .map_or(Pos::UNKNOWN, |n| n.at)
    }

    fn guid(&mut self, given: Option<&Located<String>>, path: String, derived: Uuid) -> Uuid {
        match given {
            None => derived,
            Some(g) => match Uuid::try_parse(&g.value) {
                Ok(u) if g.value.len() == 36 => u,
                _ => {
                    self.error(
                        g.at,
                        path,
                        format!(
                            "`{}` is not a GUID (write it as 8-4-4-4-12 hexadecimal digits, or leave it out to derive one from the name)",
                            g.value
                        ),
                    );
                    derived
                }
            },
        }
    }

    fn tenant(&mut self, i: usize, t: &doc::Tenant) -> model::Tenant {
        let base = format!("world.tenants[{i}]");
        if !is_dns_label(&t.name) {
            self.error(
                t.name.at,
                format!("{base}.name"),
                format!(
                    "`{}` is not a valid tenant name: use lowercase letters, digits and `-`",
                    t.name.value
                ),
            );
        }
        let id = self.guid(
            t.id.as_ref(),
            format!("{base}.id"),
            guid::tenant_id(&t.name),
        );
        self.unique(
            "app or managed identity",
            t.apps
                .iter()
                .enumerate()
                .map(|(j, a)| (&a.name, format!("{base}.apps[{j}].name")))
                .chain(
                    t.managed_identities
                        .iter()
                        .enumerate()
                        .map(|(j, m)| (&m.name, format!("{base}.managedIdentities[{j}].name"))),
                ),
        );
        let domains = if t.domains.is_empty() {
            vec![format!("{}.onmicrosoft.com", t.name.value)]
        } else {
            t.domains.clone()
        };
        let apps = t
            .apps
            .iter()
            .enumerate()
            .map(|(j, a)| {
                let path = format!("{base}.apps[{j}]");
                let client_id = self.guid(
                    a.client_id.as_ref(),
                    format!("{path}.clientId"),
                    guid::client_id(&t.name, &a.name),
                );
                self.unique(
                    "secret",
                    a.secrets
                        .iter()
                        .enumerate()
                        .map(|(k, s)| (&s.name, format!("{path}.secrets[{k}].name"))),
                );
                self.unique(
                    "certificate",
                    a.certificates
                        .iter()
                        .enumerate()
                        .map(|(k, c)| (&c.name, format!("{path}.certificates[{k}].name"))),
                );
                let federated_credentials =
                    self.federated_credentials(&path, &a.name, &a.federated_credentials);
                model::App {
                    name: a.name.value.clone(),
                    client_id,
                    secrets: a
                        .secrets
                        .iter()
                        .map(|s| model::AppSecret {
                            name: s.name.value.clone(),
                            expires_after: s.expires_after.as_ref().map(|e| e.value.0),
                        })
                        .collect(),
                    certificates: a
                        .certificates
                        .iter()
                        .map(|c| c.name.value.clone())
                        .collect(),
                    multi_tenant: a.multi_tenant,
                    federated_credentials,
                }
            })
            .collect();
        let managed_identities = t
            .managed_identities
            .iter()
            .enumerate()
            .map(|(j, m)| {
                let path = format!("{base}.managedIdentities[{j}]");
                let client_id = self.guid(
                    m.client_id.as_ref(),
                    format!("{path}.clientId"),
                    guid::client_id(&t.name, &m.name),
                );
                let principal_id = self.guid(
                    m.principal_id.as_ref(),
                    format!("{path}.principalId"),
                    guid::principal_id(&t.name, &m.name),
                );
                let federated_credentials =
                    self.federated_credentials(&path, &m.name, &m.federated_credentials);
                model::ManagedIdentity {
                    name: m.name.value.clone(),
                    client_id,
                    principal_id,
                    federated_credentials,
                }
            })
            .collect();
        self.unique(
            "resource",
            t.resources
                .iter()
                .enumerate()
                .map(|(j, r)| (&r.uri, format!("{base}.resources[{j}].uri"))),
        );
        let resources = t
            .resources
            .iter()
            .map(|r| model::Resource {
                uri: r.uri.value.clone(),
                v2: r.v2,
            })
            .collect();
        model::Tenant {
            name: t.name.value.clone(),
            id,
            domains,
            apps,
            managed_identities,
            resources,
        }
    }

    fn federated_credentials(
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

    fn federated_credential(
        &mut self,
        path: &str,
        f: &doc::FederatedCredential,
    ) -> model::FederatedCredential {
        self.entra(
            f.name.at,
            format!("{path}.name"),
            rules::check_name(&f.name),
        );
        let cluster = match (&f.issuer, &f.cluster) {
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
        };
        let issuer = match (&f.issuer, cluster, &f.cluster) {
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
        };
        // The cluster whose issuer this is, whether named or written as its URL.
        let issuer_cluster =
            cluster.or_else(|| self.clusters.iter().position(|c| c.issuer == issuer));
        let mut service_account = None;
        let subject = match (&f.subject, &f.service_account) {
            (Some(_), Some(sa)) => {
                self.error(
                    sa.at,
                    format!("{path}.serviceAccount"),
                    "give either `subject` or `serviceAccount`, not both",
                );
                String::new()
            }
            (None, None) => {
                self.error(
                    f.name.at,
                    path.to_owned(),
                    "a federated credential needs `subject` or `serviceAccount` (`<namespace>/<name>`)",
                );
                String::new()
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
                    Some(ci) => {
                        match self.service_account_ref(ci, sa, &format!("{path}.serviceAccount")) {
                            Some(r) => {
                                let s = r.subject();
                                self.entra(
                                    sa.at,
                                    format!("{path}.serviceAccount"),
                                    rules::check_subject(&s),
                                );
                                service_account = Some(r);
                                s
                            }
                            None => String::new(),
                        }
                    }
                    None => String::new(),
                }
            }
            (Some(s), None) => {
                self.entra(s.at, format!("{path}.subject"), rules::check_subject(s));
                self.check_literal_subject(path, s, issuer_cluster, f.subject_matches_nothing);
                s.value.clone()
            }
        };
        if f.subject_matches_nothing && f.subject.is_none() {
            self.error(
                f.name.at,
                format!("{path}.subjectMatchesNothing"),
                "`subjectMatchesNothing` applies only to a literal `subject`",
            );
        }
        let audiences = if f.audiences.is_empty() {
            vec![EXCHANGE_AUDIENCE.to_owned()]
        } else {
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
        };
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

    fn check_issuer_url(&mut self, url: &Located<String>, path: &str) {
        if !is_https_url(url) {
            self.error(
                url.at,
                path.to_owned(),
                format!(
                    "issuer `{}` must be an https URL (Entra and Kubernetes accept no other)",
                    url.value
                ),
            );
        }
    }

    fn cluster_ref(&mut self, c: &Located<String>, path: &str) -> Option<usize> {
        let found = self.clusters.iter().position(|e| e.name == c.value);
        if found.is_none() {
            let hint = did_you_mean(&c.value, self.clusters.iter().map(|e| e.name.as_str()));
            self.error_hint(
                c.at,
                path.to_owned(),
                format!("no cluster named `{}`", c.value),
                hint,
            );
        }
        found
    }

    fn service_account_ref(
        &mut self,
        ci: usize,
        sa: &Located<String>,
        path: &str,
    ) -> Option<ServiceAccountRef> {
        let Some((ns, name)) = sa.split_once('/') else {
            self.error(
                sa.at,
                path.to_owned(),
                format!("`{}` is not `<namespace>/<name>`", sa.value),
            );
            return None;
        };
        let r = ServiceAccountRef {
            namespace: ns.to_owned(),
            name: name.to_owned(),
        };
        if self.clusters[ci].service_accounts.contains(&r) {
            return Some(r);
        }
        let known: Vec<String> = self.clusters[ci]
            .service_accounts
            .iter()
            .map(ToString::to_string)
            .collect();
        let hint = did_you_mean(&sa.value, known.iter().map(String::as_str));
        let cluster = self.clusters[ci].name.clone();
        self.error_hint(
            sa.at,
            path.to_owned(),
            format!("cluster `{cluster}` has no ServiceAccount `{}`", sa.value),
            hint,
        );
        None
    }

    fn tenant_ref(&mut self, t: &Located<String>, path: &str) -> bool {
        let known: Vec<&str> = self
            .doc
            .world
            .tenants
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        if known.contains(&t.as_str()) {
            return true;
        }
        let hint = did_you_mean(&t.value, known);
        self.error_hint(
            t.at,
            path.to_owned(),
            format!("no tenant named `{}`", t.value),
            hint,
        );
        false
    }

    fn registry_ref(&mut self, r: &Located<String>, path: &str) -> Option<&'a doc::Registry> {
        let found = self
            .doc
            .world
            .registries
            .iter()
            .find(|x| x.name.value == r.value);
        if found.is_none() {
            let hint = did_you_mean(
                &r.value,
                self.doc.world.registries.iter().map(|x| x.name.as_str()),
            );
            self.error_hint(
                r.at,
                path.to_owned(),
                format!("no registry named `{}`", r.value),
                hint,
            );
        }
        found
    }

    /// Resolves `name` or `tenant/name` to an app or managed identity.
    fn identity_ref(&mut self, r: &Located<String>, path: &str) -> Option<IdentityRef> {
        let (tenant, name) = match r.split_once('/') {
            Some((t, n)) => (Some(t), n),
            None => (None, r.as_str()),
        };
        let matches: Vec<&IdentityEntry> = self
            .identities
            .iter()
            .filter(|e| e.name == name && tenant.is_none_or(|t| e.tenant == t))
            .collect();
        match matches.as_slice() {
            [one] => Some(IdentityRef {
                tenant: one.tenant.clone(),
                name: one.name.clone(),
                kind: one.kind,
                client_id: one.client_id,
            }),
            [] => {
                // Compare names with names, within the tenant when one is given, so a shared
                // `tenant/` prefix does not make every identity look close.
                let known: Vec<&str> = self
                    .identities
                    .iter()
                    .filter(|e| tenant.is_none_or(|t| e.tenant == t))
                    .map(|e| e.name.as_str())
                    .collect();
                let hint = did_you_mean(name, known).map(|h| match tenant {
                    Some(t) => h.replacen('`', &format!("`{t}/"), 1),
                    None => h,
                });
                self.error_hint(
                    r.at,
                    path.to_owned(),
                    format!("no app or managed identity named `{}`", r.value),
                    hint,
                );
                None
            }
            many => {
                let options: Vec<String> = many
                    .iter()
                    .map(|e| format!("`{}/{}`", e.tenant, e.name))
                    .collect();
                self.error(
                    r.at,
                    path.to_owned(),
                    format!("`{}` is ambiguous: write {}", r.value, options.join(" or ")),
                );
                None
            }
        }
    }

    fn registry(&mut self, i: usize, r: &doc::Registry) -> model::Registry {
        let base = format!("world.registries[{i}]");
        let valid_name =
            (5..=50).contains(&r.name.len()) && r.name.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid_name {
            self.error(
                r.name.at,
                format!("{base}.name"),
                format!(
                    "`{}` is not a valid registry name: Azure allows 5 to 50 letters and digits",
                    r.name.value
                ),
            );
        }
        self.tenant_ref(&r.tenant, &format!("{base}.tenant"));
        self.unique(
            "repository",
            r.repositories
                .iter()
                .enumerate()
                .map(|(j, x)| (&x.name, format!("{base}.repositories[{j}].name"))),
        );
        let repositories = r
            .repositories
            .iter()
            .enumerate()
            .map(|(j, repo)| {
                let path = format!("{base}.repositories[{j}]");
                if !is_repository_name(&repo.name) {
                    self.error(
                        repo.name.at,
                        format!("{path}.name"),
                        format!(
                            "`{}` is not a valid repository name: lowercase path components of letters and digits separated by `.`, `_`, `-`",
                            repo.name.value
                        ),
                    );
                }
                self.unique(
                    "tag",
                    repo.artifacts
                        .iter()
                        .enumerate()
                        .map(|(k, a)| (&a.tag, format!("{path}.artifacts[{k}].tag"))),
                );
                let artifacts = if repo.artifacts.is_empty() {
                    vec![model::Artifact {
                        tag: "1.0.0".into(),
                        kind: model::ArtifactKind::Image,
                    }]
                } else {
                    repo.artifacts
                        .iter()
                        .map(|a| model::Artifact {
                            tag: a.tag.value.clone(),
                            kind: a.kind,
                        })
                        .collect()
                };
                model::Repository {
                    name: repo.name.value.clone(),
                    artifacts,
                }
            })
            .collect();
        let role_assignments = r
            .role_assignments
            .iter()
            .enumerate()
            .filter_map(|(j, a)| {
                self.role_assignment(
                    r,
                    &format!("{base}.roleAssignments[{j}]"),
                    &a.principal,
                    &a.role,
                    a.repository.as_ref(),
                    a.repository_prefix.as_ref(),
                )
            })
            .collect();
        self.unique(
            "token",
            r.tokens
                .iter()
                .enumerate()
                .map(|(j, t)| (&t.name, format!("{base}.tokens[{j}].name"))),
        );
        let tokens = r
            .tokens
            .iter()
            .enumerate()
            .map(|(j, t)| {
                if t.scope_map.is_empty() {
                    self.error(
                        t.name.at,
                        format!("{base}.tokens[{j}].scopeMap"),
                        "a token needs at least one scope-map entry",
                    );
                }
                for (k, e) in t.scope_map.iter().enumerate() {
                    if e.actions.is_empty() {
                        self.error(
                            e.repository.at,
                            format!("{base}.tokens[{j}].scopeMap[{k}].actions"),
                            "a scope-map entry needs at least one action",
                        );
                    }
                }
                model::RegistryToken {
                    name: t.name.value.clone(),
                    scope_map: t
                        .scope_map
                        .iter()
                        .map(|e| {
                            (
                                e.repository.value.clone(),
                                e.actions.iter().map(|a| a.value).collect(),
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        model::Registry {
            name: r.name.value.clone(),
            login_server: format!("{}.azurecr.io", r.name.value.to_ascii_lowercase()),
            tenant: r.tenant.value.clone(),
            auth_mode: r.auth_mode,
            anonymous_pull: r.anonymous_pull,
            admin_user: r.admin_user,
            repositories,
            role_assignments,
            tokens,
        }
    }

    fn role_assignment(
        &mut self,
        registry: &doc::Registry,
        path: &str,
        principal: &Located<String>,
        role: &Located<model::RegistryRole>,
        repository: Option<&Located<String>>,
        prefix: Option<&Located<String>>,
    ) -> Option<model::RoleAssignment> {
        let who = self.identity_ref(principal, &format!("{path}.principal"))?;
        if who.tenant != registry.tenant.value {
            let multi = self
                .identities
                .iter()
                .any(|e| e.tenant == who.tenant && e.name == who.name && e.multi_tenant);
            if !multi {
                self.error(
                    principal.at,
                    format!("{path}.principal"),
                    format!(
                        "`{}/{}` lives in tenant `{}` and has no service principal in `{}`, the registry's tenant (only a multi-tenant app can be granted there)",
                        who.tenant, who.name, who.tenant, registry.tenant.value
                    ),
                );
            }
        }
        let condition = match (repository, prefix) {
            (Some(_), Some(p)) => {
                self.error(
                    p.at,
                    format!("{path}.repositoryPrefix"),
                    "give either `repository` or `repositoryPrefix`, not both",
                );
                None
            }
            (Some(r), None) => Some((r, model::RepoCondition::Name(r.value.clone()))),
            (None, Some(p)) => Some((p, model::RepoCondition::Prefix(p.value.clone()))),
            (None, None) => None,
        };
        if let Some((at, _)) = &condition {
            if registry.auth_mode != model::AuthMode::Abac {
                self.error(
                    at.at,
                    path.to_owned(),
                    format!(
                        "repository conditions need `authMode: abac` on registry `{}` (Azure ignores them otherwise)",
                        registry.name.value
                    ),
                );
            } else if !role.takes_repository_condition() {
                self.error(
                    at.at,
                    path.to_owned(),
                    format!(
                        "role `{:?}` takes no repository condition; use a `Container Registry Repository ...` role",
                        role.value
                    ),
                );
            }
        }
        Some(model::RoleAssignment {
            principal: who,
            role: role.value,
            condition: condition.map(|(_, c)| c),
        })
    }

    fn cluster(&mut self, i: usize, c: &doc::Cluster) -> model::Cluster {
        let base = format!("world.clusters[{i}]");
        if !is_dns_label(&c.name) {
            self.error(
                c.name.at,
                format!("{base}.name"),
                format!(
                    "`{}` is not a valid cluster name: use lowercase letters, digits and `-`",
                    c.name.value
                ),
            );
        }
        match (c.backend, &c.kubeconfig) {
            (Backend::Kubeconfig, None) => self.error(
                c.name.at,
                format!("{base}.kubeconfig"),
                "`backend: kubeconfig` needs `kubeconfig` (the file)",
            ),
            (Backend::Embedded | Backend::Kind, Some(k)) => self.error(
                k.at,
                format!("{base}.kubeconfig"),
                "`kubeconfig` applies only to `backend: kubeconfig`",
            ),
            _ => {}
        }
        if let Some(url) = &c.issuer {
            self.check_issuer_url(url, &format!("{base}.issuer"));
        }
        self.unique(
            "namespace",
            c.projects
                .iter()
                .enumerate()
                .map(|(j, n)| (&n.name, format!("{base}.projects[{j}].name")))
                .chain(
                    c.namespaces
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (&n.name, format!("{base}.namespaces[{j}].name"))),
                ),
        );
        let namespace = |cx: &mut Self, path: String, n: &doc::Namespace| {
            if !is_dns_label(&n.name) {
                cx.error(
                    n.name.at,
                    format!("{path}.name"),
                    format!("`{}` is not a valid namespace name", n.name.value),
                );
            }
            cx.unique(
                "ServiceAccount",
                n.service_accounts
                    .iter()
                    .enumerate()
                    .map(|(k, s)| (&s.name, format!("{path}.serviceAccounts[{k}].name"))),
            );
            for (k, s) in n.service_accounts.iter().enumerate() {
                if !is_dns_subdomain(&s.name) {
                    cx.error(
                        s.name.at,
                        format!("{path}.serviceAccounts[{k}].name"),
                        format!("`{}` is not a valid ServiceAccount name", s.name.value),
                    );
                }
            }
            model::Namespace {
                name: n.name.value.clone(),
                service_accounts: n
                    .service_accounts
                    .iter()
                    .map(|s| model::ServiceAccount {
                        name: s.name.value.clone(),
                        annotations: s.annotations.clone(),
                        labels: s.labels.clone(),
                    })
                    .collect(),
                pod_service_account: n
                    .pod_service_account
                    .as_ref()
                    .map_or_else(|| "default".to_owned(), |p| p.value.clone()),
            }
        };
        let projects = c
            .projects
            .iter()
            .enumerate()
            .map(|(j, n)| namespace(self, format!("{base}.projects[{j}]"), n))
            .collect();
        let namespaces = c
            .namespaces
            .iter()
            .enumerate()
            .map(|(j, n)| namespace(self, format!("{base}.namespaces[{j}]"), n))
            .collect();
        let controller = c
            .controller
            .as_ref()
            .map(|ctl| self.controller(&format!("{base}.controller"), c, ctl));
        for (j, o) in c.objects.iter().enumerate() {
            let ok = o.get("apiVersion").is_some_and(|v| v.is_string())
                && o.get("kind").is_some_and(|v| v.is_string())
                && o.pointer("/metadata/name").is_some_and(|v| v.is_string());
            if !ok {
                self.error(
                    c.name.at,
                    format!("{base}.objects[{j}]"),
                    "each object needs `apiVersion`, `kind` and `metadata.name`",
                );
            }
        }
        model::Cluster {
            name: c.name.value.clone(),
            backend: c.backend,
            kubeconfig: c.kubeconfig.as_ref().map(|k| k.value.clone()),
            issuer: issuer_of(c),
            max_token_expiration: c
                .max_token_expiration
                .as_ref()
                .map_or(std::time::Duration::from_secs(24 * 3600), |m| m.value.0),
            projects,
            namespaces,
            controller,
            objects: c.objects.clone(),
        }
    }

    fn controller(
        &mut self,
        base: &str,
        cluster: &doc::Cluster,
        ctl: &doc::Controller,
    ) -> model::Controller {
        if cluster
            .projects
            .iter()
            .any(|p| p.name.value == ctl.namespace.value)
        {
            self.error(
                ctl.namespace.at,
                format!("{base}.namespace"),
                format!(
                    "the controller's namespace `{}` is also a project",
                    ctl.namespace.value
                ),
            );
        }
        let grant = |cx: &mut Self, path: String, g: &doc::Grant| {
            match (g.scope, g.namespaces.is_empty()) {
                (TokenScope::Namespaces, true) => cx.error(
                    ctl.namespace.at,
                    path.clone(),
                    "`scope: namespaces` needs `namespaces`",
                ),
                (TokenScope::Projects | TokenScope::Cluster, false) => cx.error(
                    g.namespaces[0].at,
                    format!("{path}.namespaces"),
                    "`namespaces` applies only to `scope: namespaces`",
                ),
                _ => {}
            }
            let known: Vec<&str> = cluster
                .projects
                .iter()
                .chain(&cluster.namespaces)
                .map(|n| n.name.as_str())
                .chain([ctl.namespace.as_str()])
                .collect();
            for (k, ns) in g.namespaces.iter().enumerate() {
                if !known.contains(&ns.as_str()) {
                    let hint = did_you_mean(ns, known.iter().copied());
                    cx.error_hint(
                        ns.at,
                        format!("{path}.namespaces[{k}]"),
                        format!(
                            "cluster `{}` has no namespace `{}`",
                            cluster.name.value, ns.value
                        ),
                        hint,
                    );
                }
            }
            model::Grant {
                scope: g.scope,
                namespaces: g.namespaces.iter().map(|n| n.value.clone()).collect(),
                service_accounts: g.service_accounts.iter().map(|n| n.value.clone()).collect(),
            }
        };
        let rbac = model::ControllerRbac {
            token_request: grant(
                self,
                format!("{base}.rbac.tokenRequest"),
                &ctl.rbac.token_request,
            ),
            read_service_accounts: grant(
                self,
                format!("{base}.rbac.readServiceAccounts"),
                &ctl.rbac.read_service_accounts,
            ),
        };
        let workload_identity = ctl
            .workload_identity
            .as_ref()
            .and_then(|w| self.identity_ref(w, &format!("{base}.workloadIdentity")));
        let client_secret = ctl.client_secret.as_ref().and_then(|c| {
            let path = format!("{base}.clientSecret");
            let r = self.identity_ref(c, &path)?;
            let secrets = self
                .identities
                .iter()
                .find(|e| e.tenant == r.tenant && e.name == r.name)
                .map_or(0, |e| e.secrets);
            if r.kind != IdentityKind::App {
                self.error(
                    c.at,
                    path,
                    format!("`{}` is a managed identity, which has no client secret", c.value),
                );
                return None;
            }
            if secrets == 0 {
                self.error(
                    c.at,
                    path,
                    format!("the app `{}` has no `secrets` to install", c.value),
                );
                return None;
            }
            if ctl.workload_identity.is_some() {
                self.error(
                    c.at,
                    path,
                    "`clientSecret` and `workloadIdentity` both set `AZURE_CLIENT_ID`; give the controller one of them",
                );
                return None;
            }
            Some(r)
        });
        if !ctl.token_file.is_default() && ctl.workload_identity.is_none() {
            self.error(
                ctl.namespace.at,
                format!("{base}.tokenFile"),
                "`tokenFile` applies only with `workloadIdentity` (there is no token file without one)",
            );
        }
        if let Some(e) = &ctl.token_file.expiration
            && e.value.0 < std::time::Duration::from_secs(600)
        {
            self.error(
                e.at,
                format!("{base}.tokenFile.expiration"),
                "a projected token lives at least 10m (the API server's minimum `expirationSeconds`)",
            );
        }
        if let Some(n) = &ctl.node {
            self.node_ref(n, &format!("{base}.node"));
        }
        for key in ctl.env.keys() {
            let valid = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(
                    ctl.namespace.at,
                    format!("{base}.env.{key}"),
                    format!("`{key}` is not an environment variable name"),
                );
            } else if RESERVED_ENV.contains(&key.as_str()) || key.starts_with("CREDSIM_") {
                self.error(
                    ctl.namespace.at,
                    format!("{base}.env.{key}"),
                    format!(
                        "`{key}` is set by the harness (see the exec protocol); `workloadIdentity`, `clientSecret` and `node` control the Azure variables"
                    ),
                );
            }
        }
        model::Controller {
            namespace: ctl.namespace.value.clone(),
            service_account: ctl.service_account.value.clone(),
            rbac,
            workload_identity,
            client_secret,
            node: ctl.node.as_ref().map(|n| n.value.clone()),
            env: ctl.env.clone(),
            token_attributes: ctl
                .token_attributes
                .as_ref()
                .map(|t| model::TokenAttributes {
                    audience: t
                        .audience
                        .as_ref()
                        .map_or_else(|| EXCHANGE_AUDIENCE.to_owned(), |a| a.value.clone()),
                    required_annotation_keys: t.required_annotation_keys.clone(),
                    optional_annotation_keys: t.optional_annotation_keys.clone(),
                }),
            token_file: model::TokenFile {
                expiration: ctl
                    .token_file
                    .expiration
                    .as_ref()
                    .map_or(model::TokenFile::default().expiration, |e| e.value.0),
                rotate: ctl.token_file.rotate.as_ref().is_none_or(|r| r.value),
            },
        }
    }

    fn node_ref(&mut self, n: &Located<String>, path: &str) -> bool {
        let known: Vec<&str> = self
            .doc
            .world
            .nodes
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        if known.contains(&n.as_str()) {
            return true;
        }
        let hint = did_you_mean(&n.value, known);
        self.error_hint(
            n.at,
            path.to_owned(),
            format!("no node named `{}`", n.value),
            hint,
        );
        false
    }

    fn node(&mut self, i: usize, n: &doc::Node) -> model::Node {
        let base = format!("world.nodes[{i}]");
        self.tenant_ref(&n.tenant, &format!("{base}.tenant"));
        if let Some(c) = &n.cluster {
            self.cluster_ref(c, &format!("{base}.cluster"));
        }
        let mut user_assigned = Vec::new();
        for (j, u) in n.user_assigned.iter().enumerate() {
            let path = format!("{base}.userAssigned[{j}]");
            // `name` or `<node's tenant>/name`.
            let wanted = u
                .strip_prefix(&format!("{}/", n.tenant.value))
                .unwrap_or(&u.value);
            let found = self.identities.iter().find(|e| {
                e.tenant == n.tenant.value
                    && e.name == wanted
                    && e.kind == IdentityKind::ManagedIdentity
            });
            match found {
                Some(e) => user_assigned.push(IdentityRef {
                    tenant: e.tenant.clone(),
                    name: e.name.clone(),
                    kind: e.kind,
                    client_id: e.client_id,
                }),
                None => {
                    let known: Vec<&str> = self
                        .identities
                        .iter()
                        .filter(|e| {
                            e.tenant == n.tenant.value && e.kind == IdentityKind::ManagedIdentity
                        })
                        .map(|e| e.name.as_str())
                        .collect();
                    let hint = did_you_mean(&u.value, known);
                    self.error_hint(
                        u.at,
                        path,
                        format!(
                            "tenant `{}` has no managed identity `{}`",
                            n.tenant.value, u.value
                        ),
                        hint,
                    );
                }
            }
        }
        model::Node {
            name: n.name.value.clone(),
            tenant: n.tenant.value.clone(),
            cluster: n.cluster.as_ref().map(|c| c.value.clone()),
            system_assigned: n.system_assigned,
            user_assigned,
        }
    }

    fn fault(&mut self, i: usize, f: &doc::Fault) -> model::Fault {
        let base = format!("world.faults[{i}]");
        let m = &f.matches;
        let target = f.target.value;
        let certificate = matches!(f.answer, doc::Answer::BadCertificate(_));
        let allowed: &[&str] = match target {
            // A certificate is presented before any request: only the host can be matched.
            FaultTarget::Entra if certificate => &[],
            FaultTarget::Acr if certificate => &["registry"],
            FaultTarget::Entra => &["tenant", "identity", "endpoint", "method", "pathPrefix"],
            FaultTarget::Imds => &["node", "endpoint", "method", "pathPrefix"],
            FaultTarget::Acr => &["registry", "method", "pathPrefix"],
            FaultTarget::Cluster => &["cluster", "method", "pathPrefix"],
        };
        if let doc::Answer::BadCertificate(c) = &f.answer
            && matches!(target, FaultTarget::Imds | FaultTarget::Cluster)
        {
            self.error(
                c.at,
                format!("{base}.answer.badCertificate"),
                format!(
                    "a certificate fault applies to `entra` and `acr`, which the implementation reaches through the front door's proxy; `{}` is not",
                    target.as_str()
                ),
            );
        }
        let given: [(&str, Option<&Located<String>>); 8] = [
            ("tenant", m.tenant.as_ref()),
            ("identity", m.identity.as_ref()),
            ("endpoint", m.endpoint.as_ref()),
            ("registry", m.registry.as_ref()),
            ("node", m.node.as_ref()),
            ("cluster", m.cluster.as_ref()),
            ("method", m.method.as_ref()),
            ("pathPrefix", m.path_prefix.as_ref()),
        ];
        for (field, value) in given {
            if let Some(v) = value
                && !allowed.contains(&field)
            {
                self.error(
                    v.at,
                    format!("{base}.match.{field}"),
                    format!(
                        "a {}fault on `{}` cannot match on `{field}`; it can match on {}",
                        if certificate { "certificate " } else { "" },
                        target.as_str(),
                        if allowed.is_empty() {
                            "nothing (it applies to the next connections to the target)".to_owned()
                        } else {
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                );
            }
        }
        if let Some(t) = &m.tenant {
            self.tenant_ref(t, &format!("{base}.match.tenant"));
        }
        let identity = m
            .identity
            .as_ref()
            .and_then(|r| self.identity_ref(r, &format!("{base}.match.identity")));
        if let Some(e) = &m.endpoint {
            let endpoints: &[&str] = match target {
                FaultTarget::Entra => &["token", "discovery", "keys", "instance"],
                _ => &["token", "instance"],
            };
            if !endpoints.contains(&e.as_str()) {
                let hint = did_you_mean(&e.value, endpoints.iter().copied());
                self.error_hint(
                    e.at,
                    format!("{base}.match.endpoint"),
                    format!(
                        "unknown endpoint `{}`; expected one of {}",
                        e.value,
                        endpoints
                            .iter()
                            .map(|x| format!("`{x}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    hint,
                );
            }
        }
        if let Some(r) = &m.registry {
            self.registry_ref(r, &format!("{base}.match.registry"));
        }
        if let Some(n) = &m.node {
            self.node_ref(n, &format!("{base}.match.node"));
        }
        if let Some(c) = &m.cluster {
            self.cluster_ref(c, &format!("{base}.match.cluster"));
        }
        if let Some(p) = &m.path_prefix
            && !p.starts_with('/')
        {
            self.error(
                p.at,
                format!("{base}.match.pathPrefix"),
                "a path prefix starts with `/`",
            );
        }
        if let Some(t) = &f.times
            && t.value == 0
        {
            self.error(t.at, format!("{base}.times"), "`times` must be at least 1");
        }
        let answer = match &f.answer {
            doc::Answer::Throttle { retry_after } => model::Answer::Throttle {
                retry_after: retry_after.value.0,
            },
            doc::Answer::Unavailable { status } => {
                if !(500..=599).contains(&status.value) {
                    self.error(
                        status.at,
                        format!("{base}.answer.unavailable.status"),
                        format!("`{}` is not a 5xx status", status.value),
                    );
                }
                model::Answer::Unavailable {
                    status: status.value,
                }
            }
            doc::Answer::Respond {
                status,
                headers,
                body,
            } => {
                if !(100..=599).contains(&status.value) {
                    self.error(
                        status.at,
                        format!("{base}.answer.respond.status"),
                        format!("`{}` is not an HTTP status", status.value),
                    );
                }
                model::Answer::Respond {
                    status: status.value,
                    headers: headers.clone(),
                    body: body.clone(),
                }
            }
            doc::Answer::Delay(d) => model::Answer::Delay(d.value.0),
            doc::Answer::Drop => model::Answer::Drop,
            doc::Answer::BadCertificate(c) => model::Answer::BadCertificate(c.value),
        };
        model::Fault {
            name: f.name.value.clone(),
            target,
            matches: model::FaultMatch {
                tenant: m.tenant.as_ref().map(|x| x.value.clone()),
                identity,
                endpoint: m.endpoint.as_ref().map(|x| x.value.clone()),
                registry: m.registry.as_ref().map(|x| x.value.clone()),
                node: m.node.as_ref().map(|x| x.value.clone()),
                cluster: m.cluster.as_ref().map(|x| x.value.clone()),
                method: m.method.as_ref().map(|x| x.value.clone()),
                path_prefix: m.path_prefix.as_ref().map(|x| x.value.clone()),
            },
            answer,
            times: f.times.as_ref().map(|t| t.value),
            active: f.active,
        }
    }

    fn options(&mut self, o: &doc::Options) -> model::Options {
        let defaults = model::Options::default();
        let start_time = o
            .start_time
            .as_ref()
            .and_then(|s| match s.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    self.error(
                        s.at,
                        "world.options.startTime",
                        format!(
                            "`{}` is not an RFC 3339 time (e.g. `2026-11-29T20:00:00Z`)",
                            s.value
                        ),
                    );
                    None
                }
            });
        let span =
            |v: &Option<Located<crate::duration::Span>>, d| v.as_ref().map_or(d, |s| s.value.0);
        model::Options {
            start_time,
            entra_token_lifetime: o.entra_token_lifetime.as_ref().map(|s| s.value.0),
            federated_credential_propagation: span(
                &o.federated_credential_propagation,
                defaults.federated_credential_propagation,
            ),
            acr_refresh_token_lifetime: span(
                &o.acr_refresh_token_lifetime,
                defaults.acr_refresh_token_lifetime,
            ),
            acr_access_token_lifetime: span(
                &o.acr_access_token_lifetime,
                defaults.acr_access_token_lifetime,
            ),
        }
    }

    fn policy(&mut self) -> model::Policy {
        let p = &self.doc.policy;
        let defaults = model::Policy::default();
        if let Some(sa) = &p.service_account
            && !is_dns_subdomain(sa)
        {
            self.error(
                sa.at,
                "policy.serviceAccount",
                format!("`{}` is not a valid ServiceAccount name", sa.value),
            );
        }
        match (p.fallback.allowed.value, p.fallback.triggers.is_empty()) {
            (true, true) => self.error(
                p.fallback.allowed.at,
                "policy.fallback.triggers",
                "`fallback.allowed: true` needs `triggers`: the outcomes that may trigger it (`denied`, `not-configured`, `unavailable`)",
            ),
            (false, false) => self.error(
                p.fallback.triggers[0].at,
                "policy.fallback.triggers",
                "`triggers` applies only with `allowed: true`",
            ),
            _ => {}
        }
        for (i, o) in p.fallback.triggers.iter().enumerate() {
            if !matches!(
                o.value,
                Outcome::Denied | Outcome::NotConfigured | Outcome::Unavailable
            ) {
                self.error(
                    o.at,
                    format!("policy.fallback.triggers[{i}]"),
                    format!(
                        "`{}` cannot trigger a fallback; use `denied`, `not-configured` or `unavailable`",
                        o.value.as_str()
                    ),
                );
            }
        }
        let mut token_resources = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (i, tr) in p.token_resources.iter().enumerate() {
            let known = self.doc.world.tenants.iter().any(|t| {
                t.apps.iter().any(|a| a.name.value == tr.identity.value)
                    || t.managed_identities
                        .iter()
                        .any(|m| m.name.value == tr.identity.value)
            });
            if !known {
                self.error(
                    tr.identity.at,
                    format!("policy.tokenResources[{i}].identity"),
                    format!(
                        "no app or managed identity is named `{}`",
                        tr.identity.value
                    ),
                );
            }
            for (j, r) in tr.resources.iter().enumerate() {
                if !r.value.starts_with("https://") && !r.value.starts_with("api://") {
                    self.error(
                        r.at,
                        format!("policy.tokenResources[{i}].resources[{j}]"),
                        format!(
                            "`{}` is not a resource URI (`https://management.azure.com`)",
                            r.value
                        ),
                    );
                }
                token_resources
                    .entry(tr.identity.value.clone())
                    .or_default()
                    .push(model::token_resource(&r.value));
            }
        }
        let span =
            |v: &Option<Located<crate::duration::Span>>, d| v.as_ref().map_or(d, |s| s.value.0);
        model::Policy {
            service_account: p.service_account.as_ref().map(|s| s.value.clone()),
            fallback: model::Fallback {
                allowed: p.fallback.allowed.value,
                triggers: p.fallback.triggers.iter().map(|o| o.value).collect(),
            },
            max_credential_lifetime: span(
                &p.max_credential_lifetime,
                defaults.max_credential_lifetime,
            ),
            max_service_account_token_lifetime: span(
                &p.max_service_account_token_lifetime,
                defaults.max_service_account_token_lifetime,
            ),
            revocation_staleness: span(&p.revocation_staleness, defaults.revocation_staleness),
            token_resources,
        }
    }

    // ----- steps -----

    fn steps(&mut self, world: &model::World) -> Vec<model::Step> {
        // Federated credentials as steps change them (each with where its name was written), to
        // check adds and deletes in order against Entra's rules.
        type Credentials = Vec<(model::FederatedCredential, Pos)>;
        let mut fics: HashMap<(String, String), Credentials> = HashMap::new();
        for (t, dt) in world.tenants.iter().zip(&self.doc.world.tenants) {
            let apps = t
                .apps
                .iter()
                .zip(&dt.apps)
                .map(|(a, da)| (&a.name, &a.federated_credentials, &da.federated_credentials));
            let mis = t
                .managed_identities
                .iter()
                .zip(&dt.managed_identities)
                .map(|(m, dm)| (&m.name, &m.federated_credentials, &dm.federated_credentials));
            for (name, creds, written) in apps.chain(mis) {
                fics.insert(
                    (t.name.clone(), name.clone()),
                    creds
                        .iter()
                        .zip(written)
                        .map(|(f, w)| (f.clone(), w.name.at))
                        .collect(),
                );
            }
        }
        let mut out = Vec::new();
        for (i, step) in self.doc.steps.iter().enumerate() {
            let base = format!("steps[{i}]");
            let step_at = step.at;
            let (_, action) = match &step.value {
                doc::Step::Request(r) => (
                    r.shard.at,
                    self.request(&format!("{base}.request"), r, world),
                ),
                doc::Step::Concurrently(rs) => {
                    let path = format!("{base}.concurrently");
                    if rs.len() < 2 {
                        self.error(
                            step_at,
                            path.clone(),
                            "a `concurrently` step needs two or more requests (one is a `request` step)",
                        );
                    }
                    let requests: Vec<model::Request> = rs
                        .iter()
                        .enumerate()
                        .filter_map(|(j, r)| {
                            match self.request(&format!("{path}[{j}]"), r, world) {
                                Some(model::Action::Request(req)) => Some(req),
                                _ => None,
                            }
                        })
                        .collect();
                    let action = (requests.len() == rs.len() && rs.len() >= 2)
                        .then_some(model::Action::Concurrently(requests));
                    (step_at, action)
                }
                doc::Step::Advance(d) => {
                    if d.value.0.is_zero() {
                        self.error(d.at, format!("{base}.advance"), "advance by more than `0s`");
                    }
                    (d.at, Some(model::Action::Advance(d.value.0)))
                }
                doc::Step::AddRoleAssignment(a) => {
                    let path = format!("{base}.addRoleAssignment");
                    let action = self
                        .registry_ref(&a.registry, &format!("{path}.registry"))
                        .and_then(|reg| {
                            self.role_assignment(
                                reg,
                                &path,
                                &a.principal,
                                &a.role,
                                a.repository.as_ref(),
                                a.repository_prefix.as_ref(),
                            )
                            .map(|assignment| {
                                model::Action::AddRoleAssignment {
                                    registry: a.registry.value.clone(),
                                    assignment,
                                }
                            })
                        });
                    (a.registry.at, action)
                }
                doc::Step::RemoveRoleAssignment(a) => {
                    let path = format!("{base}.removeRoleAssignment");
                    let reg = self.registry_ref(&a.registry, &format!("{path}.registry"));
                    let who = self.identity_ref(&a.principal, &format!("{path}.principal"));
                    let action =
                        reg.zip(who)
                            .map(|(_, principal)| model::Action::RemoveRoleAssignment {
                                registry: a.registry.value.clone(),
                                principal,
                                role: a.role.as_ref().map(|r| r.value),
                            });
                    (a.registry.at, action)
                }
                doc::Step::AddFederatedCredential(a) => {
                    let path = format!("{base}.addFederatedCredential");
                    let who = self.identity_ref(&a.identity, &format!("{path}.identity"));
                    let credential =
                        self.federated_credential(&format!("{path}.credential"), &a.credential);
                    let action = who.map(|identity| {
                        let held = fics
                            .entry((identity.tenant.clone(), identity.name.clone()))
                            .or_default();
                        let at = a.credential.name.at;
                        if let Err(e) = rules::check_count(held.len() + 1) {
                            // Entra refuses it when the step runs; the world stays as it is.
                            self.warning(
                                at,
                                format!("{path}.credential"),
                                format!(
                                    "`{}` at this step: {e}, so Entra refuses this credential when the step runs (the step changes nothing)",
                                    a.identity.value
                                ),
                            );
                        } else if self.unique_credential(
                            held,
                            &credential,
                            at,
                            &format!("{path}.credential"),
                            "at this step, ",
                        ) {
                            held.push((credential.clone(), at));
                        }
                        model::Action::AddFederatedCredential {
                            identity,
                            credential,
                        }
                    });
                    (a.identity.at, action)
                }
                doc::Step::DeleteFederatedCredential(d) => {
                    let path = format!("{base}.deleteFederatedCredential");
                    let who = self.identity_ref(&d.identity, &format!("{path}.identity"));
                    let action = who.map(|identity| {
                        let held = fics
                            .entry((identity.tenant.clone(), identity.name.clone()))
                            .or_default();
                        let before = held.len();
                        held.retain(|(f, _)| f.name != d.name.value);
                        if held.len() == before {
                            let hint = did_you_mean(
                                &d.name.value,
                                held.iter().map(|(f, _)| f.name.as_str()),
                            );
                            self.error_hint(
                                d.name.at,
                                format!("{path}.name"),
                                format!(
                                    "`{}` has no federated credential named `{}` at this step",
                                    d.identity.value, d.name.value
                                ),
                                hint,
                            );
                        }
                        model::Action::DeleteFederatedCredential {
                            identity,
                            name: d.name.value.clone(),
                        }
                    });
                    (d.identity.at, action)
                }
                doc::Step::Annotate(a) => {
                    let path = format!("{base}.annotate");
                    let action = self
                        .cluster_ref(&a.cluster, &format!("{path}.cluster"))
                        .and_then(|ci| {
                            self.service_account_ref(
                                ci,
                                &a.service_account,
                                &format!("{path}.serviceAccount"),
                            )
                            .map(|service_account| {
                                model::Action::Annotate {
                                    cluster: a.cluster.value.clone(),
                                    service_account,
                                    annotations: a.annotations.clone(),
                                }
                            })
                        });
                    if a.annotations.is_empty() {
                        self.error(
                            a.cluster.at,
                            format!("{path}.annotations"),
                            "no annotations to change",
                        );
                    }
                    (a.cluster.at, action)
                }
                doc::Step::RotateKeys(r) => {
                    let path = format!("{base}.rotateKeys");
                    match (&r.tenant, &r.cluster) {
                        (Some(t), None) => {
                            let ok = self.tenant_ref(t, &format!("{path}.tenant"));
                            (
                                t.at,
                                ok.then(|| {
                                    model::Action::RotateKeys(model::KeyOwner::Tenant(
                                        t.value.clone(),
                                    ))
                                }),
                            )
                        }
                        (None, Some(c)) => {
                            let ok = self.cluster_ref(c, &format!("{path}.cluster")).is_some();
                            (
                                c.at,
                                ok.then(|| {
                                    model::Action::RotateKeys(model::KeyOwner::Cluster(
                                        c.value.clone(),
                                    ))
                                }),
                            )
                        }
                        (t, c) => {
                            let at = t.as_ref().or(c.as_ref()).map_or(Pos::UNKNOWN, |x| x.at);
                            self.error(at, path, "give exactly one of `tenant` and `cluster`");
                            (at, None)
                        }
                    }
                }
                doc::Step::Fault(f) => {
                    let path = format!("{base}.fault.name");
                    let known: Vec<&str> = self
                        .doc
                        .world
                        .faults
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect();
                    if !known.contains(&f.name.as_str()) {
                        let hint = did_you_mean(&f.name.value, known);
                        self.error_hint(
                            f.name.at,
                            path,
                            format!("no fault named `{}` in the world", f.name.value),
                            hint,
                        );
                    }
                    (
                        f.name.at,
                        Some(model::Action::Fault {
                            name: f.name.value.clone(),
                            active: f.active,
                        }),
                    )
                }
            };
            if let Some(action) = action {
                out.push(model::Step {
                    at: step_at,
                    action,
                });
            }
        }
        out
    }

    /// A request at `path` (`steps[3].request`, `steps[4].concurrently[1]`).
    fn request(
        &mut self,
        path: &str,
        r: &doc::Request,
        world: &model::World,
    ) -> Option<model::Action> {
        let path = path.to_owned();
        let shard = self.clusters.iter().position(|c| c.name == r.shard.value);
        match shard {
            None => {
                let shards: Vec<&str> = self
                    .clusters
                    .iter()
                    .filter(|c| c.has_controller)
                    .map(|c| c.name.as_str())
                    .collect();
                let hint = did_you_mean(&r.shard.value, shards);
                self.error_hint(
                    r.shard.at,
                    format!("{path}.shard"),
                    format!("no shard named `{}`", r.shard.value),
                    hint,
                );
            }
            Some(ci) if !self.clusters[ci].has_controller => self.error(
                r.shard.at,
                format!("{path}.shard"),
                format!(
                    "cluster `{}` has no `controller`, so it is not a shard",
                    r.shard.value
                ),
            ),
            Some(ci) => {
                if !self.clusters[ci].projects.contains(&r.project.value) {
                    let hint = did_you_mean(
                        &r.project.value,
                        self.clusters[ci].projects.iter().map(String::as_str),
                    );
                    self.error_hint(
                        r.project.at,
                        format!("{path}.project"),
                        format!(
                            "shard `{}` has no project `{}`",
                            r.shard.value, r.project.value
                        ),
                        hint,
                    );
                }
            }
        }
        let target = match (&r.registry, &r.host) {
            (Some(reg), None) => self
                .registry_ref(reg, &format!("{path}.registry"))
                .map(|_| model::RegistryTarget::Named {
                    name: reg.value.clone(),
                    login_server: format!("{}.azurecr.io", reg.value.to_ascii_lowercase()),
                }),
            (None, Some(h)) => {
                if h.trim().is_empty() {
                    self.error(h.at, format!("{path}.host"), "the host is empty");
                }
                Some(model::RegistryTarget::Host(h.value.clone()))
            }
            (Some(_), Some(h)) => {
                self.error(
                    h.at,
                    format!("{path}.host"),
                    "give either `registry` or `host`, not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    r.shard.at,
                    path.clone(),
                    "a request needs `registry` (a registry of the world) or `host` (as a user wrote it)",
                );
                None
            }
        };
        if r.repository.is_empty() {
            self.error(
                r.repository.at,
                format!("{path}.repository"),
                "the repository is empty",
            );
        }
        let expect = self.expect(&format!("{path}.expect"), &r.expect, world);
        let target = target?;
        Some(model::Action::Request(model::Request {
            shard: r.shard.value.clone(),
            project: r.project.value.clone(),
            target,
            repository: r.repository.value.clone(),
            artifact: r.artifact,
            expect,
        }))
    }

    fn expect(&mut self, path: &str, e: &doc::Expect, world: &model::World) -> model::Expect {
        let outcome = e.outcome.value;
        if outcome != Outcome::Granted
            && let Some(u) = e.unlocks.first().or(e.must_not_unlock.first())
        {
            {
                self.error(
                    u.at,
                    path.to_owned(),
                    format!(
                        "`unlocks` and `mustNotUnlock` apply only to `outcome: granted` (this is `{}`)",
                        outcome.as_str()
                    ),
                );
            }
        }
        if let Some(code) = &e.error {
            if !matches!(outcome, Outcome::Denied | Outcome::Unavailable) {
                self.error(
                    code.at,
                    format!("{path}.error"),
                    format!(
                        "`error` applies only to `outcome: denied` or `unavailable` (this is `{}`)",
                        outcome.as_str()
                    ),
                );
            }
            if !is_error_code(code) {
                let hint = did_you_mean(&code.value, ACR_ERROR_CODES.iter().copied());
                self.error_hint(
                    code.at,
                    format!("{path}.error"),
                    format!(
                        "`{}` is neither an Entra code (`AADSTS` and digits) nor an ACR code ({})",
                        code.value,
                        ACR_ERROR_CODES
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    hint,
                );
            }
        }
        let repos = |cx: &mut Self, field: &str, list: &[Located<String>]| {
            let mut out = Vec::new();
            for (i, u) in list.iter().enumerate() {
                let p = format!("{path}.{field}[{i}]");
                let found = u.split_once('/').and_then(|(reg, repo)| {
                    world
                        .registry(reg)
                        .filter(|r| r.repositories.iter().any(|x| x.name == repo))
                        .map(|_| model::RepositoryRef {
                            registry: reg.to_owned(),
                            repository: repo.to_owned(),
                        })
                });
                match found {
                    Some(r) => out.push(r),
                    None => {
                        let all: Vec<String> = world
                            .registries
                            .iter()
                            .flat_map(|r| {
                                r.repositories
                                    .iter()
                                    .map(move |x| format!("{}/{}", r.name, x.name))
                            })
                            .collect();
                        let hint = did_you_mean(&u.value, all.iter().map(String::as_str));
                        cx.error_hint(
                            u.at,
                            p,
                            format!(
                                "`{}` is not `<registry>/<repository>` of a repository in the world",
                                u.value
                            ),
                            hint,
                        );
                    }
                }
            }
            out
        };
        let unlocks = repos(self, "unlocks", &e.unlocks);
        let must_not_unlock = repos(self, "mustNotUnlock", &e.must_not_unlock);
        if let Some(both) = unlocks.iter().find(|u| must_not_unlock.contains(u)) {
            self.error(
                e.outcome.at,
                path.to_owned(),
                format!("`{both}` is in both `unlocks` and `mustNotUnlock`"),
            );
        }
        model::Expect {
            outcome,
            unlocks,
            must_not_unlock,
            error: e.error.as_ref().map(|c| c.value.clone()),
        }
    }
}

/// Distribution and ACR error codes a registry answers with.
pub const ACR_ERROR_CODES: &[&str] = &[
    "UNAUTHORIZED",
    "DENIED",
    "NAME_UNKNOWN",
    "NAME_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_INVALID",
    "BLOB_UNKNOWN",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

fn is_error_code(code: &str) -> bool {
    code.strip_prefix("AADSTS")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        || ACR_ERROR_CODES.contains(&code)
}

fn issuer_of(c: &doc::Cluster) -> String {
    c.issuer.as_ref().map_or_else(
        || format!("https://oidc.{}.credsim.test/", c.name.value),
        |i| i.value.clone(),
    )
}

/// What a cluster's issuer must be at least (Kubernetes and Entra accept no other scheme).
fn is_https_url(url: &str) -> bool {
    url.starts_with("https://") && url.len() > "https://".len()
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

fn parse_guid(g: Option<&Located<String>>) -> Option<Uuid> {
    g.and_then(|g| Uuid::try_parse(&g.value).ok())
}

/// An RFC 1123 label: what namespaces and these names must be.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 subdomain: what ServiceAccount names must be.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A repository name as the OCI distribution spec allows it.
fn is_repository_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|component| {
            !component.is_empty()
                && component.split(['.', '_', '-']).all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}
