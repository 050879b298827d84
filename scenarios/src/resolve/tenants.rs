//! Tenants: their names, IDs and domains, their apps and managed identities (IDs given or
//! derived from names, secrets, certificates, federated credentials) and their resources.

use uuid::Uuid;

use crate::located::Located;
use crate::model::{self, guid};
use crate::v1alpha1 as doc;

use super::context::Cx;
use super::names::is_dns_label;

impl Cx<'_> {
    /// The tenant at `base` (`world.tenants[0]`, or `steps[3].addTenant`).
    pub(super) fn tenant(&mut self, base: &str, t: &doc::Tenant) -> model::Tenant {
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
            .map(|(j, a)| self.app(&format!("{base}.apps[{j}]"), &t.name, a))
            .collect();
        let managed_identities = t
            .managed_identities
            .iter()
            .enumerate()
            .map(|(j, m)| {
                self.managed_identity(&format!("{base}.managedIdentities[{j}]"), &t.name, m)
            })
            .collect();
        let resources = self.resources(base, &t.resources);
        model::Tenant {
            name: t.name.value.clone(),
            id,
            domains,
            apps,
            managed_identities,
            resources,
        }
    }

    /// The app at `path` of tenant `tenant`.
    pub(super) fn app(&mut self, path: &str, tenant: &str, a: &doc::App) -> model::App {
        let client_id = self.guid(
            a.client_id.as_ref(),
            format!("{path}.clientId"),
            guid::client_id(tenant, &a.name),
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
            self.federated_credentials(path, &a.name, &a.federated_credentials);
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
    }

    /// The managed identity at `path` of tenant `tenant`.
    pub(super) fn managed_identity(
        &mut self,
        path: &str,
        tenant: &str,
        m: &doc::ManagedIdentity,
    ) -> model::ManagedIdentity {
        let client_id = self.guid(
            m.client_id.as_ref(),
            format!("{path}.clientId"),
            guid::client_id(tenant, &m.name),
        );
        let principal_id = self.guid(
            m.principal_id.as_ref(),
            format!("{path}.principalId"),
            guid::principal_id(tenant, &m.name),
        );
        let federated_credentials =
            self.federated_credentials(path, &m.name, &m.federated_credentials);
        model::ManagedIdentity {
            name: m.name.value.clone(),
            client_id,
            principal_id,
            federated_credentials,
        }
    }

    /// The resources of the tenant at `base`, each URI once.
    fn resources(&mut self, base: &str, resources: &[doc::Resource]) -> Vec<model::Resource> {
        self.unique(
            "resource",
            resources
                .iter()
                .enumerate()
                .map(|(j, r)| (&r.uri, format!("{base}.resources[{j}].uri"))),
        );
        resources
            .iter()
            .map(|r| model::Resource {
                uri: r.uri.value.clone(),
                v2: r.v2,
            })
            .collect()
    }

    /// The GUID given at `path`, or `derived` when none is (or, reported, when it is malformed).
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
}
