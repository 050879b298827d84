//! Requests per second through the front door (CONNECT tunnel, TLS, keep-alive) against the same
//! fake served directly on its own loopback TLS listener, measured in the same run; prints the
//! ratio. The aim: the front door costs less than a third of direct throughput (ratio >= 0.67).
//!
//! The outside reference, measured in the same run with the same client and the same document:
//! Python's standard HTTPS server (`http.server` with `ssl`, HTTP/1.1 keep-alive, `TCP_NODELAY`,
//! one thread), serving a certificate from the same CA. Figures first, then one `name=value` line per figure.
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

    let reference = python_reference(&door).await;
    let mut figures: Vec<(String, f64)> = Vec::new();
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
            let proto = if http2 { "h2" } else { "h1" };
            figures.push((
                format!("front_door_{proto}_c{concurrency}_req_per_s"),
                best_door,
            ));
            figures.push((
                format!("direct_{proto}_c{concurrency}_req_per_s"),
                best_direct,
            ));
            println!(
                "front door vs direct, {} keep-alive, {concurrency} concurrent, {requests} requests \
                 (best of {ROUNDS}): direct {best_direct:.0} req/s, front door {best_door:.0} req/s, \
                 ratio {ratio:.2} (aim >= 0.67) {}",
                if http2 { "HTTP/2" } else { "HTTP/1.1" },
                if ratio >= 0.67 { "ok" } else { "BELOW AIM" }
            );
        }
    }
    if let Some((python, port)) = reference {
        let client = reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .http1_only()
            .no_proxy()
            .resolve(
                "login.microsoftonline.com",
                std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            )
            .build()
            .expect("client");
        let url = format!(
            "https://login.microsoftonline.com:{port}/contoso/v2.0/.well-known/openid-configuration"
        );
        measure(&client, &url, 200, 1).await;
        let mut best = 0f64;
        for _ in 0..ROUNDS {
            best = best.max(measure(&client, &url, requests / 4, 1).await);
        }
        let ours = figures
            .iter()
            .find(|(n, _)| n == "front_door_h1_c1_req_per_s")
            .map_or(0.0, |(_, v)| *v);
        println!(
            "reference: python3 http.server over TLS, HTTP/1.1 keep-alive, 1 concurrent: {best:.0} req/s; \
             the front door (HTTP/1.1, 1 concurrent) makes {:.2} x that",
            ours / best
        );
        figures.push(("python_https_h1_c1_req_per_s".into(), best));
        figures.push(("front_door_to_python_ratio".into(), ours / best));
        drop(python);
    } else {
        println!("reference: python3 not found, not measured");
    }
    door.shutdown().await;
    for (name, value) in figures {
        println!("{name}={value:.1}");
    }
}

/// Python's `http.server` over TLS on a free loopback port, serving the same document with a
/// certificate from the run's CA; the child (killed when dropped) and its port.
async fn python_reference(door: &FrontDoor) -> Option<(KillOnDrop, u16)> {
    use base64::Engine as _;
    let dir = tempfile::tempdir().ok()?;
    let issued = door.ca().issue(&["login.microsoftonline.com"]).ok()?;
    let key = base64::engine::general_purpose::STANDARD.encode(&issued.key_pkcs8_der);
    let key_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        key.as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(dir.path().join("cert.pem"), &issued.pem).ok()?;
    std::fs::write(dir.path().join("key.pem"), key_pem).ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let script = format!(
        r#"
import http.server, ssl
BODY = b'{{"issuer":"https://login.microsoftonline.com/t/v2.0"}}'
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", {port}), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain("{cert}", "{key}")
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()
"#,
        cert = dir.path().join("cert.pem").display(),
        key = dir.path().join("key.pem").display(),
    );
    let child = std::process::Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .ok()?;
    let guard = KillOnDrop(child, dir);
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((guard, port));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The server, killed when dropped, and the folder of its certificate, removed after it.
struct KillOnDrop(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
