//! ACR's token endpoints (reference §1.3, §1.4, traps 3, 4, 7, 8, 9, 15).
//!
//! `POST /oauth2/exchange` turns an Entra access token into an ACR refresh token: grant types
//! `access_token` and `access_token_refresh_token` (where `refresh_token` may really hold the
//! Entra access token, as cloud-provider-azure sends it); `tenant` is optional; `api-version` is
//! accepted; `GET` is 404. The Entra token must verify against mock-entra, be unexpired, have an
//! accepted audience (`https://containerregistry.azure.net` or ARM's), come from the registry's
//! tenant (or from a principal of another tenant the world assigned a role here), agree with
//! `tenant` when that is sent, and belong to a principal with some role on the registry.
//!
//! `/oauth2/token` answers GET with HTTP Basic (null-GUID user with a refresh token, the admin
//! user, a service principal's client ID and secret, a repository-scoped token), POST
//! `grant_type=refresh_token`, and POST `grant_type=password` (empty refresh token: anonymous;
//! with `username`/`password`: as Basic). Scopes may repeat and may be space-joined; none at all
//! yields a token with an empty access list. Answers hold only the token: no `expires_in`.
//!
//! Choices where the real bodies are unknown (reference §1.7, §8): refusals are 401 with the
//! distribution error shape (`UNAUTHORIZED` and a message saying why); malformed requests are 400
//! `UNSUPPORTED`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mock_kit::RequestContext;
use serde_json::json;
use uuid::Uuid;

use crate::policy::{AccessEntry, Grants, ResourceScope, access_allows, grant};
use crate::responses::{errors, json_ok};
use crate::tokens::{self, Invalid};
use crate::{AcrEvent, Inner, RegistryState};

/// Entra audiences ACR accepts.
const AUDIENCES: &[&str] = &[
    "https://containerregistry.azure.net",
    "https://containerregistry.azure.net/",
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
];

pub(crate) const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        // ACR answers a GET on the exchange endpoint 404, not 405 (Azure/acr #166).
        .route(
            "/oauth2/exchange",
            post(exchange)
                .get(|| async { errors(StatusCode::NOT_FOUND, "NOT_FOUND", "not found", None) }),
        )
        .route("/oauth2/token", get(token_get).post(token_post))
}

/// What a caller may do: an access token's list, or grants computed from credentials.
#[derive(Clone, Debug)]
pub(crate) enum Authority {
    Access(Vec<AccessEntry>),
    Grants(Grants),
}

impl Authority {
    pub(crate) fn permits(&self, resource_type: &str, name: &str, action: &str) -> bool {
        match self {
            Authority::Access(list) => access_allows(list, resource_type, name, action),
            Authority::Grants(g) => match resource_type {
                "registry" => name == "catalog" && g.catalog,
                "repository" => {
                    crate::policy::Action::parse(action).is_some_and(|a| g.allows(name, a))
                }
                _ => false,
            },
        }
    }
}

/// A caller identified by credentials.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub principal: String,
    pub tenant: Option<String>,
    pub authority: Authority,
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The label of the client's proxy credentials, for the journal.
pub(crate) fn client_label(req: &Request) -> Option<String> {
    req.extensions()
        .get::<RequestContext>()
        .and_then(|c| c.client.label.clone())
}

fn event(inner: &Inner, reg: &RegistryState, endpoint: &str, method: &str, path: &str) -> AcrEvent {
    AcrEvent {
        at: inner.clock.now(),
        registry: reg.name.clone(),
        endpoint: endpoint.into(),
        method: method.into(),
        path: path.into(),
        principal: None,
        tenant: None,
        requested: Vec::new(),
        granted: Vec::new(),
        status: 0,
        error: None,
        token: None,
        authorization_to_storage: false,
        client: None,
    }
}

fn registry(inner: &Inner, req_ctx: Option<&RequestContext>) -> Option<Arc<RegistryState>> {
    inner.registry_for_host(req_ctx.map(|c| c.host.as_str()).unwrap_or_default())
}

fn finish(inner: &Inner, mut ev: AcrEvent, resp: Response, error: Option<String>) -> Response {
    ev.status = resp.status().as_u16();
    ev.error = error;
    inner.journal.push(ev);
    resp
}

async fn exchange(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let Some(reg) = registry(&inner, req.extensions().get::<RequestContext>()) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "registry not found",
            None,
        );
    };
    let path = req.uri().path().to_owned();
    let client = client_label(&req);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut ev = event(&inner, &reg, "exchange", "POST", &path);
    ev.client = client;
    match do_exchange(&inner, &reg, &form(&body), &mut ev) {
        Ok(resp) => finish(&inner, ev, resp, None),
        Err(r) => finish(&inner, ev, r.response(), Some(r.message)),
    }
}

/// A refused token request: the answer to give and why (for the journal).
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    pub(crate) message: String,
}

impl Refusal {
    fn response(&self) -> Response {
        errors(self.status, self.code, &self.message, None)
    }
}

fn unauthorized(why: &str) -> Refusal {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHORIZED",
        message: why.to_owned(),
    }
}

fn bad_request(why: &str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "UNSUPPORTED",
        message: why.to_owned(),
    }
}

fn do_exchange(
    inner: &Inner,
    reg: &RegistryState,
    f: &[(String, String)],
    ev: &mut AcrEvent,
) -> Result<Response, Refusal> {
    let grant_type = field(f, "grant_type").ok_or_else(|| bad_request("grant_type is required"))?;
    let aad_token = match grant_type {
        "access_token" => field(f, "access_token"),
        // cloud-provider-azure sends the AAD access token in both fields.
        "access_token_refresh_token" => field(f, "access_token").or_else(|| field(f, "refresh_token")),
        "refresh_token" => {
            return Err(unauthorized(
                "AAD refresh tokens are not supported by this registry; use grant_type=access_token",
            ));
        }
        other => return Err(bad_request(&format!("unsupported grant_type {other:?}"))),
    }
    .ok_or_else(|| bad_request("access_token is required"))?;
    match field(f, "service") {
        Some(s) if s.eq_ignore_ascii_case(&reg.login_server) => {}
        Some(s) => return Err(bad_request(&format!("service {s:?} is not this registry"))),
        None => return Err(bad_request("service is required")),
    }
    let verified = inner
        .entra
        .verify_access_token(aad_token)
        .map_err(|e| unauthorized(&format!("the Azure AD access token is not valid: {e}")))?;
    ev.principal = Some(verified.object_id.to_string());
    ev.tenant = Some(verified.tenant_id.to_string());
    if !AUDIENCES.contains(&verified.audience.as_str()) {
        return Err(unauthorized(&format!(
            "the Azure AD access token has audience {:?}; this registry accepts https://containerregistry.azure.net and the Azure Resource Manager audiences",
            verified.audience
        )));
    }
    if let Some(t) = field(f, "tenant")
        && !t.eq_ignore_ascii_case(&verified.tenant_id.to_string())
    {
        return Err(unauthorized(&format!(
            "tenant {t:?} does not match the token's tenant {}",
            verified.tenant_id
        )));
    }
    if !reg.tenant_allowed(verified.tenant_id, verified.object_id) {
        return Err(unauthorized(&format!(
            "the token is from tenant {}, not this registry's tenant {}",
            verified.tenant_id, reg.tenant_id
        )));
    }
    let grants = reg.grants_for(verified.object_id);
    if grants.is_empty() {
        return Err(unauthorized(
            "the principal has no role on this registry that grants data access",
        ));
    }
    let (token, fp) = tokens::refresh_token(
        inner,
        reg,
        &verified.object_id.to_string(),
        &verified.tenant_id.to_string(),
        &grants,
    );
    ev.token = Some(fp);
    Ok(json_ok(json!({"refresh_token": token})))
}

/// The scopes of a token request: every `scope` parameter, each possibly space-joined.
fn scopes(params: &[(String, String)]) -> Result<Vec<ResourceScope>, Refusal> {
    ResourceScope::parse_all(
        params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str()),
    )
    .map_err(|e| bad_request(&e.to_string()))
}

async fn token_get(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let Some(reg) = registry(&inner, req.extensions().get::<RequestContext>()) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "registry not found",
            None,
        );
    };
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or_default()).unwrap_or_default();
    let mut ev = event(&inner, &reg, "token", "GET", req.uri().path());
    ev.client = client_label(&req);
    let result: Result<Response, Refusal> = (|| {
        let requested = scopes(&params)?;
        ev.requested = requested.iter().map(ResourceScope::render).collect();
        let caller = match mock_kit::site::basic_auth(req.headers()) {
            Some((user, pass)) => caller_from_basic(&inner, &reg, &user, &pass)?,
            None => anonymous(&reg)?,
        };
        Ok(issue_access(&inner, &reg, &caller, &requested, &mut ev))
    })();
    match result {
        Ok(resp) => finish(&inner, ev, resp, None),
        Err(r) => finish(&inner, ev, r.response(), Some(r.message)),
    }
}

async fn token_post(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let Some(reg) = registry(&inner, req.extensions().get::<RequestContext>()) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "registry not found",
            None,
        );
    };
    let path = req.uri().path().to_owned();
    let client = client_label(&req);
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let f = form(&body);
    let mut ev = event(&inner, &reg, "token", "POST", &path);
    ev.client = client;
    let result: Result<Response, Refusal> = (|| {
        let requested = scopes(&f)?;
        ev.requested = requested.iter().map(ResourceScope::render).collect();
        let caller = match field(&f, "grant_type") {
            Some("refresh_token") => {
                let rt = field(&f, "refresh_token")
                    .ok_or_else(|| bad_request("refresh_token is required"))?;
                caller_from_refresh_token(&inner, &reg, rt)?
            }
            Some("password") => match (field(&f, "username"), field(&f, "password")) {
                (Some(u), Some(p)) => caller_from_basic(&inner, &reg, u, p)?,
                _ if field(&f, "refresh_token").is_none() => anonymous(&reg)?,
                _ => anonymous(&reg)?,
            },
            Some(other) => return Err(bad_request(&format!("unsupported grant_type {other:?}"))),
            None => return Err(bad_request("grant_type is required")),
        };
        Ok(issue_access(&inner, &reg, &caller, &requested, &mut ev))
    })();
    match result {
        Ok(resp) => finish(&inner, ev, resp, None),
        Err(r) => finish(&inner, ev, r.response(), Some(r.message)),
    }
}

fn issue_access(
    inner: &Inner,
    reg: &RegistryState,
    caller: &Caller,
    requested: &[ResourceScope],
    ev: &mut AcrEvent,
) -> Response {
    let access = match &caller.authority {
        Authority::Grants(g) => grant(requested, g),
        // An access token presented as a password grants at most what it already carries.
        Authority::Access(list) => requested
            .iter()
            .filter_map(|r| {
                let actions: Vec<String> = r
                    .actions
                    .iter()
                    .filter(|a| access_allows(list, &r.resource_type, &r.name, a))
                    .cloned()
                    .collect();
                (!actions.is_empty()).then(|| AccessEntry {
                    resource_type: r.resource_type.clone(),
                    name: r.name.clone(),
                    actions,
                })
            })
            .collect(),
    };
    ev.principal = Some(caller.principal.clone());
    ev.tenant = caller.tenant.clone();
    ev.granted = access
        .iter()
        .map(|a| format!("{}:{}:{}", a.resource_type, a.name, a.actions.join(",")))
        .collect();
    let (token, fp) = tokens::access_token(
        inner,
        reg,
        &caller.principal,
        caller.tenant.as_deref(),
        &access,
    );
    ev.token = Some(fp);
    json_ok(json!({"access_token": token}))
}

fn anonymous(reg: &RegistryState) -> Result<Caller, Refusal> {
    if !reg.anonymous_pull {
        return Err(unauthorized(
            "authentication required, visit https://aka.ms/acr/authorization for more information.",
        ));
    }
    Ok(Caller {
        principal: "anonymous".into(),
        tenant: None,
        authority: Authority::Grants(Grants::anonymous()),
    })
}

pub(crate) fn caller_from_refresh_token(
    inner: &Inner,
    reg: &RegistryState,
    rt: &str,
) -> Result<Caller, Refusal> {
    let d = tokens::verify(inner, reg, rt, "refresh_token").map_err(|e| match e {
        Invalid::Expired => unauthorized("the refresh token has expired"),
        Invalid::Invalid => unauthorized("the refresh token is not valid for this registry"),
    })?;
    let subject = tokens::refresh_subject(&d);
    let oid = Uuid::parse_str(&subject.principal)
        .map_err(|_| unauthorized("the refresh token has no principal"))?;
    Ok(Caller {
        principal: subject.principal,
        tenant: subject.tenant,
        authority: Authority::Grants(reg.grants_for(oid)),
    })
}

/// Credentials given as Basic (or as password-grant fields).
pub(crate) fn caller_from_basic(
    inner: &Inner,
    reg: &RegistryState,
    user: &str,
    pass: &str,
) -> Result<Caller, Refusal> {
    if user == NULL_GUID {
        if let Ok(c) = caller_from_refresh_token(inner, reg, pass) {
            return Ok(c);
        }
        // The docs also show `docker login` with an access token.
        return match tokens::verify(inner, reg, pass, "access_token") {
            Ok(d) => Ok(Caller {
                principal: d.claim_str("sub").unwrap_or_default().to_owned(),
                tenant: d.claim_str("tenant").map(str::to_owned),
                authority: Authority::Access(tokens::access_of(&d)),
            }),
            Err(Invalid::Expired) => Err(unauthorized("the token has expired")),
            Err(Invalid::Invalid) => Err(unauthorized(
                "the refresh token is not valid for this registry",
            )),
        };
    }
    if user.eq_ignore_ascii_case(&reg.name) {
        if reg.admin_passwords.iter().any(|p| p.expose() == pass) {
            return Ok(Caller {
                principal: "admin".into(),
                tenant: None,
                authority: Authority::Grants(Grants::all()),
            });
        }
        return Err(unauthorized("incorrect username or password"));
    }
    if let Some(t) = reg.tokens.iter().find(|t| t.name == user) {
        if t.passwords.iter().any(|p| p.expose() == pass) {
            return Ok(Caller {
                principal: format!("token:{}", t.name),
                tenant: None,
                authority: Authority::Grants(t.grants.clone()),
            });
        }
        return Err(unauthorized("incorrect username or password"));
    }
    if Uuid::parse_str(user).is_ok() {
        let (_, identity) =
            inner
                .entra
                .check_client_secret(user, pass)
                .map_err(|e| match e.code() {
                    700016 => unauthorized("Application not registered with AAD."),
                    _ => unauthorized(&format!("AADSTS{}: {}", e.code(), e.message())),
                })?;
        let tenant_id = inner
            .entra
            .directory()
            .find_client(user)
            .map(|(t, _)| t.id)
            .unwrap_or_default();
        if !reg.tenant_allowed(tenant_id, identity.object_id) {
            return Err(unauthorized(
                "the service principal is not from this registry's tenant",
            ));
        }
        return Ok(Caller {
            principal: identity.object_id.to_string(),
            tenant: Some(tenant_id.to_string()),
            authority: Authority::Grants(reg.grants_for(identity.object_id)),
        });
    }
    Err(unauthorized("incorrect username or password"))
}
