//! Requests per second through the front door (CONNECT tunnel, TLS, keep-alive) against the same
//! fake served directly on its own loopback TLS listener, measured in the same run; prints the
//! ratio. The aim: the front door costs less than a third of direct throughput (ratio >= 0.67).
//!
//! `cargo bench -p mock-kit --bench front_door` (env `CREDSIM_BENCH_REQUESTS` sets the count).
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use mock_kit::{FrontDoor, Site};

const ROUNDS: usize = 3;
const CONCURRENCY: usize = 8;

fn main() {
    let requests: usize = std::env::var("CREDSIM_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(requests));
}

async fn run(requests: usize) {
    mock_kit::install_crypto_provider();
    let door = FrontDoor::builder().start().await.expect("front door");
    let router = Router::new().route(
        "/{tenant}/v2.0/.well-known/openid-configuration",
        get(|| async { r#"{"issuer":"https://login.microsoftonline.com/t/v2.0"}"# }),
    );
    let endpoint = door
        .add_site(Site::new("bench", router).host("login.microsoftonline.com"))
        .await
        .expect("site");
    let ca = reqwest::Certificate::from_pem(door.ca().cert_pem().as_bytes()).expect("ca");

    for http2 in [false, true] {
        let builder = || {
            let b = reqwest::Client::builder()
                .tls_certs_only([ca.clone()])
                .pool_max_idle_per_host(CONCURRENCY);
            if http2 { b } else { b.http1_only() }
        };
        let via_door = builder()
            .proxy(reqwest::Proxy::all(door.proxy_url()).expect("proxy"))
            .build()
            .expect("client");
        let direct = builder()
            .no_proxy()
            .resolve("login.microsoftonline.com", endpoint.direct_addr)
            .build()
            .expect("client");
        let door_url =
            "https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration"
                .to_owned();
        let direct_url = format!(
            "https://login.microsoftonline.com:{}/contoso/v2.0/.well-known/openid-configuration",
            endpoint.direct_addr.port()
        );
        for concurrency in [1, CONCURRENCY] {
            // Warm both paths (handshakes, pools), then alternate rounds so drift hits both.
            measure(&via_door, &door_url, 200, concurrency).await;
            measure(&direct, &direct_url, 200, concurrency).await;
            let (mut best_door, mut best_direct) = (0f64, 0f64);
            for _ in 0..ROUNDS {
                best_direct =
                    best_direct.max(measure(&direct, &direct_url, requests, concurrency).await);
                best_door =
                    best_door.max(measure(&via_door, &door_url, requests, concurrency).await);
            }
            let ratio = best_door / best_direct;
            println!(
                "front door vs direct, {} keep-alive, {concurrency} concurrent, {requests} requests \
                 (best of {ROUNDS}): direct {best_direct:.0} req/s, front door {best_door:.0} req/s, \
                 ratio {ratio:.2} (aim >= 0.67) {}",
                if http2 { "HTTP/2" } else { "HTTP/1.1" },
                if ratio >= 0.67 { "ok" } else { "BELOW AIM" }
            );
        }
    }
    door.shutdown().await;
}

/// Requests per second for `n` GETs of `url`, `concurrency` at a time.
async fn measure(client: &reqwest::Client, url: &str, n: usize, concurrency: usize) -> f64 {
    let started = Instant::now();
    let per_task = n / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let resp = client.get(&url).send().await.expect("request");
                assert!(resp.status().is_success(), "{}", resp.status());
                resp.bytes().await.expect("body");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    (per_task * concurrency) as f64 / elapsed.as_secs_f64()
}
