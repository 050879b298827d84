//! A world for mock-acr's tests: a front door, mock-entra with two tenants, and three registries
//! (legacy, ABAC, anonymous) with generated content and grants.
#![allow(dead_code)]

use std::path::PathBuf;

use base64::Engine as _;

use mock_acr::model::{ArtifactKind, RepositorySpec};
use mock_acr::policy::{Action, RepoCondition, Role};
use mock_acr::{MockAcr, RegistrySpec};
use mock_entra::{Identity, MockEntra, Tenant};
use mock_kit::{FrontDoor, SecretRegistry};
use serde_json::Value;

pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";
pub const ACR_AUD: &str = "https://containerregistry.azure.net";

pub struct World {
    pub door: FrontDoor,
    pub entra: MockEntra,
    pub acr: MockAcr,
    pub secrets: SecretRegistry,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub ca_path: PathBuf,
}

pub fn repos() -> Vec<RepositorySpec> {
    vec![
        RepositorySpec::new("project-a/app")
            .artifact("1.0.0", ArtifactKind::Image)
            .artifact("1.1.0", ArtifactKind::Image)
            .artifact("2.0.0", ArtifactKind::DockerImage)
            .artifact("multi", ArtifactKind::Index),
        RepositorySpec::new("project-b/app").artifact("1.0.0", ArtifactKind::Image),
        RepositorySpec::new("charts/guestbook")
            .artifact("0.1.0", ArtifactKind::Helm)
            .artifact("1.2.3+build.7", ArtifactKind::Helm),
        RepositorySpec::new("team/tools").artifact("latest", ArtifactKind::Image),
    ]
}

impl World {
    pub async fn new() -> Self {
        mock_kit::install_crypto_provider();
        let secrets = SecretRegistry::new();
        let door = FrontDoor::builder()
            .secrets(secrets.clone())
            .start()
            .await
            .unwrap();
        let entra = entra(&secrets);
        let [contoso, abac, public] = registries();
        let acr = MockAcr::builder(entra.clone())
            .registry(contoso)
            .registry(abac)
            .registry(public)
            .secrets(secrets.clone())
            .build()
            .unwrap();
        door.add_site(entra.site()).await.unwrap();
        door.add_site(acr.site()).await.unwrap();
        door.add_site(acr.storage_site()).await.unwrap();
        let http = client(&door);
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, door.ca().cert_pem()).unwrap();
        Self {
            door,
            entra,
            acr,
            secrets,
            http,
            dir,
            ca_path,
        }
    }

    pub fn identity(&self, tenant: &str, name: &str) -> Identity {
        self.entra
            .directory()
            .tenant_named(tenant)
            .unwrap()
            .identity_named(name)
            .unwrap()
            .clone()
    }

    /// A blob was served from storage, and no registry token was ever forwarded there.
    pub fn assert_blobs_from_storage_without_the_token(&self) {
        assert!(
            self.acr
                .journal()
                .find(|e| e.endpoint == "storage" && e.status == 200)
                .is_some()
        );
        assert!(
            self.acr
                .journal()
                .find(|e| e.authorization_to_storage)
                .is_none()
        );
    }

    /// An Entra token for a managed identity (as IMDS or workload identity would get it).
    pub fn mi_token(&self, tenant: &str, identity: &str, resource: &str) -> String {
        self.entra
            .managed_identity_token(tenant, identity, resource)
            .unwrap()
            .token
    }

    pub async fn exchange(&self, registry: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(format!(
                "https://{registry}.azurecr.io/oauth2/exchange?api-version=2021-07-01"
            ))
            .form(form)
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    /// The refresh token for an MI, or panics with the answer.
    pub async fn refresh_for(&self, registry: &str, tenant: &str, identity: &str) -> String {
        let aad = self.mi_token(tenant, identity, ACR_AUD);
        let (s, body) = self
            .exchange(
                registry,
                &[
                    ("grant_type", "access_token"),
                    ("service", &format!("{registry}.azurecr.io")),
                    ("access_token", &aad),
                ],
            )
            .await;
        assert_eq!(s, 200, "{body:#}");
        body["refresh_token"].as_str().unwrap().to_owned()
    }

    /// POST /oauth2/token with the refresh grant and scopes.
    pub async fn access_for(&self, registry: &str, refresh: &str, scopes: &[&str]) -> (u16, Value) {
        let service = format!("{registry}.azurecr.io");
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("service", &service),
            ("refresh_token", refresh),
        ];
        for s in scopes {
            form.push(("scope", s));
        }
        let resp = self
            .http
            .post(format!("https://{registry}.azurecr.io/oauth2/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn api(&self, registry: &str, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("https://{registry}.azurecr.io{path}"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send().await.unwrap()
    }

    /// An access token with `scopes` for an MI on `registry`.
    pub async fn bearer(
        &self,
        registry: &str,
        tenant: &str,
        identity: &str,
        scopes: &[&str],
    ) -> String {
        let rt = self.refresh_for(registry, tenant, identity).await;
        let (s, body) = self.access_for(registry, &rt, scopes).await;
        assert_eq!(s, 200, "{body:#}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Tenant `contoso` with the identities the registries grant roles to (and one with none), and
/// tenant `fabrikam` with one of its own.
fn entra(secrets: &SecretRegistry) -> MockEntra {
    MockEntra::builder()
        .tenant(
            Tenant::new("contoso")
                .identity(Identity::user_assigned("project-a-mi"))
                .identity(Identity::user_assigned("project-b-mi"))
                .identity(Identity::user_assigned("lister-mi"))
                .identity(Identity::user_assigned("norole-mi"))
                .identity(Identity::app("ci-app").minted_secret(None))
                .identity(Identity::app("reader-app").minted_secret(None)),
        )
        .tenant(Tenant::new("fabrikam").identity(Identity::user_assigned("fab-mi")))
        .secrets(secrets.clone())
        .build()
        .unwrap()
}

/// The three registries: `contosoacr` (legacy roles, the admin user, repository tokens),
/// `abacacr` (ABAC conditions) with the same content, and `fabrikamacr` (anonymous pull).
fn registries() -> [RegistrySpec; 3] {
    let mut contoso = RegistrySpec::new("contosoacr", "contoso")
        .admin_user()
        .assign("contoso", "project-a-mi", Role::AcrPull, None)
        .assign("contoso", "ci-app", Role::AcrPush, None)
        .assign("contoso", "reader-app", Role::AcrPull, None)
        .token(
            "pull-a",
            &[("project-a/app", &[Action::Pull, Action::MetadataRead])],
        )
        .token("pull-only", &[("*", &[Action::Pull])]);
    let mut abac = RegistrySpec::new("abacacr", "contoso")
        .abac()
        .assign(
            "contoso",
            "project-a-mi",
            Role::RepositoryReader,
            Some(RepoCondition::Name("project-a/app".into())),
        )
        .assign("contoso", "project-b-mi", Role::AcrPull, None)
        .assign("contoso", "lister-mi", Role::CatalogLister, None)
        .assign(
            "contoso",
            "ci-app",
            Role::RepositoryWriter,
            Some(RepoCondition::Prefix("team/".into())),
        );
    for r in repos() {
        contoso = contoso.repository(r.clone());
        abac = abac.repository(r);
    }
    let public = RegistrySpec::new("fabrikamacr", "fabrikam")
        .anonymous_pull()
        .repository(RepositorySpec::new("public/app").artifact("1.0.0", ArtifactKind::Image));
    [contoso, abac, public]
}

/// A client that goes through the front door, trusts its CA and does not follow redirects (the
/// tests look at the 307s to storage).
fn client(door: &FrontDoor) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(door.proxy_url()).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(door.ca().cert_pem().as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

pub fn claims(token: &str) -> Value {
    Value::Object(mock_kit::jwt::decode_unverified(token).unwrap().claims)
}
