//! The policy: what the scenario asks of the implementation (its ServiceAccount, when it may
//! fall back, credential lifetimes, the resources identities may also ask for).

use std::collections::BTreeMap;

use crate::located::Located;
use crate::model;
use crate::v1alpha1 as doc;
use crate::vocab::Outcome;

use super::context::Cx;
use super::names::is_dns_subdomain;

impl Cx<'_> {
    pub(super) fn policy(&mut self) -> model::Policy {
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
        self.check_fallback(&p.fallback);
        let token_resources = self.token_resources(&p.token_resources);
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

    /// Triggers exactly when a fallback is allowed, each an outcome that can trigger one.
    fn check_fallback(&mut self, fallback: &doc::Fallback) {
        match (fallback.allowed.value, fallback.triggers.is_empty()) {
            (true, true) => self.error(
                fallback.allowed.at,
                "policy.fallback.triggers",
                "`fallback.allowed: true` needs `triggers`: the outcomes that may trigger it (`denied`, `not-configured`, `unavailable`)",
            ),
            (false, false) => self.error(
                fallback.triggers[0].at,
                "policy.fallback.triggers",
                "`triggers` applies only with `allowed: true`",
            ),
            _ => {}
        }
        for (i, o) in fallback.triggers.iter().enumerate() {
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
    }

    /// The resources each named identity may also ask for, by identity name.
    fn token_resources(&mut self, given: &[doc::TokenResources]) -> BTreeMap<String, Vec<String>> {
        let mut token_resources = BTreeMap::<String, Vec<String>>::new();
        for (i, tr) in given.iter().enumerate() {
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
        token_resources
    }
}
