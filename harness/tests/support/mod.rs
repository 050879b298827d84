//! Shared by the harness's integration tests: the demo world running, and the federated exchange
//! of a ServiceAccount token for project-a's managed identity.
#![allow(dead_code)]

use std::net::SocketAddr;

use credsim_world::cloud::Cloud;
use serde_json::Value;

pub async fn demo() -> Cloud {
    mock_kit::install_crypto_provider();
    credsim_world::world::RunningWorld::start_on(
        &credsim_world::demo::scenario(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        mock_kit::Clock::system(),
    )
    .await
    .unwrap()
    .into_cloud()
}

/// Exchanges `assertion` for project-a's managed identity at mock-entra, through the front door.
pub async fn federate(cloud: &Cloud, assertion: &str) -> (u16, Value) {
    let dir = cloud.entra.directory();
    let t = dir.tenant_named("contoso").unwrap();
    let mi = t.identity_named("project-a-mi").unwrap();
    let resp = cloud
        .door
        .client(None)
        .post(format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            t.id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &mi.client_id.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", "https://containerregistry.azure.net/.default"),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}
