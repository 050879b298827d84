//! Federated-assertion exchanges per second through the front door (TLS, 16 keep-alive
//! connections), with the fakes on one core and the load generated from the other, printed as a
//! ratio to the RSA-2048 signatures per second one core makes with the same library, measured in
//! the same run. Each exchange needs one signature (the access token), so that is the ceiling.
//! Aim: at least 0.75.
//!
//! `cargo bench -p mock-entra --bench federated_exchange` (env `CREDSIM_BENCH_SECONDS`, default 3).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mock_entra::{FederatedCredential, Identity, MockEntra, Network, Tenant};
use mock_kit::issuer::ServiceAccountClaims;
use mock_kit::jwt::Algorithm;
use mock_kit::{Clock, FrontDoor, KidStyle, OidcIssuer, RsaSigningKey};

const CONNECTIONS: usize = 16;
const ISSUER: &str = "https://oidc.bench.credsim.test/";
const SUBJECT: &str = "system:serviceaccount:project-a:creds";

fn main() {
    let seconds: u64 = std::env::var("CREDSIM_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    mock_kit::install_crypto_provider();

    // The ceiling: RSA-2048 RS256 signatures per second on one core.
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
    let assertion = issuer
        .service_account_token(&ServiceAccountClaims {
            namespace: "project-a",
            service_account: "creds",
            service_account_uid: "uid",
            audiences: &["api://AzureADTokenExchange"],
            issued_at: clock.unix_seconds(),
            lifetime_seconds: 3600,
            pod: None,
        })
        .expect("assertion");

    // The load from the other core: 16 clients, one keep-alive tunnel each.
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    let url = format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token");
    let form: Arc<Vec<(&str, String)>> = Arc::new(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", assertion),
        ("scope", "https://management.azure.com/.default".into()),
    ]);
    let clients: Vec<reqwest::Client> = (0..CONNECTIONS)
        .map(|_| {
            reqwest::Client::builder()
                .proxy(reqwest::Proxy::all(door.proxy_url()).expect("proxy"))
                .tls_certs_only([
                    reqwest::Certificate::from_pem(door.ca().cert_pem().as_bytes()).expect("ca"),
                ])
                .http1_only()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client")
        })
        .collect();
    let (exchanges, elapsed) = load.block_on(async {
        // Warm up: every connection, and the issuer metadata cache.
        for c in &clients {
            let r = c.post(&url).form(&*form).send().await.expect("warm-up");
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|c| {
                let (done, stop, url, form) =
                    (done.clone(), stop.clone(), url.clone(), form.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = c.post(&url).form(&*form).send().await.expect("exchange");
                        assert_eq!(r.status(), 200);
                        r.bytes().await.expect("body");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("task");
        }
        (done.load(Ordering::Relaxed), started.elapsed())
    });
    let rate = exchanges as f64 / elapsed.as_secs_f64();
    let ratio = rate / sig_rate;
    println!(
        "federated exchanges through the front door ({CONNECTIONS} keep-alive TLS connections, fakes on 1 core, \
         load on the other): {rate:.0}/s; RSA-2048 signatures on 1 core: {sig_rate:.0}/s; ratio {ratio:.2} \
         (aim >= 0.75) {}",
        if ratio >= 0.75 { "ok" } else { "BELOW AIM" }
    );
    server.block_on(door.shutdown());
}
