//! The answers the API's handlers share: JSON with ACR's content type, the distribution error
//! shape and its common cases, and header values built from request data that cannot panic.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A JSON 200 with ACR's content type.
pub(crate) fn json_ok(body: Value) -> Response {
    json_status(StatusCode::OK, body)
}

/// The distribution error shape.
pub(crate) fn errors(
    status: StatusCode,
    code: &str,
    message: &str,
    detail: Option<Value>,
) -> Response {
    let mut e = json!({"code": code, "message": message});
    if let Some(d) = detail {
        e["detail"] = d;
    }
    json_status(status, json!({"errors": [e]}))
}

/// A header value from text the registry built. Every part of it from a request (a repository
/// name, a digest, a media type read from a header) has passed its grammar first, so this never
/// changes anything; but no request data reaches a panic here: a character a header cannot carry
/// is percent-encoded instead.
pub(crate) fn header_value(s: &str) -> HeaderValue {
    const NOT_IN_HEADERS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
    HeaderValue::from_str(s).unwrap_or_else(|_| {
        let encoded = percent_encoding::utf8_percent_encode(s, NOT_IN_HEADERS).to_string();
        HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static(""))
    })
}

/// `404 NAME_UNKNOWN`: the registry has no repository `name`.
pub(super) fn name_unknown(name: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        "repository name not known to registry",
        Some(json!({"name": name})),
    )
}

/// `404 MANIFEST_UNKNOWN`: the repository has no manifest `reference` (a tag or a digest).
pub(super) fn manifest_unknown(reference: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        "manifest unknown",
        Some(json!({"Tag": reference})),
    )
}

fn json_status(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_values_never_panic() {
        for s in ["plain", "line\nbreak", "nul\0", "é", "%0A"] {
            let v = super::header_value(s);
            assert!(!v.as_bytes().iter().any(u8::is_ascii_control), "{s}: {v:?}");
        }
        assert_eq!(super::header_value("line\nbreak"), "line%0Abreak");
    }
}
