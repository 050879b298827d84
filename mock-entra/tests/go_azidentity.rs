//! The Go SDK's `azidentity`, unmodified (pinned in `clients/go/go.mod`), against mock-entra
//! through the front door: `WorkloadIdentityCredential`, `ClientAssertionCredential`,
//! `ClientSecretCredential`, and `DefaultAzureCredential` in a workload-identity pod's
//! environment. The driver is `clients/go/cmd/sdkcheck`; each case prints the claims of the
//! token the SDK returned, and these tests check them against the directory.

mod support;

use serde_json::Value;
use support::*;

async fn go(w: &World, case: &str, vars: &[(&str, String)]) -> Value {
    let mut env = w.door.client_env(Some(case), &w.ca_path);
    env.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com/".into(),
    ));
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let case = case.to_owned();
    tokio::task::spawn_blocking(move || mock_kit::testing::run_go_json(&case, &env))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn go_claims(out: &Value) -> &Value {
    assert!(out.get("error").is_none(), "{out:#}");
    &out["claims"]
}

/// The pod's environment as the AKS webhook writes it, for project-a-mi.
fn pod_env(w: &World, name: &str) -> Vec<(&'static str, String)> {
    let token_file = w.dir.path().join(name);
    std::fs::write(&token_file, w.good_assertion()).unwrap();
    vec![
        ("AZURE_TENANT_ID", w.tenant_id("contoso")),
        ("AZURE_CLIENT_ID", w.client_id("contoso", "project-a-mi")),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        (
            "CHECK_SCOPE",
            "https://containerregistry.azure.net/.default".into(),
        ),
    ]
}

#[tokio::test]
async fn go_workload_identity_and_default_credentials_get_the_federated_identitys_token() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    for case in ["workload-identity", "default"] {
        let out = go(&w, case, &pod_env(&w, case)).await;
        let c = go_claims(&out);
        assert_eq!(c["appid"], mi.client_id.to_string(), "{case}");
        assert_eq!(c["oid"], mi.object_id.to_string(), "{case}");
        assert_eq!(c["tid"], w.tenant_id("contoso"), "{case}");
        assert_eq!(c["aud"], "https://containerregistry.azure.net", "{case}");
        assert_eq!(c["xms_mirid"], mi.resource_id.clone().unwrap(), "{case}");
        // The SDK's expiry is the token's.
        let exp = c["exp"].as_i64().unwrap();
        let expires_on: jiff::Timestamp = out["expiresOn"].as_str().unwrap().parse().unwrap();
        assert!((expires_on.as_second() - exp).abs() <= 1, "{out:#}");
        // The SDK sent the assertion through the front door, with this label.
        assert!(
            w.door
                .egress()
                .count(|r| r.client.label.as_deref() == Some(case) && r.status == 200)
                >= 1,
            "{case}"
        );
    }
}

#[tokio::test]
async fn go_client_assertion_credential_is_refused_for_a_subject_no_credential_names() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    let good = w.dir.path().join("good");
    std::fs::write(&good, w.good_assertion()).unwrap();
    let vars = |file: &std::path::Path| {
        vec![
            ("CHECK_TENANT", w.tenant_id("contoso")),
            ("CHECK_CLIENT", mi.client_id.to_string()),
            ("CHECK_ASSERTION_FILE", file.display().to_string()),
            (
                "CHECK_SCOPE",
                "https://management.azure.com/.default".into(),
            ),
        ]
    };
    let out = go(&w, "client-assertion", &vars(&good)).await;
    assert_eq!(go_claims(&out)["oid"], mi.object_id.to_string());
    assert_eq!(go_claims(&out)["aud"], "https://management.azure.com");

    // Another ServiceAccount's token: Entra's AADSTS700213 reaches the Go caller.
    let other = w.dir.path().join("other");
    std::fs::write(
        &other,
        w.sa_token(("project-b", "creds"), EXCHANGE, 0, 3600),
    )
    .unwrap();
    let out = go(&w, "client-assertion", &vars(&other)).await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("AADSTS700213"), "{err}");
}

#[tokio::test]
async fn go_client_secret_credential_and_a_wrong_secret() {
    let w = World::new().await;
    let app = w.identity("contoso", "ci-app");
    let vars = |secret: String| {
        vec![
            ("CHECK_TENANT", w.tenant_id("contoso")),
            ("CHECK_CLIENT", app.client_id.to_string()),
            ("CHECK_SECRET", secret),
            (
                "CHECK_SCOPE",
                "https://containerregistry.azure.net/.default".into(),
            ),
        ]
    };
    let out = go(&w, "client-secret", &vars(w.secret("contoso", "ci-app", 0))).await;
    let c = go_claims(&out);
    assert_eq!(c["appid"], app.client_id.to_string());
    assert_eq!(c["idtyp"], "app");
    // The second secret has expired: AADSTS7000222.
    let out = go(&w, "client-secret", &vars(w.secret("contoso", "ci-app", 1))).await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("AADSTS7000222"), "{err}");
    let out = go(&w, "client-secret", &vars("wrong-secret-value".into())).await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("AADSTS7000215"), "{err}");
}
