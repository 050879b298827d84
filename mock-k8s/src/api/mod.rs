//! The API server's HTTP surface.
//!
//! Discovery is the legacy form (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`), which
//! clients fall back to when the aggregated form is not offered. `/openapi/v3` publishes, per
//! group-version, the create/update/patch operations with their `x-kubernetes-group-version-kind`
//! and the `fieldValidation` parameter, which is what `kubectl` checks before it leaves validation
//! to the server (schemas are not published; `/openapi/v2` is absent). `kubectl get` asks for a
//! `Table`; one with Name and Age columns is served. Watches are not supported (405).
//!
//! TokenRequest (`POST .../serviceaccounts/<name>/token`): `expirationSeconds` defaults to 3600,
//! must be at least 600 and at most 2^32 (422 with the API server's message), and is capped by
//! the cluster's maximum; `audiences` default to the API server's own (the issuer); the answer is
//! 201 with `status.token` and `expirationTimestamp`. Every request is authorized by RBAC and
//! audited.
//!
//! This file reads a request, authenticates it (and applies impersonation), authorizes what it
//! addresses and hands it to the module that serves it:
//! - [`target`]: what a path addresses, the verb of a method on it, and RBAC's attributes;
//! - [`access`]: impersonation and SelfSubjectAccessReview;
//! - [`objects`]: collections (list, create) and objects (get, update, patch, delete), and the
//!   `Table` `kubectl get` asks for;
//! - [`token_request`]: TokenRequest, the ServiceAccount tokens it mints and what it audits;
//! - [`discovery`]: the non-resource paths: version, health, discovery, OpenAPI v3 stubs and the
//!   issuer documents;
//! - [`status`]: JSON answers and `Status` errors.

mod access;
mod discovery;
mod objects;
mod status;
mod target;
mod token_request;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::rbac::{Attributes, UserInfo, authorize};
use crate::request_info::RequestInfo;
use crate::store::ApiError;
use crate::{AuditEvent, Inner, authenticate};
use status::{error, status_error};
use target::Target;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new().fallback(dispatch).with_state(inner)
}

/// Reads the request, answers it and audits the answer. A protobuf body that cannot be read is
/// refused before anything is audited.
async fn dispatch(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let req = match ApiRequest::read(req).await {
        Ok(req) => req,
        Err(e) => return error(&e),
    };
    let mut audit = AuditEvent {
        at: inner.clock.now(),
        cluster: inner.name.clone(),
        user: String::new(),
        impersonated_user: None,
        verb: String::new(),
        path: req.path.clone(),
        resource: None,
        namespace: None,
        name: None,
        status: 0,
        token_request: None,
    };
    let resp = handle(&inner, &req, &mut audit);
    audit.status = resp.status().as_u16();
    inner.audit.push(audit);
    resp
}

/// An API request as the handlers see it, read off the wire once.
#[derive(Debug)]
struct ApiRequest {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    /// JSON: a protobuf body (what typed clients send) is read into JSON first.
    body: Bytes,
    bearer: Option<String>,
}

impl ApiRequest {
    async fn read(req: Request) -> Result<Self, ApiError> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(req.uri().query().unwrap_or_default()).unwrap_or_default();
        let headers = req.headers().clone();
        let mut body = axum::body::to_bytes(req.into_body(), 8 << 20)
            .await
            .unwrap_or_default();
        let protobuf = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/vnd.kubernetes.protobuf"));
        if protobuf && !body.is_empty() {
            body = Bytes::from(crate::protobuf::to_json(&body)?.to_string());
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        Ok(Self {
            method,
            path,
            query,
            headers,
            body,
            bearer,
        })
    }

    /// The first value of a query parameter.
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The API server's filters in order: authentication, impersonation, authorization (of anything
/// the server knows; an unknown path is 404 for everyone); then the handler of the target.
fn handle(inner: &Inner, req: &ApiRequest, audit: &mut AuditEvent) -> Response {
    let user = match user_of(inner, req, audit) {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let target = target::parse(&req.path);
    let info = RequestInfo::of(
        &req.method,
        &req.path,
        req.param("watch").is_some_and(|w| w == "true" || w == "1"),
    );
    let verb = info.verb;
    audit.verb = verb.into();
    audit.resource = info.resource;
    audit.namespace = info.namespace;
    audit.name = info.name;
    let attrs = target::attributes(verb, &target, &req.path);
    if !matches!(target, Target::Unknown) {
        let (allowed, _) = authorize(&inner.store.read().expect("store"), &user, &attrs);
        if !allowed {
            return forbidden(&user, &attrs);
        }
    }
    serve(inner, target, verb, &user, req, audit)
}

/// Who the request acts as: the authenticated user, or the one it impersonates. The audit log
/// gets both (or why authentication failed).
fn user_of(
    inner: &Inner,
    req: &ApiRequest,
    audit: &mut AuditEvent,
) -> Result<UserInfo, Box<Response>> {
    let user = match authenticate(inner, req.bearer.as_deref()) {
        Ok(u) => u,
        Err(why) => {
            audit.user = format!("(unauthenticated: {why})");
            return Err(Box::new(status_error(401, "Unauthorized", "Unauthorized")));
        }
    };
    audit.user = user.name.clone();
    let user = access::impersonate(inner, user, &req.headers)?;
    if audit.user != user.name {
        audit.impersonated_user = Some(user.name.clone());
    }
    Ok(user)
}

/// RBAC's 403, with the API server's message and, for a resource, its details.
fn forbidden(user: &UserInfo, attrs: &Attributes) -> Response {
    let mut e = ApiError {
        code: 403,
        reason: "Forbidden",
        message: attrs.forbidden_message(user),
        details: Value::Null,
    };
    if let Attributes::Resource {
        resource,
        group,
        name,
        ..
    } = attrs
    {
        e.details = json!({"name": name, "group": group, "kind": resource});
    }
    error(&e)
}

/// Answers an authorized request by what it addresses.
fn serve(
    inner: &Inner,
    target: Target,
    verb: &str,
    user: &UserInfo,
    req: &ApiRequest,
    audit: &mut AuditEvent,
) -> Response {
    match target {
        Target::NonResource => discovery::non_resource(inner, &req.path),
        Target::Unknown => status_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        Target::AccessReview => access::access_review(inner, user, &req.body),
        Target::Token { namespace, name } => {
            token_request::token_request(inner, &namespace, &name, &req.body, audit)
        }
        Target::Collection { t, namespace } => {
            objects::collection(inner, t, namespace.as_deref(), verb, req)
        }
        Target::Object { t, namespace, name } => objects::object(inner, t, &namespace, &name, req),
    }
}

/// A JSON request body, or the API server's 400.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(&format!("the request body is not valid JSON: {e}")))
}
