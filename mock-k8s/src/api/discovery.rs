//! The non-resource paths: `/version`, the health checks, legacy discovery (`/api`, `/apis`, each
//! group and group-version), the OpenAPI v3 stubs that let `kubectl` use server-side field
//! validation, and the issuer documents (behind RBAC here, as on a real cluster).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::status::{json_response, status_error};
use crate::Inner;
use crate::store::TYPES;

/// The Kubernetes version the emulator reports.
const MINOR: &str = "33";

/// Version, health, discovery, the OpenAPI v3 stubs and the issuer documents; 404 for any other
/// path.
pub(super) fn non_resource(inner: &Inner, path: &str) -> Response {
    let p = path.trim_end_matches('/');
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    match p {
        "/version" => ok(
            json!({"major": "1", "minor": MINOR, "gitVersion": format!("v1.{MINOR}.0-credsim"),
            "gitCommit": "credsim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        "/healthz" | "/livez" | "/readyz" => (StatusCode::OK, "ok").into_response(),
        "/api" => ok(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})),
        "/api/v1" => ok(resource_list("", "v1")),
        "/apis" => ok(
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": GROUPS.iter().map(|g| group_json(g)).collect::<Vec<_>>()}),
        ),
        "/openapi/v3" => {
            let mut paths = serde_json::Map::new();
            paths.insert(
                "api/v1".into(),
                json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=credsim"}),
            );
            for g in GROUPS {
                paths.insert(
                    format!("apis/{g}/v1"),
                    json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/v1?hash=credsim")}),
                );
            }
            ok(json!({"paths": paths}))
        }
        "/.well-known/openid-configuration" => ok(inner.issuer.discovery_document()),
        "/openid/v1/jwks" => {
            let mut resp = ok(serde_json::to_value(inner.issuer.jwks()).expect("jwks"));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            resp
        }
        _ => {
            if let Some(gv) = p.strip_prefix("/openapi/v3/") {
                return ok(openapi_v3(gv));
            }
            if let Some(rest) = p.strip_prefix("/apis/") {
                let parts: Vec<&str> = rest.split('/').collect();
                match parts.as_slice() {
                    [g] if GROUPS.contains(g) => {
                        return ok(json!({"kind": "APIGroup", "apiVersion": "v1",
                        "name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
                        "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}}));
                    }
                    [g, "v1"] if GROUPS.contains(g) => return ok(resource_list(g, "v1")),
                    _ => {}
                }
            }
            status_error(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        }
    }
}

/// The API groups served besides the core group.
const GROUPS: &[&str] = &[
    "rbac.authorization.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
];

fn group_json(g: &str) -> Value {
    json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
           "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}})
}

/// The `APIResourceList` of a group-version: its types, and TokenRequest in the core group and
/// SelfSubjectAccessReview in `authorization.k8s.io`.
fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let mut resources: Vec<Value> = TYPES
        .iter()
        .filter(|t| t.group == group)
        .map(|t| json!({"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update"], "shortNames": t.short_names}))
        .collect();
    match group {
        "" => resources.push(json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true,
            "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]})),
        "authorization.k8s.io" => resources.push(json!({"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
            "namespaced": false, "kind": "SelfSubjectAccessReview", "verbs": ["create"]})),
        _ => {}
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

/// Operations with their GVK and the `fieldValidation` parameter, per group-version.
fn openapi_v3(gv: &str) -> Value {
    let (group, prefix) = match gv.split('/').collect::<Vec<_>>().as_slice() {
        ["api", "v1"] => ("", "/api/v1".to_owned()),
        ["apis", g, "v1"] => (*g, format!("/apis/{g}/v1")),
        _ => ("-", String::new()),
    };
    let mut paths = serde_json::Map::new();
    let field_validation = json!([{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}]);
    for t in TYPES.iter().filter(|t| t.group == group) {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let op = |id: &str| {
            json!({"operationId": id, "parameters": field_validation, "x-kubernetes-group-version-kind": gvk,
                                   "responses": {"200": {"description": "OK"}}})
        };
        let (collection, item) = if t.namespaced {
            (
                format!("{prefix}/namespaces/{{namespace}}/{}", t.plural),
                format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural),
            )
        } else {
            (
                format!("{prefix}/{}", t.plural),
                format!("{prefix}/{}/{{name}}", t.plural),
            )
        };
        paths.insert(
            collection,
            json!({"post": op(&format!("create{}", t.kind))}),
        );
        paths.insert(item, json!({"put": op(&format!("replace{}", t.kind)), "patch": op(&format!("patch{}", t.kind))}));
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": format!("v1.{MINOR}.0")}, "paths": paths,
           "components": {"schemas": {}}})
}
