//! Blob uploads: started with `POST` (monolithic when it carries `digest`), continued with
//! `PATCH`, finished with `PUT ?digest=` (the bytes must hash to it), cancelled with `DELETE`.
//! An upload belongs to the repository it was started in.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiRequest;
use crate::RegistryState;
use crate::model::digest_of;
use crate::responses::{errors, header_value};

/// How many blob uploads one registry keeps open at once.
const OPEN_UPLOADS: usize = 256;

/// `POST /v2/<name>/blobs/uploads/`: the whole blob when `digest` is given, otherwise a new
/// upload session holding the body so far.
pub(super) fn start(reg: &RegistryState, name: &str, req: &ApiRequest) -> Response {
    if let Some(digest) = req.param("digest") {
        return finish(reg, name, digest, req.body.to_vec());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut uploads = reg.uploads.lock().expect("uploads");
    // Uploads that are started and never finished would otherwise pile up for as long as
    // the registry runs. ACR throttles with `TOOMANYREQUESTS`; so does the fake, past
    // this many open uploads in one registry (finishing or cancelling one makes room).
    if uploads.len() >= OPEN_UPLOADS {
        return errors(
            StatusCode::TOO_MANY_REQUESTS,
            "TOOMANYREQUESTS",
            "too many blob uploads in progress; finish or cancel one",
            None,
        );
    }
    let len = req.body.len();
    uploads.insert(id.clone(), (name.to_owned(), req.body.to_vec()));
    accepted(name, &id, len)
}

/// A request on upload session `id`: `DELETE` cancels it; any other appends the body, and `PUT`
/// then finishes it.
pub(super) fn proceed(reg: &RegistryState, name: &str, id: &str, req: &ApiRequest) -> Response {
    let mut uploads = reg.uploads.lock().expect("uploads");
    let Some((_, bytes)) = uploads.get_mut(id).filter(|(r, _)| r == name) else {
        return errors(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
            None,
        );
    };
    if req.method == Method::DELETE {
        uploads.remove(id);
        return StatusCode::NO_CONTENT.into_response();
    }
    bytes.extend_from_slice(&req.body);
    if req.method == Method::PUT {
        let Some(digest) = req.param("digest") else {
            return errors(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                None,
            );
        };
        let all = std::mem::take(bytes);
        uploads.remove(id);
        drop(uploads);
        return finish(reg, name, digest, all);
    }
    let len = bytes.len();
    accepted(name, id, len)
}

/// `202`: the upload goes on at `Location`, with the bytes received so far in `Range`.
fn accepted(name: &str, id: &str, len: usize) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/blobs/uploads/{id}")),
    );
    h.insert("docker-upload-uuid", header_value(id));
    h.insert(
        header::RANGE,
        header_value(&format!("0-{}", len.saturating_sub(1))),
    );
    resp
}

/// Stores the uploaded blob if it hashes to `digest`.
fn finish(reg: &RegistryState, name: &str, digest: &str, bytes: Vec<u8>) -> Response {
    if digest_of(&bytes) != digest {
        return errors(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            None,
        );
    }
    let mut content = reg.content.write().expect("content");
    content
        .entry(name.to_owned())
        .or_default()
        .put_blob(bytes.into());
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::CREATED;
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/blobs/{digest}")),
    );
    h.insert("docker-content-digest", header_value(digest));
    resp
}
