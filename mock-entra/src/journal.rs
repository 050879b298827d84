//! What mock-entra saw and decided: the evidence properties are judged on.

use jiff::Timestamp;
use mock_kit::Fingerprint;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum EntraEvent {
    /// A token request and its outcome.
    Token(Box<TokenEvent>),
    /// mock-entra fetched an external issuer's metadata (discovery document, then JWKS).
    IssuerFetch {
        at: Timestamp,
        issuer: String,
        url: String,
        /// `None` on success, else what went wrong.
        error: Option<String>,
    },
    /// A handler of mock-entra panicked: a bug in credsim, answered `500 server_error`.
    InternalError {
        at: Timestamp,
        method: String,
        path: String,
        message: String,
    },
}

/// A token request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    pub at: Timestamp,
    /// `v2` (`/oauth2/v2.0/token`) or `v1` (`/oauth2/token`).
    pub endpoint: String,
    /// The tenant path segment as sent.
    pub tenant_segment: String,
    /// The tenant it resolved to.
    pub tenant_id: Option<Uuid>,
    pub client_id: Option<String>,
    /// The `grant_type` as sent (`client_credentials`; `managed-identity` for IMDS mints).
    pub grant_type: Option<String>,
    /// The name of the app or identity the client ID belongs to.
    pub identity: Option<String>,
    pub credential: CredentialKind,
    pub assertion: Option<AssertionSummary>,
    pub scope: Option<String>,
    pub outcome: TokenOutcome,
    /// The label of the client's proxy credentials (which shard's implementation sent it), when
    /// it came through the front door with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// How the client authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    None,
    Secret,
    Certificate,
    Federated,
    /// Minted for a managed identity by the managed-identity endpoint (IMDS, App Service).
    ManagedIdentity,
}

/// The claims of a presented assertion that decide federation (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionSummary {
    pub fingerprint: Fingerprint,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub kid: Option<String>,
}

/// What the endpoint answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TokenOutcome {
    Issued {
        token: Fingerprint,
        /// The token's `uti` claim.
        uti: String,
        audience: String,
        /// 1 or 2.
        version: u8,
        expires: Timestamp,
        /// The `oid` of the principal the token is for.
        object_id: Uuid,
    },
    Error {
        code: u32,
        error: String,
    },
    /// A fault rule answered (or delayed, or dropped) instead.
    Faulted {
        status: u16,
    },
}

impl EntraEvent {
    /// The token event, if this is one.
    pub fn as_token(&self) -> Option<&TokenEvent> {
        match self {
            EntraEvent::Token(t) => Some(t),
            EntraEvent::IssuerFetch { .. } | EntraEvent::InternalError { .. } => None,
        }
    }
}

impl TokenEvent {
    /// The AADSTS code, if the request failed.
    pub fn error_code(&self) -> Option<u32> {
        match &self.outcome {
            TokenOutcome::Error { code, .. } => Some(*code),
            TokenOutcome::Issued { .. } | TokenOutcome::Faulted { .. } => None,
        }
    }
}
