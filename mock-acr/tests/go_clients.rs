//! The Go registry clients, unmodified (pinned in `clients/go/go.mod` and
//! `clients/go/tools/helm/go.mod`), against mock-acr through the front door:
//! - `azcontainerregistry`'s authentication client (the AAD exchange and the token call) and its
//!   client listing tags (which drives the challenge, exchange and token calls itself);
//! - `oras-go` and go-containerregistry pulling a manifest with the refresh token as password;
//! - `helm pull oci://` with the refresh token, as Kargo's Helm freight is pulled.
//!
//! Each checks what the library returned (claims, tags, digests) against the generated content.

mod support;

use std::process::Command;

use mock_acr::model::{Repository, digest_of};
use serde_json::{Value, json};
use support::*;

async fn go(w: &World, case: &str, vars: Vec<(&str, String)>) -> Value {
    let mut env = w.door.client_env(Some(case), &w.ca_path);
    env.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com/".into(),
    ));
    env.extend(vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let case = case.to_owned();
    tokio::task::spawn_blocking(move || mock_kit::testing::run_go_json(&case, &env))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The digest the registry must serve for `repository:tag`, computed from the generated content.
fn expected_digest(repository: &str, tag: &str) -> String {
    let spec = repos().into_iter().find(|r| r.name == repository).unwrap();
    let repo = Repository::generate("contosoacr", &spec);
    let m = repo.resolve(tag).unwrap();
    assert_eq!(m.digest, digest_of(&m.bytes));
    m.digest.clone()
}

fn app_vars(w: &World, app: &str) -> Vec<(&'static str, String)> {
    let id = w.identity("contoso", app);
    vec![
        (
            "CHECK_TENANT",
            w.entra
                .directory()
                .tenant_named("contoso")
                .unwrap()
                .id
                .to_string(),
        ),
        ("CHECK_CLIENT", id.client_id.to_string()),
        ("CHECK_SECRET", id.secrets[0].value.expose().clone()),
        ("CHECK_REGISTRY", "contosoacr.azurecr.io".into()),
    ]
}

#[tokio::test]
async fn go_azcontainerregistry_exchanges_then_narrows_to_the_scope_asked() {
    let w = World::new().await;
    let app = w.identity("contoso", "reader-app");
    let mut vars = app_vars(&w, "reader-app");
    vars.push(("CHECK_SCOPE_ACR", "repository:project-a/app:pull".into()));
    let out = go(&w, "acr-exchange", vars).await;
    assert!(out.get("error").is_none(), "{out:#}");
    // The refresh token names the app's object and the registry; the access token carries the
    // repository asked for with `pull`, and `metadata_read` with it (the rule mock-acr's policy
    // module documents for a principal permitted both), never `push`.
    assert_eq!(out["refresh"]["sub"], app.object_id.to_string(), "{out:#}");
    assert_eq!(out["refresh"]["aud"], "contosoacr.azurecr.io");
    assert_eq!(out["access"]["aud"], "contosoacr.azurecr.io");
    assert_eq!(
        out["access"]["access"],
        json!([{"type": "repository", "name": "project-a/app", "actions": ["pull", "metadata_read"]}]),
        "{out:#}"
    );
    // The SDK's exchange sent no tenant, and the registry journaled the app as the principal.
    let ex = w.acr.journal().filter(|e| e.endpoint == "exchange");
    assert_eq!(ex.len(), 1, "{ex:#?}");
    assert_eq!(ex[0].status, 200);
    assert_eq!(
        ex[0].principal.as_deref(),
        Some(app.object_id.to_string().as_str())
    );
}

#[tokio::test]
async fn go_azcontainerregistry_lists_tags_with_their_digests() {
    let w = World::new().await;
    let mut vars = app_vars(&w, "reader-app");
    vars.push(("CHECK_REPOSITORY", "project-a/app".into()));
    let out = go(&w, "acr-tags", vars).await;
    assert!(out.get("error").is_none(), "{out:#}");
    let tags = out["tags"].as_array().unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["1.0.0", "1.1.0", "2.0.0", "multi"]);
    for t in tags {
        let name = t["name"].as_str().unwrap();
        assert_eq!(
            t["digest"],
            expected_digest("project-a/app", name),
            "{name}"
        );
    }
    // An identity whose role does not cover the repository (ABAC: ci-app writes team/* only):
    // the token it gets carries no access, and the SDK surfaces the registry's 401.
    let mut vars = app_vars(&w, "ci-app");
    vars[3].1 = "abacacr.azurecr.io".into();
    vars.push(("CHECK_REPOSITORY", "project-b/app".into()));
    let out = go(&w, "acr-tags", vars).await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("401"), "{err}");
}

#[tokio::test]
async fn go_oras_and_go_containerregistry_pull_manifests_with_the_refresh_token() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    for (case, repository, tag) in [
        ("oras-pull", "project-a/app", "1.0.0"),
        ("oras-pull", "charts/guestbook", "0.1.0"),
        ("ggcr-pull", "project-a/app", "2.0.0"),
        ("ggcr-pull", "project-a/app", "multi"),
    ] {
        let out = go(
            &w,
            case,
            vec![
                ("CHECK_REGISTRY", "contosoacr.azurecr.io".into()),
                ("CHECK_REPOSITORY", repository.into()),
                ("CHECK_TAG", tag.into()),
                ("CHECK_USERNAME", NULL_GUID.into()),
                ("CHECK_PASSWORD", rt.clone()),
            ],
        )
        .await;
        assert!(
            out.get("error").is_none(),
            "{case} {repository}:{tag}: {out:#}"
        );
        let want = expected_digest(repository, tag);
        assert_eq!(out["digest"], want, "{case} {repository}:{tag}");
        assert_eq!(out["computed"], want, "{case} {repository}:{tag}");
    }
    // A tag the repository does not have: the registry's MANIFEST_UNKNOWN reaches the caller.
    let out = go(
        &w,
        "oras-pull",
        vec![
            ("CHECK_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CHECK_REPOSITORY", "project-a/app".into()),
            ("CHECK_TAG", "9.9.9".into()),
            ("CHECK_USERNAME", NULL_GUID.into()),
            ("CHECK_PASSWORD", rt.clone()),
        ],
    )
    .await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("not found"), "{err}");
    // A forged password: the token endpoint refuses it and the pull fails with 401.
    let out = go(
        &w,
        "ggcr-pull",
        vec![
            ("CHECK_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CHECK_REPOSITORY", "project-a/app".into()),
            ("CHECK_TAG", "1.0.0".into()),
            ("CHECK_USERNAME", NULL_GUID.into()),
            ("CHECK_PASSWORD", format!("{rt}x")),
        ],
    )
    .await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(
        err.contains("401") || err.to_lowercase().contains("unauthorized"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_pulls_an_oci_chart_with_the_refresh_token() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let helm = mock_kit::testing::go_program("helm").unwrap_or_else(|e| panic!("{e}"));
    let home = w.dir.path().join("helm-home");
    let dest = w.dir.path().join("charts");
    std::fs::create_dir_all(&dest).unwrap();
    let run = |args: Vec<String>| {
        let out = Command::new(&helm)
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .envs(w.door.client_env(Some("helm"), &w.ca_path))
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, text) = run(vec![
        "pull".into(),
        "oci://contosoacr.azurecr.io/charts/guestbook".into(),
        "--version".into(),
        "1.2.3+build.7".into(),
        "--username".into(),
        NULL_GUID.into(),
        "--password".into(),
        rt.clone(),
        "--destination".into(),
        dest.display().to_string(),
    ]);
    assert!(ok, "{text}");
    // Helm names the file after the chart's version and reports the manifest's digest.
    let want = expected_digest("charts/guestbook", "1.2.3_build.7");
    assert!(text.contains(&want), "{text}");
    let pulled = std::fs::read(dest.join("guestbook-1.2.3+build.7.tgz")).unwrap();
    assert!(!pulled.is_empty());
    // The chart blob came from storage, without the registry token.
    w.assert_blobs_from_storage_without_the_token();

    // Without credentials the registry refuses the pull.
    let (ok, text) = run(vec![
        "pull".into(),
        "oci://contosoacr.azurecr.io/charts/guestbook".into(),
        "--version".into(),
        "0.1.0".into(),
        "--destination".into(),
        dest.display().to_string(),
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthorized"),
        "{text}"
    );
}
