//! Deliberately broken implementations: the reference with exactly one flaw each. The harness must
//! fail the property that flaw breaks, with evidence that shows it.

use std::path::Path;

use credsim::implementation::Launcher;
use credsim::properties::{PropertyResult, PropertyVerdict as P};
use credsim::run::{ScenarioResult, Verdict, run_scenario};
use credsim_reference::{Flaw, FlawedLauncher, ReferenceLauncher};

fn corpus(name: &str) -> scenarios::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/corpus")
        .join(name);
    scenarios::load_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

async fn run(name: &str, launcher: &dyn Launcher) -> ScenarioResult {
    mock_kit::install_crypto_provider();
    run_scenario(&corpus(name), launcher).await
}

fn property<'a>(r: &'a ScenarioResult, id: &str) -> &'a PropertyResult {
    r.properties
        .iter()
        .find(|p| p.id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} not judged"))
}

fn assert_fails(r: &ScenarioResult, id: &str, evidence: &str) {
    assert_eq!(r.verdict, Verdict::Fail, "{r:#?}");
    let p = property(r, id);
    assert_eq!(p.verdict, P::Fail, "{id}: {p:#?}");
    assert!(
        p.evidence.iter().any(|e| e.contains(evidence)),
        "{id}: no evidence mentions {evidence:?}: {:#?}",
        p.evidence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_passes_the_scenarios_the_flaws_fail() {
    for name in [
        "entra/happy-path.yaml",
        "entra/mismatched-client-id.yaml",
        "acr/host-confusion.yaml",
    ] {
        let r = run(name, &ReferenceLauncher).await;
        assert_eq!(r.verdict, Verdict::Pass, "{name}: {r:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_keyed_by_registry_fails_cache_partitioning() {
    let r = run(
        "entra/happy-path.yaml",
        &FlawedLauncher(Flaw::CacheByRegistry),
    )
    .await;
    assert_fails(&r, "cache-partitioning", "for shard-a/project-b");
    // Project B got project A's credential, which unlocks A's repository: the cache is the
    // cause, so cache-partitioning judges it and project-isolation does not report it twice.
    assert!(
        r.expectations.iter().any(|x| x
            .message
            .contains("unlocks contosoacr/project-a/app, which it must not")),
        "{:#?}",
        r.expectations
    );
    assert_eq!(property(&r, "project-isolation").verdict, P::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falling_back_on_any_error_fails_fail_closed() {
    let r = run(
        "entra/mismatched-client-id.yaml",
        &FlawedLauncher(Flaw::FallbackOnAnyError),
    )
    .await;
    assert_fails(
        &r,
        "fail-closed",
        "own attempt: denied; fallback not allowed",
    );
    // The fallback credential unlocks what project A was never granted: a failure of
    // fail-closed, not reported again by project-isolation.
    assert_eq!(property(&r, "project-isolation").verdict, P::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_the_token_fails_no_secret_leak_through_the_exec_protocol() {
    let command = format!(
        "{} reference --flaw log-token",
        env!("CARGO_BIN_EXE_credsim")
    );
    let r = run(
        "entra/happy-path.yaml",
        &credsim::exec::ExecLauncher::new(&command),
    )
    .await;
    assert_fails(&r, "no-secret-leak", "shard-a stderr:1: entra-access-token");
    // The report names the secret by kind and fingerprint, never by value.
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("eyJ"), "a token leaked into the report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_registries_by_substring_fails_credential_destination() {
    let r = run(
        "acr/host-confusion.yaml",
        &FlawedLauncher(Flaw::HostContainsAzurecr),
    )
    .await;
    assert_fails(
        &r,
        "credential-destination",
        "https://attacker.example/contosoacr.azurecr.io/oauth2/exchange carried entra-access-token",
    );
}

#[test]
fn credsim_run_prints_a_failure_a_person_understands() {
    let bin = env!("CARGO_BIN_EXE_credsim");
    let out = std::process::Command::new(bin)
        .args([
            "run",
            "--filter",
            "happy-path",
            "--impl",
            &format!("{bin} reference --flaw cache-by-registry"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  happy-path"), "{stdout}");
    assert!(stdout.contains("cache-partitioning FAILED: the credential obtained for project-a on shard-a for contosoacr.azurecr.io was returned for project-b on shard-a for contosoacr.azurecr.io"), "{stdout}");
    assert!(stdout.contains("claim: a credential obtained for one (project, shard, registry) is never returned for another"), "{stdout}");
    assert!(
        stdout.contains("happy-path.yaml:60: step 2: expectation"),
        "{stdout}"
    );
}

#[test]
fn expectations_turn_known_failures_into_passes_and_catch_stale_entries() {
    let bin = env!("CARGO_BIN_EXE_credsim");
    let dir = tempfile::tempdir().unwrap();
    let run = |expectations: &str, filter: &str| {
        let file = dir.path().join("expectations.yaml");
        std::fs::write(&file, expectations).unwrap();
        let out = std::process::Command::new(bin)
            .args(["run", "--filter", filter, "--impl"])
            .arg(format!("{bin} reference --flaw cache-by-registry"))
            .arg("--expectations")
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The known failure is reported with its reason and does not fail the run.
    let (code, stdout, _) = run(
        "expectedFailures:\n  - scenario: happy-path\n    reason: the cache is keyed by registry until v2\n",
        "happy-path",
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("failed as expected: the cache is keyed by registry until v2"),
        "{stdout}"
    );
    // An expected failure that passes fails the run, so the list cannot rot.
    let (code, stdout, _) = run(
        "expectedFailures:\n  - scenario: host-confusion\n    reason: stale\n",
        "host-confusion",
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("expected to fail (stale) but passed"),
        "{stdout}"
    );
    // One step's expectation, and one property: both known, so the run passes, and the report
    // says which step failed as expected and why.
    let (code, stdout, _) = run(
        "expectedFailures:\n  - scenario: happy-path\n    step: 2\n    reason: shares the token\n  - scenario: happy-path\n    property: cache-partitioning\n    reason: keyed by registry\n    source: https://example.test/issue/1\n",
        "happy-path",
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("happy-path.yaml:60: step 2: expectation: ")
            && stdout.contains("(failed as expected: shares the token)"),
        "{stdout}"
    );
    // The step alone leaves the property's failure: the run still fails.
    let (code, stdout, _) = run(
        "expectedFailures:\n  - scenario: happy-path\n    step: 2\n    reason: shares the token\n",
        "happy-path",
    );
    assert_eq!(code, Some(1), "{stdout}");
    // A step whose expectation holds cannot be listed as failing.
    let (code, stdout, _) = run(
        "expectedFailures:\n  - scenario: happy-path\n    step: 1\n    reason: stale\n  - scenario: happy-path\n    reason: the rest\n",
        "happy-path",
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("step 1's expectation was expected to fail (stale) but held"),
        "{stdout}"
    );
    // An entry is a property or a step, and steps count from 1.
    for (entry, says) in [
        (
            "    property: fail-closed\n    step: 2\n",
            "names both a property and a step",
        ),
        ("    step: 0\n", "steps count from 1"),
    ] {
        let (code, _, stderr) = run(
            &format!("expectedFailures:\n  - scenario: happy-path\n{entry}    reason: x\n"),
            "happy-path",
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    // A skip is reported as such, with its reason.
    let (code, stdout, _) = run(
        "skips:\n  - scenario: happy-path\n    reason: one shard only\n",
        "happy-path",
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("SKIP  happy-path"), "{stdout}");
    // Entries need a reason and must name a scenario that exists.
    let (code, _, stderr) = run(
        "skips:\n  - scenario: happy-path\n    reason: ''\n",
        "happy-path",
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("needs a reason"), "{stderr}");
    let (code, _, stderr) = run(
        "skips:\n  - scenario: no-such-scenario\n    reason: x\n",
        "*",
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no-such-scenario"), "{stderr}");
}

#[test]
fn the_report_directory_shows_the_flow_and_the_verdicts_without_secrets() {
    let bin = env!("CARGO_BIN_EXE_credsim");
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "run",
            "--filter",
            "mismatched-client-id",
            "--format",
            "junit",
            "--impl",
        ])
        .arg(format!("{bin} reference --flaw fallback-on-any-error"))
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let junit = String::from_utf8_lossy(&out.stdout);
    assert!(junit.contains(r#"<testcase classname="scenarios/corpus/entra/mismatched-client-id.yaml" name="mismatched-client-id""#), "{junit}");
    assert!(junit.contains("<failure message="), "{junit}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["formatVersion"], 1);
    assert_eq!(summary["summary"]["failed"], 1);
    assert_eq!(summary["scenarios"][0]["verdict"], "fail");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    // The sequence diagram shows Entra's refusal of the project and the fallback that followed.
    assert!(
        html.contains(
            "token for project-b-mi (system:serviceaccount:project-a:credentials) → AADSTS700213"
        ),
        "{html}"
    );
    assert!(html.contains(
        "token for controller-mi (system:serviceaccount:kargo:kargo-controller) → token issued"
    ));
    assert!(html.contains(r#"<td class="fail">fail</td>"#));
    let transcript =
        std::fs::read_to_string(dir.path().join("transcripts/mismatched-client-id.txt")).unwrap();
    assert!(transcript.contains("step 1 (line 53)"), "{transcript}");
    for text in [&html, &transcript, &junit.to_string()] {
        assert!(!text.contains("eyJ"), "a JWT reached a report");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_dependent_properties_are_not_applicable_when_the_clock_cannot_be_followed() {
    let command = format!("{} reference --no-clock", env!("CARGO_BIN_EXE_credsim"));
    let r = run(
        "cache/refresh-token-lifetime.yaml",
        &credsim::exec::ExecLauncher::new(&command),
    )
    .await;
    let p = property(&r, "short-lived");
    assert_eq!(p.verdict, P::NotApplicable, "{p:#?}");
    assert!(
        p.reason
            .as_deref()
            .unwrap()
            .contains("`clock/set` is not supported"),
        "{p:#?}"
    );
    // With the clock followed, the same property is judged.
    let r = run("cache/refresh-token-lifetime.yaml", &ReferenceLauncher).await;
    assert_eq!(property(&r, "short-lived").verdict, P::Pass);
}

// The catalogue's full verdict table, one row per flaw, is `harness/reference/flaws.yaml`, checked by
// `tests/catalogue.rs`.

/// `least-privilege` on Entra scopes: an ARM token asked for with the project's identity fails,
/// unless the policy declares that resource for that identity; declaring it for another
/// identity does not help.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_resources_the_policy_declares_pass_and_others_fail() {
    mock_kit::install_crypto_provider();
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/corpus/tls/untrusted-certificate-at-entra.yaml"),
    )
    .unwrap();
    // The same world, without the certificate fault and its steps, with `policy` as given.
    let world_end = base.find("  faults:").unwrap();
    let with_policy = |policy: &str| {
        let text = base[..world_end].to_owned()
            + "steps:\n  - request: {shard: shard-a, project: project-a, registry: contosoacr, repository: project-a/app,\n              expect: {outcome: granted, unlocks: [contosoacr/project-a/app]}}\n"
            + policy;
        scenarios::load_str("token-resources.yaml", &text)
            .unwrap()
            .scenario
    };
    let least = |r: &ScenarioResult| -> PropertyResult {
        r.properties
            .iter()
            .find(|p| p.id.as_str() == "least-privilege")
            .cloned()
            .unwrap()
    };
    let flaw = FlawedLauncher(Flaw::ManagementToken);

    let undeclared = run_scenario(
        &with_policy("policy:\n  serviceAccount: credentials\n"),
        &flaw,
    )
    .await;
    let p = least(&undeclared);
    assert_eq!(p.verdict, P::Fail, "{p:#?}");
    assert!(
        p.evidence.iter().any(|e| e.contains("by project-a-mi")
            && e.contains("for `https://management.azure.com/.default`")),
        "{p:#?}"
    );

    let declared = run_scenario(
        &with_policy(
            "policy:\n  serviceAccount: credentials\n  tokenResources:\n    - identity: project-a-mi\n      resources: [https://management.azure.com/]\n",
        ),
        &flaw,
    )
    .await;
    let p = least(&declared);
    assert_eq!(p.verdict, P::Pass, "{p:#?}");
    assert!(
        p.examined.contains("2 Entra or IMDS token request(s)"),
        "{p:#?}"
    );

    // Another resource declared: still a failure for the one not declared.
    let elsewhere = with_policy(
        "policy:\n  serviceAccount: credentials\n  tokenResources:\n    - identity: project-a-mi\n      resources: [https://graph.microsoft.com]\n",
    );
    let p = least(&run_scenario(&elsewhere, &flaw).await);
    assert_eq!(p.verdict, P::Fail, "{p:#?}");
    assert!(
        p.evidence
            .iter()
            .any(|e| e
                .contains("and the policy allows project-a-mi also https://graph.microsoft.com")),
        "{p:#?}"
    );

    // The reference asks for the registry resource only, and passes either way.
    let p = least(
        &run_scenario(
            &with_policy("policy:\n  serviceAccount: credentials\n"),
            &ReferenceLauncher,
        )
        .await,
    );
    assert_eq!(p.verdict, P::Pass, "{p:#?}");
}
