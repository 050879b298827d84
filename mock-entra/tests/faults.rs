//! Entra faults per tenant, per client, per endpoint (throttling, 5xx, latency, dropped
//! connections), and federated-credential propagation delay.

mod support;

use std::time::{Duration, Instant};

use mock_entra::journal::TokenOutcome;
use mock_entra::{EntraOptions, FederatedCredential, faults};
use mock_kit::egress::Outcome;
use mock_kit::fault::{FaultAction, FaultRule};
use support::*;

async fn secret_token(w: &World, tenant: &str, app: &str) -> reqwest::Response {
    let tid = w.tenant_id(tenant);
    w.http
        .post(format!(
            "https://login.microsoftonline.com/{tid}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &w.client_id(tenant, app)),
            ("client_secret", &w.secret(tenant, app, 0)),
            ("scope", ARM),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn throttling_one_tenants_token_endpoint() {
    let w = World::new().await;
    w.entra.faults().inject(
        FaultRule::on_site("mock-entra", faults::throttled(7))
            .tag("tenant", "contoso")
            .tag("endpoint", "token")
            .times(1),
    );
    // Discovery of the throttled tenant and tokens of the other tenant are untouched.
    let (s, _) = w
        .get("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
        .await;
    assert_eq!(s, 200);
    assert_eq!(secret_token(&w, "fabrikam", "fab-app").await.status(), 200);
    let resp = secret_token(&w, "contoso", "ci-app").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        secret_token(&w, "contoso", "ci-app").await.status(),
        200,
        "only once"
    );
    let outcomes: Vec<TokenOutcome> = w
        .entra
        .journal()
        .snapshot()
        .iter()
        .filter_map(|e| e.as_token().map(|t| t.outcome.clone()))
        .collect();
    assert!(
        matches!(outcomes[1], TokenOutcome::Faulted { status: 429 }),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn server_errors_for_one_client_only() {
    let w = World::new().await;
    let cid = w.client_id("contoso", "ci-app");
    w.entra
        .faults()
        .inject(FaultRule::on_site("mock-entra", faults::unavailable(503)).tag("client", &cid));
    for _ in 0..2 {
        assert_eq!(secret_token(&w, "contoso", "ci-app").await.status(), 503);
    }
    assert_eq!(secret_token(&w, "contoso", "multi-app").await.status(), 200);
    w.entra.faults().clear();
    assert_eq!(secret_token(&w, "contoso", "ci-app").await.status(), 200);
}

#[tokio::test]
async fn latency_on_an_endpoint_and_dropped_connections() {
    let w = World::new().await;
    w.entra.faults().inject(
        FaultRule::on_site("mock-entra", faults::latency(Duration::from_millis(300)))
            .tag("endpoint", "discovery")
            .times(1),
    );
    let started = Instant::now();
    let (s, _) = w
        .get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")
        .await;
    assert_eq!(s, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    w.entra.faults().inject(
        FaultRule::on_site("mock-entra", FaultAction::DropConnection)
            .tag("endpoint", "keys")
            .times(1),
    );
    let err = w
        .http
        .get("https://login.microsoftonline.com/common/discovery/v2.0/keys")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let rec = w
        .door
        .egress()
        .find(|r| r.path == "/common/discovery/v2.0/keys")
        .unwrap();
    assert!(matches!(rec.outcome, Outcome::Dropped { .. }), "{rec:?}");
    let (s, _) = w
        .get("https://login.microsoftonline.com/common/discovery/v2.0/keys")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_new_federated_credential_propagates_after_the_configured_delay() {
    // The same world as support::World, but with a ten-minute propagation delay.
    let w = World::new().await;
    let entra = mock_entra::MockEntra::builder()
        .tenant(
            mock_entra::Tenant::new("delayed").identity(mock_entra::Identity::user_assigned("mi")),
        )
        .clock(w.clock.clone())
        .secrets(w.secrets.clone())
        .network(mock_entra::Network {
            proxy_url: w.door.proxy_url(),
            ca_pem: w.door.ca().cert_pem().to_owned(),
        })
        .options(EntraOptions {
            fic_propagation_delay: Duration::from_secs(600),
            ..EntraOptions::default()
        })
        .build()
        .unwrap();
    w.door.remove_site("mock-entra");
    w.door.add_site(entra.site()).await.unwrap();
    let dir = entra.directory();
    let tenant = dir.tenant_named("delayed").unwrap();
    let tid = tenant.id.to_string();
    let cid = tenant.identity_named("mi").unwrap().client_id.to_string();
    entra
        .add_federated_credential(
            "delayed",
            "mi",
            FederatedCredential::new("fic", ISSUER, SUBJECT),
        )
        .unwrap();
    let request = |assertion: String| {
        let w = &w;
        let (tid, cid) = (tid.clone(), cid.clone());
        async move {
            w.post(
                &format!("/{tid}/oauth2/v2.0/token"),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &cid),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                    ("scope", ARM),
                ],
            )
            .await
        }
    };
    let got = request(w.good_assertion()).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        70021,
        &format!(
            "No matching federated identity record found for presented assertion. Assertion Issuer: '{ISSUER}'. Assertion Subject: '{SUBJECT}'. Assertion Audience: '{EXCHANGE}'."
        ),
    );
    w.clock.advance(Duration::from_secs(601));
    let (s, body) = request(w.good_assertion()).await;
    assert_eq!(s, 200, "{body:#}");
}
