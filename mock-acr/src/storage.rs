//! The blob storage behind a registry: `GET /v2/<repo>/blobs/<digest>` answers 307 to a short-lived
//! SAS URL on `<registry>.blob.core.windows.net`, as ACR does (reference §1.10). Storage refuses
//! any request that carries an `Authorization` header with Azure Storage's 400, and journals it
//! (`authorization_to_storage`), so a client that forwards the registry token to another host is
//! caught. The SAS signature is a registered secret (it grants access to the blob).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use crate::{AcrEvent, Inner, RegistryState};

/// The storage host of a registry.
pub(crate) fn host(registry: &str) -> String {
    format!("{registry}.blob.core.windows.net")
}

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new().route("/{*path}", get(blob))
}

/// Mints a SAS URL for a blob.
pub(crate) fn sas_url(inner: &Inner, reg: &RegistryState, repo: &str, digest: &str) -> String {
    let expires = inner.clock.unix_seconds() + inner.options.sas_lifetime.as_secs() as i64;
    let sig = inner.secrets.mint(
        mock_kit::SecretKind::AcrBlobSas,
        &format!("{}/{repo}@{digest}", reg.login_server),
        "",
        43,
    );
    reg.sas.lock().expect("sas").insert(
        sig.expose().clone(),
        (repo.to_owned(), digest.to_owned(), expires),
    );
    let hex = digest.trim_start_matches("sha256:");
    format!(
        "https://{}/{}/docker/registry/v2/blobs/sha256/{}/{hex}/data?se={expires}&sp=r&sv=2021-08-06&sr=b&sig={}",
        host(&reg.name),
        reg.name,
        &hex[..2.min(hex.len())],
        sig.expose()
    )
}

/// A blob fetched by its SAS URL. A request that carries an `Authorization` header is refused
/// (and journaled as a leak) whatever its signature; otherwise the signature must be one the
/// registry minted, unexpired.
async fn blob(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let Some(reg) = registry_for(&inner, &req) else {
        return storage_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The specified resource does not exist.",
        );
    };
    let leaked = req.headers().contains_key(header::AUTHORIZATION);
    let mut ev = storage_event(&inner, &reg, &req, leaked);
    let resp = if leaked {
        ev.error = Some("the request carried an Authorization header".into());
        storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidAuthenticationInfo",
            "Authentication information is not given in the correct format. Check the value of Authorization header.",
        )
    } else {
        signed_blob(&inner, &reg, q.get("sig").map(String::as_str))
    };
    ev.status = resp.status().as_u16();
    inner.journal.push(ev);
    resp
}

/// The registry whose storage host the request is for (the only registry when none matches).
fn registry_for(inner: &Inner, req: &Request) -> Option<Arc<RegistryState>> {
    let host = req
        .extensions()
        .get::<mock_kit::RequestContext>()
        .map(|c| c.host.clone())
        .unwrap_or_default();
    inner
        .registries
        .iter()
        .find(|r| self::host(&r.name) == host)
        .cloned()
        .or_else(|| inner.registries.first().cloned())
}

/// The journal entry of a storage request, before its answer is known.
fn storage_event(inner: &Inner, reg: &RegistryState, req: &Request, leaked: bool) -> AcrEvent {
    AcrEvent {
        at: inner.clock.now(),
        registry: reg.name.clone(),
        endpoint: "storage".into(),
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        principal: None,
        tenant: None,
        requested: Vec::new(),
        granted: Vec::new(),
        status: 0,
        error: None,
        token: None,
        authorization_to_storage: leaked,
        client: crate::auth::client_label(req),
    }
}

/// The blob a SAS signature grants, or Azure Storage's refusal of the signature.
fn signed_blob(inner: &Inner, reg: &RegistryState, sig: Option<&str>) -> Response {
    let entry = sig.and_then(|s| reg.sas.lock().expect("sas").get(s).cloned());
    match entry {
        Some((_, _, expires)) if inner.clock.unix_seconds() >= expires => storage_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Signed expiry time has passed.",
        ),
        Some((repo, digest, _)) => {
            let content = reg.content.read().expect("content");
            match content.get(&repo).and_then(|r| r.blobs.get(&digest)) {
                Some(b) => {
                    let mut resp = Response::new(Body::from(b.bytes.clone()));
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    );
                    resp.headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(b.bytes.len()));
                    resp
                }
                None => storage_error(
                    StatusCode::NOT_FOUND,
                    "BlobNotFound",
                    "The specified blob does not exist.",
                ),
            }
        }
        None => storage_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
        ),
    }
}

/// Azure Storage's error: its XML body and `x-ms-error-code`.
fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{}\nTime:2026-01-01T00:00:00.0000000Z</Message></Error>",
        uuid::Uuid::new_v4()
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp.headers_mut()
        .insert("x-ms-error-code", crate::responses::header_value(code));
    resp
}
