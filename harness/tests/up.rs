//! `credsim up` as a user runs it: the state directory, `source env.sh` then an unmodified `curl`,
//! and a clean exit on SIGTERM that leaves nothing listening.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn credsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credsim"))
}

fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("credsim up exited early with {status}");
        }
        assert!(Instant::now() < deadline, "credsim up never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

#[test]
fn up_writes_state_serves_through_env_sh_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = credsim()
        .args(["up", "--state-dir"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&state.join("ready"), &mut child);

    let ca = std::fs::read_to_string(state.join("ca.pem")).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let world: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("world.json")).unwrap()).unwrap();
    assert_eq!(world["formatVersion"], 1);
    assert_eq!(world["authorityHost"], "https://login.microsoftonline.com/");
    let tenants = world["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2);
    assert_eq!(tenants[0]["name"], "contoso");
    assert_eq!(tenants[0]["domains"][0], "contoso.onmicrosoft.com");
    assert_eq!(tenants[0]["apps"][0]["name"], "ci-app");
    assert!(tenants[0]["apps"][0]["secret"].as_str().unwrap().len() >= 40);
    let mi_names: Vec<&str> = tenants[0]["managedIdentities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        mi_names,
        ["project-a-mi", "project-b-mi", "shard-a-kubelet"]
    );
    for key in ["registries", "clusters", "nodes"] {
        assert!(world[key].is_array(), "{key} missing");
    }
    let registry = &world["registries"][0];
    assert_eq!(registry["loginServer"], "contosoacr.azurecr.io");
    assert_eq!(registry["tenantId"], tenants[0]["id"]);
    assert_eq!(
        registry["repositories"],
        serde_json::json!(["project-a/app", "project-b/app"])
    );
    let project_a_grant = registry["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["principalName"] == "project-a-mi")
        .unwrap();
    assert_eq!(project_a_grant["repository"], "project-a/app");
    assert_eq!(
        project_a_grant["principal"],
        tenants[0]["managedIdentities"][0]["clientId"]
    );
    assert_eq!(
        world["registries"][1]["loginServer"],
        "fabrikamacr.azurecr.io"
    );
    let tenant_id = tenants[0]["id"].as_str().unwrap().to_owned();

    // A user's shell: source env.sh, then a plain curl by the real host name.
    let script = format!(
        "set -e; source '{}/env.sh'; curl -sS --fail-with-body \
         https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration",
        state.display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["issuer"],
        format!("https://login.microsoftonline.com/{tenant_id}/v2.0")
    );
    assert_eq!(
        doc["token_endpoint"],
        format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
    );

    // The demo's federated credentials, issuers and node.
    let mis = tenants[0]["managedIdentities"].as_array().unwrap();
    let fic = &mis[0]["federatedCredentials"][0];
    assert_eq!(fic["issuer"], "https://oidc.shard-a.credsim.test/");
    assert_eq!(
        fic["subject"],
        "system:serviceaccount:project-a:credentials"
    );
    assert_eq!(fic["audiences"][0], "api://AzureADTokenExchange");
    let kubelet = mis.iter().find(|m| m["name"] == "shard-a-kubelet").unwrap()["clientId"].clone();
    assert_eq!(world["nodes"][0]["name"], "shard-a-node");
    assert_eq!(world["nodes"][0]["cluster"], "shard-a");
    assert_eq!(world["nodes"][0]["managedIdentities"][0], kubelet);
    let clusters = world["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0]["name"], "shard-a");
    assert_eq!(clusters[0]["issuer"], "https://oidc.shard-a.credsim.test/");
    assert_eq!(clusters[1]["issuer"], "https://oidc.shard-b.credsim.test/");
    assert!(
        state
            .join(clusters[0]["kubeconfig"].as_str().unwrap())
            .exists()
    );

    let shell = |script: &str| {
        let out = Command::new("bash")
            .args([
                "-c",
                &format!("set -e; source '{}/env.sh'; {script}", state.display()),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // IMDS through the front door, and through AZURE_POD_IDENTITY_AUTHORITY_HOST.
    for base in [
        "http://169.254.169.254",
        "$AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ] {
        let out = shell(&format!(
            "curl -sS --fail-with-body -H Metadata:true \"{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/\""
        ));
        let token: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(token["client_id"], kubelet, "{base}");
        assert_eq!(token["token_type"], "Bearer");
    }
    let out = shell(
        "curl -sS --fail-with-body https://oidc.shard-a.credsim.test/.well-known/openid-configuration",
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["issuer"], "https://oidc.shard-a.credsim.test/");

    // kubectl, configured by env.sh's KUBECONFIG, sees the demo cluster; a token it creates for
    // project-a's dedicated ServiceAccount is what workload identity federates.
    let out = shell("kubectl get namespaces -o name");
    assert!(out.contains("namespace/project-a"), "{out}");
    let token_file = dir.path().join("azure-identity-token");
    shell(&format!(
        "kubectl create token credentials -n project-a --audience api://AzureADTokenExchange --duration 1h > '{}'",
        token_file.display()
    ));

    // The real Python SDK, configured only by env.sh, gets a token for the demo app.
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/clients/venv/bin/python");
    let _ = mock_kit::testing::python().expect("the pinned Python clients");
    let script = mock_kit::testing::workspace_root().join("clients/python/azure_credentials.py");
    let app = &tenants[0]["apps"][0];
    let out = shell(&format!(
        "CREDSIM_TENANT={tenant_id} CREDSIM_CLIENT_ID={} CREDSIM_SECRET='{}' \
         CREDSIM_SCOPE=https://management.azure.com/.default '{}' '{}' client-secret",
        app["clientId"].as_str().unwrap(),
        app["secret"].as_str().unwrap(),
        python.display(),
        script.display()
    ));
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["claims"]["appid"], app["clientId"], "{got:#}");
    assert_eq!(got["claims"]["tid"], tenant_id.as_str());

    // And azure-containerregistry, through the same env.sh, reads the demo registry.
    let acr_script = mock_kit::testing::workspace_root().join("clients/python/acr_clients.py");
    let out = shell(&format!(
        "CREDSIM_TENANT={tenant_id} CREDSIM_CLIENT_ID={} CREDSIM_SECRET='{}' CREDSIM_REGISTRY=contosoacr.azurecr.io \
         CREDSIM_REPOSITORY=project-a/app CREDSIM_TAG=1.1.0 '{}' '{}' sdk",
        app["clientId"].as_str().unwrap(),
        app["secret"].as_str().unwrap(),
        python.display(),
        acr_script.display()
    ));
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        got["repositories"],
        serde_json::json!(["project-a/app", "project-b/app"]),
        "{got:#}"
    );
    assert_eq!(got["tags"], serde_json::json!(["1.0.0", "1.1.0"]));

    // Workload identity end to end: the kubectl-minted token, exchanged by azure-identity's
    // WorkloadIdentityCredential, for project-a's managed identity.
    let mi = &tenants[0]["managedIdentities"][0];
    let out = shell(&format!(
        "AZURE_TENANT_ID={tenant_id} AZURE_CLIENT_ID={} AZURE_FEDERATED_TOKEN_FILE='{}' \
         CREDSIM_SCOPE=https://containerregistry.azure.net/.default '{}' '{}' workload-identity",
        mi["clientId"].as_str().unwrap(),
        token_file.display(),
        python.display(),
        script.display()
    ));
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["claims"]["appid"], mi["clientId"], "{got:#}");

    let proxy = world["proxy"].as_str().unwrap().to_owned();
    let proxy_port = port_of(&proxy);
    assert!(TcpStream::connect(("127.0.0.1", proxy_port)).is_ok());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "credsim up ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert!(
        stdout.contains(&format!("front door on {proxy}")),
        "{stdout}"
    );
    let direct_port = stdout
        .lines()
        .find(|l| l.contains("mock-entra"))
        .and_then(|l| l.split("direct: ").nth(1))
        .map(|d| port_of(d.trim_end_matches(')')))
        .expect("the direct listener is printed");
    assert!(stdout.contains("credsim up: stopped"), "{stdout}");
    for port in [proxy_port, direct_port] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still listens after SIGTERM"
        );
    }
    assert!(
        !state.join("ready").exists(),
        "ready is removed on shutdown"
    );
}

#[test]
fn up_serves_a_scenario_world_with_its_ids_and_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/tests/fixtures/valid-kitchen-sink.yaml");
    let mut child = credsim()
        .args(["up", "--state-dir"])
        .arg(&state)
        .arg("--world")
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&state.join("ready"), &mut child);
    let world: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("world.json")).unwrap()).unwrap();
    let fabrikam = world["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "fabrikam")
        .unwrap();
    assert_eq!(
        fabrikam["id"], "0b7c8f3e-54a2-4a41-9c1f-2f6f1f0e8a11",
        "the scenario's GUID"
    );
    let contoso = world["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "contoso")
        .unwrap();
    let mi = contoso["managedIdentities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "project-a-mi")
        .unwrap();
    assert_eq!(
        mi["federatedCredentials"][0]["subject"],
        "system:serviceaccount:project-a:credentials"
    );
    assert_eq!(world["clusters"][0]["name"], "shard-a");
    assert_eq!(world["nodes"][0]["cluster"], "shard-a");
    assert_eq!(
        world["registries"][0]["loginServer"],
        "contosoacr.azurecr.io"
    );
    // The admin kubeconfig reaches the scenario's cluster: its project namespace exists, and the
    // controller may mint tokens only for the designated ServiceAccount there.
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .env("KUBECONFIG", state.join("kubeconfig/shard-a.yaml"))
            .args(args)
            .output()
            .unwrap()
    };
    let ns = kubectl(&["get", "namespace", "project-a", "-o", "name"]);
    assert_eq!(
        String::from_utf8_lossy(&ns.stdout).trim(),
        "namespace/project-a"
    );
    let can = |sa: &str| {
        let out = kubectl(&[
            "auth",
            "can-i",
            "create",
            &format!("serviceaccounts/{sa}"),
            "--subresource=token",
            "-n",
            "project-a",
            "--as=system:serviceaccount:kargo:kargo-controller",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(can("credentials"), "yes");
    assert_eq!(can("default"), "no");
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

fn sigterm(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn up_refuses_a_scenario_that_does_not_load_saying_where() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: credsim.dev/v1alpha1\nkind: Scenario\nmetadata: {name: bad}\nworld:\n  tenants: [{name: contoso, apps: [{nam: x}]}]\n",
    )
    .unwrap();
    let out = credsim()
        .args(["up", "--world"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:5:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `nam`"), "{stderr}");
}
