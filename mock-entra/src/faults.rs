//! Faults as Entra shows them, and the check every handler runs.
//!
//! Rules live in a [`mock_kit::Faults`] set and are matched with the tags `tenant` (the tenant's
//! name, or the path segment when it names no tenant), `client` (the client ID as sent) and
//! `endpoint` (`token`, `discovery`, `keys`, `instance`), so a scenario can throttle one tenant,
//! fail one client, or slow one endpoint. [`throttled`] and [`unavailable`] build the answers the
//! real service gives.

use std::time::Duration;

use axum::response::Response;
use mock_kit::fault::{FaultAction, FaultRequest};

use crate::Inner;

/// A 429 with `Retry-After` and Entra's throttling body.
pub fn throttled(retry_after_seconds: u32) -> FaultAction {
    FaultAction::Respond {
        status: 429,
        headers: vec![
            ("Retry-After".into(), retry_after_seconds.to_string()),
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
        ],
        body: r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop. Please contact your app vendor.","error_codes":[50196]}"#.into(),
    }
}

/// A server error (`status` 500, 503, ...) with Entra's transient-error body.
pub fn unavailable(status: u16) -> FaultAction {
    FaultAction::Respond {
        status,
        headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
        body: r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred. Please try again.","error_codes":[90033]}"#.into(),
    }
}

/// Latency before the normal answer.
pub fn latency(by: Duration) -> FaultAction {
    FaultAction::Delay { by }
}

/// Checks the fault rules for a request; `Some` is the answer to give instead of the normal one
/// (a delay has already been waited out and yields `None`).
pub(crate) async fn check(
    inner: &Inner,
    endpoint: &str,
    tenant: &str,
    client: Option<&str>,
    method: &str,
    path: &str,
) -> Option<Response> {
    let mut tags: Vec<(&str, &str)> = vec![("endpoint", endpoint), ("tenant", tenant)];
    if let Some(c) = client {
        tags.push(("client", c));
    }
    inner
        .faults
        .answer(&FaultRequest {
            site: "mock-entra",
            host: crate::AUTHORITY_HOST,
            method,
            path,
            tags: &tags,
            client: None,
        })
        .await
}
