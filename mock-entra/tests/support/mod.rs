//! A world for mock-entra's integration tests: a front door, mock-entra with two tenants, and a
//! test OIDC issuer (standing in for a cluster) served by the front door at its real-looking URL.
#![allow(dead_code)]

use std::path::PathBuf;

use jiff::Timestamp;
use mock_entra::{FederatedCredential, Identity, MockEntra, Network, Resource, Tenant};
use mock_kit::issuer::ServiceAccountClaims;
use mock_kit::{Clock, FrontDoor, OidcIssuer, SecretRegistry};
use serde_json::Value;

/// The test issuer, AKS-style with a trailing slash (so a missing slash is a mismatch).
pub const ISSUER: &str = "https://oidc.shard-a.credsim.test/";
pub const EXCHANGE: &str = "api://AzureADTokenExchange";
pub const SUBJECT: &str = "system:serviceaccount:project-a:creds";
pub const ARM: &str = "https://management.azure.com/.default";
/// `client_assertion_type` of every client assertion.
pub const BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub struct World {
    pub door: FrontDoor,
    pub entra: MockEntra,
    pub issuer: OidcIssuer,
    pub clock: Clock,
    pub secrets: SecretRegistry,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub ca_path: PathBuf,
}

impl World {
    pub async fn new() -> Self {
        mock_kit::install_crypto_provider();
        let clock = Clock::system();
        let secrets = SecretRegistry::new();
        let door = FrontDoor::builder()
            .clock(clock.clone())
            .secrets(secrets.clone())
            .start()
            .await
            .unwrap();
        let issuer = OidcIssuer::new(ISSUER).unwrap();
        door.add_site(issuer.site("issuer-shard-a")).await.unwrap();
        let past = Timestamp::from_second(1_600_000_000).unwrap();
        let entra = MockEntra::builder()
            .tenant(
                Tenant::new("contoso")
                    .identity(
                        Identity::app("ci-app")
                            .minted_secret(None)
                            .minted_secret(Some(past)),
                    )
                    .identity(Identity::app("cert-app").generated_certificate())
                    .identity(
                        Identity::app("multi-app")
                            .multi_tenant()
                            .minted_secret(None),
                    )
                    .identity(
                        Identity::user_assigned("project-a-mi")
                            .federated(FederatedCredential::new("project-a", ISSUER, SUBJECT)),
                    )
                    .identity(Identity::user_assigned("lonely-mi"))
                    .resource(Resource::new("api://credsim-api").v2()),
            )
            .tenant(Tenant::new("fabrikam").identity(Identity::app("fab-app").minted_secret(None)))
            .clock(clock.clone())
            .secrets(secrets.clone())
            .network(Network {
                proxy_url: door.proxy_url_for("mock-entra"),
                ca_pem: door.ca().cert_pem().to_owned(),
            })
            .build()
            .unwrap();
        door.add_site(entra.site()).await.unwrap();
        let http = door.client(None);
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, door.ca().cert_pem()).unwrap();
        Self {
            door,
            entra,
            issuer,
            clock,
            secrets,
            http,
            dir,
            ca_path,
        }
    }

    pub fn tenant(&self, name: &str) -> Tenant {
        self.entra.directory().tenant_named(name).unwrap().clone()
    }

    pub fn tenant_id(&self, name: &str) -> String {
        self.tenant(name).id.to_string()
    }

    pub fn identity(&self, tenant: &str, name: &str) -> Identity {
        self.tenant(tenant).identity_named(name).unwrap().clone()
    }

    pub fn client_id(&self, tenant: &str, name: &str) -> String {
        self.identity(tenant, name).client_id.to_string()
    }

    pub fn secret(&self, tenant: &str, name: &str, index: usize) -> String {
        self.identity(tenant, name).secrets[index]
            .value
            .expose()
            .clone()
    }

    /// A ServiceAccount token from the test issuer, issued `offset` seconds from now.
    pub fn sa_token(
        &self,
        subject_sa: (&str, &str),
        audience: &str,
        offset: i64,
        lifetime: i64,
    ) -> String {
        self.issuer
            .service_account_token(&ServiceAccountClaims {
                namespace: subject_sa.0,
                service_account: subject_sa.1,
                service_account_uid: "2f0c3ad4-0b55-4d6c-9a43-1f0bd2d4f6a9",
                audiences: &[audience],
                issued_at: self.clock.unix_seconds() + offset,
                lifetime_seconds: lifetime,
                pod: None,
            })
            .unwrap()
    }

    /// A valid federated assertion for project-a-mi.
    pub fn good_assertion(&self) -> String {
        self.sa_token(("project-a", "creds"), EXCHANGE, 0, 3600)
    }

    /// POSTs a form to a token endpoint path; returns status and JSON body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("https://login.microsoftonline.com{path}"))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8",
            "{path}"
        );
        (status, resp.json().await.unwrap())
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        let resp = self.http.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// A federated client-credentials request for project-a-mi.
    pub async fn federated(&self, assertion: &str, client_id: Option<&str>) -> (u16, Value) {
        let tid = self.tenant_id("contoso");
        let cid = client_id
            .map(str::to_owned)
            .unwrap_or_else(|| self.client_id("contoso", "project-a-mi"));
        self.post(
            &format!("/{tid}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("scope", ARM),
            ],
        )
        .await
    }
}

/// Asserts an Entra error answer: status, `error`, `error_codes`, description prefix, and the rest
/// of the shape.
pub fn assert_aadsts(got: &(u16, Value), status: u16, error: &str, code: u32, prefix: &str) {
    let (s, body) = got;
    assert_eq!(*s, status, "{body:#}");
    assert_eq!(body["error"], error, "{body:#}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body:#}");
    let d = body["error_description"].as_str().unwrap();
    let expected = format!("AADSTS{code}: {prefix}");
    assert!(
        d.starts_with(&expected),
        "expected {expected:?}\n got {d:?}"
    );
    assert!(
        d.contains(" Trace ID: ") && d.contains(" Correlation ID: "),
        "{d}"
    );
    let ts = body["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b' ', "{ts}");
    assert!(uuid::Uuid::parse_str(body["trace_id"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(body["correlation_id"].as_str().unwrap()).is_ok());
}

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Value {
    let d = mock_kit::jwt::decode_unverified(token).unwrap();
    Value::Object(d.claims)
}

/// A client-secret request for `scope` at the token endpoint `path`.
pub async fn secret_request(
    w: &World,
    path: &str,
    cid: &str,
    secret: &str,
    scope: &str,
) -> (u16, Value) {
    w.post(
        path,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", secret),
            ("scope", scope),
        ],
    )
    .await
}
