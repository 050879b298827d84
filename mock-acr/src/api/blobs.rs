//! Blobs: `HEAD` is answered by the registry itself; `GET` is a 307 to a short-lived SAS URL on
//! the fake blob storage (see `storage`), as ACR redirects to its storage account.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::responses::{errors, header_value, name_unknown};
use crate::{Inner, RegistryState};

/// The blob `digest` of repository `name`: its size and digest (`HEAD`), or where to fetch it.
pub(super) fn get(
    inner: &Inner,
    reg: &RegistryState,
    name: &str,
    digest: &str,
    method: &Method,
) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let Some(blob) = repo.blobs.get(digest) else {
        return errors(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
            Some(json!({"digest": digest})),
        );
    };
    if *method == Method::HEAD {
        let mut resp = Response::new(Body::empty());
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.bytes.len()));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert("docker-content-digest", header_value(digest));
        return resp;
    }
    let location = crate::storage::sas_url(inner, reg, name, digest);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, header_value(&location));
    h.insert("docker-content-digest", header_value(digest));
    resp
}
