//! The world the front door's integration tests share: a front door with three echoing test
//! fakes at real-looking names (Entra, ACR, plain-HTTP IMDS), its CA written to a file, and the
//! clients that reach them.
#![allow(dead_code)]

use std::time::Duration;

use axum::extract::Request;
use axum::routing::any;
use axum::{Json, Router};
use mock_kit::{FrontDoor, RequestContext, SecretRegistry, Site};
use serde_json::json;

/// A fake that answers every request with what it saw.
pub fn echo(site: &'static str) -> Router {
    Router::new().fallback(any(move |req: Request| async move {
        let ctx = req.extensions().get::<RequestContext>().cloned();
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let proxy_auth = req.headers().get("proxy-authorization").is_some();
        if req.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Json(json!({
            "site": site,
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "host": ctx.as_ref().map(|c| c.host.clone()),
            "scheme": ctx.as_ref().map(|c| c.scheme.as_str()),
            "label": ctx.as_ref().and_then(|c| c.client.label.clone()),
            "authorization": auth,
            "proxyAuthorizationLeaked": proxy_auth,
        }))
    }))
}

/// A running front door with the test fakes, and the file its CA is written in.
pub struct World {
    pub door: FrontDoor,
    pub secrets: SecretRegistry,
    /// Holds `ca_file`, removed with the world.
    _dir: tempfile::TempDir,
    pub ca_file: std::path::PathBuf,
}

/// A front door with the three test fakes, its CA written to `ca_file`.
pub async fn world() -> World {
    let secrets = SecretRegistry::new();
    let door = FrontDoor::builder()
        .secrets(secrets.clone())
        .start()
        .await
        .unwrap();
    door.add_site(Site::new("test-entra", echo("test-entra")).host("login.microsoftonline.com"))
        .await
        .unwrap();
    door.add_site(Site::new("test-acr", echo("test-acr")).host("*.azurecr.io"))
        .await
        .unwrap();
    door.add_site(
        Site::new("test-imds", echo("test-imds"))
            .host("169.254.169.254")
            .plain_http_only(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, door.ca().cert_pem()).unwrap();
    World {
        door,
        secrets,
        _dir: dir,
        ca_file,
    }
}

/// A client that trusts only the run's CA and goes through `proxy`.
pub fn client(door: &FrontDoor, proxy: &str) -> reqwest::Client {
    mock_kit::install_crypto_provider();
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(proxy).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(door.ca().cert_pem().as_bytes()).unwrap()])
        .build()
        .unwrap()
}

/// The standard variables a client is pointed at the front door with.
pub fn proxy_env(w: &World) -> Vec<(String, String)> {
    w.door.client_env(None, &w.ca_file)
}

/// A client that ignores proxies and resolves `names` to `addr`, as a program in the sandbox's
/// network does (there every name and address leads to the adopted listeners).
pub fn straight_to(w: &World, addr: std::net::SocketAddr, names: &[&str]) -> reqwest::Client {
    let pem = std::fs::read(&w.ca_file).unwrap();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
    for n in names {
        b = b.resolve(n, addr);
    }
    b.build().unwrap()
}
