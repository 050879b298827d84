//! Nodes: the VMs IMDS answers for, in a tenant (and perhaps a cluster), with the managed
//! identities assigned to them.

use crate::diagnostic::did_you_mean;
use crate::located::Located;
use crate::model::{self, IdentityKind, IdentityRef};
use crate::v1alpha1 as doc;

use super::context::Cx;

impl Cx<'_> {
    pub(super) fn node(&mut self, i: usize, n: &doc::Node) -> model::Node {
        let base = format!("world.nodes[{i}]");
        self.tenant_ref(&n.tenant, &format!("{base}.tenant"));
        if let Some(c) = &n.cluster {
            self.cluster_ref(c, &format!("{base}.cluster"));
        }
        let user_assigned = n
            .user_assigned
            .iter()
            .enumerate()
            .filter_map(|(j, u)| self.user_assigned(&format!("{base}.userAssigned[{j}]"), n, u))
            .collect();
        model::Node {
            name: n.name.value.clone(),
            tenant: n.tenant.value.clone(),
            cluster: n.cluster.as_ref().map(|c| c.value.clone()),
            system_assigned: n.system_assigned,
            user_assigned,
        }
    }

    /// The user-assigned identity `u` at `path` of node `n`: a managed identity of the node's
    /// tenant, written `name` or `<node's tenant>/name`.
    fn user_assigned(
        &mut self,
        path: &str,
        n: &doc::Node,
        u: &Located<String>,
    ) -> Option<IdentityRef> {
        let wanted = u
            .strip_prefix(&format!("{}/", n.tenant.value))
            .unwrap_or(&u.value);
        let found = self.identities.iter().find(|e| {
            e.tenant == n.tenant.value
                && e.name == wanted
                && e.kind == IdentityKind::ManagedIdentity
        });
        if let Some(e) = found {
            return Some(IdentityRef {
                tenant: e.tenant.clone(),
                name: e.name.clone(),
                kind: e.kind,
                client_id: e.client_id,
            });
        }
        let known: Vec<&str> = self
            .identities
            .iter()
            .filter(|e| e.tenant == n.tenant.value && e.kind == IdentityKind::ManagedIdentity)
            .map(|e| e.name.as_str())
            .collect();
        let hint = did_you_mean(&u.value, known);
        self.error_hint(
            u.at,
            path.to_owned(),
            format!(
                "tenant `{}` has no managed identity `{}`",
                n.tenant.value, u.value
            ),
            hint,
        );
        None
    }
}
