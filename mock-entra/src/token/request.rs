//! What a token request says: its form, the tenant its path names, the faults injected for it, and
//! the parameters every `client_credentials` request must carry.

use axum::http::HeaderMap;
use axum::response::Response;

use super::{Endpoint, TokenRequest};
use crate::directory::{Tenant, TenantRef};
use crate::discovery::resolve;
use crate::errors::Aadsts;
use crate::journal::{TokenEvent, TokenOutcome};

/// What a request said, parsed once.
pub(super) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a form body; one that does not parse is an empty form (every parameter missing).
    pub(super) fn parse(body: &[u8]) -> Self {
        Self {
            fields: serde_urlencoded::from_bytes(body).unwrap_or_default(),
        }
    }

    /// The first value of `name`; an empty value counts as missing.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The parameters of a `client_credentials` request.
pub(super) struct Parameters<'a> {
    pub(super) client_id: String,
    /// The `scope` (v2) or `resource` (v1), as sent.
    pub(super) requested: &'a str,
    /// HTTP Basic credentials (client ID and secret), when sent.
    pub(super) basic: Option<(String, String)>,
}

impl<'a> TokenRequest<'a> {
    /// The tenant the path names; `None` for `/common`, `/organizations` and `/consumers`.
    pub(super) fn named_tenant(&self) -> Result<Option<Tenant>, Aadsts> {
        let dir = self.inner.directory.read().expect("directory lock");
        match resolve(&dir, self.segment)? {
            TenantRef::Tenant(t) => Ok(Some(t.clone())),
            TenantRef::Alias(_) => Ok(None),
        }
    }

    /// The answer of a fault injected for this tenant, client and path, if one applies; then the
    /// event names the client and the fault's status.
    pub(super) async fn injected_fault(
        &self,
        tenant: Option<&Tenant>,
        event: &mut TokenEvent,
    ) -> Option<Response> {
        let tenant_tag = tenant
            .map(|t| t.name.clone())
            .unwrap_or_else(|| self.segment.to_owned());
        let segment = self.segment;
        let path = match self.endpoint {
            Endpoint::V1 => format!("/{segment}/oauth2/token"),
            Endpoint::V2 => format!("/{segment}/oauth2/v2.0/token"),
        };
        let client_tag = self
            .form
            .get("client_id")
            .map(str::to_owned)
            .or_else(|| basic_auth(self.headers).map(|(u, _)| u));
        let resp = crate::faults::check(
            self.inner,
            "token",
            &tenant_tag,
            client_tag.as_deref(),
            "POST",
            &path,
        )
        .await?;
        event.client_id = client_tag;
        event.outcome = TokenOutcome::Faulted {
            status: resp.status().as_u16(),
        };
        Some(resp)
    }

    /// `grant_type` (only `client_credentials`), `client_id` (from the form or Basic) and the
    /// scope or resource, noted in the event as each is found.
    pub(super) fn parameters(&self, event: &mut TokenEvent) -> Result<Parameters<'a>, Aadsts> {
        let form: &'a Form = self.form;
        let grant_type = form.get("grant_type").ok_or(Aadsts::MissingParameter {
            name: "grant_type".into(),
        })?;
        if grant_type != "client_credentials" {
            return Err(Aadsts::UnsupportedGrantType {
                grant_type: grant_type.to_owned(),
            });
        }
        let basic = basic_auth(self.headers);
        let client_id = form
            .get("client_id")
            .map(str::to_owned)
            .or_else(|| basic.as_ref().map(|(u, _)| u.clone()))
            .ok_or(Aadsts::MissingParameter {
                name: "client_id".into(),
            })?;
        event.client_id = Some(client_id.clone());
        let requested = match self.endpoint {
            Endpoint::V2 => {
                if form.get("resource").is_some() {
                    return Err(Aadsts::ResourceParameterOnV2);
                }
                form.get("scope").ok_or(Aadsts::MissingScope {
                    name: "scope".into(),
                })?
            }
            Endpoint::V1 => form.get("resource").ok_or(Aadsts::MissingScope {
                name: "resource".into(),
            })?,
        };
        event.scope = Some(requested.to_owned());
        Ok(Parameters {
            client_id,
            requested,
            basic,
        })
    }
}

/// HTTP Basic client credentials, decoded.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let (user, pass) = mock_kit::site::basic_auth(headers)?;
    // RFC 6749 §2.3.1: both halves are form-urlencoded.
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((unescape(&user), unescape(&pass)))
}
