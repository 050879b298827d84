//! Collections and objects of the store's resource types: list (with a label selector) and
//! create on a collection; get, update (PUT), patch (merge and strategic merge) and delete on an
//! object; and the `Table` (Name, Age) `kubectl get` asks for with `Accept: …;as=Table`.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::status::{error, json_response, status_error};
use super::{ApiRequest, parse_body};
use crate::Inner;
use crate::store::{ApiError, ResourceType};

/// A collection of `t`, in `namespace` or across all: `verb` is `list` or `create` (`watch` and
/// the rest are 405).
pub(super) fn collection(
    inner: &Inner,
    t: &ResourceType,
    namespace: Option<&str>,
    verb: &str,
    req: &ApiRequest,
) -> Response {
    match verb {
        "list" => list(inner, t, namespace, req),
        "create" => create(inner, t, namespace.unwrap_or_default(), &req.body),
        "watch" => status_error(
            405,
            "MethodNotAllowed",
            "watch is not supported by this emulator",
        ),
        _ => status_error(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
    }
}

/// One object of `t`, by the request's method.
pub(super) fn object(
    inner: &Inner,
    t: &ResourceType,
    namespace: &str,
    name: &str,
    req: &ApiRequest,
) -> Response {
    let body = &req.body[..];
    let result = match req.method {
        Method::GET | Method::HEAD => {
            let store = inner.store.read().expect("store");
            return match store.get(t, namespace, name) {
                Ok(o) if wants_table(&req.headers) => {
                    json_response(StatusCode::OK, &table(inner, &[o], &store.revision()))
                }
                Ok(o) => json_response(StatusCode::OK, &o),
                Err(e) => error(&e),
            };
        }
        Method::PUT => parse_body(body).and_then(|obj| {
            inner
                .store
                .write()
                .expect("store")
                .update(t, namespace, name, obj)
        }),
        Method::PATCH => {
            let ct = req
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.starts_with("application/json-patch+json")
                || ct.starts_with("application/apply-patch")
            {
                return status_error(
                    415,
                    "UnsupportedMediaType",
                    &format!(
                        "the emulator does not support {ct} patches; use merge or strategic merge patches"
                    ),
                );
            }
            parse_body(body).and_then(|p| {
                inner
                    .store
                    .write()
                    .expect("store")
                    .patch(t, namespace, name, &p)
            })
        }
        Method::DELETE => inner
            .store
            .write()
            .expect("store")
            .delete(t, namespace, name),
        _ => {
            return status_error(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            );
        }
    };
    match result {
        Ok(o) => json_response(StatusCode::OK, &o),
        Err(e) => error(&e),
    }
}

/// The `<Kind>List` (or its `Table`) of the objects `labelSelector` selects.
fn list(inner: &Inner, t: &ResourceType, namespace: Option<&str>, req: &ApiRequest) -> Response {
    let store = inner.store.read().expect("store");
    match store.list(t, namespace, req.param("labelSelector")) {
        Ok(items) if wants_table(&req.headers) => {
            json_response(StatusCode::OK, &table(inner, &items, &store.revision()))
        }
        Ok(items) => json_response(
            StatusCode::OK,
            &json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(),
            "metadata": {"resourceVersion": store.revision()}, "items": items}),
        ),
        Err(e) => error(&e),
    }
}

/// Creates the object of the body in `ns`, which a namespace in the body must agree with.
fn create(inner: &Inner, t: &ResourceType, ns: &str, body: &[u8]) -> Response {
    let obj = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    if t.namespaced
        && let Some(body_ns) = obj["metadata"]["namespace"].as_str()
        && body_ns != ns
    {
        return error(&ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let mut store = inner.store.write().expect("store");
    match store.create(t, ns, obj, inner.clock.now()) {
        Ok(created) => json_response(StatusCode::CREATED, &created),
        Err(e) => error(&e),
    }
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

fn table(inner: &Inner, items: &[Value], revision: &str) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            json!({"cells": [m["name"], age(inner, m["creationTimestamp"].as_str().unwrap_or_default())],
                   "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": revision},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}],
        "rows": rows})
}

/// An age as `kubectl get` shows it (`42s`, `5m`, `3h`, `2d`).
fn age(inner: &Inner, created: &str) -> String {
    let Ok(t) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let s = inner.clock.now().duration_since(t).as_secs().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}
