//! The registry API: `/v2/` (OCI distribution) and `/acr/v1/` (the metadata API the Azure SDKs
//! use), with ACR's challenge and error shapes.
//!
//! Every request is authorized first (so an unknown repository does not reveal itself to an
//! unauthorized caller), by a Bearer access token, Basic credentials, or anonymous pull. A refusal
//! is 401 with one `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (no spaces after
//! commas, every value quoted; `error="invalid_token"` for a bad or expired token) and the
//! `UNAUTHORIZED` body with capitalised `Type`/`Name`/`Action`. Tag listing needs
//! `metadata_read`, not `pull`; `_catalog` needs `registry:catalog:*`.
//!
//! Choices where ACR's behaviour is not settled (reference §2.3, §8): without an `Accept` header
//! a manifest is served in its stored media type; an `Accept` that excludes it is 404
//! `MANIFEST_UNKNOWN` as distribution answers; `tags/list` without `n` returns up to the
//! 1000-item cap.
//!
//! This file reads a request, takes it through the steps every request passes (route, grammars,
//! authentication, authorization, method) and hands it to the handler of its route:
//! - [`route`]: the path as a [`Route`], the scope it needs, and the grammars of names, tags
//!   and digests;
//! - [`access`]: who the caller is (Bearer, Basic, anonymous pull), whether they may, and the
//!   challenge of a refusal;
//! - [`lists`]: `_catalog` (both APIs) and `tags/list`, paged as ACR pages;
//! - [`manifests`]: manifests by tag or digest (GET, HEAD, PUT) and referrers;
//! - [`blobs`]: blobs, answered with a 307 to the fake blob storage;
//! - [`uploads`]: blob uploads (monolithic, chunked, cancelled), bounded per registry;
//! - [`acr_v1`]: the `/acr/v1/` metadata API (repository, tag and manifest attributes);
//! - `crate::responses`: the answers they share (JSON, the distribution error shape, header values).

mod access;
mod acr_v1;
mod blobs;
mod lists;
mod manifests;

mod route;
mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use mock_kit::RequestContext;
use serde_json::json;

use route::Route;

use crate::responses::{errors, json_ok};
use crate::{AcrEvent, Inner, RegistryState};

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/v2", axum::routing::any(dispatch))
        .route("/v2/", axum::routing::any(dispatch))
        .route("/v2/{*rest}", axum::routing::any(dispatch))
        .route("/acr/v1/{*rest}", axum::routing::any(dispatch))
}

/// The headers ACR puts on its answers.
pub(crate) async fn acr_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("server", HeaderValue::from_static("openresty"));
    h.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "strict-transport-security",
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    for expose in [
        "Docker-Content-Digest",
        "WWW-Authenticate",
        "Link",
        "X-Ms-Correlation-Request-Id",
    ] {
        h.append(
            "access-control-expose-headers",
            HeaderValue::from_static(expose),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-ms-correlation-request-id", v);
    }
    resp
}

/// Finds the registry the host names, reads the request, answers it and journals the answer.
async fn dispatch(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let host = req
        .extensions()
        .get::<RequestContext>()
        .map(|c| c.host.clone())
        .unwrap_or_default();
    let Some(reg) = inner.registry_for_host(&host) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "registry not found",
            None,
        );
    };
    let client = crate::auth::client_label(&req);
    let req = ApiRequest::read(req).await;
    let mut ev = api_event(&inner, &reg, &req, client);
    let resp = handle(&inner, &reg, &req, &mut ev);
    ev.status = resp.status().as_u16();
    inner.journal.push(ev);
    resp
}

/// An API request as the handlers see it, read off the wire once.
#[derive(Debug)]
struct ApiRequest {
    method: Method,
    /// Percent-decoded: the Azure SDKs percent-encode the slashes of repository names
    /// (`project-a%2Fapp`).
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl ApiRequest {
    async fn read(req: Request) -> Self {
        let method = req.method().clone();
        let path = percent_encoding::percent_decode_str(req.uri().path())
            .decode_utf8_lossy()
            .into_owned();
        let query = query_params(req.uri().query().unwrap_or_default());
        let headers = req.headers().clone();
        let body = axum::body::to_bytes(req.into_body(), 256 << 20)
            .await
            .unwrap_or_default();
        Self {
            method,
            path,
            query,
            headers,
            body,
        }
    }

    /// The first value of a query parameter.
    fn param(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }

    /// Whether the method writes (pushes): `PUT`, `POST` or `PATCH`.
    fn is_write(&self) -> bool {
        matches!(self.method, Method::PUT | Method::POST | Method::PATCH)
    }
}

/// The journal entry of an API request, before anything is known of the caller or the answer.
fn api_event(
    inner: &Inner,
    reg: &RegistryState,
    req: &ApiRequest,
    client: Option<String>,
) -> AcrEvent {
    AcrEvent {
        at: inner.clock.now(),
        registry: reg.name.clone(),
        endpoint: "api".into(),
        method: req.method.to_string(),
        path: req.path.clone(),
        principal: None,
        tenant: None,
        requested: Vec::new(),
        granted: Vec::new(),
        status: 0,
        error: None,
        token: None,
        authorization_to_storage: false,
        client,
    }
}

/// The steps every request passes, in the registry's order: the route (a name outside its
/// grammar is `NAME_INVALID`), the reference's grammar, authentication, authorization; then the
/// route's handler. `ev` learns the scope asked and granted, the principal and why it was refused.
fn handle(inner: &Inner, reg: &RegistryState, req: &ApiRequest, ev: &mut AcrEvent) -> Response {
    let Some(route) = route::parse(&req.path) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_INVALID",
            "invalid repository name",
            None,
        );
    };
    if let Some(refused) = route::reference_error(&route) {
        return refused;
    }
    let needed = route::need(&route, &req.method);
    if let Some(n) = &needed {
        ev.requested = vec![n.scope()];
    }
    let authority = match access::authenticate(inner, reg, &req.headers, needed.as_ref(), ev) {
        Ok(authority) => authority,
        Err(refused) => return *refused,
    };
    if let Some(answer) = access::authorize(reg, needed.as_ref(), authority.as_ref(), ev) {
        return answer;
    }
    serve(inner, reg, &route, req)
}

/// Answers an authorized request: a method the API does not offer on any route is refused, then
/// the route's handler answers.
fn serve(inner: &Inner, reg: &RegistryState, route: &Route, req: &ApiRequest) -> Response {
    let write = req.is_write();
    let cancel_upload = req.method == Method::DELETE && matches!(route, Route::Upload(..));
    if !write && !cancel_upload && req.method != Method::GET && req.method != Method::HEAD {
        return errors(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the operation is unsupported",
            None,
        );
    }
    match route {
        Route::Base => json_ok(json!({})),
        Route::Catalog => lists::catalog(reg, &req.query, "/v2/_catalog"),
        Route::AcrCatalog => lists::catalog(reg, &req.query, "/acr/v1/_catalog"),
        Route::Tags(name) => lists::tags(reg, name, &req.query),
        Route::AcrRepository(name) => acr_v1::repository(reg, name),
        Route::AcrTags(name) => acr_v1::tags(reg, name, &req.query),
        Route::AcrTag(name, tag) => acr_v1::tag(reg, name, tag),
        Route::AcrManifests(name) => acr_v1::manifests(reg, name),
        Route::AcrManifest(name, digest) => acr_v1::manifest(reg, name, digest),
        Route::Manifest(name, reference) if write => manifests::put(reg, name, reference, req),
        Route::Manifest(name, reference) => manifests::get(reg, name, reference, req),
        Route::Blob(name, digest) => blobs::get(inner, reg, name, digest, &req.method),
        Route::Referrers(name, digest) => manifests::referrers(reg, name, digest, req),
        Route::UploadStart(name) => uploads::start(reg, name, req),
        Route::Upload(name, id) => uploads::proceed(reg, name, id, req),
    }
}

fn query_params(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
