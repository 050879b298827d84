//! Discovery: OpenID configuration (v1, v2), JWKS, MSAL instance discovery, unknown tenants.
//!
//! Endpoints are rendered on the host the client used (reference §3.1: GO-MSAL requires the
//! issuer's host:port to equal the authority's unless the host is a trusted Microsoft host), so a
//! client that reaches the fake directly on `127.0.0.1:port` gets a consistent document. Through
//! the front door that host is `login.microsoftonline.com` and everything looks like production.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mock_kit::{Jwks, RequestContext};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::directory::{Directory, Tenant, TenantRef, plausible_tenant_segment};
use crate::errors::Aadsts;
use crate::{AUTHORITY_HOST, HOSTS, Inner};

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_v2),
        )
        .route("/{tenant}/.well-known/openid-configuration", get(openid_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(keys_v2))
        .route("/{tenant}/discovery/keys", get(keys_v1))
        .route("/common/discovery/instance", get(instance_discovery))
}

/// The authority the client used: `https://login.microsoftonline.com` (or an alias) through the
/// front door, `https://127.0.0.1:port` on the direct listener.
#[derive(Clone, Debug)]
pub(crate) struct Authority {
    pub base: String,
    /// Whether it is a Microsoft host (then issuers use the canonical host).
    pub microsoft: bool,
}

impl Authority {
    pub(crate) fn from_context(ctx: Option<&RequestContext>) -> Self {
        match ctx {
            Some(c) if HOSTS.contains(&c.host.as_str()) => Self {
                base: if c.port == 443 {
                    format!("https://{}", c.host)
                } else {
                    format!("https://{}:{}", c.host, c.port)
                },
                microsoft: true,
            },
            Some(c) => Self {
                base: format!("https://{}:{}", c.host, c.port),
                microsoft: false,
            },
            None => Self {
                base: format!("https://{AUTHORITY_HOST}"),
                microsoft: true,
            },
        }
    }

    /// Where v2 tokens say they come from.
    pub(crate) fn v2_issuer(&self, tenant: &str) -> String {
        if self.microsoft {
            format!("https://{AUTHORITY_HOST}/{tenant}/v2.0")
        } else {
            format!("{}/{tenant}/v2.0", self.base)
        }
    }
}

/// The v1 issuer (`https://sts.windows.net/{tid}/`), whatever host was used.
pub(crate) fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// Looks up a tenant segment, or the error Entra answers for it.
pub(crate) fn resolve<'a>(dir: &'a Directory, segment: &str) -> Result<TenantRef<'a>, Aadsts> {
    if !plausible_tenant_segment(segment) {
        return Err(Aadsts::InvalidTenantIdentifier {
            segment: segment.to_owned(),
        });
    }
    dir.resolve(segment).ok_or_else(|| Aadsts::TenantNotFound {
        segment: segment.to_owned(),
    })
}

/// The fault check of the discovery endpoints, tagged with the tenant's name (or the segment).
async fn fault(inner: &Inner, endpoint: &str, segment: &str, path: String) -> Option<Response> {
    let tenant = {
        let dir = inner.directory.read().expect("directory lock");
        match dir.resolve(segment) {
            Some(TenantRef::Tenant(t)) => t.name.clone(),
            _ => segment.to_owned(),
        }
    };
    crate::faults::check(inner, endpoint, &tenant, None, "GET", &path).await
}

pub(crate) fn error(inner: &Inner, e: Aadsts, req_headers: &axum::http::HeaderMap) -> Response {
    let correlation = req_headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    e.to_response(inner.clock.now(), correlation)
}

fn json_response(body: Value) -> Response {
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

async fn openid_v2(
    State(inner): State<Arc<Inner>>,
    Path(segment): Path<String>,
    req: Request,
) -> Response {
    if let Some(resp) = fault(&inner, "discovery", &segment, req.uri().path().to_owned()).await {
        return resp;
    }
    let authority = Authority::from_context(req.extensions().get::<RequestContext>());
    let dir = inner.directory.read().expect("directory lock");
    let (t, issuer) = match resolve(&dir, &segment) {
        Ok(TenantRef::Tenant(t)) => {
            let id = t.id.to_string();
            let issuer = authority.v2_issuer(&id);
            (id, issuer)
        }
        Ok(TenantRef::Alias(alias)) => (alias.to_owned(), authority.v2_issuer("{tenantid}")),
        Err(e) => return error(&inner, e, req.headers()),
    };
    let b = &authority.base;
    json_response(json!({
        "token_endpoint": format!("{b}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{b}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{b}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{b}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{b}/{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{b}/{t}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

async fn openid_v1(
    State(inner): State<Arc<Inner>>,
    Path(segment): Path<String>,
    req: Request,
) -> Response {
    if let Some(resp) = fault(&inner, "discovery", &segment, req.uri().path().to_owned()).await {
        return resp;
    }
    let authority = Authority::from_context(req.extensions().get::<RequestContext>());
    let dir = inner.directory.read().expect("directory lock");
    let (t, issuer) = match resolve(&dir, &segment) {
        Ok(TenantRef::Tenant(t)) => (t.id.to_string(), v1_issuer(&t.id.to_string())),
        Ok(TenantRef::Alias(alias)) => (alias.to_owned(), v1_issuer("{tenantid}")),
        Err(e) => return error(&inner, e, req.headers()),
    };
    let b = &authority.base;
    json_response(json!({
        "token_endpoint": format!("{b}/{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{b}/{t}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer,
        "authorization_endpoint": format!("{b}/{t}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{b}/{t}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{b}/{t}/oauth2/logout"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// The keys of one tenant, or of every tenant for `common`-style segments.
fn jwks_for(dir: &Directory, segment_ref: TenantRef<'_>, v2: bool, authority: &Authority) -> Jwks {
    let tenants: Vec<&Tenant> = match segment_ref {
        TenantRef::Tenant(t) => vec![t],
        TenantRef::Alias(_) => dir.tenants.iter().collect(),
    };
    let mut jwks = Jwks::default();
    for t in tenants {
        for key in &t.keys {
            let mut jwk = key.jwk();
            if v2 {
                let issuer = match segment_ref {
                    TenantRef::Tenant(_) => authority.v2_issuer(&t.id.to_string()),
                    TenantRef::Alias(_) => authority.v2_issuer("{tenantid}"),
                };
                jwk.extra.insert("issuer".into(), issuer.into());
            }
            if !jwks.keys.iter().any(|k| k.kid == jwk.kid) {
                jwks.keys.push(jwk);
            }
        }
    }
    jwks
}

async fn keys(inner: Arc<Inner>, segment: String, req: Request, v2: bool) -> Response {
    if let Some(resp) = fault(&inner, "keys", &segment, req.uri().path().to_owned()).await {
        return resp;
    }
    let authority = Authority::from_context(req.extensions().get::<RequestContext>());
    let dir = inner.directory.read().expect("directory lock");
    match resolve(&dir, &segment) {
        Ok(r) => json_response(
            serde_json::to_value(jwks_for(&dir, r, v2, &authority)).expect("jwks serialise"),
        ),
        Err(e) => error(&inner, e, req.headers()),
    }
}

async fn keys_v2(
    State(inner): State<Arc<Inner>>,
    Path(segment): Path<String>,
    req: Request,
) -> Response {
    keys(inner, segment, req, true).await
}

async fn keys_v1(
    State(inner): State<Arc<Inner>>,
    Path(segment): Path<String>,
    req: Request,
) -> Response {
    keys(inner, segment, req, false).await
}

#[derive(Deserialize)]
struct InstanceQuery {
    authorization_endpoint: Option<String>,
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

/// `GET /common/discovery/instance?authorization_endpoint=…&api-version=1.0|1.1` (reference §3.3).
/// Only Microsoft hosts are known instances; any other authority is `invalid_instance`
/// (AADSTS50049), which is what the real service tells MSAL about a fake's loopback URL.
async fn instance_discovery(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<InstanceQuery>,
    req: Request,
) -> Response {
    if let Some(resp) = fault(&inner, "instance", "common", req.uri().path().to_owned()).await {
        return resp;
    }
    let Some(endpoint) = q.authorization_endpoint else {
        return error(
            &inner,
            Aadsts::MissingParameter {
                name: "authorization_endpoint".into(),
            },
            req.headers(),
        );
    };
    let api_version = q.api_version.unwrap_or_else(|| "1.0".into());
    let parsed: Option<(String, String)> = endpoint.parse::<Uri>().ok().and_then(|u| {
        let host = u.authority()?.to_string().to_ascii_lowercase();
        let tenant = u
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()?
            .to_owned();
        (u.scheme_str() == Some("https")).then_some((host, tenant))
    });
    let Some((host, tenant)) = parsed else {
        return error(&inner, Aadsts::UnknownInstance, req.headers());
    };
    if !HOSTS.contains(&host.as_str()) {
        return error(&inner, Aadsts::UnknownInstance, req.headers());
    }
    json_response(json!({
        "tenant_discovery_endpoint": format!("https://{host}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": api_version,
        "metadata": [
            {"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
             "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]},
        ],
    }))
}

/// Unknown paths: an unknown first segment is an unknown tenant (as on the real service);
/// anything else is 404.
pub(crate) async fn fallback(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let segment = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !segment.is_empty() {
        let dir = inner.directory.read().expect("directory lock");
        if let Err(e) = resolve(&dir, &segment) {
            return error(&inner, e, req.headers());
        }
    }
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Collapses `//` in the path before routing, as the real front end does: an empty tenant in
/// `https://login.microsoftonline.com//v2.0/.well-known/openid-configuration` makes `v2.0` the
/// tenant segment, hence Kargo's `Tenant 'v2.0' not found`.
pub(crate) fn collapse_slashes(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.contains("//") {
        let mut collapsed = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{collapsed}?{q}"),
            None => collapsed,
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}
