//! Scenarios on clusters credsim does not run: `backend: kubeconfig` against a separate API
//! server (another world's embedded cluster, with its own front door, CA, keys and clock), and
//! `backend: kind` where Docker and kind exist.
//!
//! The claim: a scenario gives the same verdicts, property by property, whether its clusters are
//! embedded or reached by kubeconfig; the broken implementations fail the same properties from
//! the evidence the forwarding site collects; and the world leaves nothing behind in the cluster.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use credsim::implementation::Launcher;
use credsim::properties::PropertyVerdict as P;
use credsim::run::{ScenarioResult, Verdict, run_scenario};
use credsim_reference::{Flaw, FlawedLauncher, ReferenceLauncher};
use credsim_world::cloud::{Cloud, WorldSpec};
use mock_k8s::ClusterSpec;
use scenarios::model::{Action, Backend, KeyOwner, Scenario};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// API servers standing in for clusters credsim does not run: one bare cluster per scenario
/// cluster, with the scenario's name, issuer URL and token cap, behind a front door of their own.
/// Returns the running servers and the scenario rewritten to reach them by kubeconfig files.
async fn on_kubeconfig_clusters(
    s: &Scenario,
    dir: &Path,
    already_there: &[serde_json::Value],
) -> (Cloud, Scenario) {
    let clusters = s
        .world
        .clusters
        .iter()
        .map(|c| {
            let mut spec = ClusterSpec::new(&c.name).issuer(&c.issuer);
            spec.max_token_expiration = Some(c.max_token_expiration);
            for o in already_there {
                spec = spec.object(o.clone());
            }
            spec
        })
        .collect();
    let remote = Cloud::start(
        WorldSpec {
            clusters,
            ..WorldSpec::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let mut rewritten = s.clone();
    for c in &mut rewritten.world.clusters {
        let path: PathBuf = dir.join(format!("{}.kubeconfig", c.name));
        std::fs::write(&path, remote.admin_kubeconfig(&c.name).unwrap()).unwrap();
        c.backend = Backend::Kubeconfig;
        c.kubeconfig = Some(path.display().to_string());
    }
    (remote, rewritten)
}

/// Whether a scenario can run on kubeconfig clusters (the world builder refuses the rest, which
/// `refusals_name_what_a_real_api_server_cannot_do` checks).
fn portable(s: &Scenario) -> bool {
    let w = &s.world;
    let shared_issuer = w
        .clusters
        .iter()
        .enumerate()
        .any(|(i, c)| w.clusters[..i].iter().any(|d| d.issuer == c.issuer));
    !w.clusters.is_empty()
        && w.options.start_time.is_none()
        && !shared_issuer
        && !s.steps.iter().any(|st| {
            matches!(
                st.action,
                Action::Advance(_) | Action::RotateKeys(KeyOwner::Cluster(_))
            )
        })
}

fn verdicts(r: &ScenarioResult) -> (&'static str, Vec<(String, &'static str)>) {
    (
        r.verdict.as_str(),
        r.properties
            .iter()
            .map(|p| (p.id.as_str().to_owned(), p.verdict.as_str()))
            .collect(),
    )
}

/// What the scenario's world would have created that is still in the remote clusters: its
/// namespaces (beyond the two every cluster has) and the controller's ClusterRoles.
fn leftovers(remote: &Cloud, s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for c in &s.world.clusters {
        let k = remote.clusters.iter().find(|k| k.name() == c.name).unwrap();
        let namespaces = c
            .all_namespaces()
            .map(|n| n.name.clone())
            .chain(c.controller.iter().map(|ctl| ctl.namespace.clone()))
            .filter(|n| n != "default" && n != "kube-system");
        for n in namespaces {
            if k.get("Namespace", "", &n).is_some() {
                out.push(format!("{}: namespace {n}", c.name));
            }
        }
        for role in [
            credsim_world::world::TOKEN_REQUEST_ROLE,
            credsim_world::world::READ_SERVICE_ACCOUNTS_ROLE,
        ] {
            if k.get("ClusterRole", "", role).is_some() {
                out.push(format!("{}: ClusterRole {role}", c.name));
            }
        }
    }
    out
}

async fn both(s: &Scenario, launcher: &dyn Launcher) -> (ScenarioResult, ScenarioResult, Cloud) {
    let embedded = run_scenario(s, launcher).await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, rewritten) = on_kubeconfig_clusters(s, dir.path(), &[]).await;
    let external = run_scenario(&rewritten, launcher).await;
    (embedded, external, remote)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_gives_the_same_verdicts_on_kubeconfig_clusters() {
    mock_kit::install_crypto_provider();
    let (all, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:#?}");
    let portable: Vec<Scenario> = all.into_iter().filter(portable).collect();
    assert!(
        portable.len() >= 15,
        "only {} corpus scenarios run on kubeconfig clusters",
        portable.len()
    );
    for s in &portable {
        let (embedded, external, remote) = both(s, &ReferenceLauncher).await;
        assert_eq!(
            verdicts(&external),
            verdicts(&embedded),
            "{}: kubeconfig clusters judged differently:\n{:#?}",
            s.name,
            external
        );
        assert_ne!(external.verdict, Verdict::Error, "{external:#?}");
        assert!(
            leftovers(&remote, s).is_empty(),
            "{}: the world left {:?} behind",
            s.name,
            leftovers(&remote, s)
        );
        remote.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarding_site_is_the_evidence_flaws_are_caught_by() {
    mock_kit::install_crypto_provider();
    for (file, flaw, property, evidence) in [
        (
            "kubernetes/dedicated-vs-user-facing.yaml",
            Flaw::AnyAnnotatedServiceAccount,
            "dedicated-service-account",
            "create serviceaccounts/token project-a/kargo-admin → 201",
        ),
        (
            "entra/happy-path.yaml",
            Flaw::LongLivedToken,
            "audience-bound",
            "TokenRequest project-a/credentials expirationSeconds 86400",
        ),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/corpus")
            .join(file);
        let s = scenarios::load_file(&path).unwrap().scenario;
        let (embedded, external, remote) = both(&s, &FlawedLauncher(flaw)).await;
        assert_eq!(verdicts(&external), verdicts(&embedded), "{file}");
        let p = external
            .properties
            .iter()
            .find(|p| p.id.as_str() == property)
            .unwrap();
        assert_eq!(p.verdict, P::Fail, "{file}: {p:#?}");
        assert!(
            p.evidence.iter().any(|e| e.contains(evidence)),
            "{file}: {property} evidence does not mention {evidence}: {:#?}",
            p.evidence
        );
        assert!(
            leftovers(&remote, &s).is_empty(),
            "{:?}",
            leftovers(&remote, &s)
        );
        remote.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_a_real_api_server_cannot_do() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("k.yaml");
    std::fs::write(&kubeconfig, "not: [a kubeconfig").unwrap();
    let scenario = |extra_world: &str, steps: &str| {
        let text = format!(
            "apiVersion: credsim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: external}}\nworld:\n{extra_world}  clusters:\n  - name: shard-a\n    backend: kubeconfig\n    kubeconfig: {}\n{steps}",
            kubeconfig.display()
        );
        scenarios::load_str("external.yaml", &text)
            .unwrap_or_else(|e| panic!("{e}"))
            .scenario
    };
    for (s, expected) in [
        (
            scenario("", "steps:\n- advance: 1h\n"),
            "the `advance` step at line",
        ),
        (
            scenario("  options: {startTime: \"2026-01-01T00:00:00Z\"}\n", ""),
            "fixed `startTime`",
        ),
        (
            scenario("", "steps:\n- rotateKeys: {cluster: shard-a}\n"),
            "cannot rotate the keys of cluster shard-a",
        ),
        // Everything allowed: the kubeconfig itself is the problem, named with its cluster.
        (
            scenario("", ""),
            "the kubeconfig of cluster shard-a is invalid",
        ),
    ] {
        let r = run_scenario(&s, &ReferenceLauncher).await;
        assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
        let error = r.error.as_deref().unwrap();
        assert!(error.contains(expected), "{error}");
    }
    // A kubeconfig cluster sharing its issuer with an embedded one.
    let text = format!(
        "apiVersion: credsim.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: shared}}\nworld:\n  clusters:\n  - name: shard-a\n    issuer: https://oidc.shared.example/\n  - name: shard-b\n    issuer: https://oidc.shared.example/\n    backend: kubeconfig\n    kubeconfig: {}\n",
        kubeconfig.display()
    );
    let shared = scenarios::load_str("shared.yaml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let r = run_scenario(&shared, &ReferenceLauncher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let error = r.error.as_deref().unwrap();
    assert!(
        error.contains("clusters shard-b and shard-a share the issuer https://oidc.shared.example/; a kubeconfig cluster publishes its own issuer documents"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_object_is_not_overwritten_and_a_wrong_issuer_is_named() {
    mock_kit::install_crypto_provider();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let c = &s.world.clusters[0];
    let project = &c.projects[0];
    let sa = &project.service_accounts[0];
    // Someone else's ServiceAccount of the same name is already there.
    let dir = tempfile::tempdir().unwrap();
    let (remote, rewritten) = on_kubeconfig_clusters(
        &s,
        dir.path(),
        &[
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": project.name}}),
            serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": sa.name, "namespace": project.name, "annotations": {"theirs": "yes"}}}),
        ],
    )
    .await;
    let k8s = &remote.clusters[0];
    let r = run_scenario(&rewritten, &ReferenceLauncher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let error = r.error.as_deref().unwrap();
    assert!(
        error.contains(&format!(
            "ServiceAccount {}/{} already exists; credsim does not overwrite",
            project.name, sa.name
        )),
        "{error}"
    );
    let theirs = k8s.get("ServiceAccount", &project.name, &sa.name).unwrap();
    assert_eq!(
        theirs["metadata"]["annotations"]["theirs"], "yes",
        "left as it was"
    );
    // What the failed world had created before it stopped is gone; what was there stays.
    assert!(k8s.get("Namespace", "", &project.name).is_some());
    let created_by_world: Vec<String> = leftovers(&remote, &s)
        .into_iter()
        .filter(|n| !n.ends_with(&format!("namespace {}", project.name)))
        .collect();
    assert!(created_by_world.is_empty(), "{created_by_world:?}");

    // A kubeconfig whose API server signs for another issuer than the scenario says.
    let mut wrong = rewritten.clone();
    wrong.world.clusters[0].issuer = "https://elsewhere.example/".into();
    let r = run_scenario(&wrong, &ReferenceLauncher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let error = r.error.as_deref().unwrap();
    assert!(
        error.contains(&format!(
            "the API server's issuer is \"{}\", not https://elsewhere.example/",
            c.issuer
        )),
        "{error}"
    );
    remote.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs docker and kind"]
async fn the_happy_path_on_a_kind_cluster() {
    mock_kit::install_crypto_provider();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    let mut s = scenarios::load_file(&path).unwrap().scenario;
    let embedded = run_scenario(&s, &ReferenceLauncher).await;
    for c in &mut s.world.clusters {
        c.backend = Backend::Kind;
    }
    let kind = run_scenario(&s, &ReferenceLauncher).await;
    assert_eq!(verdicts(&kind), verdicts(&embedded), "{kind:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credsim_run_reads_a_kubeconfig_next_to_the_scenario_file() {
    mock_kit::install_crypto_provider();
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    let text = std::fs::read_to_string(&corpus).unwrap();
    let s = scenarios::load_str("happy-path.yaml", &text)
        .unwrap()
        .scenario;
    let dir = tempfile::tempdir().unwrap();
    let (remote, _) = on_kubeconfig_clusters(&s, dir.path(), &[]).await;
    // As a contributor writes it: the kubeconfig file named relative to the scenario file.
    let marker = "    - name: shard-a\n";
    assert!(text.contains(marker));
    let text = text.replacen(
        marker,
        "    - name: shard-a\n      backend: kubeconfig\n      kubeconfig: shard-a.kubeconfig\n",
        1,
    );
    let file = dir.path().join("on-my-cluster.yaml");
    std::fs::write(&file, text).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["run", "--format", "json"])
        .arg(&file)
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["verdict"], "pass", "{first:#}");
    assert!(
        leftovers(&remote, &s).is_empty(),
        "{:?}",
        leftovers(&remote, &s)
    );
    remote.shutdown().await;
}

/// A real client through the forwarding site: the Python implementation (the `kubernetes` client
/// for TokenRequest, azure-identity for the exchange) reaches the kubeconfig cluster's API server
/// through the front door and is judged as on an embedded cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_implementation_passes_on_kubeconfig_clusters() {
    mock_kit::install_crypto_provider();
    let python = mock_kit::testing::python().expect("the pinned clients install");
    let script = mock_kit::testing::workspace_root().join("clients/python/credsim_impl.py");
    let launcher =
        credsim::exec::ExecLauncher::new(&format!("{} {}", python.display(), script.display()));
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let (embedded, external, remote) = both(&s, &launcher).await;
    assert_eq!(external.verdict, Verdict::Pass, "{external:#?}");
    assert_eq!(verdicts(&external), verdicts(&embedded));
    // The TokenRequests the `kubernetes` client made are in the forwarding site's journal.
    assert!(
        external.flow.iter().any(|f| f.to == "cluster"
            && f.label
                .contains("create serviceaccounts/token project-a/credentials")),
        "{:#?}",
        external.flow
    );
    assert!(
        leftovers(&remote, &s).is_empty(),
        "{:?}",
        leftovers(&remote, &s)
    );
    remote.shutdown().await;
}
