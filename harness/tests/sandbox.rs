//! The sandbox implementations run in: whatever they write, anywhere, is evidence, in whatever
//! encoding; nothing they start outlives the scenario; and a report says which evidence it had.
//! Implementations here are Python and shell programs, since a Rust-only catalogue could not show
//! that the sandbox captures what other programs write.

use std::path::{Path, PathBuf};

use credsim::exec::ExecLauncher;
use credsim::properties::PropertyVerdict as P;
use credsim::run::{ScenarioResult, Verdict, run_scenario};
use credsim::sandbox::Sandbox;
use scenarios::vocab::PropertyId;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn happy_path() -> scenarios::Scenario {
    let path = root().join("scenarios/corpus/entra/happy-path.yaml");
    scenarios::load_file(&path).unwrap().scenario
}

fn python() -> String {
    mock_kit::testing::python().unwrap().display().to_string()
}

async fn run(command: &str) -> ScenarioResult {
    mock_kit::install_crypto_provider();
    let r = run_scenario(&happy_path(), &ExecLauncher::new(command)).await;
    assert_ne!(r.verdict, Verdict::Error, "{r:#?}");
    r
}

/// The evidence of property `id`, asserting it failed.
fn failed_evidence(r: &ScenarioResult, id: PropertyId) -> String {
    let p = r.properties.iter().find(|p| p.id == id).unwrap();
    assert_eq!(p.verdict, P::Fail, "{p:#?}");
    p.evidence.join("\n")
}

/// The evidence of `no-secret-leak`, asserting it failed.
fn leak_evidence(r: &ScenarioResult) -> String {
    failed_evidence(r, PropertyId::NoSecretLeak)
}

fn require_sandbox() {
    assert!(
        Sandbox::detect().is_available(),
        "these tests need the sandbox: {}",
        Sandbox::detect().describe()
    );
}

#[test]
fn ci_runs_implementations_in_the_sandbox_and_reports_say_so() {
    if std::env::var_os("CI").is_some() {
        require_sandbox();
    }
    let line = Sandbox::detect().describe();
    match Sandbox::detect() {
        Sandbox::Bubblewrap(_) => assert!(line.starts_with("sandbox: bubblewrap"), "{line}"),
        Sandbox::Unavailable(why) => {
            assert!(line.contains(why.as_str()), "{line}");
            assert!(line.contains("are not seen"), "{line}");
        }
    }
}

/// A Python implementation (the real-SDK one, unchanged) that also writes each credential it
/// hands out, raw, to `target` (a path the shell expands inside the sandbox).
fn writes_to(dir: &Path, target: &str) -> String {
    let script = dir.join("writes_to.py");
    std::fs::write(
        &script,
        format!(
            "import json, os, sys\nsys.path.insert(0, {:?})\nimport credsim_impl\n\
             class W(credsim_impl.Implementation):\n    def get(self, *a):\n        r = super().get(*a)\n\
             \x20       p = os.path.expandvars({target:?})\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n\
             \x20       open(p, 'w').write(json.dumps(r))\n        return r\n\
             credsim_impl.Implementation = W\ncredsim_impl.main()\n",
            root().join("clients/python").display().to_string()
        ),
    )
    .unwrap();
    format!("{} {}", python(), script.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_tmp_tmpdir_and_var_tmp_are_caught() {
    require_sandbox();
    let dir = tempfile::tempdir().unwrap();
    for (target, shown) in [
        (
            "/tmp/cache/token.json",
            "file /tmp/cache/token.json:1: acr-refresh-token",
        ),
        (
            "$TMPDIR/tmpdir-cache.json",
            "file /tmp/tmpdir-cache.json:1: acr-refresh-token",
        ),
        (
            "/var/tmp/state.json",
            "file /var/tmp/state.json:1: acr-refresh-token",
        ),
        (
            "$XDG_CACHE_HOME/creds/c.json",
            "file .cache/creds/c.json:1: acr-refresh-token",
        ),
    ] {
        let r = run(&writes_to(dir.path(), target)).await;
        let ev = leak_evidence(&r);
        assert!(ev.contains(shown), "{target}: {ev}");
        assert!(ev.contains(" raw "), "{target}: {ev}");
    }
    // Nothing reached the host's own /var/tmp.
    assert!(!Path::new("/var/tmp/state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_docker_config_under_tmpdir_is_caught_in_its_encoding() {
    require_sandbox();
    let script = root().join("clients/broken/docker_config_in_tmpdir.py");
    let r = run(&format!("{} {}", python(), script.display())).await;
    let ev = leak_evidence(&r);
    assert!(ev.contains("file /tmp/docker-"), "{ev}");
    assert!(ev.contains("/config.json:"), "{ev}");
    assert!(
        ev.contains("acr-refresh-token sha256:")
            && ev.contains("as base64 in a Docker config `auth` field"),
        "{ev}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_programs_wrapped_base64_log_in_var_tmp_is_caught() {
    require_sandbox();
    let r = run(&format!(
        "sh {} {} {}",
        root()
            .join("clients/broken/traffic_log_in_var_tmp.sh")
            .display(),
        python(),
        root().join("clients/python/credsim_impl.py").display()
    ))
    .await;
    let ev = leak_evidence(&r);
    assert!(ev.contains("file /var/tmp/credsim-traffic.b64:"), "{ev}");
    assert!(ev.contains("as base64, line-wrapped"), "{ev}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_correct_python_implementation_passes_in_the_sandbox() {
    require_sandbox();
    let script = root().join("clients/python/credsim_impl.py");
    let r = run(&format!("{} {}", python(), script.display())).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_an_implementation_starts_outlives_the_scenario() {
    require_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("{}.{}", 40000 + std::process::id() % 9999, 5);
    let script = dir.path().join("forks.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n( sleep {marker} & sleep {marker} & ) \nsetsid sleep {marker} &\nexec {} {}\n",
            python(),
            root().join("clients/python/credsim_impl.py").display()
        ),
    )
    .unwrap();
    let r = run(&format!("sh {}", script.display())).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    // The sandbox's PID namespace ends with the implementation; give the kernel a moment.
    let mut left = 0;
    for _ in 0..50 {
        left = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(&marker))
            .count();
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        left, 0,
        "processes the implementation started are still running"
    );
}

/// The evidence of `credential-destination`, asserting it failed.
fn destination_evidence(r: &ScenarioResult) -> String {
    failed_evidence(r, PropertyId::CredentialDestination)
}

fn require_network() {
    require_sandbox();
    assert_eq!(
        *credsim::sandbox::network(),
        credsim::sandbox::Network::Isolated,
        "these tests need the sandbox's network: {}",
        Sandbox::detect().describe()
    );
}

#[test]
fn ci_gives_implementations_a_network_of_their_own_and_reports_say_so() {
    let line = Sandbox::detect().describe();
    match credsim::sandbox::network() {
        credsim::sandbox::Network::Isolated => {
            assert!(line.contains("network: its own"), "{line}")
        }
        credsim::sandbox::Network::Host(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must give implementations their own network: {why}"
            );
            assert!(line.contains("are not seen"), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_program_that_ignores_the_proxy_is_caught_at_the_host_it_dialled() {
    require_network();
    let script = root().join("clients/broken/telemetry_ignores_proxy.py");
    let r = run(&format!("{} {}", python(), script.display())).await;
    let ev = destination_evidence(&r);
    assert!(
        ev.contains("POST https://collector.example/v1/events carried acr-refresh-token sha256:"),
        "{ev}"
    );
    assert!(ev.contains("in body"), "{ev}");
    assert!(
        ev.contains(
            "to a host no service owns; connected straight to the host, ignoring the proxy"
        ),
        "{ev}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_program_sending_a_bearer_token_over_direct_tls_is_caught() {
    require_network();
    let r = run(&format!(
        "sh {} {} {}",
        root()
            .join("clients/broken/bearer_to_metrics_direct.sh")
            .display(),
        python(),
        root().join("clients/python/credsim_impl.py").display()
    ))
    .await;
    let ev = destination_evidence(&r);
    assert!(
        ev.contains("GET https://metrics.acme.invalid/ingest carried acr-refresh-token sha256:"),
        "{ev}"
    );
    assert!(ev.contains("in header:authorization"), "{ev}");
    assert!(ev.contains("ignoring the proxy"), "{ev}");
}

/// A Python implementation (the real-SDK one, unchanged) that first asks IMDS for the instance's
/// metadata straight at `169.254.169.254`, as clients that never proxy IMDS do, and refuses to
/// start unless IMDS itself answers.
fn asks_imds_directly(dir: &Path) -> String {
    let script = dir.join("imds_direct.py");
    std::fs::write(
        &script,
        format!(
            "import http.client, json, sys\nsys.path.insert(0, {:?})\nimport credsim_impl\n\
             c = http.client.HTTPConnection('169.254.169.254', 80, timeout=10)\n\
             c.request('GET', '/metadata/instance?api-version=2021-02-01', headers={{'Metadata': 'true'}})\n\
             r = c.getresponse()\nbody = r.read()\n\
             if r.status != 200 or 'compute' not in json.loads(body):\n\
             \x20   sys.exit(f'IMDS did not answer: {{r.status}} {{body[:200]!r}}')\n\
             credsim_impl.main()\n",
            root().join("clients/python").display().to_string()
        ),
    )
    .unwrap();
    format!("{} {}", python(), script.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_proxies_imds_reaches_it_in_the_sandbox() {
    require_network();
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = root().join("scenarios/corpus/entra/node-identity-not-borrowed.yaml");
    let scenario = scenarios::load_file(&path).unwrap().scenario;
    let r = run_scenario(
        &scenario,
        &ExecLauncher::new(&asks_imds_directly(dir.path())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
}
