//! A fake Azure Instance Metadata Service, faithful enough for the real SDKs.
//!
//! Module map:
//! - this file: [`Node`] (a VM or AKS node: its tenant, system-assigned and user-assigned
//!   identities, tags), [`MockImds`] (builder, router, sites, journal);
//! - `token` (private): `GET /metadata/identity/oauth2/token` (IMDS) and `GET /msi/token` (the
//!   App Service variant, `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`);
//! - `instance` (private): `GET /metadata/instance`;
//! - [`faults`]: IMDS-shaped fault answers (410 while updating, 429, 5xx, no answer).
//!
//! Tokens are minted by mock-entra for the node's tenant ([`mock_entra::MockEntra::managed_identity_token`]).
//!
//! Which node a request is for: the site at `169.254.169.254` (reached through the front door)
//! picks the node whose name is the client's proxy label (`http://<node>:x@front-door`), else the
//! first node; each node also has its own site ([`MockImds::node_site`]) with a direct loopback
//! listener, for `AZURE_POD_IDENTITY_AUTHORITY_HOST` and `IDENTITY_ENDPOINT`.
//!
//! Fidelity choices the research notes leave open (notes `entra-imds.md` §5, §10):
//! - on the identity path `Metadata` must be exactly `true` (the docs say "all lower case"); on
//!   `/metadata/instance` it is matched case-insensitively (cloud-provider-azure sends `True`);
//! - the texts of the identity path's "missing api-version" and "identity not found" answers are
//!   not documented; they follow the documented ones' shape
//!   (`{"error":"invalid_request","error_description":…}`). The identity path checks that an
//!   `api-version` is there, not which: the versions it takes are not listed anywhere;
//! - `/metadata/instance` answers a missing or unsupported `api-version` as the docs show: `400`
//!   with `error` and the three `newest-versions` (ohai reads that list to pick its version);
//!   it takes the versions in [`INSTANCE_API_VERSIONS`];
//! - IMDS refuses any request with `X-Forwarded-For` (documented: a request that came through a
//!   proxy is not trusted); the text of that answer is not documented, ours is
//!   [`FORWARDED_REFUSED`] in the shape of the metadata-header answer.

pub mod faults;
mod instance;
mod token;

use std::sync::Arc;

use axum::Router;
use mock_entra::{IdentityKind, MockEntra};
use mock_kit::fault::FaultRequest;
use mock_kit::secret::Secret;
use mock_kit::{Faults, Journal, SecretRegistry, Site};
use uuid::Uuid;

/// What IMDS answers a request carrying `X-Forwarded-For` (`400 invalid_request`).
pub const FORWARDED_REFUSED: &str =
    "Requests with an X-Forwarded-For header are not accepted by the Instance Metadata Service";

/// The `api-version`s `/metadata/instance` takes, oldest first (the service's published list).
#[rustfmt::skip]
pub const INSTANCE_API_VERSIONS: &[&str] = &[
    "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01",
    "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
    "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15",
    "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
    "2021-05-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2022-02-01",
    "2022-03-01", "2022-05-01", "2022-07-01", "2022-08-01", "2022-09-01", "2022-11-01",
    "2023-07-01", "2023-11-15", "2024-03-15", "2024-07-17", "2025-04-07",
];

/// The link-local address IMDS answers on.
pub const IMDS_HOST: &str = "169.254.169.254";

/// A VM or node: its tenant, identities and instance facts.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    /// The mock-entra tenant (by name) its identities live in.
    pub tenant: String,
    /// Whether the node has a system-assigned identity (mock-entra must hold
    /// `Identity::system_assigned(name)` in the tenant).
    pub system_assigned: bool,
    /// Names of user-assigned identities attached to it.
    pub user_assigned: Vec<String>,
    pub location: String,
    /// Extra `tagsList` entries.
    pub tags: Vec<(String, String)>,
}

impl Node {
    /// A node in `tenant` with no identities, in `eastus`.
    pub fn new(name: &str, tenant: &str) -> Self {
        Self {
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            system_assigned: false,
            user_assigned: Vec::new(),
            location: "eastus".into(),
            tags: Vec::new(),
        }
    }

    /// Gives the node its system-assigned identity.
    pub fn system_assigned(mut self) -> Self {
        self.system_assigned = true;
        self
    }

    /// Attaches a user-assigned identity (by its mock-entra name).
    pub fn user_assigned(mut self, identity: &str) -> Self {
        self.user_assigned.push(identity.to_owned());
        self
    }

    /// Adds a `tagsList` entry.
    pub fn tag(mut self, name: &str, value: &str) -> Self {
        self.tags.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Why a node could not be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImdsError {
    #[error("node {node:?}: mock-entra has no tenant {tenant:?}")]
    UnknownTenant { node: String, tenant: String },
    #[error("node {node:?}: tenant {tenant:?} has no {kind} identity {identity:?}")]
    UnknownIdentity {
        node: String,
        tenant: String,
        kind: &'static str,
        identity: String,
    },
    #[error("node {0:?} is defined twice")]
    DuplicateNode(String),
    #[error("no nodes: IMDS needs at least one")]
    NoNodes,
}

/// An identity attached to a node, resolved against mock-entra's directory.
#[derive(Clone, Debug)]
pub(crate) struct Attached {
    pub name: String,
    pub client_id: Uuid,
    pub object_id: Uuid,
    pub resource_id: String,
    pub system: bool,
}

#[derive(Debug)]
pub(crate) struct ServedNode {
    pub node: Node,
    pub identities: Vec<Attached>,
    /// The App Service variant's `IDENTITY_HEADER`.
    pub identity_header: Secret<String>,
    pub vm_id: Uuid,
}

/// What mock-imds saw and answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImdsEvent {
    pub at: jiff::Timestamp,
    pub node: String,
    /// `token`, `app-service` or `instance`; `internal` when a handler panicked (a bug in
    /// credsim, answered `500`).
    pub endpoint: String,
    pub identity: Option<String>,
    pub resource: Option<String>,
    pub status: u16,
    pub error: Option<String>,
    pub token: Option<mock_kit::Fingerprint>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub entra: MockEntra,
    pub nodes: Vec<ServedNode>,
    pub journal: Journal<ImdsEvent>,
    pub faults: Faults,
}

/// Builds a [`MockImds`].
#[derive(Debug)]
pub struct MockImdsBuilder {
    entra: MockEntra,
    nodes: Vec<Node>,
    secrets: Option<SecretRegistry>,
    journal_capacity: Option<usize>,
    faults: Option<Faults>,
}

impl MockImdsBuilder {
    /// Adds a node.
    pub fn node(mut self, node: Node) -> Self {
        self.nodes.push(node);
        self
    }

    /// Keeps at most `n` journal entries, dropping the oldest (a long-running `credsim up`);
    /// unbounded by default.
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.journal_capacity = Some(n);
        self
    }

    /// The run's secret registry (the App Service identity headers are registered in it).
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Fault rules, tagged `node` (node name) and `endpoint` (`token`, `app-service`, `instance`).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Resolves every node's identities against mock-entra.
    pub fn build(self) -> Result<MockImds, ImdsError> {
        if self.nodes.is_empty() {
            return Err(ImdsError::NoNodes);
        }
        let secrets = self.secrets.unwrap_or_default();
        let dir = self.entra.directory();
        let mut served: Vec<ServedNode> = Vec::new();
        for node in self.nodes {
            if served.iter().any(|s| s.node.name == node.name) {
                return Err(ImdsError::DuplicateNode(node.name));
            }
            let tenant =
                dir.tenant_named(&node.tenant)
                    .ok_or_else(|| ImdsError::UnknownTenant {
                        node: node.name.clone(),
                        tenant: node.tenant.clone(),
                    })?;
            let missing = |kind, identity: &str| ImdsError::UnknownIdentity {
                node: node.name.clone(),
                tenant: node.tenant.clone(),
                kind,
                identity: identity.to_owned(),
            };
            let mut identities = Vec::new();
            if node.system_assigned {
                let id = tenant
                    .identities
                    .iter()
                    .find(|i| matches!(&i.kind, IdentityKind::SystemAssigned { node: n } if *n == node.name))
                    .ok_or_else(|| missing("system-assigned", &node.name))?;
                identities.push(attached(id, true));
            }
            for name in &node.user_assigned {
                let id = tenant
                    .identity_named(name)
                    .filter(|i| i.kind == IdentityKind::UserAssigned)
                    .ok_or_else(|| missing("user-assigned", name))?;
                identities.push(attached(id, false));
            }
            let identity_header = secrets.mint(
                mock_kit::SecretKind::ImdsIdentityHeader,
                &format!("{}/app-service", node.name),
                "",
                32,
            );
            served.push(ServedNode {
                identities,
                identity_header,
                vm_id: mock_entra::directory::guid_for(&format!(
                    "{}/node/{}",
                    node.tenant, node.name
                )),
                node,
            });
        }
        Ok(MockImds {
            inner: Arc::new(Inner {
                entra: self.entra,
                nodes: served,
                journal: match self.journal_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                faults: self.faults.unwrap_or_default(),
            }),
        })
    }
}

fn attached(id: &mock_entra::Identity, system: bool) -> Attached {
    Attached {
        name: id.name.clone(),
        client_id: id.client_id,
        object_id: id.object_id,
        resource_id: id.resource_id.clone().unwrap_or_default(),
        system,
    }
}

/// The running fake. Cloning shares it.
#[derive(Clone, Debug)]
pub struct MockImds {
    inner: Arc<Inner>,
}

/// Which node a router serves.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub inner: Arc<Inner>,
    /// `Some(i)`: always node `i`; `None`: by the client's proxy label, else the first node.
    pub fixed: Option<usize>,
}

impl State {
    pub(crate) fn node(&self, ctx: Option<&mock_kit::RequestContext>) -> &ServedNode {
        let nodes = &self.inner.nodes;
        if let Some(i) = self.fixed {
            return &nodes[i];
        }
        ctx.and_then(|c| c.client.label.as_deref())
            .and_then(|label| nodes.iter().find(|n| n.node.name == label))
            .unwrap_or(&nodes[0])
    }

    /// The fault check, tagged with the node and endpoint.
    pub(crate) async fn fault(
        &self,
        node: &str,
        endpoint: &str,
        path: &str,
    ) -> Option<axum::response::Response> {
        self.inner
            .faults
            .answer(&FaultRequest {
                site: "mock-imds",
                host: IMDS_HOST,
                method: "GET",
                path,
                tags: &[("node", node), ("endpoint", endpoint)],
                client: None,
            })
            .await
    }
}

impl MockImds {
    /// A builder for nodes whose identities live in `entra`.
    pub fn builder(entra: MockEntra) -> MockImdsBuilder {
        MockImdsBuilder {
            entra,
            nodes: Vec::new(),
            secrets: None,
            journal_capacity: None,
            faults: None,
        }
    }

    fn router(&self, fixed: Option<usize>) -> Router {
        token::routes().merge(instance::routes()).with_state(State {
            inner: self.inner.clone(),
            fixed,
        })
    }

    /// `mock-imds` at `169.254.169.254`, plain HTTP, node chosen by the client's proxy label.
    pub fn site(&self) -> Site {
        Site::new("mock-imds", self.router(None))
            .host(IMDS_HOST)
            .plain_http_only()
            .internal_error(journaled_internal_error(self.inner.clone(), String::new()))
    }

    /// `mock-imds/<node>`: one node's IMDS and App Service endpoints, for its direct listener.
    pub fn node_site(&self, node: &str) -> Option<Site> {
        let i = self.inner.nodes.iter().position(|n| n.node.name == node)?;
        Some(
            Site::new(format!("mock-imds/{node}"), self.router(Some(i)))
                .plain_http_only()
                .internal_error(journaled_internal_error(
                    self.inner.clone(),
                    node.to_owned(),
                )),
        )
    }

    /// The names of the nodes.
    pub fn nodes(&self) -> Vec<String> {
        self.inner
            .nodes
            .iter()
            .map(|n| n.node.name.clone())
            .collect()
    }

    /// The App Service `IDENTITY_HEADER` of `node`.
    pub fn identity_header(&self, node: &str) -> Option<Secret<String>> {
        let n = self.inner.nodes.iter().find(|n| n.node.name == node)?;
        Some(n.identity_header.clone())
    }

    /// Client IDs of the identities attached to `node`.
    pub fn node_identities(&self, node: &str) -> Vec<(String, Uuid)> {
        self.inner
            .nodes
            .iter()
            .find(|n| n.node.name == node)
            .map(|n| {
                n.identities
                    .iter()
                    .map(|a| (a.name.clone(), a.client_id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the fake saw and answered.
    pub fn journal(&self) -> &Journal<ImdsEvent> {
        &self.inner.journal
    }

    /// Fault rules the fake checks.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }
}

/// The answer to a panic of a handler, noted in the journal as an `internal` event (of `node`
/// when the site serves one node; empty when the node comes from the proxy label, which the
/// failed handler did not get to read).
fn journaled_internal_error(
    inner: Arc<Inner>,
    node: String,
) -> impl Fn(&mock_kit::InternalFailure<'_>) -> axum::response::Response + Send + Sync + 'static {
    move |failure| {
        inner.journal.push(ImdsEvent {
            at: inner.entra.clock().now(),
            node: node.clone(),
            endpoint: "internal".into(),
            identity: None,
            resource: None,
            status: 500,
            error: Some(failure.message.to_owned()),
            token: None,
        });
        internal_error(failure.message)
    }
}

/// IMDS's answer to an internal failure: `500` with its JSON error.
fn internal_error(message: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": "unknown_error", "error_description": message})),
    )
        .into_response()
}
