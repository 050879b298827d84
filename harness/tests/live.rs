//! `credsim up` as a live mock cloud, driven as a developer drives it: real clients (the Python
//! SDKs, curl, kubectl) through `env.sh`, and `credsim ctl` changing the world while they run.

#[path = "support/up.rs"]
mod up;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use up::{Up, credsim, text};

fn python() -> PathBuf {
    mock_kit::testing::python().expect("the pinned Python clients")
}

fn script(name: &str) -> PathBuf {
    mock_kit::testing::workspace_root()
        .join("clients/python")
        .join(name)
}

/// The identity named `name` in the demo world's first tenant.
fn identity(world: &Value, name: &str) -> Value {
    world["tenants"][0]["managedIdentities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()
        .clone()
}

/// A ServiceAccount token for `project`'s dedicated ServiceAccount, minted with kubectl.
fn sa_token(up: &Up, project: &str, file: &Path) {
    up.shell_ok(&format!(
        "kubectl create token credentials -n {project} --audience api://AzureADTokenExchange --duration 1h > '{}'",
        file.display()
    ));
}

/// Entra's access token for the project's identity: azure-identity's WorkloadIdentityCredential
/// with the ServiceAccount token, configured only by env.sh and the standard variables.
fn aad_token(up: &Up, tenant: &str, client_id: &str, token_file: &Path) -> Value {
    let out = up.shell_ok(&format!(
        "AZURE_TENANT_ID={tenant} AZURE_CLIENT_ID={client_id} AZURE_FEDERATED_TOKEN_FILE='{}' \
         CREDSIM_SCOPE=https://containerregistry.azure.net/.default '{}' '{}' workload-identity",
        token_file.display(),
        python().display(),
        script("azure_credentials.py").display()
    ));
    serde_json::from_str(&out).unwrap()
}

/// curl through the front door: (status, body).
fn curl(up: &Up, args: &str) -> (u16, String) {
    let out = up.shell_ok(&format!("curl -sS -w '\\n%{{http_code}}' {args}"));
    let (body, status) = out.trim_end().rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

/// ACR's exchange of an Entra access token for a refresh token.
fn exchange(up: &Up, aad: &str) -> (u16, Value) {
    let (status, body) = curl(
        up,
        &format!(
            "-X POST https://contosoacr.azurecr.io/oauth2/exchange \
             --data-urlencode grant_type=access_token --data-urlencode service=contosoacr.azurecr.io \
             --data-urlencode access_token={aad}"
        ),
    );
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// What a refresh token unlocks of `repo`: the token endpoint's status, and the manifest's
/// status with the access token it gave (0 when it gave none).
fn pull_with(up: &Up, refresh: &str, repo: &str) -> (u16, u16) {
    let (status, body) = curl(
        up,
        &format!(
            "-X POST https://contosoacr.azurecr.io/oauth2/token \
             --data-urlencode grant_type=refresh_token --data-urlencode service=contosoacr.azurecr.io \
             --data-urlencode scope=repository:{repo}:pull --data-urlencode refresh_token={refresh}"
        ),
    );
    let Some(access) = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
    else {
        return (status, 0);
    };
    let (manifest, _) = curl(
        up,
        &format!(
            "-o /dev/null -H 'Authorization: Bearer {access}' \
             -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
             https://contosoacr.azurecr.io/v2/{repo}/manifests/1.0.0"
        ),
    );
    (status, manifest)
}

/// The Python registry SDK with DefaultAzureCredential (workload identity) reads a manifest.
fn sdk_pull(up: &Up, tenant: &str, client_id: &str, token_file: &Path, repo: &str) -> Value {
    let out = up.shell_ok(&format!(
        "AZURE_TENANT_ID={tenant} AZURE_CLIENT_ID={client_id} AZURE_FEDERATED_TOKEN_FILE='{}' \
         CREDSIM_REGISTRY=contosoacr.azurecr.io CREDSIM_REPOSITORY={repo} CREDSIM_TAG=1.0.0 \
         '{}' '{}' sdk-default",
        token_file.display(),
        python().display(),
        script("acr_clients.py").display()
    ));
    serde_json::from_str(&out).unwrap()
}

fn grants_of(world: &Value, principal: &str) -> usize {
    world["registries"][0]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["principalName"] == principal)
        .count()
}

#[test]
fn ctl_changes_what_real_clients_get_and_the_session_saves_as_a_scenario() {
    let up = Up::start(&[]);
    let world = up.world();
    let tenant = world["tenants"][0]["id"].as_str().unwrap().to_owned();
    let a = identity(&world, "project-a-mi")["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = identity(&world, "project-b-mi")["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (tok_a, tok_b) = (dir.path().join("a.jwt"), dir.path().join("b.jwt"));
    sa_token(&up, "project-a", &tok_a);
    sa_token(&up, "project-b", &tok_b);

    // A pull works: the SDK, and a registry client's own flow with curl.
    let got = sdk_pull(&up, &tenant, &a, &tok_a, "project-a/app");
    assert!(
        got["manifest"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{got:#}"
    );
    let aad_a = aad_token(&up, &tenant, &a, &tok_a);
    let aad_a = aad_a["token"].as_str().unwrap().to_owned();
    let (status, ex) = exchange(&up, &aad_a);
    assert_eq!(status, 200, "{ex}");
    let refresh_a = ex["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(pull_with(&up, &refresh_a, "project-a/app"), (200, 200));
    let aad_b = aad_token(&up, &tenant, &b, &tok_b)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, ex) = exchange(&up, &aad_b);
    assert_eq!(status, 200, "{ex}");
    let refresh_b = ex["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(pull_with(&up, &refresh_b, "project-b/app"), (200, 200));

    // Revoke project-a's role assignment with a steps file.
    let steps = dir.path().join("revoke.yaml");
    std::fs::write(
        &steps,
        "# project-a loses its role\n- removeRoleAssignment: {registry: contosoacr, principal: project-a-mi}\n",
    )
    .unwrap();
    assert_eq!(grants_of(&up.world(), "project-a-mi"), 1);
    let out = up.ctl(&["apply", steps.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("removed 1 role assignment(s) of contoso/project-a-mi"),
        "{}",
        text(&out)
    );
    assert_eq!(
        grants_of(&up.world(), "project-a-mi"),
        0,
        "world.json is rewritten"
    );

    // The same credential stops unlocking the repository, a fresh exchange is refused, and the
    // SDK's pull fails as ACR answers it.
    let (token_status, manifest_status) = pull_with(&up, &refresh_a, "project-a/app");
    assert!(
        token_status == 401 || (token_status == 200 && [401, 403].contains(&manifest_status)),
        "the revoked principal's refresh token still unlocks: token {token_status}, manifest {manifest_status}"
    );
    let (status, ex) = exchange(&up, &aad_a);
    assert_eq!(status, 401, "{ex}");
    let got = sdk_pull(&up, &tenant, &a, &tok_a, "project-a/app");
    assert_eq!(got["status"], 401, "{got:#}");
    // Project B is untouched.
    assert_eq!(pull_with(&up, &refresh_b, "project-b/app"), (200, 200));

    // Past the refresh token's lifetime (3 h in the demo world), it fails.
    let out = up.ctl(&["advance", "3h1m"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pull_with(&up, &refresh_b, "project-b/app").0, 401);

    // The events: Entra's token requests with the assertion's claims, ACR's exchanges and
    // grants, TokenRequests, the changes; no secret but by kind and fingerprint.
    let out = up.ctl(&["events", "--format", "json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let entra = events
        .iter()
        .find(|e| e["source"] == "entra" && e["kind"] == "token")
        .expect("an Entra token event");
    let assertion = &entra["detail"]["assertion"];
    assert_eq!(assertion["iss"], "https://oidc.shard-a.credsim.test/");
    assert_eq!(
        assertion["sub"],
        "system:serviceaccount:project-a:credentials"
    );
    assert_eq!(assertion["aud"][0], "api://AzureADTokenExchange");
    for kind in ["exchange", "grant", "token-request", "change"] {
        assert!(
            events.iter().any(|e| e["kind"] == kind),
            "no {kind} event in {stdout}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "exchange" && e["ok"] == false),
        "the refused exchange"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "numbered in order");
    let sa = std::fs::read_to_string(&tok_a).unwrap();
    for secret in [sa.trim(), &aad_a, &refresh_a, &refresh_b, &aad_b] {
        assert!(!stdout.contains(secret), "a secret in the events");
    }
    assert!(stdout.contains("<acr-refresh-token sha256:"), "{stdout}");
    let human = up.ctl(&["events"], None);
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains("sub=system:serviceaccount:project-a:credentials"),
        "{human}"
    );
    assert!(!human.contains(&refresh_a));

    // The session as a scenario: it loads, and the reference passes it.
    let saved = dir.path().join("session.yaml");
    let out = up.ctl(&["save", saved.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(&saved).unwrap();
    let loaded = scenarios::load_file(&saved).unwrap().scenario;
    let kinds: Vec<String> = loaded
        .steps
        .iter()
        .map(|s| match &s.action {
            scenarios::model::Action::Request(r) => {
                format!(
                    "{} {} {}",
                    r.project,
                    r.repository,
                    r.expect.outcome.as_str()
                )
            }
            other => format!("{other:?}")
                .split(['(', ' ', '{'])
                .next()
                .unwrap()
                .to_owned(),
        })
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("project-a project-a/app granted"),
        "{yaml}"
    );
    assert!(
        kinds.contains(&"RemoveRoleAssignment".to_owned()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"Advance".to_owned()), "{kinds:?}");
    assert!(
        kinds.contains(&"project-b project-b/app granted".to_owned()),
        "{kinds:?}"
    );
    let check = credsim().arg("check").arg(&saved).output().unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let run = credsim().arg("run").arg(&saved).output().unwrap();
    assert!(run.status.success(), "{}\n{yaml}", text(&run));
    assert!(text(&run).contains("1 passed"), "{}", text(&run));
}

#[test]
fn ctl_events_follow_streams_new_events_as_they_happen() {
    let up = Up::start(&[]);
    let before = up.ctl(&["events", "--format", "json"], None);
    let next = String::from_utf8(before.stdout).unwrap().lines().count();
    let mut follow = credsim()
        .arg("ctl")
        .arg("--state-dir")
        .arg(&up.state)
        .args(["events", "--follow", "--format", "json", "--since"])
        .arg(next.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = up.ctl(&["fault", "entra-throttled", "--on"], None);
    assert!(out.status.success(), "{}", text(&out));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a followed event");
    let _ = follow.kill();
    let _ = follow.wait();
    let e: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["kind"], "change", "{e}");
    assert_eq!(e["seq"].as_u64(), Some(next as u64));
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .contains("fault entra-throttled on")
    );
    // The fault is on: Entra throttles.
    let (status, body) = curl(
        &up,
        "-X POST https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token -d grant_type=client_credentials",
    );
    assert_eq!(status, 429, "{body}");
}

#[test]
fn ctl_without_the_token_or_with_a_wrong_one_is_refused_and_changes_nothing() {
    let up = Up::start(&[]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(up.state.join("control-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control-token is the owner's only");
    assert!(up.control_url().starts_with("http://127.0.0.1:"));
    let world_before = std::fs::read_to_string(up.state.join("world.json")).unwrap();
    let revoke = "- removeRoleAssignment: {registry: contosoacr, principal: project-a-mi}\n";

    // credsim ctl with a wrong token, and with none (an empty token file is no token).
    let mut wrong = credsim();
    wrong
        .args(["ctl", "--state-dir"])
        .arg(&up.state)
        .args(["apply", "-"])
        .env("CREDSIM_CONTROL_TOKEN", format!("{}0", up.token()));
    let out = wrong.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("401"), "{}", text(&out));

    // The endpoint itself, asked without the token, with a wrong one, or a near one.
    let url = up.control_url();
    let token = up.token();
    let near = format!("{}x", &token[..token.len() - 1]);
    for auth in [
        String::new(),
        "-H 'Authorization: Bearer wrong'".into(),
        format!("-H 'Authorization: Bearer {near}'"),
        format!("-H 'Authorization: Basic {token}'"),
        format!("-H 'Authorization: Bearer {token}{token}'"),
    ] {
        for (method, path) in [
            ("POST", "/v1/apply?file=x"),
            ("GET", "/v1/events"),
            ("GET", "/v1/world"),
            ("GET", "/v1/scenario"),
            ("GET", "/v1/diagram"),
        ] {
            let out = Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", method])
                .args(["--data-binary", revoke])
                .args(shell_words(&auth))
                .arg(format!("{url}{path}"))
                .env_remove("HTTP_PROXY")
                .env_remove("http_proxy")
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "401",
                "{method} {path} with [{auth}]"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(up.state.join("world.json")).unwrap(),
        world_before,
        "nothing changed"
    );
    let events = up.ctl(&["events", "--format", "json"], None);
    assert!(events.status.success());
    assert!(
        !String::from_utf8_lossy(&events.stdout).contains("\"change\""),
        "no change was made"
    );
    // The token works.
    let out = up.ctl(&["apply", "-"], Some(revoke));
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(
        std::fs::read_to_string(up.state.join("world.json")).unwrap(),
        world_before
    );
}

/// `-H 'a b'` → [`-H`, `a b`].
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('\'') {
            let (word, after) = r.split_once('\'').unwrap();
            out.push(word.to_owned());
            rest = after.trim_start();
        } else {
            let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push(word.to_owned());
            rest = after.trim_start();
        }
    }
    out
}

#[test]
fn ctl_apply_validates_steps_like_a_scenario_file_and_applies_nothing_on_error() {
    let up = Up::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- advance: 1h\n- removeRoleAssignment: {registry: contosoacr, principal: project-c-mi}\n- fault: {name: entra-throttled, activ: true}\n",
    )
    .unwrap();
    let out = up.ctl(&["apply", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "the decode error at its line: {stderr}"
    );
    std::fs::write(
        &bad,
        "steps:\n  - advance: 1h\n  - removeRoleAssignment: {registry: contosoacr, principal: project-c-mi}\n",
    )
    .unwrap();
    let out = up.ctl(&["apply", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())) && stderr.contains("project-c-mi"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean"), "{stderr}");
    // A request is not a change.
    let out = up.ctl(
        &["apply", "-"],
        Some("- request: {shard: shard-a, project: project-a, registry: contosoacr, repository: project-a/app, expect: {outcome: granted}}\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("-:1:"), "{}", text(&out));
    // Nothing was applied: no change event, the clock did not move.
    let events = up.ctl(&["events", "--format", "json"], None);
    assert!(!String::from_utf8_lossy(&events.stdout).contains("\"change\""));
    // A fault the world does not have is an error, like a dangling reference in a file.
    let out = up.ctl(&["fault", "no-such-fault", "--on"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // Deleting a credential an earlier apply added validates against the session so far.
    let add = "- addFederatedCredential: {identity: project-b-mi, credential: {name: extra, issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:contoso/app:ref:refs/heads/main'}}\n";
    let out = up.ctl(&["apply", "-"], Some(add));
    assert!(out.status.success(), "{}", text(&out));
    let out = up.ctl(
        &["apply", "-"],
        Some("- deleteFederatedCredential: {identity: project-b-mi, name: extra}\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    // The control endpoint listens on loopback only.
    let refused = credsim()
        .args(["up", "--control-listen", "0.0.0.0:0", "--state-dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).contains("loopback"), "{}", text(&refused));
}

/// Steps that onboard project-c while `credsim up` runs: its namespace and dedicated
/// ServiceAccount (annotated for the webhook and for the shard's controller), its managed
/// identity federated to that ServiceAccount, a role on its repository's neighbour, and a new
/// tenant with an app.
const ONBOARD: &str = "# onboarding project-c
- addProject:
    cluster: shard-a
    name: project-c
    serviceAccounts:
      - name: credentials
        annotations:
          azure.workload.identity/client-id: 5d0e7c55-0000-4000-8000-00000000000c
          azure.kargo.akuity.io/shard-a.client-id: 5d0e7c55-0000-4000-8000-00000000000c
- addIdentity:
    tenant: contoso
    managedIdentity:
      name: project-c-mi
      clientId: 5d0e7c55-0000-4000-8000-00000000000c
      federatedCredentials:
        - {name: project-c-shard-a, cluster: shard-a, serviceAccount: project-c/credentials}
- addRoleAssignment:
    registry: contosoacr
    principal: project-c-mi
    role: Container Registry Repository Reader
    repository: project-b/app
- addTenant:
    name: northwind
    apps: [{name: northwind-ci, secrets: [{name: ci}]}]
";

#[test]
fn ctl_adds_a_project_an_identity_and_a_tenant_that_real_clients_use_at_once() {
    let up = Up::start(&[]);
    let tenant = up.world()["tenants"][0]["id"].as_str().unwrap().to_owned();
    let out = up.ctl(&["apply", "-"], Some(ONBOARD));
    assert!(out.status.success(), "{}", text(&out));
    for note in [
        "created project shard-a:project-c (1 ServiceAccount(s), 2 RoleBinding(s) for the controller)",
        "created managed identity contoso/project-c-mi (client ID 5d0e7c55-0000-4000-8000-00000000000c)",
        "created tenant northwind",
    ] {
        assert!(text(&out).contains(note), "{note}: {}", text(&out));
    }

    // world.json has them.
    let world = up.world();
    let mi = identity(&world, "project-c-mi");
    assert_eq!(mi["clientId"], "5d0e7c55-0000-4000-8000-00000000000c");
    assert_eq!(
        mi["federatedCredentials"][0]["subject"],
        "system:serviceaccount:project-c:credentials"
    );
    let shard_a = world["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shard-a")
        .unwrap();
    assert!(
        shard_a["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "project-c"),
        "{shard_a:#}"
    );
    let northwind = world["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "northwind")
        .expect("the new tenant in world.json")
        .clone();

    // kubectl sees the project: its ServiceAccount's token, and the controller's RoleBinding.
    let dir = tempfile::tempdir().unwrap();
    let tok_c = dir.path().join("c.jwt");
    sa_token(&up, "project-c", &tok_c);
    let can_i = |ns: &str| {
        let out = up.shell(&format!(
            "kubectl auth can-i create serviceaccounts/credentials --subresource=token -n {ns} \
             --as system:serviceaccount:kargo:kargo-controller"
        ));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        can_i("project-c"),
        "yes",
        "the controller's RoleBinding in the new project"
    );
    assert_eq!(can_i("default"), "no", "and nowhere else");

    // The new federated credential has not propagated yet (60 s in the demo world): Entra
    // answers as it does, and once the clock is past it the SDK pulls with the new identity.
    let early = up.shell(&format!(
        "AZURE_TENANT_ID={tenant} AZURE_CLIENT_ID=5d0e7c55-0000-4000-8000-00000000000c \
         AZURE_FEDERATED_TOKEN_FILE='{}' CREDSIM_SCOPE=https://containerregistry.azure.net/.default \
         '{}' '{}' workload-identity",
        tok_c.display(),
        python().display(),
        script("azure_credentials.py").display()
    ));
    assert!(
        text(&early).contains("AADSTS70021"),
        "before propagation: {}",
        text(&early)
    );
    let out = up.ctl(&["advance", "2m"], None);
    assert!(out.status.success(), "{}", text(&out));
    let got = sdk_pull(
        &up,
        &tenant,
        "5d0e7c55-0000-4000-8000-00000000000c",
        &tok_c,
        "project-b/app",
    );
    assert!(
        got["manifest"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{got:#}"
    );
    // Only the repository it was given.
    let got = sdk_pull(
        &up,
        &tenant,
        "5d0e7c55-0000-4000-8000-00000000000c",
        &tok_c,
        "project-a/app",
    );
    assert_eq!(got["status"], 401, "{got:#}");

    // The new tenant: azure-identity's ClientSecretCredential, with its app's secret from
    // world.json, gets a token signed for it.
    let app = &northwind["apps"][0];
    let got = up.shell_ok(&format!(
        "CREDSIM_TENANT=northwind.onmicrosoft.com CREDSIM_CLIENT_ID={} CREDSIM_SECRET='{}' \
         CREDSIM_SCOPE=https://management.azure.com/.default '{}' '{}' client-secret",
        app["clientId"].as_str().unwrap(),
        app["secret"].as_str().unwrap(),
        python().display(),
        script("azure_credentials.py").display()
    ));
    let got: Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["claims"]["tid"], northwind["id"], "{got:#}");
    assert_eq!(got["claims"]["appid"], app["clientId"], "{got:#}");

    // A second project of the same name is refused where it is written, and nothing changes.
    let out = up.ctl(
        &["apply", "-"],
        Some("- addProject: {cluster: shard-a, name: project-c}\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("-:1:") && text(&out).contains("has a namespace `project-c`"),
        "{}",
        text(&out)
    );

    // Saved, the session is a scenario with the additions as steps, and the reference passes
    // it: the project-c request recorded after its identity was added is granted.
    let saved = dir.path().join("onboarding.yaml");
    let out = up.ctl(&["save", saved.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(&saved).unwrap();
    let loaded = scenarios::load_file(&saved).unwrap().scenario;
    use scenarios::model::Action;
    assert!(
        matches!(loaded.steps[0].action, Action::AddProject { .. }),
        "{yaml}"
    );
    assert!(
        matches!(loaded.steps[1].action, Action::AddIdentity { .. }),
        "{yaml}"
    );
    assert!(
        matches!(loaded.steps[3].action, Action::AddTenant(_)),
        "{yaml}"
    );
    assert!(
        loaded.steps.iter().any(|s| matches!(
            &s.action,
            Action::Request(r) if r.project == "project-c"
                && r.expect.outcome == scenarios::model::Outcome::Granted
        )),
        "{yaml}"
    );
    let run = credsim().arg("run").arg(&saved).output().unwrap();
    assert!(run.status.success(), "{}\n{yaml}", text(&run));
    assert!(text(&run).contains("1 passed"), "{}", text(&run));
}
