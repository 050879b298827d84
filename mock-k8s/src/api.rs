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

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::rbac::{Attributes, UserInfo, authorize};
use crate::store::{ApiError, ResourceType, TYPES, lookup};
use crate::{AuditEvent, Inner, TokenRequestRecord, authenticate, mint};

/// The Kubernetes version the emulator reports.
const MINOR: &str = "33";

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new().fallback(dispatch).with_state(inner)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(e: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
        &e.status(),
    )
}

fn status_error(code: u16, reason: &'static str, message: &str) -> Response {
    error(&ApiError {
        code,
        reason,
        message: message.to_owned(),
        details: Value::Null,
    })
}

/// What a path addresses.
#[derive(Clone, Debug)]
enum Target {
    NonResource,
    Collection {
        t: &'static ResourceType,
        namespace: Option<String>,
    },
    Object {
        t: &'static ResourceType,
        namespace: String,
        name: String,
    },
    Token {
        namespace: String,
        name: String,
    },
    AccessReview,
    Unknown,
}

fn parse(path: &str) -> Target {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Target::NonResource,
    };
    if group == "authorization.k8s.io" && rest == ["selfsubjectaccessreviews"] {
        return Target::AccessReview;
    }
    let find = |plural: &str| lookup(group, version, plural);
    match rest {
        [plural] => match find(plural) {
            Some(t) => Target::Collection { t, namespace: None },
            None => Target::Unknown,
        },
        ["namespaces", ns, plural] => match find(plural) {
            Some(t) if t.namespaced => Target::Collection {
                t,
                namespace: Some((*ns).to_owned()),
            },
            _ => Target::Unknown,
        },
        ["namespaces", ns, "serviceaccounts", name, "token"] if group.is_empty() => Target::Token {
            namespace: (*ns).to_owned(),
            name: (*name).to_owned(),
        },
        ["namespaces", ns, plural, name] => match find(plural) {
            Some(t) if t.namespaced => Target::Object {
                t,
                namespace: (*ns).to_owned(),
                name: (*name).to_owned(),
            },
            _ => Target::Unknown,
        },
        [plural, name] => match find(plural) {
            Some(t) if !t.namespaced => Target::Object {
                t,
                namespace: String::new(),
                name: (*name).to_owned(),
            },
            _ => Target::Unknown,
        },
        _ => Target::Unknown,
    }
}

fn verb_of(method: &Method, target: &Target, watch: bool) -> &'static str {
    match (method, target) {
        (&Method::GET, Target::Collection { .. }) if watch => "watch",
        (&Method::GET, Target::Collection { .. }) => "list",
        (&Method::GET | &Method::HEAD, _) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, Target::Collection { .. }) => "deletecollection",
        (&Method::DELETE, _) => "delete",
        _ => "unknown",
    }
}

fn attributes(verb: &str, target: &Target, path: &str) -> Attributes {
    let res = |t: &ResourceType, sub: &str, ns: &str, name: &str| Attributes::Resource {
        verb: verb.into(),
        group: t.group.into(),
        resource: t.plural.into(),
        subresource: sub.into(),
        namespace: ns.into(),
        name: name.into(),
    };
    match target {
        Target::Collection { t, namespace } => res(t, "", namespace.as_deref().unwrap_or(""), ""),
        Target::Object { t, namespace, name } => {
            // A namespace object is addressed by name at the cluster scope; RBAC sees its name.
            res(t, "", namespace, name)
        }
        Target::Token { namespace, name } => res(&TYPES[1], "token", namespace, name),
        Target::AccessReview => Attributes::Resource {
            verb: verb.into(),
            group: "authorization.k8s.io".into(),
            resource: "selfsubjectaccessreviews".into(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        },
        Target::NonResource | Target::Unknown => Attributes::NonResource {
            verb: verb.into(),
            path: path.into(),
        },
    }
}

async fn dispatch(State(inner): State<Arc<Inner>>, req: Request) -> Response {
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
        match crate::protobuf::to_json(&body) {
            Ok(v) => body = Bytes::from(v.to_string()),
            Err(e) => return error(&e),
        }
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let mut audit = AuditEvent {
        at: inner.clock.now(),
        cluster: inner.name.clone(),
        user: String::new(),
        impersonated_user: None,
        verb: String::new(),
        path: path.clone(),
        resource: None,
        namespace: None,
        name: None,
        status: 0,
        token_request: None,
    };
    let resp = handle(
        &inner,
        &method,
        &path,
        &query,
        &headers,
        body,
        bearer.as_deref(),
        &mut audit,
    );
    audit.status = resp.status().as_u16();
    inner.audit.push(audit);
    resp
}

/// Impersonation (`Impersonate-User`, `Impersonate-Group`), as the API server's filter does it:
/// the caller needs the `impersonate` verb on the user (on `serviceaccounts` for a ServiceAccount
/// user name) and on each group; the request then acts as that user, with the groups given, or a
/// ServiceAccount's groups when none are, plus `system:authenticated`.
fn impersonate(
    inner: &Inner,
    user: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, Box<Response>> {
    let Some(as_user) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        if headers.contains_key("impersonate-group") {
            return Err(Box::new(status_error(
                500,
                "InternalError",
                "requested impersonation of groups without impersonating a user",
            )));
        }
        return Ok(user);
    };
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let sa = as_user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'));
    let mut checks = vec![match sa {
        Some((ns, name)) => Attributes::Resource {
            verb: "impersonate".into(),
            group: String::new(),
            resource: "serviceaccounts".into(),
            subresource: String::new(),
            namespace: ns.into(),
            name: name.into(),
        },
        None => Attributes::Resource {
            verb: "impersonate".into(),
            group: String::new(),
            resource: "users".into(),
            subresource: String::new(),
            namespace: String::new(),
            name: as_user.clone(),
        },
    }];
    checks.extend(groups.iter().map(|g| Attributes::Resource {
        verb: "impersonate".into(),
        group: String::new(),
        resource: "groups".into(),
        subresource: String::new(),
        namespace: String::new(),
        name: g.clone(),
    }));
    let store = inner.store.read().expect("store");
    for attrs in &checks {
        if !authorize(&store, &user, attrs).0 {
            return Err(Box::new(error(&ApiError {
                code: 403,
                reason: "Forbidden",
                message: attrs.forbidden_message(&user),
                details: Value::Null,
            })));
        }
    }
    let mut impersonated = match (sa, groups.is_empty()) {
        (Some((ns, name)), true) => UserInfo::service_account(ns, name),
        _ => UserInfo {
            name: as_user.clone(),
            groups,
        },
    };
    if as_user != "system:anonymous"
        && !impersonated
            .groups
            .iter()
            .any(|g| g == "system:authenticated")
    {
        impersonated.groups.push("system:authenticated".into());
    }
    Ok(impersonated)
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[allow(clippy::too_many_arguments)]
fn handle(
    inner: &Inner,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Bytes,
    bearer: Option<&str>,
    audit: &mut AuditEvent,
) -> Response {
    let user = match authenticate(inner, bearer) {
        Ok(u) => u,
        Err(why) => {
            audit.user = format!("(unauthenticated: {why})");
            return status_error(401, "Unauthorized", "Unauthorized");
        }
    };
    audit.user = user.name.clone();
    let user = match impersonate(inner, user, headers) {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    if audit.user != user.name {
        audit.impersonated_user = Some(user.name.clone());
    }
    let target = parse(path);
    let verb = verb_of(
        method,
        &target,
        param(query, "watch").is_some_and(|w| w == "true" || w == "1"),
    );
    audit.verb = verb.into();
    let attrs = attributes(verb, &target, path);
    if let Attributes::Resource {
        resource,
        subresource,
        namespace,
        name,
        ..
    } = &attrs
    {
        audit.resource = Some(if subresource.is_empty() {
            resource.clone()
        } else {
            format!("{resource}/{subresource}")
        });
        audit.namespace = (!namespace.is_empty()).then(|| namespace.clone());
        audit.name = (!name.is_empty()).then(|| name.clone());
    }
    if !matches!(target, Target::Unknown) {
        let (allowed, _) = authorize(&inner.store.read().expect("store"), &user, &attrs);
        if !allowed {
            let mut e = ApiError {
                code: 403,
                reason: "Forbidden",
                message: attrs.forbidden_message(&user),
                details: Value::Null,
            };
            if let Attributes::Resource {
                resource,
                group,
                name,
                ..
            } = &attrs
            {
                e.details = json!({"name": name, "group": group, "kind": resource});
            }
            return error(&e);
        }
    }
    match target {
        Target::NonResource => non_resource(inner, path),
        Target::Unknown => status_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        Target::AccessReview => access_review(inner, &user, &body),
        Target::Token { namespace, name } => token_request(inner, &namespace, &name, &body, audit),
        Target::Collection { t, namespace } => {
            collection(inner, t, namespace.as_deref(), query, headers, &body, verb)
        }
        Target::Object { t, namespace, name } => {
            object(inner, method, t, &namespace, &name, headers, &body)
        }
    }
}

fn non_resource(inner: &Inner, path: &str) -> Response {
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

const GROUPS: &[&str] = &[
    "rbac.authorization.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
];

fn group_json(g: &str) -> Value {
    json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
           "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}})
}

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

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(&format!("the request body is not valid JSON: {e}")))
}

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

#[allow(clippy::too_many_arguments)]
fn collection(
    inner: &Inner,
    t: &ResourceType,
    namespace: Option<&str>,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
    verb: &str,
) -> Response {
    match verb {
        "list" => {
            let store = inner.store.read().expect("store");
            match store.list(t, namespace, param(query, "labelSelector")) {
                Ok(items) if wants_table(headers) => {
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
        "create" => {
            let obj = match parse_body(body) {
                Ok(v) => v,
                Err(e) => return error(&e),
            };
            let ns = namespace.unwrap_or_default();
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

fn object(
    inner: &Inner,
    method: &Method,
    t: &ResourceType,
    namespace: &str,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let result = match *method {
        Method::GET | Method::HEAD => {
            let store = inner.store.read().expect("store");
            return match store.get(t, namespace, name) {
                Ok(o) if wants_table(headers) => {
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
            let ct = headers
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

fn token_request(
    inner: &Inner,
    namespace: &str,
    name: &str,
    body: &[u8],
    audit: &mut AuditEvent,
) -> Response {
    let req = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let sa_type = &TYPES[1];
    let sa = match inner
        .store
        .read()
        .expect("store")
        .get(sa_type, namespace, name)
    {
        Ok(sa) => sa,
        Err(e) => return error(&e),
    };
    let spec = &req["spec"];
    let requested = spec["expirationSeconds"].as_i64().unwrap_or(3600);
    if requested < 600 {
        return error(&ApiError::invalid(
            "TokenRequest",
            "authentication.k8s.io",
            "",
            "spec.expirationSeconds",
            &json!(requested),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if requested > (1i64 << 32) {
        return error(&ApiError::invalid(
            "TokenRequest",
            "authentication.k8s.io",
            "",
            "spec.expirationSeconds",
            &json!(requested),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let lifetime = match inner.max_expiration {
        Some(max) => requested.min(max.as_secs() as i64),
        None => requested,
    };
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![inner.issuer.url().to_owned()],
    };
    let bound = spec.get("boundObjectRef").filter(|b| !b.is_null()).cloned();
    let pod = bound.as_ref().filter(|b| b["kind"] == "Pod").map(|b| {
        (
            b["name"].as_str().unwrap_or_default().to_owned(),
            b["uid"].as_str().unwrap_or_default().to_owned(),
        )
    });
    let aud_refs: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let (token, fp) = match mint(
        inner,
        namespace,
        name,
        &sa,
        &aud_refs,
        lifetime,
        pod.as_ref().map(|(n, u)| (n.as_str(), u.as_str())),
    ) {
        Ok(t) => t,
        Err(e) => return status_error(500, "InternalError", &e.to_string()),
    };
    let expires = inner
        .clock
        .now()
        .checked_add(jiff::SignedDuration::from_secs(lifetime))
        .unwrap_or(jiff::Timestamp::MAX);
    audit.token_request = Some(TokenRequestRecord {
        namespace: namespace.into(),
        service_account: name.into(),
        audiences: audiences.clone(),
        expiration_seconds: lifetime,
        bound_object: bound.clone(),
        token: fp,
    });
    json_response(
        StatusCode::CREATED,
        &json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": inner.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
            "spec": {"audiences": audiences, "expirationSeconds": lifetime, "boundObjectRef": bound},
            "status": {"token": token.expose(), "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
        }),
    )
}

fn access_review(inner: &Inner, user: &UserInfo, body: &[u8]) -> Response {
    let mut review = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let spec = &review["spec"];
    let attrs = if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        Attributes::Resource {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: s("namespace"),
            name: s("name"),
        }
    } else if let Some(n) = spec.get("nonResourceAttributes").filter(|n| n.is_object()) {
        Attributes::NonResource {
            verb: n["verb"].as_str().unwrap_or_default().into(),
            path: n["path"].as_str().unwrap_or_default().into(),
        }
    } else {
        return error(&ApiError::invalid(
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "",
            "spec.resourceAttributes",
            &json!(null),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let (allowed, reason) = authorize(&inner.store.read().expect("store"), user, &attrs);
    review["status"] = json!({"allowed": allowed, "reason": reason});
    review["apiVersion"] = "authorization.k8s.io/v1".into();
    review["kind"] = "SelfSubjectAccessReview".into();
    json_response(StatusCode::CREATED, &review)
}
