//! The kubelet image credential provider protocol with service-account tokens: the reference run
//! as a provider, given the project's pod ServiceAccount token as the kubelet would.

use std::path::Path;

use harness::kubelet_provider::KubeletProviderLauncher;
use harness::properties::Verdict as P;
use harness::run::{Verdict, run_scenario};

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
