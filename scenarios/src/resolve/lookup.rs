//! References by name: each resolves what a field names, or reports that nothing has that name
//! (with `did you mean` when something is close).

use crate::diagnostic::did_you_mean;
use crate::located::Located;
use crate::model::{IdentityRef, ServiceAccountRef};
use crate::v1alpha1 as doc;

use super::context::{Cx, IdentityEntry};

impl<'a> Cx<'a> {
    pub(super) fn tenant_ref(&mut self, t: &Located<String>, path: &str) -> bool {
        let known: Vec<&str> = self.tenants.iter().map(|e| e.name.as_str()).collect();
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

    /// Resolves `name` or `tenant/name` to an app or managed identity.
    pub(super) fn identity_ref(&mut self, r: &Located<String>, path: &str) -> Option<IdentityRef> {
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

    pub(super) fn registry_ref(
        &mut self,
        r: &Located<String>,
        path: &str,
    ) -> Option<&'a doc::Registry> {
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

    pub(super) fn cluster_ref(&mut self, c: &Located<String>, path: &str) -> Option<usize> {
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

    /// Resolves `<namespace>/<name>` to a ServiceAccount of the cluster at `ci`.
    pub(super) fn service_account_ref(
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

    pub(super) fn node_ref(&mut self, n: &Located<String>, path: &str) -> bool {
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
}
