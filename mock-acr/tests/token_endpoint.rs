//! `/oauth2/token` through the front door in all its forms: Basic with the null-GUID user and a
//! refresh token (scopes repeated and space-joined, or none), the admin user, a service principal,
//! repository-scoped tokens, anonymous password grants, and a revoked role biting at the next
//! access token.

mod support;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn token_endpoint_forms_basic_repeated_and_joined_scopes_no_scope() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/oauth2/token?service=contosoacr.azurecr.io&scope=repository:project-a/app:pull&scope=repository:project-a/app:metadata_read%20registry:catalog:*")
        .header("authorization", basic(NULL_GUID, &rt))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let access = &claims(body["access_token"].as_str().unwrap())["access"];
    assert_eq!(
        access,
        &json!([
            {"type": "repository", "name": "project-a/app", "actions": ["pull", "metadata_read"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ])
    );
    // No scope at all: a token with an empty access list, enough for /v2/.
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/oauth2/token?service=contosoacr.azurecr.io")
        .header("authorization", basic(NULL_GUID, &rt))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["access"], json!([]));
    assert_eq!(w.api("contosoacr", "/v2/", Some(at)).await.status(), 200);
    assert_eq!(
        w.api("contosoacr", "/v2/project-a/app/tags/list", Some(at))
            .await
            .status(),
        401
    );
    // Malformed scopes.
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/oauth2/token?service=contosoacr.azurecr.io&scope=repository")
        .header("authorization", basic(NULL_GUID, &rt))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn basic_users_admin_service_principal_and_repository_tokens() {
    let w = World::new().await;
    let get_token = |user: String, pass: String, scope: &'static str| {
        let w = &w;
        async move {
            let resp = w
                .http
                .get(format!("https://contosoacr.azurecr.io/oauth2/token?service=contosoacr.azurecr.io&scope={scope}"))
                .header("authorization", basic(&user, &pass))
                .send()
                .await
                .unwrap();
            let s = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (s, body)
        }
    };
    let admin = w.acr.admin_passwords("contosoacr")[1].expose().clone();
    let (s, b) = get_token("contosoacr".into(), admin, "repository:project-b/app:push").await;
    assert_eq!(s, 200);
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["push"])
    );
    let (s, _) = get_token(
        "contosoacr".into(),
        "wrong-password".into(),
        "repository:project-b/app:pull",
    )
    .await;
    assert_eq!(s, 401);

    let app = w.identity("contoso", "reader-app");
    let secret = app.secrets[0].value.expose().clone();
    let (s, b) = get_token(
        app.client_id.to_string(),
        secret,
        "repository:project-b/app:pull,push",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull", "metadata_read"]),
        "AcrPull: intersection"
    );
    let (s, b) = get_token(
        uuid::Uuid::new_v4().to_string(),
        "x".into(),
        "repository:project-b/app:pull",
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        b["errors"][0]["message"],
        "Application not registered with AAD."
    );

    let [pw1, _] = w.acr.token_passwords("contosoacr", "pull-a").unwrap();
    let (_, b) = get_token(
        "pull-a".into(),
        pw1.expose().clone(),
        "repository:project-a/app:pull,metadata_read",
    )
    .await;
    let at = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        w.api("contosoacr", "/v2/project-a/app/tags/list", Some(&at))
            .await
            .status(),
        200
    );
    let [pw1, _] = w.acr.token_passwords("contosoacr", "pull-only").unwrap();
    let (_, b) = get_token(
        "pull-only".into(),
        pw1.expose().clone(),
        "repository:project-a/app:pull,metadata_read",
    )
    .await;
    let at = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&at)["access"][0]["actions"], json!(["pull"]));
    assert_eq!(
        w.api("contosoacr", "/v2/project-a/app/tags/list", Some(&at))
            .await
            .status(),
        401,
        "_repositories_pull cannot list tags"
    );

    // Basic straight on the API.
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/v2/_catalog")
        .header(
            "authorization",
            basic(
                "contosoacr",
                w.acr.admin_passwords("contosoacr")[0].expose(),
            ),
        )
        .send()
        .await
        .unwrap();
    let cat: Value = resp.json().await.unwrap();
    assert_eq!(
        cat["repositories"],
        json!([
            "charts/guestbook",
            "project-a/app",
            "project-b/app",
            "team/tools"
        ])
    );
}

#[tokio::test]
async fn anonymous_pull_is_pull_and_tags_but_not_catalog() {
    let w = World::new().await;
    let resp = w
        .http
        .post("https://fabrikamacr.azurecr.io/oauth2/token")
        .form(&[
            ("grant_type", "password"),
            ("service", "fabrikamacr.azurecr.io"),
            ("refresh_token", ""),
            ("scope", "repository:public/app:pull registry:catalog:*"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(
        claims(at)["access"],
        json!([{"type": "repository", "name": "public/app", "actions": ["pull", "metadata_read"]}])
    );
    assert_eq!(
        w.api("fabrikamacr", "/v2/public/app/manifests/1.0.0", Some(at))
            .await
            .status(),
        200
    );
    assert_eq!(
        w.api("fabrikamacr", "/v2/public/app/tags/list", None)
            .await
            .status(),
        200,
        "anonymous tag listing"
    );
    assert_eq!(
        w.api("fabrikamacr", "/v2/_catalog", None).await.status(),
        401
    );
    // Not on a registry without anonymous pull.
    let resp = w
        .http
        .post("https://contosoacr.azurecr.io/oauth2/token")
        .form(&[
            ("grant_type", "password"),
            ("service", "contosoacr.azurecr.io"),
            ("refresh_token", ""),
            ("scope", "repository:project-a/app:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn revocation_bites_at_the_next_access_token() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let (_, b) = w
        .access_for("contosoacr", &rt, &["repository:project-a/app:pull"])
        .await;
    let before = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        w.acr
            .revoke("contosoacr", "contoso", "project-a-mi")
            .unwrap(),
        1
    );
    let (_, b) = w
        .access_for("contosoacr", &rt, &["repository:project-a/app:pull"])
        .await;
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["access"],
        json!([])
    );
    // The access token issued before keeps working until it expires.
    assert_eq!(
        w.api(
            "contosoacr",
            "/v2/project-a/app/manifests/1.0.0",
            Some(&before)
        )
        .await
        .status(),
        200
    );
}
