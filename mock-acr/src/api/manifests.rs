//! Manifests by tag or digest: read (`GET`, `HEAD`, honouring `Accept`), pushed (`PUT`, by tag
//! or by digest, every blob it references already in the repository), and the referrers of a
//! digest (the manifests whose `subject` it is).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiRequest;
use crate::RegistryState;
use crate::model::{OCI_INDEX, OCI_MANIFEST, digest_of};
use crate::responses::{errors, header_value, manifest_unknown, name_unknown};

/// The manifest `reference` names, in its stored media type; `HEAD` without the body.
pub(super) fn get(reg: &RegistryState, name: &str, reference: &str, req: &ApiRequest) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let Some(m) = repo.resolve(reference) else {
        return manifest_unknown(reference);
    };
    if !accepts(&req.headers, &m.media_type) {
        return errors(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest found, but the accept header does not support its media type",
            Some(json!({"Tag": reference})),
        );
    }
    let mut resp = if req.method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(m.bytes.clone()))
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&m.media_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(m.bytes.len()));
    h.insert("docker-content-digest", header_value(&m.digest));
    resp
}

/// Stores a pushed manifest (its media type from `Content-Type`, OCI's by default), tagged when
/// `reference` is a tag.
pub(super) fn put(reg: &RegistryState, name: &str, reference: &str, req: &ApiRequest) -> Response {
    let body = req.body.clone();
    let media_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .unwrap_or_else(|| OCI_MANIFEST.to_owned());
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return errors(
                StatusCode::BAD_REQUEST,
                "MANIFEST_INVALID",
                "manifest invalid",
                None,
            );
        }
    };
    // A manifest put by digest must be that digest's content.
    if reference.contains(':') && digest_of(&body) != reference {
        return errors(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            Some(json!({"digest": reference})),
        );
    }
    let mut content = reg.content.write().expect("content");
    let repo = content.entry(name.to_owned()).or_default();
    let referenced = parsed["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&parsed["config"]))
        .filter_map(|d| d["digest"].as_str());
    for d in referenced {
        if !repo.blobs.contains_key(d) {
            return errors(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                "blob unknown to registry",
                Some(json!({"digest": d})),
            );
        }
    }
    let tag = (!reference.starts_with("sha256:")).then_some(reference);
    let digest = repo.put_manifest(&media_type, body, tag);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::CREATED;
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/manifests/{digest}")),
    );
    h.insert("docker-content-digest", header_value(&digest));
    resp
}

/// The manifests whose `subject` is `digest`, as an OCI index, filtered by `artifactType`.
pub(super) fn referrers(
    reg: &RegistryState,
    name: &str,
    digest: &str,
    req: &ApiRequest,
) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let wanted = req.param("artifactType");
    let manifests: Vec<Value> = repo
        .manifests
        .values()
        .filter(|m| m.subject.as_deref() == Some(digest))
        .filter(|m| wanted.is_none_or(|w| m.artifact_type.as_deref() == Some(w)))
        .map(|m| {
            json!({"mediaType": m.media_type, "digest": m.digest, "size": m.bytes.len(),
                        "artifactType": m.artifact_type})
        })
        .collect();
    let mut resp = (
        StatusCode::OK,
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).to_string(),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_INDEX));
    resp
}

/// Whether the `Accept` headers admit `media_type`; no `Accept` admits anything.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .filter(|v| !v.is_empty())
        .collect();
    values.is_empty() || values.iter().any(|v| *v == media_type || *v == "*/*")
}
