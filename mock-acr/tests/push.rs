//! Pushing through the front door: push needs `push` (a pull token is challenged for it), a writer
//! uploads a blob in chunks and puts a manifest, and open uploads are bounded (a cancelled one makes
//! room).

mod support;

use serde_json::{Value, json};
use support::*;

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
