//! The Rust `azure_identity` crate, unmodified, against mock-entra through the front door:
//! `ClientSecretCredential` and `WorkloadIdentityCredential`.
//!
//! The SDK reads its configuration (proxy, CA bundle, `AZURE_*`) from the process environment,
//! which a test must not change under its neighbours, so each case runs in a child process: this
//! test binary re-runs itself with only the ignored `azure_identity_child` test selected and the
//! environment a pod would have.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::*;

const CASE: &str = "CREDSIM_CHILD_CASE";

#[test]
#[ignore = "the child half of the azure_identity tests; they run it with their environment"]
fn azure_identity_child() {
    use azure_core::credentials::{Secret, TokenCredential};
    let case = std::env::var(CASE).expect("run by the parent tests with CREDSIM_CHILD_CASE");
    let var = |k: &str| std::env::var(k).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let scope = var("CREDSIM_SCOPE");
        let credential: std::sync::Arc<dyn TokenCredential> = match case.as_str() {
            "client-secret" => azure_identity::ClientSecretCredential::new(
                &var("CREDSIM_TENANT"),
                var("CREDSIM_CLIENT_ID"),
                Secret::new(var("CREDSIM_SECRET")),
                None,
            )?,
            "workload-identity" => azure_identity::WorkloadIdentityCredential::new(None)?,
            other => panic!("unknown case {other}"),
        };
        credential.get_token(&[scope.as_str()], None).await
    });
    let out = match result {
        Ok(token) => {
            json!({"token": token.token.secret(), "expiresOn": token.expires_on.unix_timestamp()})
        }
        Err(e) => json!({"error": e.to_string()}),
    };
    // The parent reads this line from the child's standard output.
    #[allow(clippy::print_stdout)]
    {
        println!("CREDSIM_RESULT {out}");
    }
}

async fn run(w: &World, case: &str, vars: &[(&str, String)]) -> Value {
    let exe = std::env::current_exe().unwrap();
    let proxy = w.door.proxy_url_for(case);
    let ca = w.ca_path.display().to_string();
    let mut cmd = Command::new(exe);
    cmd.args([
        "azure_identity_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env(CASE, case)
    .env("HTTPS_PROXY", &proxy)
    .env("HTTP_PROXY", &proxy)
    .env("NO_PROXY", "")
    .env("SSL_CERT_FILE", &ca)
    .env("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CREDSIM_RESULT ").map(|(_, json)| json))
        .unwrap_or_else(|| {
            panic!(
                "no result from the child:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

#[tokio::test]
async fn azure_identity_client_secret_credential() {
    let w = World::new().await;
    let app = w.identity("contoso", "ci-app");
    let out = run(
        &w,
        "client-secret",
        &[
            ("CREDSIM_TENANT", w.tenant_id("contoso")),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_SECRET", w.secret("contoso", "ci-app", 0)),
            (
                "CREDSIM_SCOPE",
                "https://containerregistry.azure.net/.default".into(),
            ),
        ],
    )
    .await;
    let token = out["token"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    let c = claims(token);
    assert_eq!(c["appid"], app.client_id.to_string());
    assert_eq!(c["aud"], "https://containerregistry.azure.net");
    assert_eq!(
        out["expiresOn"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap() - 1
    );
    assert_eq!(
        w.door
            .egress()
            .count(|r| r.client.label.as_deref() == Some("client-secret")),
        1
    );

    let out = run(
        &w,
        "client-secret",
        &[
            ("CREDSIM_TENANT", w.tenant_id("contoso")),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_SECRET", "wrong-secret-value".into()),
            (
                "CREDSIM_SCOPE",
                "https://containerregistry.azure.net/.default".into(),
            ),
        ],
    )
    .await;
    // The Rust SDK surfaces `error_codes` and the description.
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("7000215"), "{err}");
}

#[tokio::test]
async fn azure_identity_workload_identity_credential() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    let token_file = w.dir.path().join("azure-identity-token");
    std::fs::write(&token_file, w.good_assertion()).unwrap();
    let out = run(
        &w,
        "workload-identity",
        &[
            ("AZURE_TENANT_ID", w.tenant_id("contoso")),
            ("AZURE_CLIENT_ID", mi.client_id.to_string()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            (
                "CREDSIM_SCOPE",
                "https://management.azure.com/.default".into(),
            ),
        ],
    )
    .await;
    let token = out["token"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    let c = claims(token);
    assert_eq!(c["appid"], mi.client_id.to_string());
    assert_eq!(c["xms_mirid"], mi.resource_id.clone().unwrap());
    assert_eq!(c["tid"], w.tenant_id("contoso"));
}
