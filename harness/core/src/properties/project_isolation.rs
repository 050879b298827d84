//! `project-isolation`: a credential handed out for project P unlocks nothing that P's own
//! identity is not granted.
//!
//! Threat: project A annotated with project B's client ID; the controller's identity used for
//! everyone; identity confusion. Evidence: every returned credential is used against every
//! repository of every registry; what it unlocked is compared with what the identities federated
//! to P's ServiceAccounts on that shard may pull at that moment (computed with mock-acr's own
//! permission rules), plus what anyone may pull.

use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let with_credential: Vec<_> = e
        .requests
        .iter()
        .filter(|r| r.credential().is_some())
        .collect();
    if with_credential.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::ProjectIsolation,
            "no request returned a credential, so there was nothing to probe",
        );
    }
    let repositories = with_credential[0].probes.len();
    let mut result = PropertyResult::new(
        PropertyId::ProjectIsolation,
        format!(
            "{} credential(s) probed against {repositories} repositories",
            with_credential.len()
        ),
    );
    for r in with_credential {
        // The more specific diagnosis judges a credential another project got first
        // (`cache-partitioning`) or one handed out after the project's own attempt failed, which
        // `fail-closed` passes only when the policy allows that fallback.
        if super::cache_partitioning::blames(e, r) || super::fail_closed::judges(e, r) {
            continue;
        }
        for u in r.unlocked() {
            // A grant revoked since an earlier request is `revocation`'s to judge.
            if !r.own_access.contains(&u)
                && !r.anonymous_access.contains(&u)
                && !r.revoked_access.contains(&u)
            {
                result.fail_at(
                    r,
                    format!(
                        "a credential for project {} unlocked {u}, which no identity of {} is granted",
                        r.request.project, r.request.project
                    ),
                    format!(
                        "{}: {} for {} unlocked {u} (the project's own identities may pull: [{}])",
                        at(r),
                        r.shard,
                        r.request.project,
                        r.own_access.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }
    result
}
