//! The exec protocol's harness side against implementations that get it wrong: every violation is
//! an `error` verdict naming the offending line, never a pass; and the environment an
//! implementation gets is exactly the protocol's.

use std::path::Path;
use std::time::Duration;

use credsim::exec::{ExecLauncher, Timeouts};
use credsim::run::{Verdict, run_scenario};

fn scenario() -> scenarios::Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/acr/host-confusion.yaml");
    scenarios::load_file(&path).unwrap().scenario
}

/// A Python implementation from `body` (a loop over stdin lines with `msg` decoded, `out(obj)`
/// to answer).
fn python(dir: &Path, name: &str, body: &str) -> ExecLauncher {
    let script = dir.join(format!("{name}.py"));
    std::fs::write(
        &script,
        format!(
            "import json, os, sys, time\ndef out(o):\n    sys.stdout.write(json.dumps(o) + '\\n'); sys.stdout.flush()\nfor line in sys.stdin:\n    msg = json.loads(line)\n{body}\n"
        ),
    )
    .unwrap();
    let mut l = ExecLauncher::new(&format!("{} {}", interpreter(), script.display()));
    l.timeouts = Timeouts {
        initialize: Duration::from_secs(5),
        request: Duration::from_secs(2),
        shutdown: Duration::from_secs(2),
    };
    l
}

/// The real interpreter, not a version manager's shim (a shim adds its own variables, which
/// would hide what the harness passes).
fn interpreter() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const INIT: &str = "    if msg['method'] == 'initialize':\n        out({'jsonrpc': '2.0', 'id': msg['id'], 'result': {'protocolVersion': 1, 'implementation': {'name': 'bad', 'version': '0'}}}); continue\n";

async fn error_of(launcher: &ExecLauncher) -> String {
    mock_kit::install_crypto_provider();
    let r = run_scenario(&scenario(), launcher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    r.error.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_are_errors_that_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = error_of(&python(
        d,
        "garbage",
        "    print('hello, I am not JSON-RPC', flush=True)",
    ))
    .await;
    assert!(
        e.contains("protocol violation: not a JSON-RPC message: hello, I am not JSON-RPC"),
        "{e}"
    );

    let e = error_of(&python(
        d,
        "wrong_id",
        &format!("{INIT}    out({{'jsonrpc': '2.0', 'id': 999, 'result': None}})"),
    ))
    .await;
    assert!(e.contains("expected the answer to id 1"), "{e}");
    assert!(e.contains("\"id\": 999"), "{e}");

    let e = error_of(&python(
        d,
        "no_password",
        &format!(
            "{INIT}    out({{'jsonrpc': '2.0', 'id': msg['id'], 'result': {{'username': 'u'}}}})"
        ),
    ))
    .await;
    assert!(
        e.contains("a credential needs `username` and `password`"),
        "{e}"
    );

    let e = error_of(&python(
        d,
        "unknown_kind",
        &format!("{INIT}    out({{'jsonrpc': '2.0', 'id': msg['id'], 'error': {{'code': -32000, 'message': 'no', 'data': {{'kind': 'nope'}}}}}})"),
    ))
    .await;
    assert!(e.contains("unknown `data.kind` \"nope\""), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_exits_and_version_mismatches_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = error_of(&python(d, "silent", &format!("{INIT}    time.sleep(30)"))).await;
    assert!(
        e.contains("no answer to `credentials/get` within 2 s"),
        "{e}"
    );

    let e = error_of(&python(d, "exits", &format!("{INIT}    sys.exit(3)"))).await;
    assert!(
        e.contains(
            "the implementation exited (exit status: 3) while `credentials/get` was pending"
        ),
        "{e}"
    );

    let e = error_of(&python(
        d,
        "version",
        "    out({'jsonrpc': '2.0', 'id': msg['id'], 'error': {'code': -32001, 'message': 'I speak 2'}})",
    ))
    .await;
    assert!(e.contains("no common protocol version"), "{e}");

    let e = error_of(&ExecLauncher::new("/nonexistent/credsim-impl")).await;
    assert!(
        e.contains("starting `/nonexistent/credsim-impl` failed"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_exactly_the_protocols() {
    let dir = tempfile::tempdir().unwrap();
    // The environment as one stderr line (the sandbox lets it write nowhere the test could read
    // afterwards, which is the point of the sandbox).
    let launcher = python(
        dir.path(),
        "env",
        &format!(
            "    sys.stderr.write('ENV ' + json.dumps(dict(os.environ)) + '\\n'); sys.stderr.flush()\n{INIT}    out({{'jsonrpc': '2.0', 'id': msg['id'], 'error': {{'code': -32000, 'message': 'n/a', 'data': {{'kind': 'unsupported'}}}}}})"
        ),
    );
    mock_kit::install_crypto_provider();
    let r = run_scenario(&scenario(), &launcher).await;
    let line = r
        .transcript
        .iter()
        .find_map(|l| {
            l.split_once("stderr: ENV ")
                .map(|(_, json)| json.to_owned())
        })
        .unwrap_or_else(|| panic!("the environment on stderr: {:#?}", r.transcript));
    let env: std::collections::BTreeMap<String, String> = serde_json::from_str(&line).unwrap();
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    // Python adds LC_CTYPE on some systems when the locale is unset; it is not ours.
    names.retain(|n| *n != "LC_CTYPE");
    // In the sandbox, the temporary and XDG folders are named too (its private, captured ones).
    let sandboxed = credsim::sandbox::Sandbox::detect().is_available();
    let sandbox_vars = [
        "TMPDIR",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_RUNTIME_DIR",
        "XDG_STATE_HOME",
    ];
    for v in sandbox_vars {
        assert_eq!(env.contains_key(v), sandboxed, "{v}");
    }
    if sandboxed {
        assert_eq!(env["TMPDIR"], "/tmp");
        assert_eq!(env["XDG_CACHE_HOME"], format!("{}/.cache", env["HOME"]));
    }
    names.retain(|n| !sandbox_vars.contains(n));
    assert_eq!(
        names,
        [
            "CREDSIM_SCENARIO",
            "CREDSIM_SHARD",
            "CURL_CA_BUNDLE",
            "HOME",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "KUBECONFIG",
            "NODE_EXTRA_CA_CERTS",
            "NO_PROXY",
            "PATH",
            "REQUESTS_CA_BUNDLE",
            "SSL_CERT_FILE",
            "TENANT_ID",
            "http_proxy",
            "https_proxy",
            "no_proxy",
        ]
    );
    assert_eq!(env["CREDSIM_SHARD"], "shard-a");
    assert_eq!(env["CREDSIM_SCENARIO"], "host-confusion");
    assert_eq!(env["NO_PROXY"], "");
    assert!(
        env["HTTPS_PROXY"].starts_with("http://iut%2Fshard%2Da:credsim@127.0.0.1:"),
        "{}",
        env["HTTPS_PROXY"]
    );
    // The CA and kubeconfig live beside the implementation's working directory, not in it (which
    // is searched for leaked secrets).
    assert!(
        env["SSL_CERT_FILE"].ends_with("/harness/ca.pem"),
        "{}",
        env["SSL_CERT_FILE"]
    );
    assert!(
        env["KUBECONFIG"].ends_with("/harness/kubeconfig"),
        "{}",
        env["KUBECONFIG"]
    );
    assert!(env["HOME"].ends_with("/work"), "{}", env["HOME"]);
    assert_eq!(
        env["TENANT_ID"], "contoso.onmicrosoft.com",
        "the controller's install-time env"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implementation_that_exits_at_once_shows_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Exits before answering `initialize`, explaining why on stderr only.
    let script = d.join("early.py");
    std::fs::write(
        &script,
        "import sys\nsys.stderr.write('loading my settings\\n')\nsys.stderr.write('shim: cannot read /etc/shim/settings.yaml: no such file\\n')\nsys.exit(4)\n",
    )
    .unwrap();
    let e = error_of(&ExecLauncher::new(&format!(
        "{} {}",
        interpreter(),
        script.display()
    )))
    .await;
    assert!(
        e.contains("the implementation exited (exit status: 4) while `initialize` was pending"),
        "{e}"
    );
    assert!(
        e.contains(
            "the last lines of its stderr:\n    loading my settings\n    shim: cannot read /etc/shim/settings.yaml: no such file"
        ),
        "{e}"
    );

    // A script path that names nothing: the interpreter's own complaint is the explanation.
    let e = error_of(&ExecLauncher::new(&format!(
        "{} {}",
        interpreter(),
        d.join("no_such_shim.py").display()
    )))
    .await;
    assert!(e.contains("can't open file"), "{e}");
    assert!(e.contains("no_such_shim.py"), "{e}");

    // The stderr tail also explains a protocol violation and a hang.
    let e = error_of(&python(
        d,
        "garbage_with_reason",
        "    sys.stderr.write('debug: about to answer\\n'); sys.stderr.flush(); print('not json', flush=True)",
    ))
    .await;
    assert!(e.contains("not a JSON-RPC message: not json"), "{e}");
    assert!(e.contains("\n    debug: about to answer"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_an_exiting_implementations_stderr_are_redacted() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    // The controller is installed with a client secret; this implementation prints it and dies.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/corpus/acr/controller-secret-never-handed-out.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let script = dir.path().join("leaky.py");
    std::fs::write(
        &script,
        "import os, sys\nsys.stderr.write('secret is ' + os.environ['AZURE_CLIENT_SECRET'] + '\\n')\nsys.exit(1)\n",
    )
    .unwrap();
    let r = run_scenario(
        &s,
        &ExecLauncher::new(&format!("{} {}", interpreter(), script.display())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let e = r.error.unwrap();
    assert!(e.contains("the last lines of its stderr:"), "{e}");
    let shown = e.split("secret is ").nth(1).unwrap_or_default();
    assert!(
        shown.starts_with('<') && shown.contains('>'),
        "the secret is shown by kind and fingerprint only: {e}"
    );
}

/// Two requests at once, to a program that answers only once both are outstanding, and then in
/// the reverse order: the harness sends both before reading, and matches each answer to its
/// request by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_sent_first_and_answers_matched_by_id() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let launcher = python(
        dir.path(),
        "reversed",
        &format!(
            "{INIT}    pending.append(msg)\n    if len(pending) == 2:\n        for m in reversed(pending):\n            kind = 'not-configured' if m['params']['project'] == 'project-a' else 'unavailable'\n            out({{'jsonrpc': '2.0', 'id': m['id'], 'error': {{'code': -32000, 'message': m['params']['project'], 'data': {{'kind': kind}}}}}})\n        pending.clear()"
        ),
    );
    // The script's loop needs its buffer.
    let script = dir.path().join("reversed.py");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        text.replacen(
            "for line in sys.stdin:",
            "pending = []\nfor line in sys.stdin:",
            1,
        ),
    )
    .unwrap();
    let s = scenarios::load_str(
        "concurrent.yaml",
        r#"apiVersion: credsim.dev/v1alpha1
kind: Scenario
metadata: {name: concurrent}
world:
  tenants: [{name: contoso}]
  registries: [{name: contosoacr, tenant: contoso, repositories: [{name: project-a/app}, {name: project-b/app}]}]
  clusters:
    - name: shard-a
      projects: [{name: project-a}, {name: project-b}]
      controller: {namespace: kargo, serviceAccount: kargo-controller}
steps:
  - concurrently:
      - {shard: shard-a, project: project-a, registry: contosoacr, repository: project-a/app, expect: {outcome: not-configured}}
      - {shard: shard-a, project: project-b, registry: contosoacr, repository: project-b/app, expect: {outcome: unavailable}}
"#,
    )
    .unwrap()
    .scenario;
    let r = run_scenario(&s, &launcher).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let outcomes: Vec<_> = r.observed.iter().map(|o| o.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Some(scenarios::model::Outcome::NotConfigured),
            Some(scenarios::model::Outcome::Unavailable)
        ]
    );
    // An answer to an id that is not outstanding is a violation.
    let launcher = python(
        dir.path(),
        "stray_id",
        &format!("{INIT}    out({{'jsonrpc': '2.0', 'id': 4242, 'result': None}})"),
    );
    let r = run_scenario(&s, &launcher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let e = r.error.unwrap();
    assert!(
        e.contains("expected an answer to one of the ids 1, 2"),
        "{e}"
    );
}
