//! "Any credential implementation": a Python one built only from the real SDKs (`kubernetes`,
//! `azure-identity`'s ClientAssertionCredential, `requests`), speaking the exec protocol, passes
//! the whole corpus, like the reference.

use std::sync::Arc;

use credsim::report::JsonLines;
use credsim::run::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_implementation_passes_the_corpus() {
    mock_kit::install_crypto_provider();
    let python = mock_kit::testing::python().expect("the pinned clients install");
    let script = mock_kit::testing::workspace_root().join("clients/python/credsim_impl.py");
    let launcher =
        credsim::exec::ExecLauncher::new(&format!("{} {}", python.display(), script.display()));
    let (scenarios, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty());
    let (python_results, _) = credsim::suite::run_all(
        scenarios.clone(),
        Arc::new(launcher),
        2,
        &mut JsonLines,
        &mut std::io::sink(),
    )
    .await
    .unwrap();
    let (reference, _) = credsim::suite::run_all(
        scenarios,
        Arc::new(credsim_reference::ReferenceLauncher),
        2,
        &mut JsonLines,
        &mut std::io::sink(),
    )
    .await
    .unwrap();
    let mut judged = 0;
    for (p, r) in python_results.iter().zip(&reference) {
        assert_eq!(p.verdict, Verdict::Pass, "{}: {p:#?}", p.scenario);
        assert_eq!(r.verdict, Verdict::Pass, "{}: {r:#?}", r.scenario);
        // The evidence differs where the clients differ (the Python `kubernetes` client talks to
        // the API server directly, not through the front door), never in a failure.
        judged += p
            .properties
            .iter()
            .filter(|x| x.verdict == credsim::properties::PropertyVerdict::Pass)
            .count();
    }
    assert!(judged >= 100, "only {judged} property verdicts judged");
}

fn fixture(name: &str) -> scenarios::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    scenarios::load_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

fn verdicts(r: &credsim::run::ScenarioResult) -> Vec<(String, &'static str)> {
    r.properties
        .iter()
        .map(|p| (p.id.as_str().to_owned(), p.verdict.as_str()))
        .collect()
}

/// The fixture run with the Python program `script` and with `credsim reference
/// <reference_flag>`, each started through the launcher `protocol` makes; asserts the Python one
/// passes with the reference's verdicts, property by property.
async fn like_the_reference<L: credsim::implementation::Launcher>(
    fixture_name: &str,
    script: &str,
    reference_flag: &str,
    protocol: impl Fn(&str) -> L,
) -> credsim::run::ScenarioResult {
    mock_kit::install_crypto_provider();
    let python = mock_kit::testing::python().expect("the pinned clients install");
    let script = mock_kit::testing::workspace_root()
        .join("clients/python")
        .join(script);
    let s = fixture(fixture_name);
    let py = credsim::run::run_scenario(
        &s,
        &protocol(&format!("{} {}", python.display(), script.display())),
    )
    .await;
    let reference = credsim::run::run_scenario(
        &s,
        &protocol(&format!(
            "{} reference {reference_flag}",
            env!("CARGO_BIN_EXE_credsim")
        )),
    )
    .await;
    assert_eq!(py.verdict, Verdict::Pass, "{py:#?}");
    assert_eq!(verdicts(&py), verdicts(&reference));
    py
}

/// A Docker credential helper from the Python SDKs, run through the helper protocol's adapter,
/// gets the verdicts the reference helper gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_docker_credential_helper_passes_like_the_reference() {
    let py = like_the_reference(
        "docker-helper.yaml",
        "docker_credential_credsim.py",
        "--docker-credential-helper",
        credsim::docker_helper::DockerHelperLauncher::new,
    )
    .await;
    assert!(py.implementation.contains("docker credential helper"));
}

/// A kubelet credential provider from the Python SDKs, run through the provider protocol's
/// adapter with the pod ServiceAccount's token, gets the verdicts the reference provider gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_kubelet_credential_provider_passes_like_the_reference() {
    let py = like_the_reference(
        "kubelet-provider.yaml",
        "kubelet_credential_provider.py",
        "--kubelet-credential-provider",
        credsim::kubelet_provider::KubeletProviderLauncher::new,
    )
    .await;
    // azure-identity presented the pod token of project A's builder ServiceAccount to Entra.
    assert!(
        py.flow.iter().any(
            |f| f.label.contains("system:serviceaccount:project-a:builder")
                && f.label.ends_with("token issued")
        ),
        "{:#?}",
        py.flow
    );
}
