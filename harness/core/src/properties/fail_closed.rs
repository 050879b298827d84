//! `fail-closed`: when configuration is missing or wrong (no mapping, unknown tenant,
//! federated-credential mismatch, an Entra or ACR error) the implementation returns an error, not
//! a credential from a broader identity, unless the policy allows that fallback and its trigger.
//!
//! Threat: "fall back to the controller's own identity on any error". Evidence: how the project's
//! own attempt went (the Entra journal during the request: a token issued to one of the project's
//! identities, an AADSTS error, a fault, or no attempt at all) and what the returned credential
//! unlocked beyond what the project's identities and anyone may pull.

use scenarios::model::{Outcome, PropertyId};

use super::{PropertyResult, at};
use crate::evidence::{Evidence, RequestRecord};
use mock_entra::journal::TokenOutcome;

/// The project's own token requests during `r`: assertions for one of its ServiceAccounts
/// (whatever client ID the implementation paired them with), or requests for one of its
/// federated identities.
fn own_token_requests(e: &Evidence<'_>, r: &RequestRecord) -> Vec<mock_entra::journal::TokenEvent> {
    let prefix = format!("system:serviceaccount:{}:", r.request.project);
    r.entra_events(e.world)
        .into_iter()
        .filter(|t| {
            t.assertion
                .as_ref()
                .and_then(|a| a.sub.as_deref())
                .is_some_and(|s| s.starts_with(&prefix))
                || t.client_id
                    .as_ref()
                    .is_some_and(|c| r.own_client_ids.contains(c))
        })
        .collect()
}

/// Whether the project's own attempt during `r` got a token from Entra (the credential `r`
/// handed out can be its own).
pub(crate) fn obtained_by_own_attempt(e: &Evidence<'_>, r: &RequestRecord) -> bool {
    own_token_requests(e, r)
        .iter()
        .any(|t| matches!(t.outcome, TokenOutcome::Issued { .. }))
}

/// How the project's own attempt went, as the Entra journal shows it.
fn own_attempt(e: &Evidence<'_>, r: &RequestRecord) -> Option<Outcome> {
    let events = own_token_requests(e, r);
    if events
        .iter()
        .any(|t| matches!(t.outcome, TokenOutcome::Issued { .. }))
    {
        return None;
    }
    if events
        .iter()
        .any(|t| matches!(t.outcome, TokenOutcome::Faulted { .. }))
    {
        return Some(Outcome::Unavailable);
    }
    if events
        .iter()
        .any(|t| matches!(t.outcome, TokenOutcome::Error { .. }))
    {
        return Some(Outcome::Denied);
    }
    // The implementation acted as another project of the world (that project's ServiceAccount
    // token went to Entra): nothing was missing, it confused projects, which is
    // `project-isolation`'s to judge.
    let events = r.entra_events(e.world);
    let namespace_of = |t: &mock_entra::journal::TokenEvent| {
        t.assertion
            .as_ref()
            .and_then(|a| a.sub.as_deref())
            .and_then(|s| s.strip_prefix("system:serviceaccount:"))
            .and_then(|s| s.split_once(':'))
            .map(|(ns, _)| ns.to_owned())
    };
    // In a `concurrently` step, a project asked for at the same time made its own token
    // requests; more of them than it was asked for means another request acted as it.
    let used_more_than_asked = |ns: &str| {
        let asked = r.concurrent_projects().filter(|p| *p == ns).count();
        let used = events
            .iter()
            .filter(|t| namespace_of(t).as_deref() == Some(ns))
            .count();
        used > asked
    };
    let as_other_project = events.iter().any(|t| {
        namespace_of(t).as_deref().is_some_and(|ns| {
            ns != r.request.project
                && (!r.concurrent_projects().any(|p| p == ns) || used_more_than_asked(ns))
                && e.scenario
                    .world
                    .clusters
                    .iter()
                    .any(|c| c.project(ns).is_some())
        })
    });
    if as_other_project {
        return None;
    }
    // No attempt with the project's own identity: it has none, or none the implementation found.
    Some(Outcome::NotConfigured)
}

/// What the harness saw of the project's own attempt and of the credential, in words a reviewer
/// can follow without reading this code.
fn seen(e: &Evidence<'_>, r: &RequestRecord, attempt: Outcome) -> String {
    let own = own_token_requests(e, r);
    let mut words = match attempt {
        Outcome::Denied => {
            let codes: Vec<String> = own
                .iter()
                .filter_map(|t| t.error_code())
                .map(|c| format!("AADSTS{c}"))
                .collect();
            format!(
                "Entra refused the project's own token request ({})",
                codes.join(", ")
            )
        }
        Outcome::Unavailable => {
            "Entra's answer to the project's own token request was a fault (5xx or throttling)"
                .to_owned()
        }
        _ if r.own_client_ids.is_empty() => format!(
            "no own attempt: the implementation made no token request for {}'s ServiceAccounts, \
             and the project has no identity federated on this shard",
            r.request.project
        ),
        _ => format!(
            "no own attempt: the implementation made no token request for {}'s ServiceAccounts \
             or identities ({}) during the request",
            r.request.project,
            r.own_client_ids.join(", ")
        ),
    };
    if let Some(c) = r.credential()
        && let Some(first) = e
            .requests
            .iter()
            .take_while(|p| p.step < r.step)
            .find(|p| p.credential().is_some_and(|pc| pc.password == c.password))
    {
        words.push_str(&format!(
            "; the credential is the same secret it handed out at step {} (line {}) for {}/{}",
            first.step + 1,
            first.line,
            first.shard,
            first.request.project
        ));
    }
    words
}

/// The request that first handed out `r`'s credential for the same shard, project and registry:
/// `r` itself, or an earlier one whose answer `r` repeats from a cache. A repeat makes no attempt
/// of its own, so it is judged by how the first one went.
fn first_handout<'a>(e: &'a Evidence<'_>, r: &'a RequestRecord) -> &'a RequestRecord {
    let Some(c) = r.credential() else {
        return r;
    };
    e.requests
        .iter()
        .take_while(|p| p.step < r.step)
        .find(|p| {
            p.shard == r.shard
                && p.request.project == r.request.project
                && p.request.registry.eq_ignore_ascii_case(&r.request.registry)
                && p.credential().is_some_and(|pc| pc.password == c.password)
        })
        .unwrap_or(r)
}

/// Whether this property judges the credential `r` handed out: one handed out after the
/// project's own attempt failed or found no configuration (allowed by the policy or not), unless
/// another project's request got it first (`cache-partitioning`'s).
pub(crate) fn judges(e: &Evidence<'_>, r: &RequestRecord) -> bool {
    r.credential().is_some()
        && !super::cache_partitioning::blames(e, r)
        && own_attempt(e, first_handout(e, r)).is_some()
}

/// What `r` handed out beyond the project's grants, when this property fails it: (how the
/// project's own attempt went, the repositories). A credential another project's request got
/// first is `cache-partitioning`'s; repositories revoked since are `revocation`'s.
pub(crate) fn broader_than_allowed(
    e: &Evidence<'_>,
    r: &RequestRecord,
) -> Option<(&'static str, Vec<String>)> {
    r.credential()?;
    if super::cache_partitioning::blames(e, r) {
        return None;
    }
    let broader: Vec<String> = r
        .unlocked()
        .into_iter()
        .filter(|u| {
            !r.own_access.contains(u)
                && !r.anonymous_access.contains(u)
                && !r.revoked_access.contains(u)
        })
        .map(|u| u.to_string())
        .collect();
    if broader.is_empty() {
        return None;
    }
    let policy = &e.scenario.policy.fallback;
    // The project's own attempt succeeded: nothing was missing or wrong, so a broader credential
    // is `project-isolation`'s to judge. A repeat from a cache is judged by its first handout.
    let attempt = own_attempt(e, first_handout(e, r))?;
    let allowed = policy.allowed && policy.triggers.contains(&attempt);
    (!allowed).then(|| (attempt.as_str(), broader))
}

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let policy = &e.scenario.policy.fallback;
    let mut failing_configs = 0;
    let mut result = PropertyResult::new(PropertyId::FailClosed, String::new());
    for r in &e.requests {
        let attempt = own_attempt(e, r);
        let prefix = format!("system:serviceaccount:{}:", r.request.project);
        let own_events = r.entra_events(e.world).iter().any(|t| {
            t.assertion
                .as_ref()
                .and_then(|a| a.sub.as_deref())
                .is_some_and(|s| s.starts_with(&prefix))
        });
        // A request answered from a cache makes no attempt at all; it counts as missing or wrong
        // configuration only when the cloud refused or the scenario expects a refusal.
        if r.expect.outcome.is_error() || (own_events && attempt.is_some()) {
            failing_configs += 1;
        }
        if let Some((how, broader)) = broader_than_allowed(e, r) {
            // A request that made no attempt with the project's identity counts as
            // not-configured for the policy's triggers, and is said as what it is.
            let no_attempt = how == Outcome::NotConfigured.as_str() && !own_events;
            let how = if no_attempt {
                "none (counted as not-configured)"
            } else {
                how
            };
            let headline = if no_attempt {
                format!(
                    "the implementation made no attempt with project {}'s own identity",
                    r.request.project
                )
            } else {
                format!("project {}'s own attempt was {how}", r.request.project)
            };
            result.fail_at(
                r,
                format!(
                    "{headline}, and the implementation answered with a broader credential instead of an error"
                ),
                format!(
                    "{}: {} for {} (own attempt: {how}; fallback {}) unlocked [{}]; seen: {}",
                    at(r),
                    r.shard,
                    r.request.project,
                    if policy.allowed {
                        format!(
                            "allowed only on [{}]",
                            policy.triggers.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        "not allowed".into()
                    },
                    broader.join(", "),
                    attempt.map_or_else(String::new, |a| seen(e, r, a))
                ),
            );
        }
    }
    if failing_configs == 0 && result.evidence.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::FailClosed,
            "no request met missing or wrong configuration",
        );
    }
    result.examined = format!(
        "{} request(s), {failing_configs} with missing or refused configuration",
        e.requests.len()
    );
    result
}
