//! The README's Azurite recipe as a test: Azure's Storage emulator, started with `--oauth basic`
//! over HTTPS with the certificate `credsim up` writes, and the unmodified Python Storage SDK
//! with `DefaultAzureCredential` writing and reading a blob with tokens from credsim's Entra
//! (the node's managed identity through IMDS, and workload identity).

#[path = "support/up.rs"]
mod up;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use up::Up;

struct Azurite(Child);

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Azurite's blob service on a free port, as the recipe starts it; returns it and the port.
fn azurite(up: &Up, location: &std::path::Path) -> (Azurite, u16) {
    let bin = mock_kit::testing::workspace_root()
        .join("target/clients/node/node_modules/.bin/azurite-blob");
    let mut child = Command::new(bin)
        .args(["--oauth", "basic", "--cert"])
        .arg(up.state.join("tls/localhost.pem"))
        .arg("--key")
        .arg(up.state.join("tls/localhost-key.pem"))
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--disableTelemetry",
            "--location",
        ])
        .arg(location)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("azurite starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line
                .split("https://127.0.0.1:")
                .nth(1)
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("azurite says where it listens");
    (Azurite(child), port)
}

#[test]
fn azurite_accepts_credsims_tokens_from_default_azure_credential() {
    let python = mock_kit::testing::python().expect("the pinned clients");
    let up = Up::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (_azurite, port) = azurite(&up, dir.path());
    let world = up.world();
    let tenant = world["tenants"][0]["id"].as_str().unwrap().to_owned();
    let script = mock_kit::testing::workspace_root().join("clients/python/azurite_blob.py");
    let blob = |extra: &str, data: &str| -> Value {
        let out = up.shell_ok(&format!(
            "export NO_PROXY=localhost no_proxy=localhost; {extra} '{}' '{}' \
             --account-url https://localhost:{port}/devstoreaccount1 --container credsim \
             --blob {data}.txt --data {data}",
            python.display(),
            script.display()
        ));
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    };
    // Managed identity: the node's, through IMDS.
    let got = blob("", "hello-managed-identity");
    assert_eq!(got["read"], "hello-managed-identity", "{got:#}");
    assert_eq!(
        got["tokenIssuer"],
        format!("https://sts.windows.net/{tenant}/")
    );
    assert_eq!(got["tokenAudience"], "https://storage.azure.com");
    // Workload identity: project-a's identity with a ServiceAccount token.
    let token = dir.path().join("sa.jwt");
    up.shell_ok(&format!(
        "kubectl create token credentials -n project-a --audience api://AzureADTokenExchange > '{}'",
        token.display()
    ));
    let mi = world["tenants"][0]["managedIdentities"][0]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = blob(
        &format!(
            "AZURE_TENANT_ID={tenant} AZURE_CLIENT_ID={mi} AZURE_FEDERATED_TOKEN_FILE='{}'",
            token.display()
        ),
        "hello-workload-identity",
    );
    assert_eq!(got["read"], "hello-workload-identity", "{got:#}");
    // The tokens came from credsim's fakes, as the events show.
    let events = up.ctl(&["events"], None);
    let events = String::from_utf8_lossy(&events.stdout).into_owned();
    assert!(
        events.contains("resource https://storage.azure.com"),
        "{events}"
    );
    assert!(events.contains("for project-a-mi by assertion"), "{events}");
    // Azurite does check: a token for another audience is refused.
    let out = up.shell_ok(&format!(
        "export NO_PROXY=localhost no_proxy=localhost; t=$(curl -sS -H Metadata:true \
         \"$AZURE_POD_IDENTITY_AUTHORITY_HOST/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/\" \
         | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/'); \
         curl -sS -o /dev/null -w '%{{http_code}}' -H \"Authorization: Bearer $t\" -H 'x-ms-version: 2025-11-05' \
         'https://localhost:{port}/devstoreaccount1/credsim?restype=container&comp=list'"
    ));
    assert_eq!(out.trim(), "403", "a management token opens Azurite");
}
