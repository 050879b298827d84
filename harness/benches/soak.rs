//! `credsim up` under a soak: 16 concurrent clients for 60 s (env `CREDSIM_SOAK_SECONDS`) of
//! mixed traffic through the front door (Entra discovery, IMDS managed-identity tokens, ACR's
//! exchange and token endpoints with them, the API server's `/version`). Counts every answer that
//! did not arrive or was a 5xx (aim: zero), and samples the process's resident memory each
//! second: after warm-up (half the run: the egress record, the journals and the secret registry
//! fill to their caps of 20,000 entries in about 30 s of this traffic) against the end (aim: flat,
//! within 10 %). The
//! reference for the request rate, measured in the same run: the same clients against Python's
//! `http.server` serving one static document for 5 s.
//!
//! Figures first, then one `name=value` line per figure.
//!
//! `cargo bench -p credsim-cli --bench soak`.
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;

fn main() {
    let seconds: u64 = std::env::var("CREDSIM_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    mock_kit::install_crypto_provider();
    let state = tempfile::tempdir().expect("a state folder");
    let dir = state.path().join("state");
    let mut up = Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["up", "--state-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("credsim up starts");
    let t = Instant::now();
    while !dir.join("ready").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "never ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    let world: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("world.json")).expect("world.json"))
            .expect("world.json parses");
    let proxy = world["proxy"].as_str().expect("proxy").to_owned();
    let ca = std::fs::read(dir.join("ca.pem")).expect("ca.pem");
    let tenant = world["registries"][0]["tenantId"]
        .as_str()
        .expect("tenant")
        .to_owned();
    let registry = world["registries"][0]["loginServer"]
        .as_str()
        .expect("registry")
        .to_owned();
    let api = world["clusters"][0]["apiServer"]
        .as_str()
        .expect("api")
        .to_owned();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let ca = reqwest::Certificate::from_pem(&ca).expect("ca");
    let client = |proxied: bool| {
        let b = reqwest::Client::builder().tls_certs_only([ca.clone()]);
        let b = if proxied {
            b.proxy(
                reqwest::Proxy::all(proxy.replacen("http://", "http://soak@", 1)).expect("proxy"),
            )
        } else {
            b.no_proxy()
        };
        b.build().expect("client")
    };
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut rss = Vec::new();
    let pid = up.id();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (via, direct) = (client(true), client(false));
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            let (tenant, registry, api) = (tenant.clone(), registry.clone(), api.clone());
            tasks.push(tokio::spawn(async move {
                let ok = |r: Result<reqwest::Response, reqwest::Error>| match r {
                    Ok(r) if r.status().as_u16() < 500 => Some(r),
                    _ => None,
                };
                while !stop.load(Ordering::Relaxed) {
                    let mut answers = 0u64;
                    let mut bad = 0u64;
                    let mut tally = |r: Option<reqwest::Response>| {
                        answers += 1;
                        if r.is_none() {
                            bad += 1;
                        }
                        r
                    };
                    let disco = format!(
                        "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
                    );
                    if let Some(r) = tally(ok(via.get(&disco).send().await)) {
                        let _ = r.bytes().await;
                    }
                    let imds = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fcontainerregistry.azure.net";
                    let token = match tally(ok(via.get(imds).header("metadata", "true").send().await)) {
                        Some(r) => r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| v["access_token"].as_str().map(str::to_owned)),
                        None => None,
                    };
                    if let Some(aad) = token {
                        let form = [
                            ("grant_type", "access_token"),
                            ("service", registry.as_str()),
                            ("access_token", aad.as_str()),
                        ];
                        let url = format!("https://{registry}/oauth2/exchange");
                        if let Some(r) = tally(ok(via.post(&url).form(&form).send().await)) {
                            let refresh = r
                                .json::<serde_json::Value>()
                                .await
                                .ok()
                                .and_then(|v| v["refresh_token"].as_str().map(str::to_owned));
                            if let Some(refresh) = refresh {
                                let form = [
                                    ("grant_type", "refresh_token"),
                                    ("service", registry.as_str()),
                                    ("scope", "repository:project-a/app:pull"),
                                    ("refresh_token", refresh.as_str()),
                                ];
                                let url = format!("https://{registry}/oauth2/token");
                                if let Some(r) = tally(ok(via.post(&url).form(&form).send().await)) {
                                    let _ = r.bytes().await;
                                }
                            }
                        }
                    }
                    if let Some(r) = tally(ok(direct.get(format!("{api}/version")).send().await)) {
                        let _ = r.bytes().await;
                    }
                    done.fetch_add(answers, Ordering::Relaxed);
                    failed.fetch_add(bad, Ordering::Relaxed);
                }
            }));
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss.push(mock_kit::testing::resident_mb(pid));
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let _ = up.kill();
    let _ = up.wait();
    let requests = done.load(Ordering::Relaxed);
    let errors = failed.load(Ordering::Relaxed);
    let rate = requests as f64 / seconds as f64;
    let warm = rss[(rss.len() / 2).min(rss.len() - 1)];
    let last = *rss.last().expect("samples");
    let growth = (last - warm) * 100.0 / warm;
    let python_rate = python_reference(&rt);
    println!(
        "credsim up soak: {CLIENTS} clients, {seconds} s, {requests} requests ({rate:.0}/s), {errors} errors (aim 0) {}",
        if errors == 0 { "ok" } else { "NOT ZERO" }
    );
    println!(
        "resident memory: {warm:.1} MB after warm-up, {last:.1} MB at the end ({growth:+.1} %, aim within 10 %) {}",
        if growth.abs() <= 10.0 {
            "ok"
        } else {
            "GROWING"
        }
    );
    println!(
        "reference: the same {CLIENTS} clients against python3 http.server (one static document): {python_rate:.0} req/s"
    );
    println!("soak_requests={requests}");
    println!("soak_requests_per_s={rate:.1}");
    println!("soak_errors={errors}");
    println!("soak_rss_warm_mb={warm:.1}");
    println!("soak_rss_end_mb={last:.1}");
    println!("soak_rss_growth_percent={growth:.2}");
    println!("python_http_server_req_per_s={python_rate:.1}");
}

/// Requests per second of `CLIENTS` clients getting one static document from Python's
/// `http.server` for 5 s.
fn python_reference(rt: &tokio::runtime::Runtime) -> f64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("doc.json"), "{\"issuer\":\"x\"}").expect("the document");
    let mut child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "python never listened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let url = format!("http://127.0.0.1:{port}/doc.json");
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (done, stop, url) = (done.clone(), stop.clone(), url.clone());
                let c = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .expect("client");
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(r) = c.get(&url).send().await {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(5)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    done.load(Ordering::Relaxed) as f64 / 5.0
}
