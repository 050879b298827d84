//! "Any credential implementation": a Python one built only from the real SDKs (`kubernetes`,
//! `azure-identity`'s ClientAssertionCredential, `requests`), speaking the exec protocol, passes
//! the whole corpus, like the reference.

use std::sync::Arc;

use harness::report::JsonLines;
use harness::run::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_implementation_passes_the_corpus() {
    mock_kit::install_crypto_provider();
    let python = mock_kit::testing::python().expect("the pinned clients install");
    let script = mock_kit::testing::workspace_root().join("clients/python/credsim_impl.py");
    let launcher =
        harness::exec::ExecLauncher::new(&format!("{} {}", python.display(), script.display()));
    let (scenarios, errors) = harness::suite::load(&[]);
    assert!(errors.is_empty());
    let (python_results, _) = harness::suite::run_all(
        scenarios.clone(),
        Arc::new(launcher),
        2,
        &mut JsonLines,
        &mut std::io::sink(),
    )
    .await
    .unwrap();
    let (reference, _) = harness::suite::run_all(
        scenarios,
        Arc::new(harness::reference::ReferenceLauncher),
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
            .filter(|x| x.verdict == harness::properties::Verdict::Pass)
            .count();
    }
    assert!(judged >= 100, "only {judged} property verdicts judged");
}
