//! The loader over the fixtures: every `invalid-*.yaml` is refused with errors a person can act
//! on (snapshotted for review), every `valid-*.yaml` loads (its warnings snapshotted).

use std::path::Path;

/// The fixture's path as the diagnostics print it: relative to the crate, stable across machines.
fn name(path: &Path) -> String {
    format!(
        "tests/fixtures/{}",
        path.file_name().unwrap().to_string_lossy()
    )
}

fn load(path: &Path) -> Result<scenarios::Loaded, scenarios::LoadError> {
    let text = std::fs::read_to_string(path).unwrap();
    scenarios::load_str(&name(path), &text)
}

/// `file:line:col: ` with a real position (the empty file is the one place with nothing to
/// point at but its start).
fn assert_located(diag: &scenarios::Diagnostic, fixture: &str) {
    let text = diag.to_string();
    let rest = text
        .strip_prefix(&format!("{fixture}:"))
        .unwrap_or_else(|| panic!("{text} does not start with the file name"));
    let mut parts = rest.splitn(3, ':');
    let line: u32 = parts.next().unwrap().parse().unwrap();
    let col: u32 = parts.next().unwrap().parse().unwrap();
    assert!(line >= 1 && col >= 1, "{text}");
    assert!(
        diag.at.is_known() || fixture.ends_with("invalid-empty.yaml"),
        "{text}: position unknown"
    );
}

#[test]
fn invalid_fixtures_are_refused_with_located_errors() {
    let mut seen = 0;
    insta::glob!("fixtures/invalid-*.yaml", |path| {
        seen += 1;
        let fixture = name(path);
        let err = match load(path) {
            Ok(_) => panic!("{fixture} loaded but must be refused"),
            Err(e) => e,
        };
        let diags = err.diagnostics();
        assert!(!diags.is_empty(), "{fixture}: no diagnostics");
        for d in &diags {
            assert!(d.is_error(), "{d}");
            assert_located(d, &fixture);
        }
        insta::assert_snapshot!(err.to_string());
    });
    assert!(seen >= 20, "only {seen} invalid fixtures found");
}

#[test]
fn valid_fixtures_load_and_their_lints_are_reviewed() {
    let mut seen = 0;
    insta::glob!("fixtures/valid-*.yaml", |path| {
        seen += 1;
        let fixture = name(path);
        let loaded = load(path).unwrap_or_else(|e| panic!("{fixture} must load:\n{e}"));
        for w in &loaded.warnings {
            assert!(!w.is_error(), "{w}");
            assert_located(w, &fixture);
        }
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(warnings.join("\n"));
    });
    assert!(seen >= 3, "only {seen} valid fixtures found");
}

#[test]
fn each_lint_fires_exactly_where_expected() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid-lints.yaml");
    let loaded = load(&path).unwrap();
    let lines: Vec<u32> = loaded.warnings.iter().map(|w| w.at.line).collect();
    // shared-mi (two projects), the controller-trusting credential, shard-b's shared issuer.
    assert_eq!(lines, vec![10, 16, 24], "{:#?}", loaded.warnings);
}

#[test]
fn the_kitchen_sink_resolves_to_the_model_the_harness_needs() {
    use scenarios::model::{Action, Outcome, RegistryTarget, guid};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid-kitchen-sink.yaml");
    let s = load(&path).unwrap().scenario;
    assert!(load(&path).unwrap().warnings.is_empty());
    let contoso = s.world.tenant("contoso").unwrap();
    assert_eq!(contoso.id, guid::tenant_id("contoso"));
    assert_eq!(contoso.domains, vec!["contoso.onmicrosoft.com".to_owned()]);
    let mi = &contoso.managed_identities[0];
    assert_eq!(mi.client_id, guid::client_id("contoso", "project-a-mi"));
    let fic = &mi.federated_credentials[0];
    assert_eq!(fic.issuer, "https://oidc.shard-a.credsim.test/");
    assert_eq!(fic.subject, "system:serviceaccount:project-a:credentials");
    assert_eq!(fic.audiences, vec!["api://AzureADTokenExchange".to_owned()]);
    let fabrikam = s.world.tenant("fabrikam").unwrap();
    assert_eq!(
        fabrikam.id.to_string(),
        "0b7c8f3e-54a2-4a41-9c1f-2f6f1f0e8a11"
    );
    let acr = s.world.registry("contosoacr").unwrap();
    assert_eq!(acr.login_server, "contosoacr.azurecr.io");
    assert_eq!(acr.repositories[1].artifacts.len(), 1, "default artifact");
    assert_eq!(acr.role_assignments[1].principal.tenant, "fabrikam");
    let (cluster, ctl) = s.shards().next().unwrap();
    assert_eq!(cluster.name, "shard-a");
    assert_eq!(
        ctl.workload_identity.as_ref().unwrap().name,
        "controller-mi"
    );
    assert_eq!(cluster.projects[0].pod_service_account, "default");
    assert_eq!(s.steps.len(), 11);
    assert_eq!(
        (s.steps[0].at.line, s.steps[0].at.col),
        (94, 5),
        "steps remember their line"
    );
    match &s.steps[10].action {
        Action::Request(r) => {
            assert_eq!(
                r.target,
                RegistryTarget::Host("attacker.example/contosoacr.azurecr.io".into())
            );
            assert_eq!(r.expect.outcome, Outcome::Denied);
            assert_eq!(r.expect.error.as_deref(), Some("AADSTS700213"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.judged_properties().len(), 2);
    assert!(s.policy.fallback.allowed);
}
