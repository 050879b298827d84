//! `revocation`: after the world removes a grant (a role assignment, a federated credential, an
//! annotation), the implementation stops handing out working credentials within the staleness
//! bound the policy declares.
//!
//! Threat: stale caches outliving revocation. Evidence: the virtual clock, the revoking steps,
//! and probes of every credential returned after them, compared with what the project's
//! identities may still pull.

use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let Some(&(first_step, _)) = e.revocations.first() else {
        return PropertyResult::not_applicable(PropertyId::Revocation, "no step removes a grant");
    };
    let bound =
        jiff::SignedDuration::try_from(e.scenario.policy.revocation_staleness).unwrap_or_default();
    let after: Vec<_> = e
        .requests
        .iter()
        .filter(|r| r.step > first_step && r.credential().is_some())
        .collect();
    if after.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::Revocation,
            "no credential was returned after a grant was removed",
        );
    }
    let mut result = PropertyResult::new(
        PropertyId::Revocation,
        format!(
            "{} credential(s) returned after {} revoking step(s), probed",
            after.len(),
            e.revocations.len()
        ),
    );
    for r in after {
        // The latest revocation before this request, and whether its bound has passed.
        let Some(&(_, revoked_at)) = e.revocations.iter().rev().find(|(s, _)| *s < r.step) else {
            continue;
        };
        let due = revoked_at.checked_add(bound).unwrap_or(revoked_at);
        if r.at < due {
            continue;
        }
        for u in r.unlocked() {
            // Only what was the project's before the revocation: anything it never had is
            // `project-isolation`'s to judge.
            if r.revoked_access.contains(&u) && !r.anonymous_access.contains(&u) {
                result.fail_at(
                    r,
                    format!(
                        "{} still unlocks {u} after the grant was removed (at {revoked_at}, bound {}s)",
                        r.request.project,
                        bound.as_secs()
                    ),
                    format!("{}: credential for {} unlocked {u}", at(r), r.request.project),
                );
            }
        }
    }
    result
}
