//! Unmodified external clients through the front door with only the standard variables
//! (`FrontDoor::client_env`): `curl`, and Python `requests` from the pinned venv.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn curl_reaches_the_fakes_with_only_the_standard_variables() {
    let w = world().await;
    let env = proxy_env(&w);
    let run = |url: &'static str| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("curl")
                .args(["-sS", "-w", "\n%{http_code}", url])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .envs(env)
                .output()
                .expect("curl runs");
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let (out, err) =
        run("https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration")
            .await
            .unwrap();
    assert!(out.ends_with("\n200"), "{out}\n{err}");
    assert!(out.contains(r#""site":"test-entra""#), "{out}");
    let (out, _) = run("https://example.com/").await.unwrap();
    assert!(out.ends_with("\n502"), "{out}");
    assert!(out.contains("no fake serves example.com:443"), "{out}");
    let (out, _) = run("http://169.254.169.254/metadata/instance?api-version=2021-02-01")
        .await
        .unwrap();
    assert!(out.ends_with("\n200"), "{out}");

    let hosts: Vec<String> = w
        .door
        .egress()
        .snapshot()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(
        hosts,
        [
            "login.microsoftonline.com",
            "example.com",
            "169.254.169.254"
        ]
    );

    // With an explicit --proxy and --cacert instead of the variables, the same.
    let ca = w.ca_file.clone();
    let proxy = w.door.proxy_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--proxy", &proxy, "--cacert"])
            .arg(ca)
            .arg("https://myreg.azurecr.io/v2/")
            .env_remove("HTTPS_PROXY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#""site":"test-acr""#),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn python_requests_reaches_the_fakes_with_only_the_standard_variables() {
    let python = mock_kit::testing::python().expect("the pinned Python clients");
    let w = world().await;
    let script = r#"
import json, requests
out = {}
r = requests.get("https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration", timeout=10)
out["entra"] = [r.status_code, r.json()["site"]]
r = requests.post("https://contosoacr.azurecr.io/oauth2/exchange", data={"grant_type": "access_token"}, timeout=10)
out["acr"] = [r.status_code, r.json()["host"]]
r = requests.get("http://169.254.169.254/metadata/identity/oauth2/token", headers={"Metadata": "true"}, timeout=10)
out["imds"] = [r.status_code, r.json()["site"]]
r = requests.get("https://example.com/", timeout=10)
out["unknown"] = [r.status_code, r.headers.get("x-credsim-refused")]
print(json.dumps(out))
"#;
    let env = proxy_env(&w);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", script])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        json!({
            "entra": [200, "test-entra"],
            "acr": [200, "contosoacr.azurecr.io"],
            "imds": [200, "test-imds"],
            "unknown": [502, "unknown-host"],
        })
    );
    let record = w.door.egress().snapshot();
    assert_eq!(record.len(), 4);
    assert!(record[3].refused());
    assert_eq!(record[1].method, "POST");
}
