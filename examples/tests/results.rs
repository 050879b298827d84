//! Results and evidence read through the public API, and the report directory.

use credsim::harness::Harness;
use credsim::implementation::RefusalKind;
use credsim::properties::PropertyVerdict;
use credsim::result::Verdict;

fn scenarios() -> String {
    format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn lookalike_hosts_pass_with_evidence_and_a_report() {
    let report = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("results-report");
    let outcome = Harness::folder(scenarios())
        .implementation(credsim_example::launcher())
        .filter("lookalike-hosts")
        .report_dir(&report)
        .run_quietly()
        .expect("the harness runs");
    assert_eq!(outcome.results.len(), 1);
    let r = &outcome.results[0];
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.error);
    // The evidence behind the pass: no property fails, and each says what it examined.
    assert!(
        r.properties
            .iter()
            .all(|p| p.verdict != PropertyVerdict::Fail)
    );
    assert!(r.properties.iter().all(|p| !p.examined.is_empty()));
    let fail_closed = r
        .properties
        .iter()
        .find(|p| p.id == credsim::scenarios::model::PropertyId::FailClosed)
        .expect("fail-closed is judged");
    assert_eq!(
        fail_closed.verdict,
        PropertyVerdict::Pass,
        "{fail_closed:?}"
    );
    assert!(r.transcript.iter().any(|l| l.contains("attacker.example")));
    let summary = std::fs::read_to_string(report.join("summary.json")).expect("summary written");
    assert!(summary.contains("lookalike-hosts"));
    assert!(report.join("junit.xml").exists());
}

#[test]
fn a_credential_for_anyone_is_caught() {
    // A deliberately broken variant: every request gets the same static credential, wherever
    // the registry is. The properties must say so.
    let broken = credsim::inprocess::from_fn("static-credential 0", |_env, _request| async {
        credsim::implementation::Answer::Credential(credsim::implementation::Credential {
            username: "00000000-0000-0000-0000-000000000000".into(),
            password: "static-password".into(),
            expires_at: None,
        })
    });
    let outcome = Harness::folder(scenarios())
        .implementation(broken)
        .filter("lookalike-hosts")
        .run_quietly()
        .expect("the harness runs");
    let r = &outcome.results[0];
    assert_eq!(r.verdict, Verdict::Fail);
    let failed: Vec<_> = r
        .properties
        .iter()
        .filter(|p| p.verdict == PropertyVerdict::Fail)
        .map(|p| p.id)
        .collect();
    // One credential for three different registries, and one that never expires.
    use credsim::scenarios::model::PropertyId;
    assert_eq!(
        failed,
        [PropertyId::CachePartitioning, PropertyId::ShortLived],
        "{:?}",
        r.properties
    );
    assert_eq!(r.expectations.len(), 3, "every step expected a refusal");
}

#[test]
fn a_filter_that_selects_nothing_is_an_error() {
    let err = Harness::folder(scenarios())
        .implementation(credsim::inprocess::refuses(RefusalKind::NotConfigured))
        .filter("no-such-scenario")
        .run_quietly()
        .expect_err("nothing selected");
    assert!(err.to_string().contains("no-such-scenario"), "{err}");
}
