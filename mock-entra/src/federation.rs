//! Fetching an external OIDC issuer's keys, as Entra does before trusting a federated assertion.
//!
//! `GET {iss}/.well-known/openid-configuration`, check its `issuer`, then `GET {jwks_uri}`, both over
//! HTTPS through the run's front door (so an embedded cluster's issuer, a kind cluster's published
//! documents, or an unreachable host all behave as they would for the real service). Results are
//! cached per issuer for the configured TTL of virtual time; a `kid` missing from a cached set
//! triggers one refetch (key rotation). Without a network, every fetch fails (AADSTS50166): the
//! fake never reaches anything but the front door.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use mock_kit::Jwks;
use serde::Deserialize;

use crate::Network;

/// Outbound HTTP for issuer metadata.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Option<reqwest::Client>,
}

/// Cached JWKS per issuer, with when they were fetched (virtual time).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: HashMap<String, (Timestamp, Jwks)>,
}

impl Cache {
    pub(crate) fn get(&self, issuer: &str, now: Timestamp, ttl: Duration) -> Option<Jwks> {
        let (at, jwks) = self.entries.get(issuer)?;
        let age = now.duration_since(*at);
        (age.as_secs() >= 0 && age.unsigned_abs() < ttl).then(|| jwks.clone())
    }

    pub(crate) fn put(&mut self, issuer: &str, now: Timestamp, jwks: Jwks) {
        self.entries.insert(issuer.to_owned(), (now, jwks));
    }
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

/// A failed fetch: the URL and what went wrong.
#[derive(Debug)]
pub(crate) struct FetchError {
    pub url: String,
    pub problem: String,
}

impl Fetcher {
    pub(crate) fn new(network: Option<&Network>) -> Self {
        let client = network.and_then(|n| {
            mock_kit::install_crypto_provider();
            let ca = reqwest::Certificate::from_pem(n.ca_pem.as_bytes()).ok()?;
            let proxy = reqwest::Proxy::all(&n.proxy_url).ok()?;
            reqwest::Client::builder()
                .no_proxy()
                .proxy(proxy)
                .tls_certs_only([ca])
                .https_only(true)
                .timeout(Duration::from_secs(10))
                .build()
                .ok()
        });
        Self { client }
    }

    /// The discovery URL for an issuer.
    pub(crate) fn discovery_url(issuer: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    }

    /// Fetches the issuer's JWKS via its discovery document.
    pub(crate) async fn fetch(&self, issuer: &str) -> Result<Jwks, FetchError> {
        let discovery = Self::discovery_url(issuer);
        let Some(client) = &self.client else {
            return Err(FetchError {
                url: discovery,
                problem: "mock-entra has no network configured to reach external issuers".into(),
            });
        };
        let config: OpenIdConfiguration = get_json(client, &discovery).await?;
        if config.issuer.as_deref() != Some(issuer) {
            return Err(FetchError {
                url: discovery,
                problem: format!(
                    "the discovery document's issuer {:?} is not the assertion's issuer {issuer:?}",
                    config.issuer
                ),
            });
        }
        let Some(jwks_uri) = config.jwks_uri.filter(|u| u.starts_with("https://")) else {
            return Err(FetchError {
                url: discovery,
                problem: "the discovery document has no https jwks_uri".into(),
            });
        };
        get_json(client, &jwks_uri).await
    }
}

async fn get_json<T: for<'de> Deserialize<'de>>(
    client: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let fail = |problem: String| FetchError {
        url: url.to_owned(),
        problem,
    };
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| fail(format!("the request failed: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| fail(format!("reading the body failed: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(format!("the body is not valid JSON: {e}")))
}
