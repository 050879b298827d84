//! The registry API's authorization through the front door: the challenge (with the scope each
//! API needs), ABAC repository conditions against legacy roles and the catalog lister, and access
//! tokens that are expired or for another registry (`error="invalid_token"`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn challenge_without_scope_then_with_the_scope_each_api_needs() {
    let w = World::new().await;
    let resp = w.api("contosoacr", "/v2/", None).await;
    assert_eq!(resp.status(), 401);
    let challenges: Vec<_> = resp.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 1, "exactly one challenge header");
    assert_eq!(
        challenges[0],
        "Bearer realm=\"https://contosoacr.azurecr.io/oauth2/token\",service=\"contosoacr.azurecr.io\""
    );
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        resp.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("https://aka.ms/acr/authorization")
    );

    let resp = w
        .api("contosoacr", "/v2/project-a/app/tags/list", None)
        .await;
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"https://contosoacr.azurecr.io/oauth2/token\",service=\"contosoacr.azurecr.io\",scope=\"repository:project-a/app:metadata_read\""
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": "project-a/app", "Action": "metadata_read"}])
    );
    let resp = w
        .api("contosoacr", "/v2/project-a/app/manifests/1.0.0", None)
        .await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with(",scope=\"repository:project-a/app:pull\"")
    );
    let resp = w.api("contosoacr", "/v2/_catalog", None).await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with(",scope=\"registry:catalog:*\"")
    );
}

#[tokio::test]
async fn abac_repository_conditions_legacy_roles_and_the_catalog_lister() {
    let w = World::new().await;
    let at = w
        .bearer(
            "abacacr",
            "contoso",
            "project-a-mi",
            &[
                "repository:project-a/app:pull",
                "repository:project-b/app:pull",
                "registry:catalog:*",
            ],
        )
        .await;
    assert_eq!(
        claims(&at)["access"],
        json!([{"type": "repository", "name": "project-a/app", "actions": ["pull", "metadata_read"]}])
    );
    assert_eq!(
        w.api("abacacr", "/v2/project-a/app/manifests/1.0.0", Some(&at))
            .await
            .status(),
        200
    );
    let resp = w
        .api("abacacr", "/v2/project-b/app/manifests/1.0.0", Some(&at))
        .await;
    assert_eq!(resp.status(), 401, "role on another repository");
    assert_eq!(
        w.api("abacacr", "/v2/_catalog", Some(&at)).await.status(),
        401,
        "catalog without the lister role"
    );

    // AcrPull is not honoured in ABAC mode: no data access at all, so the exchange refuses.
    let aad = w.mi_token("contoso", "project-b-mi", ACR_AUD);
    let (s, _) = w
        .exchange(
            "abacacr",
            &[
                ("grant_type", "access_token"),
                ("service", "abacacr.azurecr.io"),
                ("access_token", &aad),
            ],
        )
        .await;
    assert_eq!(s, 401);

    let lister = w
        .bearer("abacacr", "contoso", "lister-mi", &["registry:catalog:*"])
        .await;
    let cat: Value = w
        .api("abacacr", "/v2/_catalog", Some(&lister))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cat["repositories"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn expired_and_foreign_access_tokens_get_invalid_token() {
    let w = World::new().await;
    let at = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &["repository:project-a/app:pull"],
        )
        .await;
    // A token for one registry is worthless at another.
    let resp = w
        .api("abacacr", "/v2/project-a/app/manifests/1.0.0", Some(&at))
        .await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with(",error=\"invalid_token\"")
    );
    w.entra.clock().advance(Duration::from_secs(76 * 60));
    let resp = w
        .api("contosoacr", "/v2/project-a/app/manifests/1.0.0", Some(&at))
        .await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}
