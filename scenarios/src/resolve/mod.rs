//! From a decoded [`Document`] to the [`Scenario`] model: references resolved, defaults filled,
//! and every semantic error collected with its position (not just the first).
//!
//! Checked here: duplicate names, dangling references (with `did you mean`), malformed GUIDs,
//! names and URLs; federated credentials (one issuer, one subject, a subject that names a
//! ServiceAccount, and every rule Entra applies when one is created, from `entra-rules`, the
//! rules mock-entra applies: name, issuer, subject, audience, uniqueness per identity, at most
//! 20 per identity); ABAC conditions only where Azure honours them; fault matches that the target
//! can see; steps on shards, projects, registries and repositories that exist, and federated
//! credentials that exist when a step deletes them and are new when a step adds them; tenants,
//! identities and projects that steps add exist for the steps after, and are new when added.
//!
//! One of Entra's refusals is a warning, not an error: a step that adds a credential to an
//! identity that already has 20 at that point. Entra refuses it when the step runs and the world
//! does not change; a scenario may mean exactly that (the corpus's
//! `twenty-federated-credentials`).
//!
//! The parts, each resolving one part of the document on one shared context:
//!
//! - this module: the entry point, [`resolve`], and the scenario as a whole (metadata, the
//!   parts in order, properties).
//! - `context`: the context (the document, the diagnostics so far, the name indexes references
//!   resolve against) and its reporting helpers.
//! - `lookup`: references by name (tenants, identities, registries, clusters, ServiceAccounts,
//!   nodes), each an error with `did you mean` when it dangles.
//! - `names`: what names, URLs and GUIDs must look like.
//! - `world`: the world's unique names, client IDs, leniency and options.
//! - `tenants`: tenants, their apps, managed identities and resources.
//! - `federated`: federated credentials and Entra's rules for them.
//! - `registries`: registries, repositories, role assignments and tokens.
//! - `clusters`: clusters, their namespaces and objects.
//! - `controller`: a cluster's controller (RBAC, identity, token file, env).
//! - `nodes`, `faults`: the world's nodes and faults.
//! - `policy`: what the scenario asks of the implementation.
//! - `steps`: steps in order, with the federated credentials they add and delete.
//! - `additions`: the steps that add a tenant, an identity or a project, which extend the name
//!   indexes for the steps after them.
//! - `requests`: a step's requests and what must come of each.
//!
//! [`Document`]: crate::v1alpha1::Document
//! [`Scenario`]: crate::model::Scenario

mod additions;
mod clusters;
mod context;
mod controller;
mod faults;
mod federated;
mod lookup;
mod names;
mod nodes;
mod policy;
mod registries;
mod requests;
mod steps;
mod tenants;
mod world;

use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::model;
use crate::v1alpha1 as doc;

use context::Cx;
use names::is_dns_label;

/// The most federated identity credentials one app or identity may have (Entra's limit).
pub use entra_rules::MAX_FEDERATED_CREDENTIALS;

pub use requests::ACR_ERROR_CODES;

/// Resolves `doc`; the scenario is `Some` only when there was no error.
pub fn resolve(file: &str, doc: &doc::Document) -> (Option<model::Scenario>, Vec<Diagnostic>) {
    let mut cx = Cx::new(file, doc);
    let scenario = cx.scenario();
    let ok = !cx.diags.iter().any(Diagnostic::is_error);
    (ok.then_some(scenario), cx.diags)
}

impl Cx<'_> {
    /// The whole scenario: metadata, world, steps (against the resolved world), properties and
    /// policy, in that order (the order diagnostics at one position are reported in).
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
        let properties = self.properties();
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

    /// The properties the scenario checks, each listed once.
    fn properties(&mut self) -> Option<Vec<model::PropertyId>> {
        let props = self.doc.properties.as_ref()?;
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
        Some(out)
    }
}
