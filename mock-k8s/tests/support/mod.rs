//! Two embedded clusters behind a front door, their issuers published at their URLs, and
//! mock-entra with a managed identity federated to project-a's dedicated ServiceAccount on
//! shard-a; kubeconfigs for the admin and for the controller's ServiceAccount.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use mock_entra::{FederatedCredential, Identity, MockEntra, Network, Tenant};
use mock_k8s::{ClusterSpec, MockK8s, kubeconfig};
use mock_kit::{Clock, FrontDoor, SecretRegistry};
use serde_json::json;

pub const EXCHANGE: &str = "api://AzureADTokenExchange";

pub struct World {
    pub door: FrontDoor,
    pub a: MockK8s,
    pub b: MockK8s,
    pub entra: MockEntra,
    pub clock: Clock,
    pub dir: tempfile::TempDir,
    pub admin_kubeconfig: PathBuf,
    pub controller_kubeconfig: PathBuf,
    pub ca_path: PathBuf,
}

pub fn cluster(name: &str) -> ClusterSpec {
    ClusterSpec::new(name)
        .namespace("kargo")
        .namespace("project-a")
        .namespace("project-b")
        .service_account("kargo", "controller", &[])
        .service_account("project-a", "credentials", &[("azure.workload.identity/client-id", "00000000-0000-0000-0000-00000000000a")])
        .service_account("project-a", "kargo-admin", &[])
        .service_account("project-b", "credentials", &[])
        .object(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "credentials-token-minter"},
            "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["credentials"]},
                      {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]}]}))
        .object(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "kargo-controller", "namespace": "project-a"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "credentials-token-minter"},
            "subjects": [{"kind": "ServiceAccount", "name": "controller", "namespace": "kargo"}]}))
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
        let a = embedded("shard-a", &clock, &secrets);
        let b = embedded("shard-b", &clock, &secrets);
        for k in [&a, &b] {
            door.add_site(k.site()).await.unwrap();
            door.add_site(k.issuer_site()).await.unwrap();
        }
        let entra = entra(&door, &a, &clock, &secrets);
        door.add_site(entra.site()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, door.ca().cert_pem()).unwrap();
        let (admin_kubeconfig, controller_kubeconfig) = write_kubeconfigs(&dir, &door, &a);
        Self {
            door,
            a,
            b,
            entra,
            clock,
            dir,
            admin_kubeconfig,
            controller_kubeconfig,
            ca_path,
        }
    }

    pub fn api_client(&self) -> reqwest::Client {
        self.door.direct_client()
    }

    pub fn server(&self, cluster: &str) -> String {
        self.door
            .endpoint(&format!("k8s/{cluster}"))
            .unwrap()
            .direct_url
    }
}

/// An embedded cluster made from [`cluster`], on the run's clock and secret registry.
fn embedded(name: &str, clock: &Clock, secrets: &SecretRegistry) -> MockK8s {
    MockK8s::builder(cluster(name))
        .clock(clock.clone())
        .secrets(secrets.clone())
        .build()
        .unwrap()
}

/// mock-entra with `project-a-mi` federated to project-a's `credentials` ServiceAccount on
/// cluster `a`, fetching issuer documents through the front door.
fn entra(door: &FrontDoor, a: &MockK8s, clock: &Clock, secrets: &SecretRegistry) -> MockEntra {
    MockEntra::builder()
        .tenant(
            Tenant::new("contoso").identity(Identity::user_assigned("project-a-mi").federated(
                FederatedCredential::new(
                    "project-a-shard-a",
                    a.issuer().url(),
                    "system:serviceaccount:project-a:credentials",
                ),
            )),
        )
        .clock(clock.clone())
        .secrets(secrets.clone())
        .network(Network {
            proxy_url: door.proxy_url(),
            ca_pem: door.ca().cert_pem().to_owned(),
        })
        .build()
        .unwrap()
}

/// Kubeconfigs for cluster `a`'s direct listener in `dir`: the admin's, and the `kargo/controller`
/// ServiceAccount's (a token valid for a day).
fn write_kubeconfigs(dir: &tempfile::TempDir, door: &FrontDoor, a: &MockK8s) -> (PathBuf, PathBuf) {
    let server = door.endpoint("k8s/shard-a").unwrap().direct_url;
    let admin_kubeconfig = dir.path().join("admin.yaml");
    std::fs::write(
        &admin_kubeconfig,
        kubeconfig::render(
            "shard-a",
            &server,
            door.ca().cert_pem(),
            "admin",
            a.admin_token().expose(),
            None,
        ),
    )
    .unwrap();
    let controller_kubeconfig = dir.path().join("controller.yaml");
    let yaml = a
        .service_account_kubeconfig(
            "kargo",
            "controller",
            &server,
            door.ca().cert_pem(),
            Duration::from_secs(24 * 3600),
        )
        .unwrap();
    std::fs::write(&controller_kubeconfig, yaml).unwrap();
    (admin_kubeconfig, controller_kubeconfig)
}
