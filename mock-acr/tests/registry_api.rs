//! The OCI read API and the `/acr/v1/` metadata API through the front door: Kargo's flow end to
//! end (exchange, token, tags, manifest, blob from storage without the token), attributes and
//! referrers, and names and references outside their grammars refused with distribution's codes.

mod support;

use serde_json::{Value, json};
use support::*;

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
