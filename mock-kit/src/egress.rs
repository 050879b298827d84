//! The egress record: one entry per request that reached the front door or a direct listener.
//!
//! This is security evidence. A request to a host no fake owns (`attacker.example`) is answered by
//! the front door itself, never forwarded, and recorded here with the secrets it carried, so a
//! property can say "the Entra token minted for project-a was sent to attacker.example".
//! Secrets are named by fingerprint only; the record never holds a raw value.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::fault::FaultId;
use crate::leak::Form;
use crate::secret::{Fingerprint, SecretKind};
use crate::site::{ClientInfo, Scheme, Via};

/// One request as the network saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EgressRecord {
    /// Virtual time (the run's [`Clock`](crate::Clock)) when the request arrived.
    pub at: Timestamp,
    /// Real time when the request arrived.
    pub wall: Timestamp,
    pub client: ClientInfo,
    pub via: Via,
    pub method: String,
    pub scheme: Scheme,
    /// The host the client asked for (lower-case, no port).
    pub host: String,
    pub port: u16,
    /// Path and query.
    pub path: String,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    pub outcome: Outcome,
    /// Every registered secret found in the request, once each, with where it was first seen.
    pub secrets: Vec<CarriedSecret>,
    /// The flawed certificate the connection was served with on purpose, when it was: the
    /// client accepted it and sent this request anyway (or, with the `tls-handshake-failed`
    /// refusal, refused it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<crate::fault::CertificateFlaw>,
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    /// A site answered.
    Served { site: String },
    /// The front door answered itself and nothing was forwarded.
    Refused { reason: Refusal },
    /// A fault rule answered instead of the site.
    Faulted { fault: FaultId },
    /// A fault rule closed the connection.
    Dropped { fault: FaultId },
    /// The site's handler panicked: the front door answered `500` in the site's error shape
    /// ([`crate::site::Site::internal_error`]). A bug in credsim, never the implementation's doing:
    /// the harness turns the scenario's verdict into `error`.
    InternalError { site: String },
    /// No answer left: the handling was abandoned (the client's connection ended, or the front
    /// door shut down) before the site answered. Recorded all the same, with what it carried.
    Unanswered,
}

/// Why the front door refused a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// No site owns the host.
    UnknownHost,
    /// The site exists but does not speak plain HTTP (a downgrade attempt).
    PlainHttpNotServed,
    /// The site exists but does not speak TLS.
    HttpsNotServed,
    /// The tunnel did not carry a TLS handshake the front door could complete.
    TlsHandshakeFailed,
    /// The request could not be understood (no host, body too large, ...).
    BadRequest,
}

impl Refusal {
    /// The `X-Credsim-Refused` header value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::UnknownHost => "unknown-host",
            Refusal::PlainHttpNotServed => "plain-http-not-served",
            Refusal::HttpsNotServed => "https-not-served",
            Refusal::TlsHandshakeFailed => "tls-handshake-failed",
            Refusal::BadRequest => "bad-request",
        }
    }
}

/// A registered secret found in a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarriedSecret {
    pub fingerprint: Fingerprint,
    pub kind: SecretKind,
    pub label: String,
    /// `header:<name>`, `basic:<header name>` (inside HTTP Basic credentials), `query` or `body`.
    pub location: String,
    /// How it was carried there: raw (left out), or through which encodings.
    #[serde(default, skip_serializing_if = "Form::is_plain")]
    pub form: Form,
}

impl EgressRecord {
    /// Whether the request carried the secret with this fingerprint.
    pub fn carried(&self, fingerprint: &Fingerprint) -> bool {
        self.secrets.iter().any(|s| &s.fingerprint == fingerprint)
    }

    /// Whether the front door refused the request.
    pub fn refused(&self) -> bool {
        matches!(self.outcome, Outcome::Refused { .. })
    }
}
