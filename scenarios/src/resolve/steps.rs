//! Steps, in order: each resolved against the world, and the federated credentials the steps
//! add and delete followed step by step, so a delete names a credential that exists at that
//! point and an add passes Entra's rules against the credentials held then. Requests (and what
//! they expect) are resolved by `requests`.

use std::collections::HashMap;

use entra_rules::federated as rules;

use crate::diagnostic::did_you_mean;
use crate::located::{Located, Pos};
use crate::model;
use crate::v1alpha1 as doc;

use super::context::Cx;

/// Federated credentials as steps change them, by identity (tenant, name), each with where its
/// name was written, to check adds and deletes in order against Entra's rules.
pub(super) type Held = HashMap<(String, String), Vec<(model::FederatedCredential, Pos)>>;

impl Cx<'_> {
    pub(super) fn steps(&mut self, world: &model::World) -> Vec<model::Step> {
        let mut held = self.credentials_before_steps(world);
        let mut out = Vec::new();
        for (i, step) in self.doc.steps.iter().enumerate() {
            if let Some(action) = self.step(&format!("steps[{i}]"), step, world, &mut held) {
                out.push(model::Step {
                    at: step.at,
                    action,
                });
            }
        }
        out
    }

    /// The step at `base`; `None` when it does not resolve (reported).
    fn step(
        &mut self,
        base: &str,
        step: &Located<doc::Step>,
        world: &model::World,
        held: &mut Held,
    ) -> Option<model::Action> {
        match &step.value {
            doc::Step::Request(r) => self
                .request(&format!("{base}.request"), r, world)
                .map(model::Action::Request),
            doc::Step::Concurrently(rs) => {
                self.concurrently(&format!("{base}.concurrently"), step.at, rs, world)
            }
            doc::Step::Advance(d) => self.advance(&format!("{base}.advance"), d),
            doc::Step::AddRoleAssignment(a) => {
                self.add_role_assignment(&format!("{base}.addRoleAssignment"), a)
            }
            doc::Step::RemoveRoleAssignment(a) => {
                self.remove_role_assignment(&format!("{base}.removeRoleAssignment"), a)
            }
            doc::Step::AddFederatedCredential(a) => {
                self.add_federated_credential(&format!("{base}.addFederatedCredential"), a, held)
            }
            doc::Step::DeleteFederatedCredential(d) => self.delete_federated_credential(
                &format!("{base}.deleteFederatedCredential"),
                d,
                held,
            ),
            doc::Step::Annotate(a) => self.annotate(&format!("{base}.annotate"), a),
            doc::Step::RotateKeys(r) => self.rotate_keys(&format!("{base}.rotateKeys"), r),
            doc::Step::Fault(f) => self.toggle_fault(&format!("{base}.fault"), f),
            doc::Step::AddTenant(t) => self.add_tenant(&format!("{base}.addTenant"), t, held),
            doc::Step::AddIdentity(a) => self.add_identity(&format!("{base}.addIdentity"), a, held),
            doc::Step::AddProject(p) => self.add_project(&format!("{base}.addProject"), p),
        }
    }

    /// The world's federated credentials, before any step, each with where its name was written.
    fn credentials_before_steps(&self, world: &model::World) -> Held {
        let mut held = Held::new();
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
                held.insert(
                    (t.name.clone(), name.clone()),
                    creds
                        .iter()
                        .zip(written)
                        .map(|(f, w)| (f.clone(), w.name.at))
                        .collect(),
                );
            }
        }
        held
    }

    /// Two or more requests at once (one alone is a `request` step); `None` unless every one
    /// resolves.
    fn concurrently(
        &mut self,
        path: &str,
        at: Pos,
        rs: &[doc::Request],
        world: &model::World,
    ) -> Option<model::Action> {
        if rs.len() < 2 {
            self.error(
                at,
                path.to_owned(),
                "a `concurrently` step needs two or more requests (one is a `request` step)",
            );
        }
        let requests: Vec<model::Request> = rs
            .iter()
            .enumerate()
            .filter_map(|(j, r)| self.request(&format!("{path}[{j}]"), r, world))
            .collect();
        (requests.len() == rs.len() && rs.len() >= 2)
            .then_some(model::Action::Concurrently(requests))
    }

    fn advance(&mut self, path: &str, d: &Located<crate::duration::Span>) -> Option<model::Action> {
        if d.value.0.is_zero() {
            self.error(d.at, path.to_owned(), "advance by more than `0s`");
        }
        Some(model::Action::Advance(d.value.0))
    }

    fn add_role_assignment(
        &mut self,
        path: &str,
        a: &doc::RoleAssignmentChange,
    ) -> Option<model::Action> {
        let reg = self.registry_ref(&a.registry, &format!("{path}.registry"))?;
        let assignment = self.role_assignment(reg, path, a.into())?;
        Some(model::Action::AddRoleAssignment {
            registry: a.registry.value.clone(),
            assignment,
        })
    }

    fn remove_role_assignment(
        &mut self,
        path: &str,
        a: &doc::RoleAssignmentRemoval,
    ) -> Option<model::Action> {
        // Both resolved, so both are reported when neither exists.
        let reg = self.registry_ref(&a.registry, &format!("{path}.registry"));
        let who = self.identity_ref(&a.principal, &format!("{path}.principal"));
        reg.zip(who)
            .map(|(_, principal)| model::Action::RemoveRoleAssignment {
                registry: a.registry.value.clone(),
                principal,
                role: a.role.as_ref().map(|r| r.value),
            })
    }

    /// A credential added to an identity: checked on its own, then against the credentials the
    /// identity holds at this step (and held from then on when Entra would accept it).
    fn add_federated_credential(
        &mut self,
        path: &str,
        a: &doc::FederatedCredentialChange,
        held: &mut Held,
    ) -> Option<model::Action> {
        let who = self.identity_ref(&a.identity, &format!("{path}.identity"));
        let credential = self.federated_credential(&format!("{path}.credential"), &a.credential);
        let identity = who?;
        let held = held
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
        Some(model::Action::AddFederatedCredential {
            identity,
            credential,
        })
    }

    /// A credential deleted from an identity: one it holds at this step.
    fn delete_federated_credential(
        &mut self,
        path: &str,
        d: &doc::FederatedCredentialRemoval,
        held: &mut Held,
    ) -> Option<model::Action> {
        let identity = self.identity_ref(&d.identity, &format!("{path}.identity"))?;
        let held = held
            .entry((identity.tenant.clone(), identity.name.clone()))
            .or_default();
        let before = held.len();
        held.retain(|(f, _)| f.name != d.name.value);
        if held.len() == before {
            let hint = did_you_mean(&d.name.value, held.iter().map(|(f, _)| f.name.as_str()));
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
        Some(model::Action::DeleteFederatedCredential {
            identity,
            name: d.name.value.clone(),
        })
    }

    fn annotate(&mut self, path: &str, a: &doc::Annotate) -> Option<model::Action> {
        let action = self
            .cluster_ref(&a.cluster, &format!("{path}.cluster"))
            .and_then(|ci| {
                self.service_account_ref(ci, &a.service_account, &format!("{path}.serviceAccount"))
            })
            .map(|service_account| model::Action::Annotate {
                cluster: a.cluster.value.clone(),
                service_account,
                annotations: a.annotations.clone(),
            });
        if a.annotations.is_empty() {
            self.error(
                a.cluster.at,
                format!("{path}.annotations"),
                "no annotations to change",
            );
        }
        action
    }

    /// Keys rotated for exactly one owner: a tenant or a cluster.
    fn rotate_keys(&mut self, path: &str, r: &doc::RotateKeys) -> Option<model::Action> {
        match (&r.tenant, &r.cluster) {
            (Some(t), None) => {
                let ok = self.tenant_ref(t, &format!("{path}.tenant"));
                ok.then(|| model::Action::RotateKeys(model::KeyOwner::Tenant(t.value.clone())))
            }
            (None, Some(c)) => {
                let ok = self.cluster_ref(c, &format!("{path}.cluster")).is_some();
                ok.then(|| model::Action::RotateKeys(model::KeyOwner::Cluster(c.value.clone())))
            }
            (t, c) => {
                let at = t.as_ref().or(c.as_ref()).map_or(Pos::UNKNOWN, |x| x.at);
                self.error(
                    at,
                    path.to_owned(),
                    "give exactly one of `tenant` and `cluster`",
                );
                None
            }
        }
    }

    /// A fault of the world switched on or off.
    fn toggle_fault(&mut self, path: &str, f: &doc::FaultToggle) -> Option<model::Action> {
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
                format!("{path}.name"),
                format!("no fault named `{}` in the world", f.name.value),
                hint,
            );
        }
        Some(model::Action::Fault {
            name: f.name.value.clone(),
            active: f.active,
        })
    }
}
