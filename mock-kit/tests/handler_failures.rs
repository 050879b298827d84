//! A fake's failure is never a pass: a panicking handler is answered in the service's own error
//! shape and recorded as an internal error, and a request that never gets an answer is recorded
//! as unanswered, with the secrets it carried.

mod support;

use std::time::Duration;

use axum::extract::Request;
use axum::routing::any;
use axum::{Json, Router};
use mock_kit::Site;
use mock_kit::egress::Outcome;
use serde_json::{Value, json};
use support::*;

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
