//! The field: implementations from upstream, built unmodified from the Go modules pinned under
//! `clients/go` (`scripts/install-go-clients`), judged by credsim.
//!
//! - The advisory check: the Docker credential helper GO-2026-6225 names sends its identity's
//!   Entra token to hosts that only contain an Azure registry suffix, and credsim's
//!   `credential-destination` says so, naming the host; the same helper with its host match
//!   anchored sends nothing there. Both still serve the real registry.
//! - `docs/field-report.md` is what `credsim field` sees now: the test fails when it drifts.

use std::path::{Path, PathBuf};

use credsim::docker_helper::DockerHelperLauncher;
use credsim::properties::PropertyResult;
use credsim::properties::PropertyVerdict as P;
use credsim::run::{ScenarioResult, run_scenario};
use scenarios::model::Outcome;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn property<'a>(r: &'a ScenarioResult, id: &str) -> &'a PropertyResult {
    r.properties
        .iter()
        .find(|p| p.id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} was judged: {r:#?}"))
}

fn helper(name: &str) -> DockerHelperLauncher {
    let program = mock_kit::testing::go_program(name).unwrap_or_else(|e| panic!("{e}"));
    let mut l = DockerHelperLauncher::new(&format!("'{}'", program.display()));
    // Its HTTP client retries the front door's 502 until its own 30 s deadline.
    l.timeout = std::time::Duration::from_secs(45);
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_affected_helper_sends_its_token_to_lookalike_hosts_and_the_anchored_one_does_not() {
    mock_kit::install_crypto_provider();
    let s = scenarios::load_file(
        &root().join("scenarios/field/docker-credential-acr-env/lookalike-hosts.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .scenario;
    let lookalikes = [
        "contosoacr.azurecr.io.attacker.example",
        "x.azurecr.us.evil.example",
    ];

    let affected = run_scenario(&s, &helper("docker-credential-acr-env")).await;
    let dest = property(&affected, "credential-destination");
    assert_eq!(dest.verdict, P::Fail, "{affected:#?}");
    let evidence = dest.evidence.join("\n");
    for host in lookalikes {
        assert!(
            evidence.contains(&format!("POST https://{host}/oauth2/exchange"))
                && evidence.contains("entra-access-token"),
            "{host}: {evidence}"
        );
    }

    let anchored = run_scenario(&s, &helper("docker-credential-acr-env-anchored")).await;
    let dest = property(&anchored, "credential-destination");
    assert_eq!(dest.verdict, P::Pass, "{anchored:#?}");
    for r in [&affected, &anchored] {
        // Neither leaves a secret behind, and both serve the real registry (the last step):
        // the identity token Docker would use unlocks the repository.
        assert_eq!(property(r, "no-secret-leak").verdict, P::Pass, "{r:#?}");
        let last = r.observed.last().unwrap();
        assert_eq!(last.outcome, Some(Outcome::Granted), "{r:#?}");
        assert!(
            last.unlocked
                .iter()
                .any(|u| u.to_string() == "contosoacr/project-a/app"),
            "{r:#?}"
        );
        // The lookalike hosts got no credential from either (the answers were refusals).
        assert!(
            r.observed[..2]
                .iter()
                .all(|o| o.outcome != Some(Outcome::Granted))
        );
    }
}

#[test]
fn the_field_report_is_what_credsim_field_sees() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["field", "--check", "--root"])
        .arg(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "credsim field --check ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("docs/field-report.md is up to date"),
        "{stdout}"
    );
    // Every implementation of the manifest ran, with none of its failures unexplained.
    for name in [
        "kargo-acr",
        "flux-azure",
        "acr-credential-provider",
        "docker-credential-acr-env",
        "docker-credential-acr-env-anchored",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(name) && l.contains(" 0 failed, 0 errors")),
            "{name}: {stdout}"
        );
    }
    let report = std::fs::read_to_string(root().join("docs/field-report.md")).unwrap();
    assert!(!report.contains("not in the expectations"), "{report}");
}

/// The shims' own Go tests (`clients/go/internal/...`: the exec protocol's several outstanding
/// requests, refusal kinds from HTTP statuses) and `go vet` over the module.
#[test]
fn the_go_modules_own_tests_and_vet_pass() {
    for args in [&["test", "./..."][..], &["vet", "./..."][..]] {
        let out = std::process::Command::new("go")
            .args(args)
            .current_dir(root().join("clients/go"))
            .env("GOFLAGS", "-mod=readonly")
            .env("GOTOOLCHAIN", "local")
            .output()
            .expect("go is installed (scripts/install-deps says so when it is not)");
        assert!(
            out.status.success(),
            "go {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `credsim field` in a workspace of the test's own, with `--no-build`.
fn field(root: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["field", "--no-build", "--root"])
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn workspace(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for d in ["clients/field", "docs", "scenarios/mine"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    std::fs::write(dir.path().join("clients/field/field.yaml"), manifest).unwrap();
    dir
}

#[test]
fn a_drifted_report_fails_the_check_at_its_first_changed_line() {
    let dir = workspace("implementations: []\n");
    let (code, stdout, stderr) = field(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report = dir.path().join("docs/field-report.md");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with("# Field report\n"), "{text}");
    assert_eq!(field(dir.path(), &["--check"]).0, Some(0));
    // One edited line: named, with both versions, and nothing is rewritten.
    let edited = text.replacen("# Field report", "# Field report (edited)", 1);
    std::fs::write(&report, &edited).unwrap();
    let (code, _, stderr) = field(dir.path(), &["--check"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("drifted from what this run sees, first at line 1:")
            && stderr.contains("committed: # Field report (edited)")
            && stderr.contains("this run:  # Field report"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), edited);
}

#[test]
fn a_broken_manifest_is_refused_with_where_and_why() {
    // An unknown field, located.
    let dir = workspace("implementations:\n  - name: a\n    titel: x\n");
    let (code, _, stderr) = field(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("clients/field/field.yaml:3:5: unknown field `titel`"),
        "{stderr}"
    );
    // An implementation whose program is not built, and names given twice or not at all.
    let one = "  - name: mine\n    title: Mine\n    package: example.test/mine\n    module: example.test/mine\n    goMod: go.mod\n    protocol: exec\n    command: bin/mine --flag\n    via: no shim\n    scenarios: [scenarios/mine]\n    expectations: clients/field/mine.yaml\n";
    let dir = workspace(&format!("implementations:\n{one}"));
    std::fs::write(
        dir.path().join("go.mod"),
        "module x\n\nrequire example.test/mine v1.2.3\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("scenarios/corpus/entra/happy-path.yaml"),
        dir.path().join("scenarios/mine/happy-path.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("clients/field/mine.yaml"),
        "expectedFailures: []\n",
    )
    .unwrap();
    let (code, _, stderr) = field(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("mine: ") && stderr.contains("bin/mine is not built"),
        "{stderr}"
    );
    let (code, _, stderr) = field(dir.path(), &["--only", "theirs"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--only theirs: the manifest has no such implementation (mine)"),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("clients/field/field.yaml"),
        format!("implementations:\n{one}{one}"),
    )
    .unwrap();
    let (code, _, stderr) = field(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("two implementations are named mine"),
        "{stderr}"
    );
    // An expectations entry for a scenario the implementation does not run.
    std::fs::write(
        dir.path().join("clients/field/field.yaml"),
        format!("implementations:\n{one}"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("clients/field/mine.yaml"),
        "expectedFailures:\n  - {scenario: not-here, reason: x}\n",
    )
    .unwrap();
    let (code, _, stderr) = field(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the expectations name not-here, which is not among the scenarios run"),
        "{stderr}"
    );
}
