//! TokenRequest (`POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`): a ServiceAccount
//! token signed by the cluster's issuer, for the audiences asked (the API server's own by
//! default), for the lifetime asked within the API server's bounds and the cluster's maximum,
//! bound to a pod when the request names one. The audit log keeps the request and the token's
//! fingerprint, never the token.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::parse_body;
use super::status::{error, json_response, status_error};
use crate::store::{ApiError, TYPES};
use crate::{AuditEvent, Inner, TokenRequestRecord, mint};

/// Mints the token a TokenRequest for `namespace/name` asks for; `audit` records it.
pub(super) fn token_request(
    inner: &Inner,
    namespace: &str,
    name: &str,
    body: &[u8],
    audit: &mut AuditEvent,
) -> Response {
    let req = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let sa_type = &TYPES[1];
    let sa = match inner
        .store
        .read()
        .expect("store")
        .get(sa_type, namespace, name)
    {
        Ok(sa) => sa,
        Err(e) => return error(&e),
    };
    let spec = &req["spec"];
    let lifetime = match lifetime(inner, spec) {
        Ok(l) => l,
        Err(e) => return error(&e),
    };
    let audiences = audiences(inner, spec);
    let bound = spec.get("boundObjectRef").filter(|b| !b.is_null()).cloned();
    let pod = bound_pod(bound.as_ref());
    let aud_refs: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let (token, fp) = match mint(
        inner,
        namespace,
        name,
        &sa,
        &aud_refs,
        lifetime,
        pod.as_ref().map(|(n, u)| (n.as_str(), u.as_str())),
    ) {
        Ok(t) => t,
        Err(e) => return status_error(500, "InternalError", &e.to_string()),
    };
    let expires = inner
        .clock
        .now()
        .checked_add(jiff::SignedDuration::from_secs(lifetime))
        .unwrap_or(jiff::Timestamp::MAX);
    audit.token_request = Some(TokenRequestRecord {
        namespace: namespace.into(),
        service_account: name.into(),
        audiences: audiences.clone(),
        expiration_seconds: lifetime,
        bound_object: bound.clone(),
        token: fp,
    });
    json_response(
        StatusCode::CREATED,
        &json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": inner.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
            "spec": {"audiences": audiences, "expirationSeconds": lifetime, "boundObjectRef": bound},
            "status": {"token": token.expose(), "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
        }),
    )
}

/// The token's lifetime in seconds: `expirationSeconds` (3600 when absent), refused (422, in the
/// API server's words) below 10 minutes or above 2^32 seconds, capped by the cluster's maximum.
fn lifetime(inner: &Inner, spec: &Value) -> Result<i64, ApiError> {
    let requested = spec["expirationSeconds"].as_i64().unwrap_or(3600);
    let invalid = |why: &str| {
        ApiError::invalid(
            "TokenRequest",
            "authentication.k8s.io",
            "",
            "spec.expirationSeconds",
            &json!(requested),
            why,
        )
    };
    if requested < 600 {
        return Err(invalid("may not specify a duration less than 10 minutes"));
    }
    if requested > (1i64 << 32) {
        return Err(invalid(
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    Ok(match inner.max_expiration {
        Some(max) => requested.min(max.as_secs() as i64),
        None => requested,
    })
}

/// The audiences asked, or the API server's own (the issuer) when none are.
fn audiences(inner: &Inner, spec: &Value) -> Vec<String> {
    match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![inner.issuer.url().to_owned()],
    }
}

/// The pod (name, UID) a `boundObjectRef` binds the token to, when it is a pod.
fn bound_pod(bound: Option<&Value>) -> Option<(String, String)> {
    bound.filter(|b| b["kind"] == "Pod").map(|b| {
        (
            b["name"].as_str().unwrap_or_default().to_owned(),
            b["uid"].as_str().unwrap_or_default().to_owned(),
        )
    })
}
