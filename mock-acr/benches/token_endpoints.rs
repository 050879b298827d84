//! ACR's two token endpoints under load, against an outside reference measured in the same run.
//!
//! - The reference: `openssl speed rsa2048`, RSA-2048 signatures per second on one core. An
//!   exchange (`POST /oauth2/exchange`: Entra access token in, refresh token out) verifies the
//!   Entra token and signs the refresh token; a token request (`POST /oauth2/token`: refresh token
//!   and scope in, access token out) verifies the refresh token and signs the access token. One
//!   signature each, so the one-core signing rate is the ceiling of both.
//! - Each through the front door (TLS, 16 keep-alive connections), the fakes on one core and the
//!   load on the other.
//!
//! Figures first, then one `name=value` line per figure.
//!
//! `cargo bench -p mock-acr --bench token_endpoints` (env `CREDSIM_BENCH_SECONDS`, default 3).
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use mock_acr::model::{ArtifactKind, RepositorySpec};
use mock_acr::policy::Role;
use mock_acr::{MockAcr, RegistrySpec};
use mock_entra::{Identity, MockEntra, Tenant};
use mock_kit::FrontDoor;

const CONNECTIONS: usize = 16;
const REGISTRY: &str = "contosoacr";

fn main() {
    let seconds = mock_kit::testing::bench_seconds(3);
    mock_kit::install_crypto_provider();
    let (openssl_sign, _) =
        mock_kit::testing::openssl_rsa2048_rates(seconds).expect("the openssl reference");

    let server = one_core_runtime("server runtime");
    let (door, entra, _acr) = server.block_on(world());
    let aad = entra
        .managed_identity_token(
            "contoso",
            "project-a-mi",
            "https://containerregistry.azure.net",
        )
        .expect("an Entra token")
        .token;
    let service = format!("{REGISTRY}.azurecr.io");
    let exchange_form = Arc::new(vec![
        ("grant_type", "access_token".to_owned()),
        ("service", service.clone()),
        ("access_token", aad),
    ]);

    let load = one_core_runtime("load runtime");
    let bench = mock_kit::testing::FormLoad {
        proxy: door.proxy_url(),
        ca_pem: door.ca().cert_pem().to_owned(),
        connections: CONNECTIONS,
        seconds,
    };
    let ok = |s: u16| s == 200;
    let exchange_url = format!("https://{service}/oauth2/exchange?api-version=2021-07-01");
    let (exchange_rate, body) = load
        .block_on(bench.run(&exchange_url, exchange_form, ok))
        .expect("the exchange load");
    let refresh = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["refresh_token"].as_str().map(str::to_owned))
        .expect("a refresh token");
    let token_form = Arc::new(vec![
        ("grant_type", "refresh_token".to_owned()),
        ("service", service.clone()),
        ("scope", "repository:project-a/app:pull".to_owned()),
        ("refresh_token", refresh),
    ]);
    let token_url = format!("https://{service}/oauth2/token");
    let (token_rate, _) = load
        .block_on(bench.run(&token_url, token_form, ok))
        .expect("the token load");
    server.block_on(door.shutdown());

    report(openssl_sign, exchange_rate, token_rate);
}

/// A runtime with one worker thread: the fakes get one core, the load the other.
fn one_core_runtime(what: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect(what)
}

/// One registry granting `project-a-mi` pull, behind a front door with mock-entra.
async fn world() -> (FrontDoor, MockEntra, MockAcr) {
    let door = FrontDoor::builder().start().await.expect("front door");
    let entra = MockEntra::builder()
        .tenant(Tenant::new("contoso").identity(Identity::user_assigned("project-a-mi")))
        .build()
        .expect("entra");
    let acr = MockAcr::builder(entra.clone())
        .registry(
            RegistrySpec::new(REGISTRY, "contoso")
                .assign("contoso", "project-a-mi", Role::AcrPull, None)
                .repository(
                    RepositorySpec::new("project-a/app").artifact("1.0.0", ArtifactKind::Image),
                ),
        )
        .build()
        .expect("acr");
    door.add_site(entra.site()).await.expect("entra site");
    door.add_site(acr.site()).await.expect("acr site");
    (door, entra, acr)
}

/// The figures, then one `name=value` line per figure.
fn report(openssl_sign: f64, exchange_rate: f64, token_rate: f64) {
    let (ex_ratio, tok_ratio) = (exchange_rate / openssl_sign, token_rate / openssl_sign);
    println!("reference: openssl speed rsa2048, 1 core: {openssl_sign:.0} signatures/s");
    println!(
        "ACR exchanges (Entra token -> refresh token) through the front door ({CONNECTIONS} keep-alive TLS \
         connections, fakes on 1 core): {exchange_rate:.0}/s, {ex_ratio:.2} x openssl's signing rate"
    );
    println!(
        "ACR token requests (refresh token + scope -> access token): {token_rate:.0}/s, \
         {tok_ratio:.2} x openssl's signing rate"
    );
    println!("openssl_rsa2048_sign_per_s={openssl_sign:.1}");
    println!("acr_exchanges_per_s={exchange_rate:.1}");
    println!("acr_exchange_to_openssl_sign_ratio={ex_ratio:.3}");
    println!("acr_token_requests_per_s={token_rate:.1}");
    println!("acr_token_to_openssl_sign_ratio={tok_ratio:.3}");
}
