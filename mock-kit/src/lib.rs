//! Shared plumbing of every credsim fake.
//!
//! Module map:
//! - [`ca`]: the per-run certificate authority (rcgen) and leaf certificates for any set of host
//!   names, wildcards included; the rustls certificate resolver the listeners use.
//! - [`site`]: a *site* is one fake's axum `Router` plus the host names it answers for
//!   (`login.microsoftonline.com`, `*.azurecr.io`, `169.254.169.254`); the [`site::SiteTable`] routes
//!   a host name to its site.
//! - [`front_door`]: the HTTP forward proxy (CONNECT with TLS termination, plain `http://`
//!   forwarding) that unmodified clients use to reach the sites by their real host names, plus one
//!   direct loopback TLS listener per site for clients that never proxy loopback. Its private
//!   submodules: `builder`, `gateway`, `listen` (accept loops, serving a connection), `proxy` (the
//!   proxy port's requests), `intercept` (TLS terminated for a host, failed handshakes recorded),
//!   `tls` (server configurations and certificate names, flawed certificates).
//! - `dispatch` (private): the one request path both listeners share: secret scanning, fault
//!   injection, routing, and the egress record.
//! - [`egress`]: what the front door records of every request (time, client, method, scheme, host,
//!   path, status, the secrets it carried by fingerprint).
//! - [`issuer`]: an OIDC issuer as Kubernetes publishes one (discovery document, JWKS,
//!   ServiceAccount tokens), served at its issuer URL through the front door.
//! - [`journal`]: an append-only, queryable, awaitable log; every fake keeps its evidence in one.
//! - [`clock`]: the virtual clock all fakes share; advanced on demand, never backwards.
//! - [`fault`]: fault injection (fixed answers, latency, dropped connections, "fail the next N").
//! - [`secret`]: [`Secret<T>`](secret::Secret) and the registry of every secret the fakes mint, so
//!   leak checks can search any text for them; its private submodules are `kind`
//!   ([`SecretKind`]), `registry` (registering, the tail index, the bound) and `search` (the leak
//!   search, raw and through the encodings of [`leak`]).
//! - [`leak`]: the forms secrets travel in (base64 at every alignment, line-wrapped, percent, JSON
//!   and shell escapes, JWT signatures), for [`SecretRegistry::search`].
//! - [`jwt`]: RS256/PS256 signing keys (aws-lc-rs, the one crypto provider of the tree, also
//!   rustls's), `kid` computed as each key owner computes it, JWKS rendering, JWT minting and
//!   verification.
//! - [`keys`]: the RSA-2048 key store: keys handed out once per process, cached across runs in
//!   files a process locks, so no two live worlds share a key and no world waits for a prime
//!   search.
//! - [`front_door`] also holds the [`Gateway`]: listeners bound elsewhere (a sandbox's network
//!   namespace) served as the proxy, a site, or TLS to any host told apart by SNI.
//! - [`testing`]: locating the pinned real clients (the Python venv, the Go programs) for
//!   integration tests.
//!
//! Invariant: nothing here ever opens a connection to anything but loopback. A destination that no
//! site owns is answered by the front door itself and recorded.

pub mod ca;
pub mod clock;
mod dispatch;
pub mod egress;
pub mod fault;
pub mod front_door;
pub mod issuer;
pub mod journal;
pub mod jwt;
pub mod keys;
pub mod leak;
pub mod secret;
pub mod site;
pub mod testing;

pub use ca::CertificateAuthority;
pub use clock::Clock;
pub use egress::EgressRecord;
pub use fault::{FaultAction, FaultRule, Faults};
pub use front_door::{Adopted, Adoption, FrontDoor, FrontDoorBuilder, Gateway};
pub use issuer::OidcIssuer;
pub use journal::Journal;
pub use jwt::{Jwk, Jwks, KidStyle, RsaSigningKey};
pub use secret::{Fingerprint, Secret, SecretKind, SecretRegistry};
pub use site::{HostPattern, InternalFailure, RequestContext, Site};

/// Installs the process-wide rustls crypto provider (aws-lc-rs) if none is installed yet.
///
/// Every listener calls it; programs that build their own rustls clients (reqwest with
/// `rustls-no-provider`) call it too.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
