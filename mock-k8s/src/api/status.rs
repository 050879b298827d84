//! The API server's answers: JSON bodies, and errors as a `Status`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::store::ApiError;

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(super) fn error(e: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
        &e.status(),
    )
}

pub(super) fn status_error(code: u16, reason: &'static str, message: &str) -> Response {
    error(&ApiError {
        code,
        reason,
        message: message.to_owned(),
        details: Value::Null,
    })
}
