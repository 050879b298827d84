//! The real Python clients, unmodified, against mock-entra through the front door: azure-identity's
//! ClientSecretCredential, CertificateCredential, ClientAssertionCredential and
//! WorkloadIdentityCredential, and msal's ConfidentialClientApplication with instance discovery on.

mod support;

use serde_json::Value;
use support::*;

/// Runs a case of `clients/python/azure_credentials.py` with the standard variables plus `vars`.
async fn run(w: &World, case: &str, vars: Vec<(String, String)>) -> Value {
    let mut env = w.door.client_env(Some(case), &w.ca_path);
    env.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com/".into(),
    ));
    env.extend(vars);
    let case = case.to_owned();
    tokio::task::spawn_blocking(move || {
        mock_kit::testing::run_python_json("azure_credentials.py", &[&case], &env)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn token_of(out: &Value) -> Value {
    assert!(out.get("error").is_none(), "{out:#}");
    out["claims"].clone()
}

#[tokio::test]
async fn azure_identity_client_secret_credential() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let app = w.identity("contoso", "ci-app");
    let out = run(
        &w,
        "client-secret",
        vars(&[
            ("CREDSIM_TENANT", tid.clone()),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_SECRET", w.secret("contoso", "ci-app", 0)),
            (
                "CREDSIM_SCOPE",
                "https://management.azure.com/.default".into(),
            ),
        ]),
    )
    .await;
    let c = token_of(&out);
    assert_eq!(c["appid"], app.client_id.to_string());
    assert_eq!(c["tid"], tid);
    assert_eq!(c["aud"], "https://management.azure.com");
    assert_eq!(c["appidacr"], "1");
    let expires_on = out["expires_on"].as_i64().unwrap();
    let exp = c["exp"].as_i64().unwrap();
    assert!(
        (exp - 2..=exp).contains(&expires_on),
        "{expires_on} vs exp {exp}"
    );
    // The secret went only to Entra, inside TLS, through the front door.
    let secret_fp = mock_kit::Fingerprint::of(&w.secret("contoso", "ci-app", 0));
    let carried: Vec<_> = w.door.egress().filter(|r| r.carried(&secret_fp));
    assert!(!carried.is_empty());
    assert!(carried.iter().all(
        |r| r.host == "login.microsoftonline.com" && r.scheme == mock_kit::site::Scheme::Https
    ));

    let wrong = run(
        &w,
        "client-secret",
        vars(&[
            ("CREDSIM_TENANT", tid),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_SECRET", "not-the-secret-value".into()),
            (
                "CREDSIM_SCOPE",
                "https://management.azure.com/.default".into(),
            ),
        ]),
    )
    .await;
    assert_eq!(wrong["error"], "ClientAuthenticationError", "{wrong:#}");
    assert!(
        wrong["message"].as_str().unwrap().contains("AADSTS7000215"),
        "{wrong:#}"
    );
}

#[tokio::test]
async fn azure_identity_certificate_credential() {
    let w = World::new().await;
    let app = w.identity("contoso", "cert-app");
    let pem = w.dir.path().join("cert-app.pem");
    std::fs::write(&pem, app.certificates[0].pem_with_key()).unwrap();
    let out = run(
        &w,
        "certificate",
        vars(&[
            ("CREDSIM_TENANT", w.tenant_id("contoso")),
            ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
            ("CREDSIM_CERT_PATH", pem.display().to_string()),
            ("CREDSIM_SCOPE", "https://vault.azure.net/.default".into()),
        ]),
    )
    .await;
    let c = token_of(&out);
    assert_eq!(c["appid"], app.client_id.to_string());
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["aud"], "https://vault.azure.net");
    let ev = w.entra.journal().snapshot();
    let t = ev.iter().filter_map(|e| e.as_token()).next_back().unwrap();
    assert_eq!(
        t.credential,
        mock_entra::journal::CredentialKind::Certificate
    );
}

#[tokio::test]
async fn azure_identity_client_assertion_and_workload_identity_credentials() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    let token_file = w.dir.path().join("azure-identity-token");
    std::fs::write(&token_file, w.good_assertion()).unwrap();
    let tid = w.tenant_id("contoso");
    let out = run(
        &w,
        "client-assertion",
        vars(&[
            ("CREDSIM_TENANT", tid.clone()),
            ("CREDSIM_CLIENT_ID", mi.client_id.to_string()),
            ("CREDSIM_TOKEN_FILE", token_file.display().to_string()),
            (
                "CREDSIM_SCOPE",
                "https://containerregistry.azure.net/.default".into(),
            ),
        ]),
    )
    .await;
    let c = token_of(&out);
    assert_eq!(c["appid"], mi.client_id.to_string());
    assert_eq!(c["oid"], mi.object_id.to_string());
    assert_eq!(c["aud"], "https://containerregistry.azure.net");
    assert_eq!(c["xms_mirid"], mi.resource_id.clone().unwrap());

    let out = run(
        &w,
        "workload-identity",
        vars(&[
            ("AZURE_TENANT_ID", tid),
            ("AZURE_CLIENT_ID", mi.client_id.to_string()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            (
                "CREDSIM_SCOPE",
                "https://management.azure.com/.default".into(),
            ),
        ]),
    )
    .await;
    let c = token_of(&out);
    assert_eq!(c["appid"], mi.client_id.to_string());
    assert_eq!(c["tid"], w.tenant_id("contoso"));
    // The SDK posted the projected token straight to the token endpoint (no discovery).
    let rec = w
        .door
        .egress()
        .filter(|r| r.client.label.as_deref() == Some("workload-identity"));
    assert_eq!(rec.len(), 1, "{rec:#?}");
    assert!(rec[0].path.ends_with("/oauth2/v2.0/token"));
    assert!(
        rec[0].secrets.is_empty()
            || rec[0]
                .secrets
                .iter()
                .all(|s| s.kind != "entra-access-token")
    );

    // A token for another project's ServiceAccount is refused with the exact AADSTS code.
    std::fs::write(
        &token_file,
        w.sa_token(("project-b", "creds"), EXCHANGE, 0, 3600),
    )
    .unwrap();
    let out = run(
        &w,
        "workload-identity",
        vars(&[
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
        ]),
    )
    .await;
    assert_eq!(out["error"], "ClientAuthenticationError", "{out:#}");
    assert!(
        out["message"].as_str().unwrap().contains("AADSTS700213"),
        "{out:#}"
    );
}

#[tokio::test]
async fn msal_confidential_client_with_instance_discovery_on() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let app = w.identity("contoso", "ci-app");
    let base = vec![
        ("CREDSIM_CLIENT_ID", app.client_id.to_string()),
        ("CREDSIM_SECRET", w.secret("contoso", "ci-app", 0)),
        (
            "CREDSIM_SCOPE",
            "https://graph.microsoft.com/.default".to_owned(),
        ),
    ];
    let mut v = base.clone();
    v.push((
        "CREDSIM_AUTHORITY",
        format!("https://login.microsoftonline.com/{tid}"),
    ));
    let out = run(&w, "msal-secret", vars(&v)).await;
    let c = token_of(&out);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert!(out["expires_in"].as_i64().unwrap() > 3000);
    // MSAL discovered the tenant, then posted to the discovered token endpoint.
    let paths: Vec<String> = w
        .door
        .egress()
        .filter(|r| r.client.label.as_deref() == Some("msal-secret"))
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with(&format!("/{tid}/v2.0/.well-known/openid-configuration"))),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p == &format!("/{tid}/oauth2/v2.0/token")),
        "{paths:?}"
    );

    // An authority the real service does not know (the fake's loopback address): MSAL asks
    // login.microsoftonline.com's instance discovery, which says invalid_instance, and MSAL refuses.
    let direct = w.door.endpoint("mock-entra").unwrap();
    let mut v = base;
    v.push(("CREDSIM_AUTHORITY", format!("{}/{tid}", direct.direct_url)));
    let out = run(&w, "msal-direct", vars(&v)).await;
    assert_eq!(out["error"], "ValueError", "{out:#}");
    assert!(
        out["message"].as_str().unwrap().contains("is not known"),
        "{out:#}"
    );
    assert!(
        w.door
            .egress()
            .find(|r| r.path.starts_with("/common/discovery/instance") && r.status == 400)
            .is_some()
    );
}
