//! The runner end to end: corpus scenarios against the reference, in-process and through the
//! exec protocol, with verdicts asserted.

use std::path::Path;

use harness::implementation::Launcher;
use harness::properties::Verdict as P;
use harness::run::{Verdict, run_scenario};

fn corpus(name: &str) -> scenarios::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus").join(name);
    scenarios::load_file(&path).unwrap_or_else(|e| panic!("{e}")).scenario
}

async fn run(name: &str, launcher: &dyn Launcher) -> harness::run::ScenarioResult {
    mock_kit::install_crypto_provider();
    let s = corpus(name);
    run_scenario(&s, launcher).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_the_happy_path_in_process() {
    let r = run("entra/happy-path.yaml", &harness::reference::ReferenceLauncher).await;
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let p = |id: &str| r.properties.iter().find(|p| p.id.as_str() == id).unwrap();
    assert_eq!(p("project-isolation").verdict, P::Pass);
    assert_eq!(p("no-secret-leak").verdict, P::Pass);
    assert_eq!(p("cache-partitioning").verdict, P::Pass);
}
