//! Who the caller is and whether they may do what the request needs: a Bearer access token, Basic
//! credentials (as at the token endpoint), or anonymous pull when the registry allows it. A
//! refusal is ACR's 401 with one challenge naming the scope the request needed.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::route::Need;
use crate::auth::{Authority, caller_from_basic};
use crate::responses::{errors, header_value, json_ok};
use crate::tokens::{self, Invalid};
use crate::{AcrEvent, Inner, RegistryState};

/// What the caller may do, from the first credentials the request carries; `None` for a caller
/// without any (on a registry without anonymous pull). Credentials that do not verify are
/// refused here: `Err` is the 401 (boxed: a `Response` is large), `invalid_token` in the
/// challenge for a bad Bearer token.
pub(super) fn authenticate(
    inner: &Inner,
    reg: &RegistryState,
    headers: &HeaderMap,
    needed: Option<&Need>,
    ev: &mut AcrEvent,
) -> Result<Option<Authority>, Box<Response>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    if let Some(token) = bearer {
        match tokens::verify(inner, reg, token, "access_token") {
            Ok(d) => {
                ev.principal = d.claim_str("sub").map(str::to_owned);
                Ok(Some(Authority::Access(tokens::access_of(&d))))
            }
            Err(e) => {
                ev.error = Some(match e {
                    Invalid::Expired => "expired access token".into(),
                    Invalid::Invalid => "invalid access token".into(),
                });
                Err(Box::new(unauthorized(reg, needed, Some("invalid_token"))))
            }
        }
    } else if let Some((user, pass)) = mock_kit::site::basic_auth(headers) {
        match caller_from_basic(inner, reg, &user, &pass) {
            Ok(c) => {
                ev.principal = Some(c.principal);
                Ok(Some(c.authority))
            }
            Err(refusal) => {
                ev.error = Some(refusal.message);
                Err(Box::new(unauthorized(reg, needed, None)))
            }
        }
    } else if reg.anonymous_pull {
        ev.principal = Some("anonymous".into());
        Ok(Some(Authority::Grants(crate::policy::Grants::anonymous())))
    } else {
        Ok(None)
    }
}

/// Whether the request goes on to its handler: `None` when the caller may do what it needs,
/// otherwise the answer that ends it (the 401; or, for `/v2/`, which needs no scope, `200 {}`
/// for any caller who authenticated).
pub(super) fn authorize(
    reg: &RegistryState,
    needed: Option<&Need>,
    authority: Option<&Authority>,
    ev: &mut AcrEvent,
) -> Option<Response> {
    match (needed, authority) {
        (None, Some(_)) => Some(json_ok(json!({}))),
        (None, None) => Some(unauthorized(reg, None, None)),
        (Some(n), Some(a)) if a.permits(n.resource_type, &n.name, n.action) => {
            ev.granted = vec![n.scope()];
            None
        }
        (Some(n), _) => {
            ev.error = Some(format!("{} not granted", n.scope()));
            Some(unauthorized(reg, Some(n), None))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
