//! Entra's token endpoint under load, against an outside reference measured in the same run.
//!
//! - The reference: `openssl speed rsa2048`, RSA-2048 signatures per second on one core (the
//!   `openssl` binary). Each accepted federated exchange signs once (the access token) and verifies
//!   once (the assertion), so the one-core signing rate is its natural ceiling. Aim: exchanges at
//!   least 0.75 × that rate.
//! - Federated-assertion exchanges through the front door (TLS, 16 keep-alive connections), the
//!   fakes on one core and the load on the other.
//! - Refused assertions on the same path: signed by an impostor key under the issuer's own `kid`,
//!   answered with Entra's error (no signing needed). Aim: at least 3 × the exchange rate.
//! - credsim's own RSA-2048 signing rate on one core (aws-lc-rs), for the record.
//!
//! Figures first, then one `name=value` line per figure.
//!
//! `cargo bench -p mock-entra --bench federated_exchange` (env `CREDSIM_BENCH_SECONDS`, default 3).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_entra::{FederatedCredential, Identity, MockEntra, Network, Tenant};
use mock_kit::issuer::ServiceAccountClaims;
use mock_kit::jwt::Algorithm;
use mock_kit::{Clock, FrontDoor, KidStyle, OidcIssuer, RsaSigningKey};

const CONNECTIONS: usize = 16;
const ISSUER: &str = "https://oidc.bench.credsim.test/";
const SUBJECT: &str = "system:serviceaccount:project-a:creds";

fn main() {
    let seconds = mock_kit::testing::bench_seconds(3);
    mock_kit::install_crypto_provider();

    let (openssl_sign, _) =
        mock_kit::testing::openssl_rsa2048_rates(seconds).expect("the openssl reference");

    // credsim's own signing rate on one core.
    let key = RsaSigningKey::generate(KidStyle::Kubernetes).expect("key");
    let claims = serde_json::json!({"aud": "https://management.azure.com", "iat": 1, "exp": 2,
        "oid": "00000000-0000-0000-0000-000000000000", "uti": "abcdefghijklmnopqrstuv"});
    let started = Instant::now();
    let mut signatures = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        key.sign(Algorithm::RS256, &serde_json::Map::new(), &claims)
            .expect("sign");
        signatures += 1;
    }
    let sig_rate = signatures as f64 / started.elapsed().as_secs_f64();

    // The fakes on one core.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let clock = Clock::system();
    let (door, tid, client_id, issuer) = server.block_on(async {
        let door = FrontDoor::builder()
            .clock(clock.clone())
            .start()
            .await
            .expect("front door");
        let issuer = OidcIssuer::new(ISSUER).expect("issuer");
        door.add_site(issuer.site("issuer"))
            .await
            .expect("issuer site");
        let entra = MockEntra::builder()
            .tenant(
                Tenant::new("contoso").identity(
                    Identity::user_assigned("mi")
                        .federated(FederatedCredential::new("fic", ISSUER, SUBJECT)),
                ),
            )
            .clock(clock.clone())
            .network(Network {
                proxy_url: door.proxy_url(),
                ca_pem: door.ca().cert_pem().to_owned(),
            })
            .build()
            .expect("entra");
        door.add_site(entra.site()).await.expect("entra site");
        let dir = entra.directory();
        let t = dir.tenant_named("contoso").expect("tenant");
        let cid = t.identity_named("mi").expect("mi").client_id.to_string();
        (door, t.id.to_string(), cid, issuer)
    });
    let sa_claims = ServiceAccountClaims {
        namespace: "project-a",
        service_account: "creds",
        service_account_uid: "uid",
        audiences: &["api://AzureADTokenExchange"],
        issued_at: clock.unix_seconds(),
        lifetime_seconds: 3600,
        pod: None,
    };
    let assertion = issuer.service_account_token(&sa_claims).expect("assertion");
    // The same claims under the issuer's own kid, signed by a key it never published.
    let impostor_key =
        RsaSigningKey::generate(KidStyle::Fixed(issuer.signing_key().kid().to_owned()))
            .expect("impostor key");
    let forged = OidcIssuer::with_key(ISSUER, impostor_key)
        .expect("impostor")
        .service_account_token(&sa_claims)
        .expect("forged assertion");

    // The load from the other core: 16 clients, one keep-alive tunnel each.
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    let url = format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token");
    let form = |assertion: &str| -> Arc<Vec<(&'static str, String)>> {
        Arc::new(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", client_id.clone()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", assertion.to_owned()),
            ("scope", "https://management.azure.com/.default".into()),
        ])
    };
    let bench = mock_kit::testing::FormLoad {
        proxy: door.proxy_url(),
        ca_pem: door.ca().cert_pem().to_owned(),
        connections: CONNECTIONS,
        seconds,
    };
    let (exchange_rate, _) = load
        .block_on(bench.run(&url, form(&assertion), |s| s == 200))
        .expect("the exchange load");
    let (refused_rate, refusal) = load
        .block_on(bench.run(&url, form(&forged), |s| s == 400 || s == 401))
        .expect("the refusal load");
    let ratio = exchange_rate / openssl_sign;
    let refused_ratio = refused_rate / exchange_rate;
    let code = refusal
        .split("AADSTS")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or("?")
        .to_owned();
    println!("reference: openssl speed rsa2048, 1 core: {openssl_sign:.0} signatures/s");
    println!("credsim (aws-lc-rs), 1 core: {sig_rate:.0} signatures/s");
    println!(
        "federated exchanges through the front door ({CONNECTIONS} keep-alive TLS connections, fakes on 1 core, \
         load on the other): {exchange_rate:.0}/s, {ratio:.2} x openssl's signing rate (aim >= 0.75) {}",
        verdict(ratio >= 0.75)
    );
    println!(
        "refused assertions (impostor key under the issuer's kid, AADSTS{code}): {refused_rate:.0}/s, \
         {refused_ratio:.2} x the exchange rate (aim >= 3) {}",
        verdict(refused_ratio >= 3.0)
    );
    server.block_on(door.shutdown());
    println!("openssl_rsa2048_sign_per_s={openssl_sign:.1}");
    println!("credsim_rsa2048_sign_per_s={sig_rate:.1}");
    println!("federated_exchanges_per_s={exchange_rate:.1}");
    println!("exchange_to_openssl_sign_ratio={ratio:.3}");
    println!("refused_assertions_per_s={refused_rate:.1}");
    println!("refused_to_exchange_ratio={refused_ratio:.3}");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "BELOW AIM" }
}
