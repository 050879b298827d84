//! `audience-bound`: every ServiceAccount token the implementation requests is for the exchange
//! audience only (`api://AzureADTokenExchange`) and no longer-lived than the policy allows.
//!
//! Threat: requesting an API-server-audience token (which the cluster accepts as a login) and
//! sending it to a third party; hours-long tokens. Evidence: the TokenRequest specs in the
//! clusters' audit journals.

use scenarios::model::{EXCHANGE_AUDIENCE, PropertyId};

use super::{PropertyResult, controller_token_requests};
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let requests = controller_token_requests(e);
    if requests.is_empty() {
        return PropertyResult::not_applicable(
            PropertyId::AudienceBound,
            "the implementation made no TokenRequest",
        );
    }
    let max = e
        .scenario
        .policy
        .max_service_account_token_lifetime
        .as_secs() as i64;
    let mut result = PropertyResult::new(
        PropertyId::AudienceBound,
        format!("{} TokenRequest(s) in the audit journals", requests.len()),
    );
    for (shard, ev) in requests {
        let tr = ev
            .token_request
            .as_ref()
            .expect("filtered on token requests");
        if tr.audiences != [EXCHANGE_AUDIENCE] {
            result.fail(
                format!(
                    "{shard}'s controller requested a token for the audiences {:?}",
                    tr.audiences
                ),
                format!(
                    "{shard} audit at {}: TokenRequest {}/{} audiences {:?}",
                    ev.at, tr.namespace, tr.service_account, tr.audiences
                ),
            );
        }
        if tr.expiration_seconds > max {
            result.fail(
                format!(
                    "{shard}'s controller requested a {} s token (the policy allows {max} s)",
                    tr.expiration_seconds
                ),
                format!(
                    "{shard} audit at {}: TokenRequest {}/{} expirationSeconds {}",
                    ev.at, tr.namespace, tr.service_account, tr.expiration_seconds
                ),
            );
        }
    }
    result
}
