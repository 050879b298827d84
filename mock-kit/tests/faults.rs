//! Fault injection at the front door: fixed answers, delays and dropped connections for a site,
//! then recovery; flawed certificates refused by verifying clients and marked when accepted, on
//! CONNECT tunnels and on adopted direct connections.

mod support;

use std::time::{Duration, Instant};

use mock_kit::egress::{Outcome, Refusal};
use mock_kit::fault::{FaultAction, FaultRule};
use mock_kit::site::Via;
use support::*;

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
async fn flawed_certificates_are_refused_by_verifying_clients_and_marked_when_accepted() {
    use mock_kit::fault::{CertificateFlaw, FaultMatch};
    let w = world().await;
    for flaw in [
        CertificateFlaw::UntrustedIssuer,
        CertificateFlaw::WrongHost,
        CertificateFlaw::Expired,
    ] {
        a_flawed_certificate_is_refused_when_verified_and_marked_when_not(&w, flaw).await;
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

/// One spell of a two-connection certificate fault for `flaw` on the implementation's tunnels: a
/// verifying client refuses it, one that verifies nothing is served and marked, then the rule is
/// spent.
async fn a_flawed_certificate_is_refused_when_verified_and_marked_when_not(
    w: &World,
    flaw: mock_kit::fault::CertificateFlaw,
) {
    use mock_kit::fault::FaultMatch;
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
