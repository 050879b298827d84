//! A long-running Entra keeps a bounded journal: the newest entries, and a count of those let go.

use axum::body::Body;
use http_body_util::BodyExt as _;
use mock_entra::{Identity, MockEntra, Tenant};
use tower::ServiceExt as _;

#[tokio::test]
async fn a_bounded_journal_keeps_the_newest_entries_and_counts_the_dropped() {
    let entra = MockEntra::builder()
        .tenant(Tenant::new("contoso").identity(Identity::app("app").minted_secret(None)))
        .journal_capacity(3)
        .build()
        .unwrap();
    let tenant = entra.directory().tenant_named("contoso").unwrap().id;
    for i in 0..5 {
        let req = axum::http::Request::post(format!("/{tenant}/oauth2/v2.0/token"))
            .header("host", "login.microsoftonline.com")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=client_credentials&client_id=00000000-0000-0000-0000-00000000000{i}&client_secret=x&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
            )))
            .unwrap();
        let resp = entra.router().oneshot(req).await.unwrap();
        let _ = resp.into_body().collect().await;
    }
    let kept = entra.journal().snapshot();
    assert_eq!(kept.len(), 3, "{kept:#?}");
    assert_eq!(entra.journal().dropped(), 2);
}
