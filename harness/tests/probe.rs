//! Probing what a credential unlocks, on the demo world: the whole Kargo-shaped chain (a kube
//! TokenRequest for project-a's dedicated ServiceAccount, the Entra federated exchange, the ACR
//! exchange) yields a credential that unlocks project-a's repository and nothing else; a service
//! principal with a registry-wide reader role unlocks its registry only.

mod support;

use credsim::probe::probe_credential;
use credsim_world::clusters::{ClusterHandle, ClusterKind};
use serde_json::Value;
use support::{demo, federate};

#[tokio::test]
async fn a_project_credential_unlocks_its_own_repository_only() {
    let cloud = demo().await;
    let http = cloud.door.client(None);

    // The chain an implementation would run.
    let kc = cloud.admin_kubeconfig("shard-a").unwrap();
    let shard_a = ClusterHandle::connect(
        "shard-a",
        ClusterKind::Embedded,
        "https://oidc.shard-a.credsim.test/",
        &kc,
    )
    .await
    .unwrap();
    let sa_token = shard_a
        .token_request(
            "project-a",
            "credentials",
            &["api://AzureADTokenExchange"],
            Some(3600),
        )
        .await
        .unwrap();
    let (_, entra) = federate(&cloud, sa_token.token.expose()).await;
    let aad = entra["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{entra:#}"));
    let exchange: Value = http
        .post("https://contosoacr.azurecr.io/oauth2/exchange")
        .form(&[
            ("grant_type", "access_token"),
            ("service", "contosoacr.azurecr.io"),
            ("access_token", aad),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = exchange["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{exchange:#}"));

    let probes = probe_credential(&cloud, "00000000-0000-0000-0000-000000000000", refresh)
        .await
        .unwrap();
    let unlocked: Vec<String> = probes
        .iter()
        .filter(|p| p.unlocked())
        .map(|p| format!("{}/{}", p.registry, p.repository))
        .collect();
    assert_eq!(unlocked, ["contosoacr/project-a/app"], "{probes:#?}");
    assert_eq!(
        probes.len(),
        3,
        "every repository of every registry was probed"
    );
    let a = probes
        .iter()
        .find(|p| p.repository == "project-a/app")
        .unwrap();
    assert!(a.listed && a.pulled);
    let other_registry = probes.iter().find(|p| p.registry == "fabrikamacr").unwrap();
    assert_eq!(
        other_registry.token_status, 401,
        "a contosoacr refresh token is worthless at fabrikamacr"
    );
    // The probes are in the egress record, labelled.
    assert!(
        cloud
            .door
            .egress()
            .count(|r| r.client.label.as_deref() == Some("credsim-probe"))
            >= 7
    );
}

#[tokio::test]
async fn a_registry_wide_reader_unlocks_its_registry_and_not_the_other_tenants() {
    let cloud = demo().await;
    let dir = cloud.entra.directory();
    let app = dir
        .tenant_named("contoso")
        .unwrap()
        .identity_named("ci-app")
        .unwrap()
        .clone();
    let probes = probe_credential(
        &cloud,
        &app.client_id.to_string(),
        app.secrets[0].value.expose(),
    )
    .await
    .unwrap();
    let unlocked: Vec<String> = probes
        .iter()
        .filter(|p| p.unlocked())
        .map(|p| format!("{}/{}", p.registry, p.repository))
        .collect();
    assert_eq!(
        unlocked,
        ["contosoacr/project-a/app", "contosoacr/project-b/app"],
        "{probes:#?}"
    );
    // A wrong password unlocks nothing.
    let probes = probe_credential(&cloud, &app.client_id.to_string(), "not-the-secret")
        .await
        .unwrap();
    assert!(
        probes
            .iter()
            .all(|p| !p.unlocked() && p.token_status == 401),
        "{probes:#?}"
    );
}
