//! The runner end to end: the whole corpus against the reference, in-process and through the exec
//! protocol (`credsim reference`), with the same verdicts.

use std::sync::Arc;

use credsim::implementation::Launcher;
use credsim::properties::PropertyVerdict as P;
use credsim::report::JsonLines;
use credsim::run::{ScenarioResult, Verdict};

async fn corpus(launcher: Arc<dyn Launcher>) -> Vec<ScenarioResult> {
    mock_kit::install_crypto_provider();
    let (scenarios, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        scenarios.len() >= 19,
        "{} corpus scenarios",
        scenarios.len()
    );
    let mut out = Vec::new();
    let (results, summary) = credsim::suite::run_all(
        credsim::suite::select(scenarios, None, "1/1".parse().unwrap()),
        launcher,
        2,
        &mut JsonLines,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(summary.scenarios, results.len());
    // The JSON lines are what `credsim run --format json` prints: one object per scenario, then
    // the summary.
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), results.len() + 1);
    assert_eq!(lines.last().unwrap()["summary"]["scenarios"], results.len());
    results
}

/// (scenario, verdict, [(property, verdict)]).
type Verdicts = Vec<(String, &'static str, Vec<(String, &'static str)>)>;

fn verdicts(results: &[ScenarioResult]) -> Verdicts {
    results
        .iter()
        .map(|r| {
            (
                r.scenario.clone(),
                r.verdict.as_str(),
                r.properties
                    .iter()
                    .map(|p| (p.id.as_str().to_owned(), p.verdict.as_str()))
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_the_corpus_in_process_and_through_the_exec_protocol() {
    let in_process = corpus(Arc::new(credsim_reference::ReferenceLauncher)).await;
    for r in &in_process {
        assert_eq!(r.verdict, Verdict::Pass, "{}: {r:#?}", r.scenario);
        // Never vacuous: every scenario judges something, and says how much it examined.
        assert!(
            r.properties.iter().any(|p| p.verdict == P::Pass),
            "{}: no property was judged",
            r.scenario
        );
        for p in &r.properties {
            assert!(!p.examined.is_empty(), "{}: {:?}", r.scenario, p.id);
        }
    }
    let command = format!("{} reference", env!("CARGO_BIN_EXE_credsim"));
    let exec = corpus(Arc::new(credsim::exec::ExecLauncher::new(&command))).await;
    assert_eq!(verdicts(&in_process), verdicts(&exec));
    // Every property is judged (pass or fail) by at least one corpus scenario.
    for id in scenarios::model::PropertyId::ALL {
        assert!(
            in_process.iter().any(|r| r
                .properties
                .iter()
                .any(|p| p.id == id && p.verdict == P::Pass)),
            "no corpus scenario exercises {}",
            id.as_str()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_the_builder_cannot_make_is_an_error_not_a_pass() {
    mock_kit::install_crypto_provider();
    let s = scenarios::load_str(
        "kind.yaml",
        "apiVersion: credsim.dev/v1alpha1\nkind: Scenario\nmetadata: {name: kind-cluster}\nworld:\n  clusters: [{name: shard-a, backend: kind}]\n",
    )
    .unwrap()
    .scenario;
    let r = credsim::run::run_scenario(&s, &credsim_reference::ReferenceLauncher).await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            // No kind here: the error names the backend; where kind exists, the test in
            // `external.rs` runs it.
            .contains("kind"),
        "{r:#?}"
    );
}
