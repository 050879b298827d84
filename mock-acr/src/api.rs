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

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mock_kit::RequestContext;
use serde_json::{Value, json};

use crate::auth::{Authority, caller_from_basic};
use crate::model::{Manifest, Repository, digest_of};
use crate::tokens::{self, Invalid};
use crate::{AcrEvent, Inner, RegistryState};

/// ACR caps list pages at 1000 whatever `n` says.
const PAGE_CAP: usize = 1000;

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

/// A JSON 200 with ACR's content type.
pub(crate) fn json_ok(body: Value) -> Response {
    json_status(StatusCode::OK, body)
}

fn json_status(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
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

/// The challenge header value.
fn challenge(login_server: &str, scope: Option<&str>, error: Option<&str>) -> HeaderValue {
    let mut v =
        format!("Bearer realm=\"https://{login_server}/oauth2/token\",service=\"{login_server}\"");
    if let Some(s) = scope {
        v.push_str(&format!(",scope=\"{s}\""));
    }
    if let Some(e) = error {
        v.push_str(&format!(",error=\"{e}\""));
    }
    header_value(&v)
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

/// What an API request needs.
#[derive(Clone, Debug)]
struct Need {
    resource_type: &'static str,
    name: String,
    action: &'static str,
}

impl Need {
    fn scope(&self) -> String {
        format!("{}:{}:{}", self.resource_type, self.name, self.action)
    }
}

/// The parsed route.
#[derive(Clone, Debug)]
enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
    AcrCatalog,
    AcrRepository(String),
    AcrTags(String),
    AcrTag(String, String),
    AcrManifests(String),
    AcrManifest(String, String),
}

impl Route {
    /// The repository the route names, if it names one.
    fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog | Route::AcrCatalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _)
            | Route::AcrRepository(n)
            | Route::AcrTags(n)
            | Route::AcrTag(n, _)
            | Route::AcrManifests(n)
            | Route::AcrManifest(n, _) => Some(n),
        }
    }
}

/// The distribution grammar of a repository name, which ACR enforces: path components of
/// lower-case letters and digits separated by `.`, `_`, `__` or runs of `-`, joined by `/`, at most
/// 256 characters. A name outside it (upper case, a control character decoded from `%0A`, an
/// empty component) is `NAME_INVALID` before anything else looks at it.
fn valid_name(name: &str) -> bool {
    let component = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            // A separator: `.`, `_`, `__`, or one or more `-`, between alphanumerics.
            let start = i;
            match b[i] {
                b'.' => i += 1,
                b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
                b'-' => {
                    while b.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                _ => return false,
            }
            if i == start || !b.get(i).is_some_and(|x| alnum(*x)) {
                return false;
            }
        }
        true
    };
    !name.is_empty() && name.len() <= 256 && name.split('/').all(component)
}

/// The distribution grammar of a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let first = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && first(b[0])
        && b[1..].iter().all(|x| first(*x) || *x == b'.' || *x == b'-')
}

/// The OCI grammar of a digest, `algorithm:encoded`, for the algorithms a registry takes:
/// `sha256` (64 lower-case hex digits) and `sha512` (128).
fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let hex = |n: usize| {
        encoded.len() == n
            && encoded
                .bytes()
                .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x))
    };
    match algorithm {
        "sha256" => hex(64),
        "sha512" => hex(128),
        _ => false,
    }
}

/// A reference in the path that is neither a digest nor a tag, in the registry's answer:
/// `400 DIGEST_INVALID` for what is shaped like a digest (`algorithm:encoded`) but is not a valid
/// one, `400 TAG_INVALID` for anything else outside the tag grammar. Checked, like the name,
/// before authentication (distribution matches its routes against these grammars first).
///
/// Distribution itself answers a reference outside both grammars with a bare `404`, because its
/// router does not match; ACR's answers to malformed references are not documented. We give the
/// distribution error codes defined for exactly these cases, in the registry's error body, so a
/// client sees which part of its request was wrong.
fn reference_error(route: &Route) -> Option<Response> {
    let digest_error = |d: &str| {
        errors(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            Some(json!({"digest": d})),
        )
    };
    let tag_error = |t: &str| {
        errors(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "manifest tag did not match URI",
            Some(json!({"tag": t})),
        )
    };
    let reference = |r: &str| {
        if r.contains(':') {
            (!valid_digest(r)).then(|| digest_error(r))
        } else {
            (!valid_tag(r)).then(|| tag_error(r))
        }
    };
    match route {
        Route::Manifest(_, r) | Route::AcrManifest(_, r) => reference(r),
        Route::AcrTag(_, t) => (!valid_tag(t)).then(|| tag_error(t)),
        Route::Blob(_, d) | Route::Referrers(_, d) => (!valid_digest(d)).then(|| digest_error(d)),
        _ => None,
    }
}

fn parse(path: &str) -> Option<Route> {
    let route = parse_route(path)?;
    match route.name() {
        Some(name) if !valid_name(name) => None,
        _ => Some(route),
    }
}

fn parse_route(path: &str) -> Option<Route> {
    if path == "/v2" || path == "/v2/" {
        return Some(Route::Base);
    }
    if let Some(rest) = path.strip_prefix("/acr/v1/") {
        if rest == "_catalog" {
            return Some(Route::AcrCatalog);
        }
        for (marker, tags) in [("/_tags", true), ("/_manifests", false)] {
            if let Some(at) = rest.find(marker) {
                let name = rest[..at].to_owned();
                let tail = rest[at + marker.len()..].trim_start_matches('/');
                return Some(match (tags, tail.is_empty()) {
                    (true, true) => Route::AcrTags(name),
                    (true, false) => Route::AcrTag(name, tail.to_owned()),
                    (false, true) => Route::AcrManifests(name),
                    (false, false) => Route::AcrManifest(name, tail.to_owned()),
                });
            }
        }
        return Some(Route::AcrRepository(rest.trim_end_matches('/').to_owned()));
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_owned()));
    }
    for (marker, kind) in [
        ("/blobs/uploads", 0),
        ("/manifests/", 1),
        ("/blobs/", 2),
        ("/referrers/", 3),
    ] {
        if let Some(at) = rest.rfind(marker) {
            let name = rest[..at].to_owned();
            let tail = rest[at + marker.len()..].trim_start_matches('/').to_owned();
            return Some(match kind {
                0 if tail.is_empty() => Route::UploadStart(name),
                0 => Route::Upload(name, tail),
                1 => Route::Manifest(name, tail),
                2 => Route::Blob(name, tail),
                _ => Route::Referrers(name, tail),
            });
        }
    }
    None
}

fn need(route: &Route, method: &Method) -> Option<Need> {
    let repo = |name: &str, action: &'static str| Need {
        resource_type: "repository",
        name: name.to_owned(),
        action,
    };
    let write = matches!(*method, Method::PUT | Method::POST | Method::PATCH);
    Some(match route {
        Route::Base => return None,
        Route::Catalog | Route::AcrCatalog => Need {
            resource_type: "registry",
            name: "catalog".into(),
            action: "*",
        },
        Route::Tags(n)
        | Route::AcrRepository(n)
        | Route::AcrTags(n)
        | Route::AcrTag(n, _)
        | Route::AcrManifests(n)
        | Route::AcrManifest(n, _) => repo(n, "metadata_read"),
        Route::Manifest(n, _) if write => repo(n, "push"),
        Route::UploadStart(n) | Route::Upload(n, _) => repo(n, "push"),
        Route::Manifest(n, _) | Route::Blob(n, _) | Route::Referrers(n, _) => repo(n, "pull"),
    })
}

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
    let method = req.method().clone();
    // The Azure SDKs percent-encode the slashes of repository names (`project-a%2Fapp`).
    let path = percent_encoding::percent_decode_str(req.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 256 << 20)
        .await
        .unwrap_or_default();
    let mut ev = AcrEvent {
        at: inner.clock.now(),
        registry: reg.name.clone(),
        endpoint: "api".into(),
        method: method.to_string(),
        path: path.clone(),
        principal: None,
        tenant: None,
        requested: Vec::new(),
        granted: Vec::new(),
        status: 0,
        error: None,
        token: None,
        authorization_to_storage: false,
        client,
    };
    let resp = handle(
        &inner, &reg, &method, &path, &query, &headers, body, &mut ev,
    );
    ev.status = resp.status().as_u16();
    inner.journal.push(ev);
    resp
}

#[allow(clippy::too_many_arguments)]
fn handle(
    inner: &Inner,
    reg: &RegistryState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
    ev: &mut AcrEvent,
) -> Response {
    let Some(route) = parse(path) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_INVALID",
            "invalid repository name",
            None,
        );
    };
    if let Some(refused) = reference_error(&route) {
        return refused;
    }
    let needed = need(&route, method);
    if let Some(n) = &needed {
        ev.requested = vec![n.scope()];
    }

    // Authenticate.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let authority: Option<Authority> = if let Some(token) = bearer {
        match tokens::verify(inner, reg, token, "access_token") {
            Ok(d) => {
                ev.principal = d.claim_str("sub").map(str::to_owned);
                Some(Authority::Access(tokens::access_of(&d)))
            }
            Err(e) => {
                ev.error = Some(match e {
                    Invalid::Expired => "expired access token".into(),
                    Invalid::Invalid => "invalid access token".into(),
                });
                return unauthorized(reg, needed.as_ref(), Some("invalid_token"));
            }
        }
    } else if let Some((user, pass)) = mock_kit::site::basic_auth(headers) {
        match caller_from_basic(inner, reg, &user, &pass) {
            Ok(c) => {
                ev.principal = Some(c.principal);
                Some(c.authority)
            }
            Err(refusal) => {
                ev.error = Some(refusal.message);
                return unauthorized(reg, needed.as_ref(), None);
            }
        }
    } else if reg.anonymous_pull {
        ev.principal = Some("anonymous".into());
        Some(Authority::Grants(crate::policy::Grants::anonymous()))
    } else {
        None
    };

    // Authorize.
    match (&needed, &authority) {
        (None, Some(_)) => return json_ok(json!({})),
        (None, None) => return unauthorized(reg, None, None),
        (Some(n), Some(a)) if a.permits(n.resource_type, &n.name, n.action) => {
            ev.granted = vec![n.scope()];
        }
        (Some(n), _) => {
            ev.error = Some(format!("{} not granted", n.scope()));
            return unauthorized(reg, Some(n), None);
        }
    }

    serve(inner, reg, method, &route, query, headers, body)
}

fn unauthorized(reg: &RegistryState, n: Option<&Need>, error: Option<&str>) -> Response {
    let detail = n.map(|n| json!([{"Type": n.resource_type, "Name": n.name, "Action": n.action}]));
    let mut resp = errors(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required, visit https://aka.ms/acr/authorization for more information.",
        detail,
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        challenge(&reg.login_server, n.map(|n| n.scope()).as_deref(), error),
    );
    resp
}

fn name_unknown(name: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        "repository name not known to registry",
        Some(json!({"name": name})),
    )
}

fn manifest_unknown(reference: &str) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        "manifest unknown",
        Some(json!({"Tag": reference})),
    )
}

fn query_params(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// One page of a sorted list: `n` (capped at 1000), strictly after `last`, and the relative
/// `Link` ACR sends (with its empty `orderby`).
fn page(items: &[String], q: &[(String, String)], path: &str) -> (Vec<String>, Option<String>) {
    let n = param(q, "n")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(PAGE_CAP)
        .min(PAGE_CAP);
    let start = match param(q, "last") {
        Some(last) => items
            .iter()
            .position(|i| i.as_str() > last)
            .unwrap_or(items.len()),
        None => 0,
    };
    let slice: Vec<String> = items[start..].iter().take(n).cloned().collect();
    let more = n > 0 && start + slice.len() < items.len();
    let link = more.then(|| {
        let last = slice.last().cloned().unwrap_or_default();
        let enc: String = url_encode(&last);
        format!("<{path}?last={enc}&n={n}&orderby=>; rel=\"next\"")
    });
    (slice, link)
}

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .unwrap_or_default()
        .trim_start_matches("x=")
        .to_owned()
}

fn with_link(mut resp: Response, link: Option<String>) -> Response {
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    resp
}

fn changeable() -> Value {
    json!({"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true})
}

fn manifest_attributes(repo: &Repository, m: &Manifest) -> Value {
    let mut v = json!({
        "digest": m.digest,
        "imageSize": repo.size_of(m),
        "createdTime": crate::model::CREATED,
        "lastUpdateTime": crate::model::CREATED,
        "mediaType": m.media_type,
        "tags": repo.tags_of(&m.digest),
        "changeableAttributes": changeable(),
    });
    if let Some(a) = &m.architecture {
        v["architecture"] = a.clone().into();
    }
    if let Some(o) = &m.os {
        v["os"] = o.clone().into();
    }
    if let Some(c) = &m.config_media_type {
        v["configMediaType"] = c.clone().into();
    }
    v
}

fn tag_attributes(name: &str, digest: &str) -> Value {
    json!({"name": name, "digest": digest, "createdTime": crate::model::CREATED,
           "lastUpdateTime": crate::model::CREATED, "signed": false, "changeableAttributes": changeable()})
}

#[allow(clippy::too_many_arguments)]
fn serve(
    inner: &Inner,
    reg: &RegistryState,
    method: &Method,
    route: &Route,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let q = query_params(query);
    let write = matches!(*method, Method::PUT | Method::POST | Method::PATCH);
    let cancel_upload = *method == Method::DELETE && matches!(route, Route::Upload(..));
    if !write && !cancel_upload && *method != Method::GET && *method != Method::HEAD {
        return errors(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the operation is unsupported",
            None,
        );
    }
    match route {
        Route::Base => json_ok(json!({})),
        Route::Catalog | Route::AcrCatalog => {
            let names: Vec<String> = reg
                .content
                .read()
                .expect("content")
                .keys()
                .cloned()
                .collect();
            let path = if matches!(route, Route::Catalog) {
                "/v2/_catalog"
            } else {
                "/acr/v1/_catalog"
            };
            let (slice, link) = page(&names, &q, path);
            with_link(json_ok(json!({"repositories": slice})), link)
        }
        Route::Tags(name) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let tags: Vec<String> = repo.tags.keys().cloned().collect();
            let (slice, link) = page(&tags, &q, &format!("/v2/{name}/tags/list"));
            with_link(json_ok(json!({"name": name, "tags": slice})), link)
        }
        Route::AcrRepository(name) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            json_ok(json!({"registry": reg.login_server, "imageName": name,
                "createdTime": crate::model::CREATED, "lastUpdateTime": crate::model::CREATED,
                "manifestCount": repo.manifests.len(), "tagCount": repo.tags.len(),
                "changeableAttributes": changeable()}))
        }
        Route::AcrTags(name) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let tags: Vec<String> = repo.tags.keys().cloned().collect();
            let (slice, link) = page(&tags, &q, &format!("/acr/v1/{name}/_tags"));
            let list: Vec<Value> = slice
                .iter()
                .map(|t| tag_attributes(t, &repo.tags[t]))
                .collect();
            with_link(
                json_ok(json!({"registry": reg.login_server, "imageName": name, "tags": list})),
                link,
            )
        }
        Route::AcrTag(name, tag) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let Some(digest) = repo.tags.get(tag) else {
                return manifest_unknown(tag);
            };
            json_ok(
                json!({"registry": reg.login_server, "imageName": name, "tag": tag_attributes(tag, digest)}),
            )
        }
        Route::AcrManifests(name) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let mut list: Vec<&Manifest> = repo.manifests.values().collect();
            list.sort_by(|a, b| a.digest.cmp(&b.digest));
            let manifests: Vec<Value> = list.iter().map(|m| manifest_attributes(repo, m)).collect();
            json_ok(
                json!({"registry": reg.login_server, "imageName": name, "manifests": manifests}),
            )
        }
        Route::AcrManifest(name, digest) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let Some(m) = repo.resolve(digest) else {
                return manifest_unknown(digest);
            };
            json_ok(
                json!({"registry": reg.login_server, "imageName": name, "manifest": manifest_attributes(repo, m)}),
            )
        }
        Route::Manifest(name, reference) if write => {
            put_manifest(reg, name, reference, headers, body)
        }
        Route::Manifest(name, reference) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let Some(m) = repo.resolve(reference) else {
                return manifest_unknown(reference);
            };
            if !accepts(headers, &m.media_type) {
                return errors(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest found, but the accept header does not support its media type",
                    Some(json!({"Tag": reference})),
                );
            }
            let mut resp = if *method == Method::HEAD {
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
        Route::Blob(name, digest) => {
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
        Route::Referrers(name, digest) => {
            let content = reg.content.read().expect("content");
            let Some(repo) = content.get(name) else {
                return name_unknown(name);
            };
            let wanted = param(&q, "artifactType");
            let manifests: Vec<Value> = repo
                .manifests
                .values()
                .filter(|m| m.subject.as_deref() == Some(digest.as_str()))
                .filter(|m| wanted.is_none_or(|w| m.artifact_type.as_deref() == Some(w)))
                .map(|m| {
                    json!({"mediaType": m.media_type, "digest": m.digest, "size": m.bytes.len(),
                                "artifactType": m.artifact_type})
                })
                .collect();
            let mut resp = (StatusCode::OK, json!({"schemaVersion": 2, "mediaType": crate::model::OCI_INDEX, "manifests": manifests}).to_string()).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::model::OCI_INDEX),
            );
            resp
        }
        Route::UploadStart(name) => {
            if let Some(digest) = param(&q, "digest") {
                return finish_upload(reg, name, digest, body.to_vec());
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
            let len = body.len();
            uploads.insert(id.clone(), (name.clone(), body.to_vec()));
            upload_accepted(name, &id, len)
        }
        Route::Upload(name, id) => {
            let mut uploads = reg.uploads.lock().expect("uploads");
            let Some((repo, bytes)) = uploads.get_mut(id).filter(|(r, _)| r == name) else {
                return errors(
                    StatusCode::NOT_FOUND,
                    "BLOB_UPLOAD_UNKNOWN",
                    "blob upload unknown to registry",
                    None,
                );
            };
            let _ = repo;
            if *method == Method::DELETE {
                uploads.remove(id);
                return StatusCode::NO_CONTENT.into_response();
            }
            bytes.extend_from_slice(&body);
            if *method == Method::PUT {
                let Some(digest) = param(&q, "digest") else {
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
                return finish_upload(reg, name, digest, all);
            }
            let len = bytes.len();
            upload_accepted(name, id, len)
        }
    }
}

/// How many blob uploads one registry keeps open at once.
pub(crate) const OPEN_UPLOADS: usize = 256;

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

fn upload_accepted(name: &str, id: &str, len: usize) -> Response {
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

fn finish_upload(reg: &RegistryState, name: &str, digest: &str, bytes: Vec<u8>) -> Response {
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
        .put_blob(Bytes::from(bytes));
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

fn put_manifest(
    reg: &RegistryState,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .unwrap_or_else(|| crate::model::OCI_MANIFEST.to_owned());
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
    if reference.contains(':') && crate::model::digest_of(&body) != reference {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests_follow_their_grammars() {
        for ok in ["latest", "v1.0", "_x", "A-b_c.d", &"t".repeat(128)] {
            assert!(super::valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a b", "a/b", "a:b", "é", &"t".repeat(129)] {
            assert!(!super::valid_tag(bad), "{bad}");
        }
        let hex = "0123456789abcdef".repeat(4);
        assert!(super::valid_digest(&format!("sha256:{hex}")));
        assert!(super::valid_digest(&format!("sha512:{hex}{hex}")));
        for bad in [
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha512:{hex}"),
            format!("sha256{hex}"),
            format!("md5:{}", &hex[..32]),
            format!(":{hex}"),
        ] {
            assert!(!super::valid_digest(&bad), "{bad}");
        }
    }

    #[test]
    fn header_values_never_panic() {
        for s in ["plain", "line\nbreak", "nul\0", "é", "%0A"] {
            let v = super::header_value(s);
            assert!(!v.as_bytes().iter().any(u8::is_ascii_control), "{s}: {v:?}");
        }
        assert_eq!(super::header_value("line\nbreak"), "line%0Abreak");
    }

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for ok in ["app", "project-a/app", "a.b_c__d--e/f0", "x/y/z", "a-----b"] {
            assert!(super::valid_name(ok), "{ok}");
        }
        for bad in [
            "", "App", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a\nb", "a\r\nb", "a\0b",
            "a b", "ä",
        ] {
            assert!(!super::valid_name(bad), "{bad:?}");
        }
        assert!(!super::valid_name(&"a".repeat(257)));
        assert!(super::parse("/v2/project-a%0Aapp/tags/list").is_none());
        assert!(super::parse("/v2/project-a\napp/tags/list").is_none());
    }

    #[test]
    fn routes_parse_names_with_slashes() {
        assert!(matches!(parse("/v2/"), Some(Route::Base)));
        assert!(matches!(parse("/v2/_catalog"), Some(Route::Catalog)));
        assert!(matches!(parse("/v2/a/b/tags/list"), Some(Route::Tags(n)) if n == "a/b"));
        assert!(
            matches!(parse("/v2/a/b/manifests/1.0"), Some(Route::Manifest(n, r)) if n == "a/b" && r == "1.0")
        );
        assert!(
            matches!(parse("/v2/a/blobs/sha256:00"), Some(Route::Blob(n, d)) if n == "a" && d == "sha256:00")
        );
        assert!(matches!(parse("/v2/a/blobs/uploads/"), Some(Route::UploadStart(n)) if n == "a"));
        assert!(
            matches!(parse("/v2/a/blobs/uploads/xyz"), Some(Route::Upload(n, i)) if n == "a" && i == "xyz")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x/_tags/1.0"), Some(Route::AcrTag(n, t)) if n == "charts/x" && t == "1.0")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x/_manifests"), Some(Route::AcrManifests(n)) if n == "charts/x")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x"), Some(Route::AcrRepository(n)) if n == "charts/x")
        );
    }

    #[test]
    fn challenges_are_formatted_like_acr() {
        assert_eq!(
            challenge(
                "r.azurecr.io",
                Some("repository:a/b:pull"),
                Some("invalid_token")
            ),
            "Bearer realm=\"https://r.azurecr.io/oauth2/token\",service=\"r.azurecr.io\",scope=\"repository:a/b:pull\",error=\"invalid_token\""
        );
        assert_eq!(
            challenge("r.azurecr.io", None, None),
            "Bearer realm=\"https://r.azurecr.io/oauth2/token\",service=\"r.azurecr.io\""
        );
    }

    #[test]
    fn pages_follow_n_last_and_the_cap() {
        let items: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
        let q = |s: &str| query_params(s);
        let (p, link) = page(&items, &q("n=2"), "/v2/x/tags/list");
        assert_eq!(p, vec!["t0", "t1"]);
        assert_eq!(
            link.unwrap(),
            "</v2/x/tags/list?last=t1&n=2&orderby=>; rel=\"next\""
        );
        let (p, link) = page(&items, &q("n=2&last=t3"), "/p");
        assert_eq!(p, vec!["t4"]);
        assert!(link.is_none());
        let (p, link) = page(&items, &q("n=0"), "/p");
        assert!(p.is_empty() && link.is_none());
        let many: Vec<String> = (0..1500).map(|i| format!("t{i:04}")).collect();
        let (p, link) = page(&many, &q("n=5000"), "/p");
        assert_eq!(p.len(), 1000);
        assert!(link.unwrap().contains("last=t0999&n=1000"));
    }
}
