//! An OIDC issuer as Kubernetes publishes one: the discovery document and JWKS at the issuer URL,
//! and ServiceAccount tokens signed with its key.
//!
//! mock-k8s publishes each cluster's issuer through one of these, the harness publishes a kind
//! cluster's documents the same way, and tests use it as "a test issuer served by the fakes" so that
//! mock-entra fetches real metadata over the network. Documents follow reference
//! `acr-oci-k8s.md` §3.3: `{issuer}/.well-known/openid-configuration` (`application/json`) and
//! `{issuer}/openid/v1/jwks` (`application/jwk-set+json`), both `Cache-Control: public,
//! max-age=3600`; keys named the Kubernetes way.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::jwt::{Algorithm, Jwks, KeyError, KidStyle, RsaSigningKey};
use crate::site::Site;

/// Why an issuer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("the issuer {0:?} must be an https URL without query or fragment")]
    BadUrl(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A ServiceAccount token request, the claims Kubernetes puts in (reference §3.2).
#[derive(Clone, Debug)]
pub struct ServiceAccountClaims<'a> {
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub service_account_uid: &'a str,
    pub audiences: &'a [&'a str],
    /// Seconds since the epoch.
    pub issued_at: i64,
    pub lifetime_seconds: i64,
    /// `(name, uid)` of the pod the token is bound to.
    pub pod: Option<(&'a str, &'a str)>,
}

/// An issuer: URL, keys (several published for rotation, one signing). Cloning shares it.
#[derive(Clone, Debug)]
pub struct OidcIssuer {
    url: String,
    host: String,
    path: String,
    keys: Arc<RwLock<Keys>>,
}

#[derive(Debug)]
struct Keys {
    published: Vec<RsaSigningKey>,
    signing: usize,
}

impl OidcIssuer {
    /// An issuer at `url` with a fresh key.
    pub fn new(url: &str) -> Result<Self, IssuerError> {
        Self::with_key(url, RsaSigningKey::generate(KidStyle::Kubernetes)?)
    }

    /// An issuer at `url` signing with `key`.
    pub fn with_key(url: &str, key: RsaSigningKey) -> Result<Self, IssuerError> {
        let bad = || IssuerError::BadUrl(url.to_owned());
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        if url.contains(['?', '#']) {
            return Err(bad());
        }
        let (host, path) = match rest.split_once('/') {
            Some((h, p)) => (h, format!("/{}", p.trim_end_matches('/'))),
            None => (rest, String::new()),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let path = if path == "/" { String::new() } else { path };
        Ok(Self {
            url: url.to_owned(),
            host: host.to_ascii_lowercase(),
            path,
            keys: Arc::new(RwLock::new(Keys {
                published: vec![key],
                signing: 0,
            })),
        })
    }

    /// The issuer URL, exactly as it appears in `iss`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host the documents are served on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!(
            "https://{}{}/.well-known/openid-configuration",
            self.host, self.path
        )
    }

    /// `{issuer}/openid/v1/jwks`.
    pub fn jwks_uri(&self) -> String {
        format!("https://{}{}/openid/v1/jwks", self.host, self.path)
    }

    /// The published keys.
    pub fn jwks(&self) -> Jwks {
        let keys = self.keys.read().expect("issuer keys");
        let mut jwks = Jwks::of(keys.published.iter());
        for k in &mut jwks.keys {
            k.alg = Some("RS256".into());
        }
        jwks
    }

    /// The key that signs now.
    pub fn signing_key(&self) -> RsaSigningKey {
        let keys = self.keys.read().expect("issuer keys");
        keys.published[keys.signing].clone()
    }

    /// Publishes `key` and signs with it from now on (the old keys stay published).
    pub fn rotate_to(&self, key: RsaSigningKey) {
        let mut keys = self.keys.write().expect("issuer keys");
        keys.published.push(key);
        keys.signing = keys.published.len() - 1;
    }

    /// Stops publishing the key named `kid`.
    pub fn unpublish(&self, kid: &str) -> bool {
        let mut keys = self.keys.write().expect("issuer keys");
        let signing_kid = keys.published[keys.signing].kid().to_owned();
        let before = keys.published.len();
        keys.published.retain(|k| k.kid() != kid);
        keys.signing = keys
            .published
            .iter()
            .position(|k| k.kid() == signing_kid)
            .unwrap_or(0);
        keys.published.len() != before
    }

    /// Signs arbitrary claims with the current key (RS256, Kubernetes `kid`).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        self.signing_key()
            .sign(Algorithm::RS256, &Map::new(), claims)
    }

    /// A ServiceAccount token with the claims kube-apiserver puts in.
    pub fn service_account_token(&self, c: &ServiceAccountClaims<'_>) -> Result<String, KeyError> {
        let mut k8s = json!({
            "namespace": c.namespace,
            "serviceaccount": {"name": c.service_account, "uid": c.service_account_uid},
        });
        if let Some((name, uid)) = c.pod {
            k8s["pod"] = json!({"name": name, "uid": uid});
        }
        let claims = json!({
            "aud": c.audiences,
            "exp": c.issued_at + c.lifetime_seconds,
            "iat": c.issued_at,
            "iss": self.url,
            "jti": uuid_v4(),
            "kubernetes.io": k8s,
            "nbf": c.issued_at,
            "sub": format!("system:serviceaccount:{}:{}", c.namespace, c.service_account),
        });
        self.sign(&claims)
    }

    /// The discovery document.
    pub fn discovery_document(&self) -> Value {
        json!({
            "issuer": self.url,
            "jwks_uri": self.jwks_uri(),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// The documents as a router (paths relative to the issuer host).
    pub fn router(&self) -> Router {
        let issuer = self.clone();
        documents_router(&self.path, self.discovery_document(), move || issuer.jwks())
    }

    /// A site serving the documents at the issuer's host, named `name`.
    pub fn site(&self, name: &str) -> Site {
        Site::new(name, self.router()).host(self.host.as_str())
    }
}

/// A site publishing another issuer's documents at `url`: the discovery document and a fixed
/// JWKS (e.g. fetched from a kind cluster's API server, whose private key stays in the cluster).
pub fn published_site(name: &str, url: &str, jwks: Jwks) -> Result<Site, IssuerError> {
    let bad = || IssuerError::BadUrl(url.to_owned());
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let path = if path == "/" { String::new() } else { path };
    let discovery = json!({
        "issuer": url,
        "jwks_uri": format!("https://{host}{path}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let router = documents_router(&path, discovery, move || jwks.clone());
    Ok(Site::new(name, router).host(host))
}

fn documents_router(
    path: &str,
    discovery: Value,
    jwks: impl Fn() -> Jwks + Clone + Send + Sync + 'static,
) -> Router {
    Router::new()
        .route(
            &format!("{path}/.well-known/openid-configuration"),
            get(move || async move { document(discovery, "application/json") }),
        )
        .route(
            &format!("{path}/openid/v1/jwks"),
            get(move || async move {
                let body = serde_json::to_value(jwks()).expect("jwks serialise");
                document(body, "application/jwk-set+json")
            }),
        )
}

fn document(body: Value, content_type: &'static str) -> Response {
    let mut resp = body.to_string().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

fn uuid_v4() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::verify;

    #[test]
    fn urls_and_documents_follow_the_issuer_path() {
        let key = RsaSigningKey::generate(KidStyle::Kubernetes).unwrap();
        let iss =
            OidcIssuer::with_key("https://eastus.oic.prod-aks.azure.com/t1/c1/", key).unwrap();
        assert_eq!(iss.host(), "eastus.oic.prod-aks.azure.com");
        assert_eq!(
            iss.discovery_url(),
            "https://eastus.oic.prod-aks.azure.com/t1/c1/.well-known/openid-configuration"
        );
        assert_eq!(
            iss.jwks_uri(),
            "https://eastus.oic.prod-aks.azure.com/t1/c1/openid/v1/jwks"
        );
        let doc = iss.discovery_document();
        assert_eq!(
            doc["issuer"],
            "https://eastus.oic.prod-aks.azure.com/t1/c1/"
        );
        assert!(OidcIssuer::new("http://plain.example").is_err());
        assert!(OidcIssuer::new("https://x.example/?q").is_err());
    }

    #[test]
    fn service_account_tokens_carry_kubernetes_claims_and_verify() {
        let iss = OidcIssuer::new("https://issuer.credsim.test").unwrap();
        let token = iss
            .service_account_token(&ServiceAccountClaims {
                namespace: "project-a",
                service_account: "creds",
                service_account_uid: "uid-1",
                audiences: &["api://AzureADTokenExchange"],
                issued_at: 1_800_000_000,
                lifetime_seconds: 3600,
                pod: Some(("p", "pod-uid")),
            })
            .unwrap();
        let d = verify(&token, &iss.jwks(), &[Algorithm::RS256]).unwrap();
        assert_eq!(
            d.claim_str("sub"),
            Some("system:serviceaccount:project-a:creds")
        );
        assert_eq!(d.claim_str("iss"), Some("https://issuer.credsim.test"));
        assert_eq!(d.claims["aud"], json!(["api://AzureADTokenExchange"]));
        assert_eq!(d.claim_i64("exp"), Some(1_800_003_600));
        assert_eq!(d.claims["kubernetes.io"]["pod"]["uid"], "pod-uid");
        assert_eq!(d.claim_str("jti").unwrap().len(), 36);
        assert_eq!(iss.jwks().keys[0].alg.as_deref(), Some("RS256"));
    }

    #[test]
    fn rotation_keeps_old_keys_published_until_unpublished() {
        let iss = OidcIssuer::new("https://issuer.credsim.test").unwrap();
        let old = iss.signing_key().kid().to_owned();
        let new = RsaSigningKey::generate(KidStyle::Kubernetes).unwrap();
        let new_kid = new.kid().to_owned();
        iss.rotate_to(new);
        assert_eq!(iss.signing_key().kid(), new_kid);
        assert_eq!(iss.jwks().keys.len(), 2);
        assert!(iss.unpublish(&old));
        assert_eq!(iss.jwks().keys.len(), 1);
        assert_eq!(iss.signing_key().kid(), new_kid);
    }
}
