//! A world running behind one front door.
//!
//! [`Cloud::start`] creates the run's CA, clock and secret registry, starts the front door, builds
//! each fake from the world and adds it as a site. [`Cloud::world_json`] renders the resolved
//! world in the `world.json` format (version 1) of `../shared/contracts/cli.md`.

use std::net::SocketAddr;

use mock_entra::{IdentityKind, MockEntra, Network, Tenant};
use mock_kit::front_door::FrontDoorError;
use mock_kit::{CertificateAuthority, Clock, FrontDoor, SecretRegistry};
use serde_json::{Value, json};

/// The `world.json` format version this module writes.
///
/// Changelog: 1, the first version (tenants, registries, clusters, nodes as the CLI contract lists).
pub const WORLD_JSON_FORMAT_VERSION: u32 = 1;

/// What a world holds, as builder inputs for the fakes.
#[derive(Clone, Debug, Default)]
pub struct WorldSpec {
    pub tenants: Vec<Tenant>,
}

/// Why a world could not start.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("starting the front door failed")]
    FrontDoor(#[from] FrontDoorError),
    #[error("making the run's certificate authority failed")]
    Ca(#[from] mock_kit::ca::CaError),
    #[error("the world's Entra directory is invalid")]
    Directory(#[from] mock_entra::DirectoryError),
}

/// The running fakes of one world.
#[derive(Debug)]
pub struct Cloud {
    pub door: FrontDoor,
    pub entra: MockEntra,
    pub clock: Clock,
    pub secrets: SecretRegistry,
}

impl Cloud {
    /// Starts every fake of `spec` behind a front door listening on `listen`.
    pub async fn start(spec: WorldSpec, listen: SocketAddr) -> Result<Self, CloudError> {
        let clock = Clock::system();
        let secrets = SecretRegistry::new();
        let ca = CertificateAuthority::new("credsim")?;
        let door = FrontDoor::builder()
            .listen(listen)
            .ca(ca.clone())
            .clock(clock.clone())
            .secrets(secrets.clone())
            .start()
            .await?;
        let entra = spec
            .tenants
            .into_iter()
            .fold(MockEntra::builder(), |b, t| b.tenant(t))
            .clock(clock.clone())
            .secrets(secrets.clone())
            .network(Network {
                proxy_url: door.proxy_url_for("mock-entra"),
                ca_pem: ca.cert_pem().to_owned(),
            })
            .build()?;
        door.add_site(entra.site()).await?;
        Ok(Self {
            door,
            entra,
            clock,
            secrets,
        })
    }

    /// The resolved world, `world.json` format version 1.
    pub fn world_json(&self) -> Value {
        let dir = self.entra.directory();
        let tenants: Vec<Value> = dir
            .tenants
            .iter()
            .map(|t| {
                let apps: Vec<Value> = t
                    .identities
                    .iter()
                    .filter(|i| matches!(i.kind, IdentityKind::App { .. }))
                    .map(|i| {
                        let mut app = json!({
                            "name": i.name,
                            "clientId": i.client_id,
                            "objectId": i.object_id,
                            "multiTenant": i.is_multi_tenant(),
                        });
                        if let Some(s) = i.secrets.first() {
                            app["secret"] = s.value.expose().clone().into();
                        }
                        app
                    })
                    .collect();
                let mis: Vec<Value> = t
                    .identities
                    .iter()
                    .filter(|i| i.kind == IdentityKind::UserAssigned)
                    .map(|i| {
                        json!({
                            "name": i.name,
                            "clientId": i.client_id,
                            "principalId": i.object_id,
                            "resourceId": i.resource_id,
                            "federatedCredentials": i.federated.iter().map(|f| json!({
                                "name": f.name,
                                "issuer": f.issuer,
                                "subject": f.subject,
                                "audiences": f.audiences,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({
                    "name": t.name,
                    "id": t.id,
                    "domains": t.domains,
                    "apps": apps,
                    "managedIdentities": mis,
                })
            })
            .collect();
        json!({
            "formatVersion": WORLD_JSON_FORMAT_VERSION,
            "authorityHost": "https://login.microsoftonline.com/",
            "imdsEndpoint": "http://169.254.169.254",
            "proxy": self.door.proxy_url(),
            "tenants": tenants,
            "registries": [],
            "clusters": [],
            "nodes": [],
        })
    }

    /// Stops every listener; when it returns nothing listens.
    pub async fn shutdown(&self) {
        self.door.shutdown().await;
    }
}
