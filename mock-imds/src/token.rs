//! The managed-identity token endpoints.
//!
//! IMDS: `GET /metadata/identity/oauth2/token?api-version=…&resource=…[&client_id=|&object_id=|
//! &msi_res_id=]` with `Metadata: true`. Every number in the answer is a string, and it carries
//! both `expires_in` (MSAL Python reads only it) and `expires_on` (the Rust SDK reads only it),
//! plus `token_type` and `resource` (reference §5.2). Errors are 400s, never the 404 that SDKs
//! retry for a minute.
//!
//! App Service: `GET /msi/token?api-version=2019-08-01&resource=…[&client_id=|&object_id=|
//! &mi_res_id=|&msi_res_id=]` with `X-IDENTITY-HEADER`; the answer has `expires_on` as an epoch
//! string; errors are `{"statusCode", "message"}`.

use std::collections::HashMap;

use axum::extract::{Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mock_entra::Aadsts;
use mock_kit::RequestContext;
use serde_json::{Value, json};

use crate::{Attached, ImdsEvent, ServedNode, State};

pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route("/metadata/identity/oauth2/token", get(imds_token))
        .route("/msi/token", get(app_service_token))
}

/// An IMDS error answer.
fn imds_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Which identity a request selects, by the query parameters SDKs send.
fn select<'a>(
    node: &'a ServedNode,
    q: &HashMap<String, String>,
    resource_id_params: &[&str],
) -> Result<&'a Attached, &'static str> {
    let ids = &node.identities;
    if let Some(cid) = q.get("client_id") {
        return ids
            .iter()
            .find(|a| a.client_id.to_string().eq_ignore_ascii_case(cid))
            .ok_or("Identity not found");
    }
    if let Some(oid) = q.get("object_id").or_else(|| q.get("principal_id")) {
        return ids
            .iter()
            .find(|a| a.object_id.to_string().eq_ignore_ascii_case(oid))
            .ok_or("Identity not found");
    }
    for p in resource_id_params {
        if let Some(rid) = q.get(*p) {
            return ids
                .iter()
                .find(|a| a.resource_id.eq_ignore_ascii_case(rid))
                .ok_or("Identity not found");
        }
    }
    if let Some(system) = ids.iter().find(|a| a.system) {
        return Ok(system);
    }
    match ids.len() {
        0 => Err("Identity not found"),
        1 => Ok(&ids[0]),
        _ => Err(
            "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
        ),
    }
}

fn event(node: &ServedNode, endpoint: &str, at: jiff::Timestamp) -> ImdsEvent {
    ImdsEvent {
        at,
        node: node.node.name.clone(),
        endpoint: endpoint.to_owned(),
        identity: None,
        resource: None,
        status: 0,
        error: None,
        token: None,
    }
}

/// The answer function of one endpoint.
type Answer =
    fn(&State, &ServedNode, &HashMap<String, String>, &HeaderMap, &mut ImdsEvent) -> Response;

/// What both token endpoints do around their answer: pick the node, apply faults, journal.
async fn serve(
    state: State,
    q: HashMap<String, String>,
    req: Request,
    endpoint: &str,
    answer: Answer,
) -> Response {
    let node = state.node(req.extensions().get::<RequestContext>());
    let path = req.uri().path().to_owned();
    if let Some(resp) = state.fault(&node.node.name, endpoint, &path).await {
        return resp;
    }
    let mut ev = event(node, endpoint, state.inner.entra.clock().now());
    let resp = answer(&state, node, &q, req.headers(), &mut ev);
    ev.status = resp.status().as_u16();
    state.inner.journal.push(ev);
    resp
}

async fn imds_token(
    axum::extract::State(state): axum::extract::State<State>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    serve(state, q, req, "token", imds_answer).await
}

fn imds_answer(
    state: &State,
    node: &ServedNode,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    ev: &mut ImdsEvent,
) -> Response {
    let bad = |ev: &mut ImdsEvent, error: &str, description: &str| {
        ev.error = Some(description.to_owned());
        imds_error(StatusCode::BAD_REQUEST, error, description)
    };
    // The SSRF guard: exactly `Metadata: true`, and no `X-Forwarded-For` (a request that came
    // through a proxy is refused).
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return bad(
            ev,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if headers.contains_key("x-forwarded-for") {
        return bad(ev, "invalid_request", crate::FORWARDED_REFUSED);
    }
    if q.get("api-version").is_none_or(|v| v.is_empty()) {
        return bad(
            ev,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return bad(
            ev,
            "invalid_request",
            "Required audience parameter not specified",
        );
    };
    ev.resource = Some(resource.clone());
    let identity = match select(node, q, &["msi_res_id", "mi_res_id"]) {
        Ok(i) => i,
        Err(msg) => return bad(ev, "invalid_request", msg),
    };
    ev.identity = Some(identity.name.clone());
    match state
        .inner
        .entra
        .managed_identity_token(&node.node.tenant, &identity.name, resource)
    {
        Ok(m) => {
            ev.token = Some(m.fingerprint.clone());
            let expires_in = (m.lifetime_seconds - 1).to_string();
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": m.token,
                    "client_id": identity.client_id.to_string(),
                    "expires_in": expires_in,
                    "expires_on": m.expires_on.to_string(),
                    "ext_expires_in": expires_in,
                    "not_before": m.not_before.to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                }),
            )
        }
        Err(e) => resource_error(ev, &e),
    }
}

fn resource_error(ev: &mut ImdsEvent, e: &Aadsts) -> Response {
    let description = format!("AADSTS{}: {}", e.code(), e.message());
    ev.error = Some(description.clone());
    imds_error(StatusCode::BAD_REQUEST, e.error(), &description)
}

async fn app_service_token(
    axum::extract::State(state): axum::extract::State<State>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    serve(state, q, req, "app-service", app_service_answer).await
}

fn app_service_answer(
    state: &State,
    node: &ServedNode,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    ev: &mut ImdsEvent,
) -> Response {
    let fail = |ev: &mut ImdsEvent, status: StatusCode, message: &str| {
        ev.error = Some(message.to_owned());
        json_response(
            status,
            json!({"statusCode": status.as_u16(), "message": message}),
        )
    };
    let presented = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if presented != Some(node.identity_header.expose().as_str()) {
        return fail(
            ev,
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            ev,
            StatusCode::BAD_REQUEST,
            "The resource parameter is required.",
        );
    };
    ev.resource = Some(resource.clone());
    let identity = match select(node, q, &["mi_res_id", "msi_res_id"]) {
        Ok(i) => i,
        Err(msg) => return fail(ev, StatusCode::BAD_REQUEST, msg),
    };
    ev.identity = Some(identity.name.clone());
    match state
        .inner
        .entra
        .managed_identity_token(&node.node.tenant, &identity.name, resource)
    {
        Ok(m) => {
            ev.token = Some(m.fingerprint.clone());
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": m.token,
                    "expires_on": m.expires_on.to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": identity.client_id.to_string(),
                }),
            )
        }
        Err(e) => fail(
            ev,
            StatusCode::BAD_REQUEST,
            &format!("AADSTS{}: {}", e.code(), e.message()),
        ),
    }
}
