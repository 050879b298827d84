//! Real clients, unmodified, against mock-acr through the front door: Python
//! `azure-containerregistry` (which drives the AAD exchange), `oras` (Python) pulling a Helm chart
//! with the refresh token as password, `skopeo list-tags`/`inspect` with `--creds`, and the Rust
//! `oci-client` crate pulling a manifest and a blob. The flows Kargo uses: an Entra token
//! exchanged for a refresh token, handed to an OCI client as the null-GUID user's password.

mod support;

use std::process::Command;

use serde_json::Value;
use support::*;

fn proxy_env(w: &World, label: &str) -> Vec<(String, String)> {
    let mut env = w.door.client_env(Some(label), &w.ca_path);
    env.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com/".into(),
    ));
    env
}

async fn python(w: &World, case: &str, vars: Vec<(&str, String)>) -> Value {
    let mut env = proxy_env(w, case);
    env.extend(vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let case = case.to_owned();
    tokio::task::spawn_blocking(move || {
        mock_kit::testing::run_python_json("acr_clients.py", &[&case], &env)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn python_azure_containerregistry_lists_repositories_tags_and_reads_a_manifest() {
    let w = World::new().await;
    let app = w.identity("contoso", "reader-app");
    let tid = w
        .entra
        .directory()
        .tenant_named("contoso")
        .unwrap()
        .id
        .to_string();
    let out = python(
        &w,
        "sdk",
        vec![
            ("CREDSIM_TENANT", tid),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_SECRET", app.secrets[0].value.expose().clone()),
            ("CREDSIM_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CREDSIM_REPOSITORY", "project-a/app".into()),
            ("CREDSIM_TAG", "1.0.0".into()),
        ],
    )
    .await;
    assert!(out.get("error").is_none(), "{out:#}");
    assert_eq!(
        out["repositories"],
        serde_json::json!([
            "charts/guestbook",
            "project-a/app",
            "project-b/app",
            "team/tools"
        ])
    );
    assert_eq!(
        out["tags"],
        serde_json::json!(["1.0.0", "1.1.0", "2.0.0", "multi"])
    );
    assert_eq!(out["manifest"]["architecture"], "amd64");
    assert_eq!(out["manifest"]["tags"], serde_json::json!(["1.0.0"]));
    // The SDK exchanged an AAD token (no tenant sent) and asked for the scopes the challenges named.
    let exchanges = w
        .acr
        .journal()
        .filter(|e| e.endpoint == "exchange" && e.status == 200);
    assert!(!exchanges.is_empty());
    let app_oid = app.object_id.to_string();
    assert!(
        exchanges
            .iter()
            .all(|e| e.principal.as_deref() == Some(app_oid.as_str()))
    );
    let tokens = w.acr.journal().filter(|e| e.endpoint == "token");
    let requested: Vec<String> = tokens.iter().flat_map(|e| e.requested.clone()).collect();
    assert!(
        requested.contains(&"registry:catalog:*".to_owned()),
        "{requested:?}"
    );
    assert!(
        requested.contains(&"repository:project-a/app:metadata_read".to_owned()),
        "{requested:?}"
    );
}

#[tokio::test]
async fn python_oras_pulls_a_helm_chart_with_the_refresh_token() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let outdir = w.dir.path().join("chart");
    std::fs::create_dir_all(&outdir).unwrap();
    let out = python(
        &w,
        "oras-pull",
        vec![
            ("CREDSIM_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CREDSIM_USERNAME", NULL_GUID.into()),
            ("CREDSIM_PASSWORD", rt.clone()),
            (
                "CREDSIM_TARGET",
                "contosoacr.azurecr.io/charts/guestbook:1.2.3_build.7".into(),
            ),
            ("CREDSIM_OUTDIR", outdir.display().to_string()),
        ],
    )
    .await;
    assert!(out.get("error").is_none(), "{out:#}");
    let files = out["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{out:#}");
    let pulled = std::fs::read(outdir.join(files[0].as_str().unwrap())).unwrap();
    assert!(String::from_utf8_lossy(&pulled).starts_with("credsim chart guestbook-1.2.3+build.7"));
    // The blob came from storage, and the registry token did not go there.
    w.assert_blobs_from_storage_without_the_token();
}

fn skopeo(w: &World, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("skopeo")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", w.dir.path())
        .envs(proxy_env(w, "skopeo"))
        .output()
        .expect("skopeo is installed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_list_tags_and_inspect_with_creds() {
    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let creds = format!("{NULL_GUID}:{rt}");
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
        skopeo(
            &w,
            &[
                "list-tags",
                "--creds",
                &creds,
                "docker://contosoacr.azurecr.io/project-a/app",
            ],
        )
    });
    assert!(ok, "{stderr}\n{:#?}", w.acr.journal().snapshot());
    let tags: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        tags["Tags"],
        serde_json::json!(["1.0.0", "1.1.0", "2.0.0", "multi"])
    );
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
        skopeo(
            &w,
            &[
                "inspect",
                "--creds",
                &creds,
                "docker://contosoacr.azurecr.io/project-a/app:1.0.0",
            ],
        )
    });
    assert!(ok, "{stderr}");
    let info: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Labels"]["dev.credsim.repository"], "project-a/app");
    assert!(
        w.acr
            .journal()
            .find(|e| e.authorization_to_storage)
            .is_none(),
        "skopeo must not forward the token to storage"
    );
    // Another project's repository is not readable with project-a's credential.
    let (ok, _, stderr) = tokio::task::block_in_place(|| {
        skopeo(
            &w,
            &[
                "inspect",
                "--creds",
                &creds,
                "docker://abacacr.azurecr.io/project-b/app:1.0.0",
            ],
        )
    });
    assert!(!ok);
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("unauthorized"),
        "{stderr}"
    );
}

#[tokio::test]
async fn rust_oci_client_pulls_a_manifest_and_a_blob() {
    use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
    use oci_client::secrets::RegistryAuth;
    use oci_client::{Client, Reference};

    let w = World::new().await;
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::Https,
        https_proxy: Some(w.door.proxy_url_for("oci-client")),
        tls_certs_only: vec![Certificate {
            encoding: CertificateEncoding::Pem,
            data: w.door.ca().cert_pem().as_bytes().to_vec(),
        }],
        ..ClientConfig::default()
    });
    let auth = RegistryAuth::Basic(NULL_GUID.into(), rt.clone());
    let reference: Reference = "contosoacr.azurecr.io/project-a/app:1.1.0".parse().unwrap();
    let (manifest, digest) = client.pull_image_manifest(&reference, &auth).await.unwrap();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(manifest.layers.len(), 1);
    let mut blob = Vec::new();
    client
        .pull_blob(&reference, &manifest.layers[0], &mut blob)
        .await
        .unwrap();
    assert_eq!(mock_acr::model::digest_of(&blob), manifest.layers[0].digest);
    assert!(
        String::from_utf8_lossy(&blob)
            .starts_with("credsim layer of contosoacr.azurecr.io/project-a/app:1.1.0")
    );
    let tags = client
        .list_tags(&reference, &auth, None, None)
        .await
        .unwrap();
    assert_eq!(tags.tags, ["1.0.0", "1.1.0", "2.0.0", "multi"]);
    // The blob came through the 307 to storage without the registry token.
    w.assert_blobs_from_storage_without_the_token();
    // Another project's repository in the ABAC registry stays closed.
    let rt_abac = w.refresh_for("abacacr", "contoso", "project-a-mi").await;
    let other: Reference = "abacacr.azurecr.io/project-b/app:1.0.0".parse().unwrap();
    let err = client
        .pull_image_manifest(&other, &RegistryAuth::Basic(NULL_GUID.into(), rt_abac))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("not authorized"),
        "{err}"
    );
}

#[tokio::test]
async fn python_oras_pushes_a_test_artifact_then_pulls_it_back() {
    let w = World::new().await;
    let app = w.identity("contoso", "ci-app");
    let file = w.dir.path().join("artifact.txt");
    std::fs::write(&file, "credsim pushed this\n").unwrap();
    let out = python(
        &w,
        "oras-push",
        vec![
            ("CREDSIM_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CREDSIM_USERNAME", app.client_id.to_string()),
            ("CREDSIM_PASSWORD", app.secrets[0].value.expose().clone()),
            ("CREDSIM_FILE", file.display().to_string()),
            (
                "CREDSIM_TARGET",
                "contosoacr.azurecr.io/project-a/pushed:v1".into(),
            ),
        ],
    )
    .await;
    assert!(out.get("error").is_none(), "{out:#}");
    assert_eq!(out["status"], 201);
    let at = w
        .bearer(
            "contosoacr",
            "contoso",
            "project-a-mi",
            &["repository:project-a/pushed:pull"],
        )
        .await;
    let tags: Value = w
        .api("contosoacr", "/v2/project-a/pushed/tags/list", Some(&at))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    // A pull-only principal cannot push.
    let rt = w.refresh_for("contosoacr", "contoso", "project-a-mi").await;
    let out = python(
        &w,
        "oras-push",
        vec![
            ("CREDSIM_REGISTRY", "contosoacr.azurecr.io".into()),
            ("CREDSIM_USERNAME", NULL_GUID.into()),
            ("CREDSIM_PASSWORD", rt),
            ("CREDSIM_FILE", file.display().to_string()),
            (
                "CREDSIM_TARGET",
                "contosoacr.azurecr.io/project-a/pushed:v2".into(),
            ),
        ],
    )
    .await;
    assert!(
        out.get("error").is_some() || out["status"] != 201,
        "{out:#}"
    );
}
