//! Faults: what each target can be matched on (a certificate fault only on the host, as it is
//! presented before any request), the references a match makes, and the answers.

use crate::diagnostic::did_you_mean;
use crate::located::Located;
use crate::model::{self, IdentityRef};
use crate::v1alpha1 as doc;
use crate::vocab::FaultTarget;

use super::context::Cx;

impl Cx<'_> {
    pub(super) fn fault(&mut self, i: usize, f: &doc::Fault) -> model::Fault {
        let base = format!("world.faults[{i}]");
        let m = &f.matches;
        let target = f.target.value;
        let certificate = matches!(f.answer, doc::Answer::BadCertificate(_));
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
        self.check_match_fields(&base, m, target, certificate);
        let identity = self.match_references(&base, m, target);
        if let Some(t) = &f.times
            && t.value == 0
        {
            self.error(t.at, format!("{base}.times"), "`times` must be at least 1");
        }
        let answer = self.answer(&base, &f.answer);
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

    /// Every field `m` matches on is one the target can see.
    fn check_match_fields(
        &mut self,
        base: &str,
        m: &doc::FaultMatch,
        target: FaultTarget,
        certificate: bool,
    ) {
        let allowed = matchable_fields(target, certificate);
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
    }

    /// What the match names exists; the identity it names, resolved.
    fn match_references(
        &mut self,
        base: &str,
        m: &doc::FaultMatch,
        target: FaultTarget,
    ) -> Option<IdentityRef> {
        if let Some(t) = &m.tenant {
            self.tenant_ref(t, &format!("{base}.match.tenant"));
        }
        let identity = m
            .identity
            .as_ref()
            .and_then(|r| self.identity_ref(r, &format!("{base}.match.identity")));
        if let Some(e) = &m.endpoint {
            self.check_endpoint(base, e, target);
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
        identity
    }

    /// Endpoint `e` is one the target serves.
    fn check_endpoint(&mut self, base: &str, e: &Located<String>, target: FaultTarget) {
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

    /// The answer, with statuses in the range its kind allows.
    fn answer(&mut self, base: &str, answer: &doc::Answer) -> model::Answer {
        match answer {
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
        }
    }
}

/// The match fields a fault on `target` can use.
fn matchable_fields(target: FaultTarget, certificate: bool) -> &'static [&'static str] {
    match target {
        // A certificate is presented before any request: only the host can be matched.
        FaultTarget::Entra if certificate => &[],
        FaultTarget::Acr if certificate => &["registry"],
        FaultTarget::Entra => &["tenant", "identity", "endpoint", "method", "pathPrefix"],
        FaultTarget::Imds => &["node", "endpoint", "method", "pathPrefix"],
        FaultTarget::Acr => &["registry", "method", "pathPrefix"],
        FaultTarget::Cluster => &["cluster", "method", "pathPrefix"],
    }
}
