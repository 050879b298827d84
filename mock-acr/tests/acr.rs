//! mock-acr through the front door: the challenge, the exchange, the token endpoint in all its
//! forms, the OCI read API and the negative cases of the issue.

mod support;

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use support::*;

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

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
async fn kargo_like_flow_exchange_token_tags_manifest_blob() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let c = claims(&rt);
    assert_eq!(c["iss"], "Azure Container Registry");
    assert_eq!(c["aud"], "contosoacr.azurecr.io");
    assert_eq!(c["sub"], mi.object_id.to_string());
    assert_eq!(c["grant_type"], "refresh_token");
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!(
        lifetime >= 150 * 60,
        "refresh tokens outlive Kargo's 150-minute cache: {lifetime}"
    );
    assert_eq!(w.secrets.identify(&rt).unwrap().kind, "acr-refresh-token");

    let (s, body) = w
        .access_for(
            "contosoacr",
            &rt,
            &[
                "repository:project-a/app:metadata_read",
                "repository:project-a/app:pull",
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["access_token"],
        "no expires_in"
    );
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(
        claims(at)["access"],
        json!([{"type": "repository", "name": "project-a/app", "actions": ["metadata_read", "pull"]}])
    );

    let resp = w.api("contosoacr", "/v2/", Some(at)).await;
    assert_eq!(resp.status(), 200);
    let tags: Value = w
        .api("contosoacr", "/v2/project-a/app/tags/list", Some(at))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        tags,
        json!({"name": "project-a/app", "tags": ["1.0.0", "1.1.0", "2.0.0", "multi"]})
    );
    let resp = w
        .api("contosoacr", "/v2/project-a/app/tags/list?n=2", Some(at))
        .await;
    assert_eq!(
        resp.headers()["link"],
        "</v2/project-a/app/tags/list?last=1.1.0&n=2&orderby=>; rel=\"next\""
    );

    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/v2/project-a/app/manifests/1.0.0")
        .bearer_auth(at)
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let digest = resp.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(mock_acr::model::digest_of(&bytes), digest);
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    // An Accept without the stored type is refused.
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/v2/project-a/app/manifests/2.0.0")
        .bearer_auth(at)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let head = w
        .http
        .head(format!(
            "https://contosoacr.azurecr.io/v2/project-a/app/manifests/{digest}"
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["docker-content-digest"], digest.as_str());
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );

    // Blobs: a 307 to storage; storage serves the bytes without credentials and refuses them with.
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let resp = w
        .api(
            "contosoacr",
            &format!("/v2/project-a/app/blobs/{layer}"),
            Some(at),
        )
        .await;
    assert_eq!(resp.status(), 307);
    assert_eq!(resp.headers()["docker-content-digest"], layer);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://contosoacr.blob.core.windows.net/"),
        "{location}"
    );
    let blob = w.http.get(&location).send().await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(
        mock_acr::model::digest_of(&blob.bytes().await.unwrap()),
        layer
    );
    let leak = w.http.get(&location).bearer_auth(at).send().await.unwrap();
    assert_eq!(leak.status(), 400);
    assert!(
        leak.text()
            .await
            .unwrap()
            .contains("<Code>InvalidAuthenticationInfo</Code>")
    );
    let leaks = w.acr.journal().filter(|e| e.authorization_to_storage);
    assert_eq!(leaks.len(), 1);
    // And the front door saw which secret went there.
    let fp = mock_kit::Fingerprint::of(at);
    assert!(
        w.door
            .egress()
            .find(|r| r.host == "contosoacr.blob.core.windows.net" && r.carried(&fp))
            .is_some()
    );

    let ev = w.acr.journal().filter(|e| e.endpoint == "token");
    assert_eq!(
        ev[0].principal.as_deref(),
        Some(mi.object_id.to_string().as_str())
    );
    assert_eq!(
        ev[0].granted,
        vec!["repository:project-a/app:metadata_read,pull"]
    );
}

#[tokio::test]
async fn exchange_accepts_arm_audience_cpa_form_and_rejects_get() {
    let w = World::new().await;
    let arm = w.mi_token("contoso", "project-a-mi", "https://management.azure.com/");
    let (s, _) = w
        .exchange(
            "contosoacr",
            &[
                ("grant_type", "access_token"),
                ("service", "contosoacr.azurecr.io"),
                ("access_token", &arm),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let tid = w
        .entra
        .directory()
        .tenant_named("contoso")
        .unwrap()
        .id
        .to_string();
    let aad = w.mi_token("contoso", "project-a-mi", ACR_AUD);
    let (s, _) = w
        .exchange(
            "contosoacr",
            &[
                ("grant_type", "access_token_refresh_token"),
                ("service", "contosoacr.azurecr.io"),
                ("tenant", &tid),
                ("access_token", &aad),
                ("refresh_token", &aad),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/oauth2/exchange")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

async fn refused_exchange(w: &World, token: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("grant_type", "access_token"),
        ("service", "contosoacr.azurecr.io"),
        ("access_token", token),
    ];
    form.extend_from_slice(extra);
    let (s, body) = w.exchange("contosoacr", &form).await;
    assert_eq!(s, 401, "{body:#}");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn exchange_refusals_other_tenant_expired_audience_no_role_tenant_mismatch() {
    let w = World::new().await;
    let foreign = w.mi_token("fabrikam", "fab-mi", ACR_AUD);
    assert!(
        refused_exchange(&w, &foreign, &[])
            .await
            .contains("not this registry's tenant")
    );
    let vault = w.mi_token("contoso", "project-a-mi", "https://vault.azure.net");
    assert!(refused_exchange(&w, &vault, &[]).await.contains("audience"));
    let norole = w.mi_token("contoso", "norole-mi", ACR_AUD);
    assert!(refused_exchange(&w, &norole, &[]).await.contains("no role"));
    let good = w.mi_token("contoso", "project-a-mi", ACR_AUD);
    let other_tid = w
        .entra
        .directory()
        .tenant_named("fabrikam")
        .unwrap()
        .id
        .to_string();
    assert!(
        refused_exchange(&w, &good, &[("tenant", &other_tid)])
            .await
            .contains("does not match")
    );
    let mut forged = good.clone();
    forged.pop();
    forged.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert!(
        refused_exchange(&w, &forged, &[])
            .await
            .contains("not valid")
    );
    w.entra.clock().advance(Duration::from_secs(25 * 3600));
    assert!(refused_exchange(&w, &good, &[]).await.contains("expired"));
}

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
async fn push_needs_push_and_works_for_writers() {
    let w = World::new().await;
    let pull = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &["repository:project-a/app:pull,push"],
        )
        .await;
    let resp = w
        .http
        .post("https://contosoacr.azurecr.io/v2/project-a/app/blobs/uploads/")
        .bearer_auth(&pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "push with a pull-only token");
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"repository:project-a/app:push\"")
    );

    // ci-app has AcrPush: upload a blob in two chunks, then a manifest.
    let app = w.identity("contoso", "ci-app");
    let auth = basic(&app.client_id.to_string(), app.secrets[0].value.expose());
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let cfg_digest = mock_acr::model::digest_of(&config);
    let start = w
        .http
        .post("https://contosoacr.azurecr.io/v2/project-a/new/blobs/uploads/")
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 202);
    let loc = start.headers()["location"].to_str().unwrap().to_owned();
    let patch = w
        .http
        .patch(format!("https://contosoacr.azurecr.io{loc}"))
        .header("authorization", &auth)
        .body(config[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 202);
    let put = w
        .http
        .put(format!(
            "https://contosoacr.azurecr.io{loc}?digest={cfg_digest}"
        ))
        .header("authorization", &auth)
        .body(config[10..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": config.len()}, "layers": []});
    let put = w
        .http
        .put("https://contosoacr.azurecr.io/v2/project-a/new/manifests/v1")
        .header("authorization", &auth)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let at = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &["repository:project-a/new:metadata_read"],
        )
        .await;
    let tags: Value = w
        .api("contosoacr", "/v2/project-a/new/tags/list", Some(&at))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!(["v1"]));
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

#[tokio::test]
async fn acr_v1_metadata_api_and_referrers() {
    let w = World::new().await;
    let at = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &[
                "repository:charts/guestbook:metadata_read",
                "registry:catalog:*",
            ],
        )
        .await;
    let cat: Value = w
        .api("contosoacr", "/acr/v1/_catalog", Some(&at))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cat["repositories"].as_array().unwrap().len(), 4);
    let tags: Value = w
        .api("contosoacr", "/acr/v1/charts/guestbook/_tags", Some(&at))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["imageName"], "charts/guestbook");
    let names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["0.1.0", "1.2.3_build.7"]);
    let digest = tags["tags"][1]["digest"].as_str().unwrap();
    let m: Value = w
        .api(
            "contosoacr",
            &format!("/acr/v1/charts/guestbook/_manifests/{digest}"),
            Some(&at),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["manifest"]["configMediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert_eq!(m["manifest"]["tags"], json!(["1.2.3_build.7"]));
    let pull = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &["repository:charts/guestbook:pull"],
        )
        .await;
    let resp = w
        .api(
            "contosoacr",
            &format!("/v2/charts/guestbook/referrers/{digest}"),
            Some(&pull),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.oci.image.index.v1+json"
    );
    let idx: Value = resp.json().await.unwrap();
    assert_eq!(idx["manifests"], json!([]));
    assert_eq!(
        w.api("contosoacr", "/v2/charts/nothing/tags/list", Some(&pull))
            .await
            .status(),
        401,
        "authorization before existence"
    );
}

#[tokio::test]
async fn names_with_decoded_control_characters_are_name_invalid_not_a_dropped_connection() {
    let w = World::new().await;
    for raw in [
        "project-a%0Aapp",
        "project-a%0D%0Aapp",
        "project-a%00app",
        "Project-A/app",
        "project-a//app",
    ] {
        let resp = w
            .api("contosoacr", &format!("/v2/{raw}/tags/list"), None)
            .await;
        assert_eq!(resp.status(), 404, "{raw}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "NAME_INVALID", "{raw}: {body}");
    }
    // Nothing failed internally, and the fake still answers.
    assert!(
        w.door
            .egress()
            .snapshot()
            .iter()
            .all(|r| !matches!(r.outcome, mock_kit::egress::Outcome::InternalError { .. }))
    );
    let resp = w.api("contosoacr", "/v2/", None).await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn references_outside_the_tag_and_digest_grammars_are_tag_invalid_or_digest_invalid() {
    let w = World::new().await;
    let sha = "sha256:".to_owned() + &"a".repeat(64);
    for (path, code) in [
        ("/v2/project-a/app/manifests/bad%0Atag", "TAG_INVALID"),
        ("/v2/project-a/app/manifests/.hidden", "TAG_INVALID"),
        ("/v2/project-a/app/manifests/-dash", "TAG_INVALID"),
        (
            &*format!("/v2/project-a/app/manifests/{}", "t".repeat(129)),
            "TAG_INVALID",
        ),
        ("/v2/project-a/app/manifests/sha256:xyz", "DIGEST_INVALID"),
        (
            "/v2/project-a/app/manifests/md5:d41d8cd98f00b204e9800998ecf8427e",
            "DIGEST_INVALID",
        ),
        (
            &*format!("/v2/project-a/app/manifests/{}", sha.to_uppercase()),
            "DIGEST_INVALID",
        ),
        ("/v2/project-a/app/blobs/latest", "DIGEST_INVALID"),
        ("/v2/project-a/app/blobs/sha256:%00", "DIGEST_INVALID"),
        ("/v2/project-a/app/referrers/sha256:12", "DIGEST_INVALID"),
        ("/acr/v1/project-a/app/_tags/bad%20tag", "TAG_INVALID"),
        (
            "/acr/v1/project-a/app/_manifests/sha256:zz",
            "DIGEST_INVALID",
        ),
    ] {
        let resp = w.api("contosoacr", path, None).await;
        assert_eq!(resp.status(), 400, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{path}: {body}");
    }
    // In the grammars, the request goes on to authentication as before.
    for path in [
        "/v2/project-a/app/manifests/v1.0_rc-2",
        &*format!("/v2/project-a/app/manifests/{sha}"),
        &*format!("/v2/project-a/app/blobs/{sha}"),
        &*format!("/v2/project-a/app/manifests/{}", "t".repeat(128)),
    ] {
        assert_eq!(
            w.api("contosoacr", path, None).await.status(),
            401,
            "{path}"
        );
    }

    // A manifest put by a digest that is not its content's is DIGEST_INVALID.
    let app = w.identity("contoso", "ci-app");
    let auth = basic(&app.client_id.to_string(), app.secrets[0].value.expose());
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let resp = w
        .http
        .put(format!(
            "https://contosoacr.azurecr.io/v2/project-a/app/manifests/{sha}"
        ))
        .header("authorization", &auth)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DIGEST_INVALID", "{body}");
}

#[tokio::test]
async fn open_uploads_are_bounded_and_a_cancelled_one_makes_room() {
    let w = World::new().await;
    let app = w.identity("contoso", "ci-app");
    let auth = basic(&app.client_id.to_string(), app.secrets[0].value.expose());
    let start = || {
        w.http
            .post("https://contosoacr.azurecr.io/v2/project-a/new/blobs/uploads/")
            .header("authorization", &auth)
            .send()
    };
    let mut locations = Vec::new();
    loop {
        let resp = start().await.unwrap();
        if resp.status() != 202 {
            assert_eq!(resp.status(), 429);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
            break;
        }
        locations.push(resp.headers()["location"].to_str().unwrap().to_owned());
        assert!(locations.len() <= 1000, "open uploads are never refused");
    }
    assert!(locations.len() >= 100, "{}", locations.len());
    let cancelled = w
        .http
        .delete(format!("https://contosoacr.azurecr.io{}", locations[0]))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 204);
    assert_eq!(start().await.unwrap().status(), 202);
    let gone = w
        .http
        .patch(format!("https://contosoacr.azurecr.io{}", locations[0]))
        .header("authorization", &auth)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}
