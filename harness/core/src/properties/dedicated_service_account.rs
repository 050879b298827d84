//! `dedicated-service-account`: TokenRequests are made only for the ServiceAccount the policy
//! designates for credential exchange, and only in project namespaces.
//!
//! Threat: federating the user-facing `kargo-admin`/`kargo-viewer` accounts; minting tokens for
//! arbitrary namespaces. Evidence: the clusters' audit journals (TokenRequests by each
//! controller's ServiceAccount).

use scenarios::model::PropertyId;

use super::{PropertyResult, controller_token_requests};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let Some(designated) = &e.scenario.policy.service_account else {
        return PropertyResult::not_applicable(
            PropertyId::DedicatedServiceAccount,
            "the policy designates no ServiceAccount (`policy.serviceAccount`)",
        );
    };
    let requests = controller_token_requests(e);
    if requests.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::DedicatedServiceAccount,
            "the implementation made no TokenRequest",
        );
    }
    let mut result = PropertyResult::new(
        PropertyId::DedicatedServiceAccount,
        format!("{} TokenRequest(s) in the audit journals", requests.len()),
    );
    for (shard, ev) in requests {
        let tr = ev
            .token_request
            .as_ref()
            .expect("filtered on token requests");
        let project = e
            .scenario
            .world
            .cluster(&shard)
            .is_some_and(|c| c.project(&tr.namespace).is_some());
        if &tr.service_account != designated || !project {
            result.fail(
                format!(
                    "{shard}'s controller requested a token for {}/{} (the designated ServiceAccount is `{designated}` in project namespaces)",
                    tr.namespace, tr.service_account
                ),
                format!(
                    "{shard} audit at {}: {} create serviceaccounts/token {}/{} → {}",
                    ev.at, ev.user, tr.namespace, tr.service_account, ev.status
                ),
            );
        }
    }
    result
}
