//! The kubelet image credential provider protocol with service-account tokens: the reference run
//! as a provider, given the project's pod ServiceAccount token as the kubelet would.

use std::path::Path;

use credsim::kubelet_provider::KubeletProviderLauncher;
use credsim::properties::PropertyVerdict as P;
use credsim::run::{Verdict, run_scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_gets_the_pod_token_and_is_judged_from_evidence() {
    mock_kit::install_crypto_provider();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubelet-provider.yaml");
    let s = scenarios::load_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let launcher = KubeletProviderLauncher::new(&format!(
        "{} reference --kubelet-credential-provider",
        env!("CARGO_BIN_EXE_credsim")
    ));
    let r = run_scenario(&s, &launcher).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let p = |id: &str| r.properties.iter().find(|p| p.id.as_str() == id).unwrap();
    assert_eq!(p("project-isolation").verdict, P::Pass);
    assert_eq!(p("credential-destination").verdict, P::Pass);
    // The pod token went to Entra as the assertion, for project A's builder ServiceAccount.
    assert!(
        r.flow.iter().any(
            |f| f.label.contains("system:serviceaccount:project-a:builder")
                && f.label.ends_with("token issued")
        ),
        "{:#?}",
        r.flow
    );
}

/// A one-shot protocol cannot have two requests outstanding: a `concurrently` step's requests
/// are run one after another, each judged as usual, and the transcript says they were serialised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrently_step_is_serialised_for_a_one_shot_protocol_and_says_so() {
    mock_kit::install_crypto_provider();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubelet-provider.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // The first two requests, sent at once.
    let steps = text.find("steps:\n").unwrap();
    let concurrent = text.replacen(
        "steps:\n  - request: {shard: shard-a, project: project-a, registry: contosoacr, repository: project-a/app,\n              expect:",
        "steps:\n  - concurrently:\n    - {shard: shard-a, project: project-a, registry: contosoacr, repository: project-a/app,\n              expect:",
        1,
    );
    assert_ne!(concurrent, text, "the fixture's first step is as expected");
    let concurrent = concurrent.replacen(
        "\n  - request: {shard: shard-a, project: project-b,",
        "\n    - {shard: shard-a, project: project-b,",
        1,
    );
    assert!(steps > 0);
    let s = scenarios::load_str("kubelet-provider-concurrently.yaml", &concurrent)
        .unwrap_or_else(|e| panic!("{e}\n{concurrent}"))
        .scenario;
    assert!(matches!(
        s.steps[0].action,
        scenarios::model::Action::Concurrently(ref rs) if rs.len() == 2
    ));
    let launcher = KubeletProviderLauncher::new(&format!(
        "{} reference --kubelet-credential-provider",
        env!("CARGO_BIN_EXE_credsim")
    ));
    let r = run_scenario(&s, &launcher).await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert!(
        r.transcript.iter().any(|l| l.contains(
            "its implementation's protocol cannot overlap requests; the 2 requests were sent one after another"
        )),
        "{:#?}",
        r.transcript
    );
}
