//! The context every part of resolution shares: the document, the diagnostics collected so far,
//! and the name indexes references are resolved against (built once, before anything is
//! resolved, so a reference may name something written further down; the steps that add a
//! tenant, an identity or a project extend them in order, so only later steps see what they
//! add).

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use crate::diagnostic::Diagnostic;
use crate::located::{Located, Pos};
use crate::model::{IdentityKind, ServiceAccountRef, guid};
use crate::v1alpha1 as doc;

use super::clusters::issuer_of;
use super::names::parse_guid;

/// The namespaces every cluster has from the start.
pub(super) const BUILT_IN_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

pub(super) struct Cx<'a> {
    pub(super) file: &'a str,
    pub(super) doc: &'a doc::Document,
    pub(super) diags: Vec<Diagnostic>,
    /// Tenants, with their IDs and verified domains.
    pub(super) tenants: Vec<TenantEntry>,
    pub(super) identities: Vec<IdentityEntry>,
    pub(super) clusters: Vec<ClusterEntry>,
}

/// A tenant as references and uniqueness checks see it.
pub(super) struct TenantEntry {
    pub(super) name: String,
    pub(super) id: Uuid,
    pub(super) domains: Vec<String>,
}

/// An app or managed identity as references see it.
pub(super) struct IdentityEntry {
    pub(super) tenant: String,
    pub(super) name: String,
    pub(super) kind: IdentityKind,
    pub(super) client_id: Uuid,
    pub(super) multi_tenant: bool,
    /// How many client secrets an app has.
    pub(super) secrets: usize,
}

impl IdentityEntry {
    pub(super) fn app(tenant: &str, a: &crate::model::App) -> Self {
        Self {
            tenant: tenant.to_owned(),
            name: a.name.clone(),
            kind: IdentityKind::App,
            client_id: a.client_id,
            multi_tenant: a.multi_tenant,
            secrets: a.secrets.len(),
        }
    }

    pub(super) fn managed_identity(tenant: &str, m: &crate::model::ManagedIdentity) -> Self {
        Self {
            tenant: tenant.to_owned(),
            name: m.name.clone(),
            kind: IdentityKind::ManagedIdentity,
            client_id: m.client_id,
            multi_tenant: false,
            secrets: 0,
        }
    }
}

/// A cluster as references see it.
pub(super) struct ClusterEntry {
    pub(super) name: String,
    pub(super) issuer: String,
    pub(super) projects: Vec<String>,
    /// Every namespace: the four every cluster has, projects, others, the controller's.
    pub(super) namespaces: BTreeSet<String>,
    pub(super) service_accounts: BTreeSet<ServiceAccountRef>,
    pub(super) has_controller: bool,
}

impl<'a> Cx<'a> {
    pub(super) fn new(file: &'a str, doc: &'a doc::Document) -> Self {
        let mut cx = Self {
            file,
            doc,
            diags: Vec::new(),
            tenants: Vec::new(),
            identities: Vec::new(),
            clusters: Vec::new(),
        };
        cx.index();
        cx
    }

    pub(super) fn error(&mut self, at: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, at, message).path(path));
    }

    pub(super) fn warning(&mut self, at: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, at, message).path(path));
    }

    pub(super) fn error_hint(
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
    pub(super) fn unique<'n>(
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
        self.index_identities();
        self.index_clusters();
    }

    fn index_identities(&mut self) {
        for t in &self.doc.world.tenants {
            let domains = if t.domains.is_empty() {
                vec![format!("{}.onmicrosoft.com", t.name.value)]
            } else {
                t.domains.clone()
            };
            self.tenants.push(TenantEntry {
                name: t.name.value.clone(),
                id: parse_guid(t.id.as_ref()).unwrap_or_else(|| guid::tenant_id(&t.name)),
                domains,
            });
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
    }

    fn index_clusters(&mut self) {
        for c in &self.doc.world.clusters {
            let mut sas = BTreeSet::new();
            let mut namespaces: BTreeSet<String> = BUILT_IN_NAMESPACES
                .iter()
                .map(|n| (*n).to_owned())
                .collect();
            for ns in c.projects.iter().chain(&c.namespaces) {
                namespaces.insert(ns.name.value.clone());
                for sa in &ns.service_accounts {
                    sas.insert(ServiceAccountRef {
                        namespace: ns.name.value.clone(),
                        name: sa.name.value.clone(),
                    });
                }
            }
            if let Some(ctl) = &c.controller {
                namespaces.insert(ctl.namespace.value.clone());
                sas.insert(ServiceAccountRef {
                    namespace: ctl.namespace.value.clone(),
                    name: ctl.service_account.value.clone(),
                });
            }
            self.clusters.push(ClusterEntry {
                name: c.name.value.clone(),
                issuer: issuer_of(c),
                projects: c.projects.iter().map(|p| p.name.value.clone()).collect(),
                namespaces,
                service_accounts: sas,
                has_controller: c.controller.is_some(),
            });
        }
    }
}
