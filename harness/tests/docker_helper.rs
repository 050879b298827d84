//! The Docker credential-helper protocol: the reference run as a helper (`get`, server URL on
//! stdin), judged like any implementation; scenarios with several projects do not apply.

use std::path::Path;

use credsim::docker_helper::DockerHelperLauncher;
use credsim::properties::PropertyVerdict as P;
use credsim::run::{Verdict, run_scenario};

fn helper() -> DockerHelperLauncher {
    DockerHelperLauncher::new(&format!(
        "{} reference --docker-credential-helper",
        env!("CARGO_BIN_EXE_credsim")
    ))
}

fn load(path: &Path) -> scenarios::Scenario {
    scenarios::load_file(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_helper_is_judged_from_evidence() {
    mock_kit::install_crypto_provider();
    let s = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker-helper.yaml"));
    let r = run_scenario(&s, &helper()).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let p = |id: &str| r.properties.iter().find(|p| p.id.as_str() == id).unwrap();
    assert_eq!(p("project-isolation").verdict, P::Pass);
    assert_eq!(p("credential-destination").verdict, P::Pass);
    assert!(r.implementation.contains("docker credential helper"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_with_several_projects_are_skipped_with_the_reason() {
    mock_kit::install_crypto_provider();
    let s = load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml"),
    );
    let r = run_scenario(&s, &helper()).await;
    assert_eq!(r.verdict, Verdict::Skip);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("its requests come from 2 projects (project-a, project-b)"),
        "{r:#?}"
    );
}
