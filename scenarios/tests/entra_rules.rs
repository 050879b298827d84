//! Entra's federated-credential rules are refused when a file loads, each at the field it is
//! about, with the rules mock-entra applies (`entra-rules`): a file `credsim check` accepts has a
//! world the fake accepts. And the GUIDs the loader derives from names are the ones mock-entra
//! derives (both are `entra_rules::guid`'s).

mod refusal;

use entra_rules::federated::FederatedCredentialRef;
use proptest::prelude::*;
use scenarios::{Diagnostic, load_str};

const HEAD: &str = "apiVersion: credsim.dev/v1alpha1
kind: Scenario
metadata: {name: entra-rules}
world:
  tenants:
    - name: contoso
      managedIdentities:
        - name: mi
          federatedCredentials:
";

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// One credential, in block style so each field has a line of its own.
fn credential(name: &str, issuer: &str, subject: &str, audiences: &[&str]) -> String {
    let mut out = format!(
        "            - name: {}\n              issuer: {}\n              subject: {}\n",
        quoted(name),
        quoted(issuer),
        quoted(subject)
    );
    if !audiences.is_empty() {
        let list: Vec<String> = audiences.iter().map(|a| quoted(a)).collect();
        out.push_str(&format!("              audiences: [{}]\n", list.join(", ")));
    }
    out
}

fn world(credentials: &[String]) -> String {
    format!("{HEAD}{}", credentials.concat())
}

/// The errors refusing `text`.
fn errors(text: &str) -> Vec<Diagnostic> {
    refusal::errors("rules.yaml", text)
}

/// The 1-based line and column of the `n`th (from 0) `needle` in `text`.
fn nth_position(text: &str, needle: &str, n: usize) -> (u32, u32) {
    let (offset, _) = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("{needle} not {n} times in\n{text}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line as u32, col as u32)
}

/// The file is refused with exactly one error: at `needle`'s position, under `path`, saying
/// `says`.
fn refused_at(text: &str, needle: &str, path: &str, says: &str) {
    refused_nth(text, (needle, 0), path, says);
}

/// [`refused_at`] the `n`th `needle`.
fn refused_nth(text: &str, (needle, n): (&str, usize), path: &str, says: &str) {
    let diags = errors(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert!(d.is_error(), "{d}");
    assert_eq!(
        (d.at.line, d.at.col),
        nth_position(text, needle, n),
        "{d}\n{text}"
    );
    assert_eq!(d.path.as_deref(), Some(path), "{d}");
    assert!(d.message.contains(says), "{d}");
    let shown = d.to_string();
    assert!(
        shown.starts_with(&format!("rules.yaml:{}:{}: ", d.at.line, d.at.col)),
        "{shown}"
    );
}

const FIC: &str = "world.tenants[0].managedIdentities[0].federatedCredentials[0]";
const ISSUER: &str = "https://issuer.example/";

#[test]
fn names_are_refused_where_they_are_written() {
    for (name, says) in [
        ("ab", "is 2 characters long; Entra allows 3 to 120"),
        ("a", "is 1 character long"),
        ("-ab", "starts with `-`"),
        ("_ab", "starts with `_`"),
        ("a.b", "has `.`"),
        ("has space", "has ` `"),
        ("ünï", "starts with `ü`"),
    ] {
        let text = world(&[credential(name, ISSUER, "s", &[])]);
        refused_at(&text, &quoted(name), &format!("{FIC}.name"), says);
    }
    let long = "x".repeat(121);
    let text = world(&[credential(&long, ISSUER, "s", &[])]);
    refused_at(
        &text,
        &quoted(&long),
        &format!("{FIC}.name"),
        "is 121 characters long",
    );
}

#[test]
fn issuers_are_refused_where_they_are_written() {
    for bad in [
        "http://plain.example",
        "https://",
        "https:///path",
        "https://?query",
        "issuer.example",
    ] {
        let text = world(&[credential("fic", bad, "s", &[])]);
        refused_at(
            &text,
            &quoted(bad),
            &format!("{FIC}.issuer"),
            "is not an https URL with a host",
        );
    }
    let long = format!("{ISSUER}{}", "p".repeat(600));
    let text = world(&[credential("fic", &long, "s", &[])]);
    refused_at(
        &text,
        &quoted(&long),
        &format!("{FIC}.issuer"),
        "the issuer is 623 bytes long; Entra allows at most 600",
    );
}

#[test]
fn subjects_are_refused_where_they_are_written() {
    let text = world(&[credential("fic", ISSUER, "", &[])]);
    refused_at(
        &text,
        "\"\"",
        &format!("{FIC}.subject"),
        "the subject is empty",
    );
    let long = "s".repeat(601);
    let text = world(&[credential("fic", ISSUER, &long, &[])]);
    refused_at(
        &text,
        &quoted(&long),
        &format!("{FIC}.subject"),
        "the subject is 601 bytes long",
    );
}

#[test]
fn audiences_are_refused_where_they_are_written() {
    let text = world(&[credential("fic", ISSUER, "s", &["api://one", "api://two"])]);
    refused_at(
        &text,
        "\"api://two\"",
        &format!("{FIC}.audiences"),
        "2 audiences; Entra wants exactly one",
    );
    let text = world(&[credential("fic", ISSUER, "s", &[""])]);
    refused_at(
        &text,
        "\"\"",
        &format!("{FIC}.audiences[0]"),
        "the audience is empty",
    );
    let long = "a".repeat(601);
    let text = world(&[credential("fic", ISSUER, "s", &[&long])]);
    refused_at(
        &text,
        &quoted(&long),
        &format!("{FIC}.audiences[0]"),
        "the audience is 601 bytes long",
    );
}

#[test]
fn names_and_issuer_subject_pairs_are_unique_per_identity() {
    let text = world(&[
        credential("first", ISSUER, "s1", &[]),
        credential("second", ISSUER, "s1", &[]),
    ]);
    refused_at(
        &text,
        "\"second\"",
        "world.tenants[0].managedIdentities[0].federatedCredentials[1]",
        "has the issuer `https://issuer.example/` and the subject `s1`; Entra refuses duplicates (first defined at line 10)",
    );
    let text = world(&[
        credential("same", ISSUER, "s1", &[]),
        credential("same", ISSUER, "s2", &[]),
    ]);
    refused_nth(
        &text,
        ("\"same\"", 1),
        "world.tenants[0].managedIdentities[0].federatedCredentials[1].name",
        "another federated identity credential of this identity is named `same`; Entra refuses duplicates (first defined at line 10)",
    );
    // Another identity may have the same name, issuer and subject.
    let text = format!(
        "{}        - name: other-mi\n          federatedCredentials:\n{}",
        world(&[credential("same", ISSUER, "s1", &[])]),
        credential("same", ISSUER, "s1", &[])
    );
    load_str("rules.yaml", &text).unwrap();
}

#[test]
fn an_identity_has_at_most_twenty() {
    let twenty: Vec<String> = (0..20)
        .map(|i| credential(&format!("fic-{i}"), ISSUER, &format!("s{i}"), &[]))
        .collect();
    load_str("rules.yaml", &world(&twenty)).unwrap();
    let mut more = twenty.clone();
    more.push(credential("fic-20", ISSUER, "s20", &[]));
    refused_at(
        &world(&more),
        "\"fic-20\"",
        "world.tenants[0].managedIdentities[0].federatedCredentials[20]",
        "`mi`: 21 federated identity credentials on one identity; Entra allows at most 20",
    );
}

#[test]
fn apps_are_held_to_the_same_rules() {
    let text = HEAD.replace("managedIdentities:", "apps:") + &credential("ab", ISSUER, "s", &[]);
    refused_at(
        &text,
        "\"ab\"",
        "world.tenants[0].apps[0].federatedCredentials[0].name",
        "is 2 characters long",
    );
}

/// A credential that trusts a cluster gets the cluster's issuer, and Entra's rules apply to it
/// there: the error points at `cluster`.
#[test]
fn a_cluster_issuer_is_held_to_the_issuer_rules() {
    let text = |issuer: &str| {
        format!(
            "{HEAD}            - {{name: fic, cluster: shard-a, serviceAccount: project-a/credentials}}
  clusters:
    - name: shard-a
      issuer: {}
      projects:
        - {{name: project-a, serviceAccounts: [{{name: credentials}}]}}
",
            quoted(issuer)
        )
    };
    let long = format!("https://oidc.example/{}", "p".repeat(600));
    refused_at(
        &text(&long),
        "shard-a",
        &format!("{FIC}.cluster"),
        "the issuer is 621 bytes long; Entra allows at most 600 (the issuer of cluster `shard-a`)",
    );
    refused_at(
        &text("https:///no-host"),
        "shard-a",
        &format!("{FIC}.cluster"),
        "the issuer `https:///no-host` is not an https URL with a host",
    );
    load_str("rules.yaml", &text("https://oidc.example/")).unwrap();
}

const STEP: &str = "steps[0].addFederatedCredential.credential";

fn with_step(step: &str) -> String {
    format!(
        "{}steps:\n{step}",
        world(&[credential("existing", ISSUER, "s1", &[])])
    )
}

fn add(name: &str, issuer: &str, subject: &str) -> String {
    format!(
        "  - addFederatedCredential:\n      identity: mi\n      credential: {{name: {}, issuer: {}, subject: {}}}\n",
        quoted(name),
        quoted(issuer),
        quoted(subject)
    )
}

#[test]
fn a_step_adds_only_what_entra_accepts() {
    refused_at(
        &with_step(&add("-new", ISSUER, "s2")),
        "\"-new\"",
        &format!("{STEP}.name"),
        "starts with `-`",
    );
    refused_at(
        &with_step(&add("new", "http://plain.example", "s2")),
        "\"http://plain.example\"",
        &format!("{STEP}.issuer"),
        "is not an https URL",
    );
    refused_at(
        &with_step(&add("new", ISSUER, "")),
        "\"\"",
        &format!("{STEP}.subject"),
        "the subject is empty",
    );
    refused_at(
        &with_step(&add("new", ISSUER, "s1")),
        "\"new\"",
        STEP,
        "at this step, another federated identity credential of this identity has the issuer `https://issuer.example/` and the subject `s1`; Entra refuses duplicates (first defined at line 10)",
    );
    refused_nth(
        &with_step(&add("existing", ISSUER, "s2")),
        ("\"existing\"", 1),
        &format!("{STEP}.name"),
        "at this step, another federated identity credential of this identity is named `existing`",
    );
    // Once deleted, the name and the issuer and subject are free again.
    let text = with_step(&format!(
        "  - deleteFederatedCredential: {{identity: mi, name: existing}}\n{}",
        add("existing", ISSUER, "s1")
    ));
    let loaded = load_str("rules.yaml", &text).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

/// The one refusal a file may mean: a step that adds a 21st credential is refused by Entra when
/// it runs (the corpus's `twenty-federated-credentials` shows what implementations then do). The
/// file loads with a warning at the credential, and the credential does not exist afterwards.
#[test]
fn a_step_beyond_twenty_loads_with_a_warning_and_adds_nothing() {
    let twenty: Vec<String> = (0..20)
        .map(|i| credential(&format!("fic-{i}"), ISSUER, &format!("s{i}"), &[]))
        .collect();
    let text = format!("{}steps:\n{}", world(&twenty), add("fic-20", ISSUER, "s20"));
    let loaded = load_str("rules.yaml", &text).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert!(!w.is_error());
    assert_eq!((w.at.line, w.at.col), nth_position(&text, "\"fic-20\"", 0));
    assert_eq!(w.path.as_deref(), Some(STEP));
    assert!(
        w.message
            .contains("21 federated identity credentials on one identity; Entra allows at most 20")
            && w.message.contains("the step changes nothing"),
        "{w}"
    );
    // Deleting what Entra refused to add deletes nothing: an error, as for any missing name.
    let text = format!("{text}  - deleteFederatedCredential: {{identity: mi, name: fic-20}}\n");
    let diags = errors(&text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(
        diags[0]
            .message
            .contains("has no federated credential named `fic-20` at this step"),
        "{}",
        diags[0]
    );
    // After a delete there is room again.
    let text = format!(
        "{}steps:\n  - deleteFederatedCredential: {{identity: mi, name: fic-0}}\n{}",
        world(&twenty),
        add("fic-20", ISSUER, "s20")
    );
    assert!(load_str("rules.yaml", &text).unwrap().warnings.is_empty());
}

#[test]
fn the_corpus_scenario_of_a_full_identity_still_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/entra/twenty-federated-credentials.yaml");
    let loaded = scenarios::load_file(&path).unwrap();
    let paths: Vec<Option<&str>> = loaded.warnings.iter().map(|w| w.path.as_deref()).collect();
    assert_eq!(paths, vec![Some(STEP)], "{:?}", loaded.warnings);
}

#[test]
fn the_longest_values_entra_accepts_load() {
    let name = "x".repeat(120);
    let issuer = format!("{ISSUER}{}", "p".repeat(600 - ISSUER.len()));
    let subject = "s".repeat(600);
    let audience = "a".repeat(600);
    let text = world(&[credential(&name, &issuer, &subject, &[&audience])]);
    let loaded = load_str("rules.yaml", &text).unwrap();
    let fic = &loaded.scenario.world.tenants[0].managed_identities[0].federated_credentials[0];
    assert_eq!(
        (fic.name.len(), fic.issuer.len(), fic.subject.len()),
        (120, 600, 600)
    );
}

// Mostly what Entra accepts, so that accepted worlds are common too.

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9][A-Za-z0-9_-]{2,5}",
        2 => "[A-Za-z0-9_. \\-ü]{0,5}",
        1 => Just("x".repeat(120)),
        1 => Just("x".repeat(121)),
    ]
}

fn issuer() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(ISSUER.to_owned()),
        4 => "https://[a-z]{1,4}\\.example(/[a-z?#]{0,3})?",
        2 => "(http|https|HTTPS)://[a-z/?#]{0,3}",
        1 => Just(String::new()),
        1 => Just(format!("{ISSUER}{}", "p".repeat(600 - ISSUER.len()))),
        1 => Just(format!("{ISSUER}{}", "p".repeat(601 - ISSUER.len()))),
    ]
}

fn subject() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("s1".to_owned()),
        4 => "[a-z:/ é]{1,6}",
        1 => Just(String::new()),
        1 => Just("s".repeat(600)),
        1 => Just("é".repeat(301)),
    ]
}

fn audience() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(entra_rules::EXCHANGE_AUDIENCE.to_owned()),
        3 => "api://[a-z]{1,3}",
        1 => Just(String::new()),
        1 => Just("a".repeat(601)),
    ]
}

fn audiences() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => Just(Vec::new()),
        3 => prop::collection::vec(audience(), 1..=1),
        1 => prop::collection::vec(audience(), 2..4),
    ]
}

type Drawn = (String, String, String, Vec<String>);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The loader refuses a world exactly when the rules mock-entra applies refuse it.
    #[test]
    fn the_loader_refuses_what_mock_entras_rules_refuse(
        drawn in prop::collection::vec((name(), issuer(), subject(), audiences()), 1..4)
    ) {
        let drawn: Vec<Drawn> = drawn;
        let text = world(
            &drawn
                .iter()
                .map(|(n, i, s, a)| {
                    let a: Vec<&str> = a.iter().map(String::as_str).collect();
                    credential(n, i, s, &a)
                })
                .collect::<Vec<_>>(),
        );
        // What mock-entra is given: the loader's default audience when none is written.
        let exchange = vec![entra_rules::EXCHANGE_AUDIENCE.to_owned()];
        let views: Vec<FederatedCredentialRef<'_>> = drawn
            .iter()
            .map(|(n, i, s, a)| FederatedCredentialRef {
                name: n,
                issuer: i,
                subject: s,
                audiences: if a.is_empty() { &exchange } else { a },
            })
            .collect();
        let rules = entra_rules::validate_federated_credentials(&views);
        match load_str("rules.yaml", &text) {
            Ok(_) => prop_assert!(rules.is_ok(), "loaded, but the rules refuse: {rules:?}\n{text}"),
            Err(e) => {
                prop_assert!(rules.is_err(), "refused, but the rules accept:\n{e}\n{text}");
                for d in e.diagnostics() {
                    prop_assert!(d.at.is_known(), "{d}");
                    prop_assert!(
                        d.path.as_deref().is_some_and(|p| p.starts_with("world.tenants[0].managedIdentities[0].federatedCredentials[")),
                        "{d}"
                    );
                }
            }
        }
    }
}

/// The IDs the loader derives from names are `entra_rules::guid`'s, which is what mock-entra
/// derives (its own test asserts the same of its side).
#[test]
fn derived_ids_are_entra_rules_guids() {
    use entra_rules::guid;
    use scenarios::model::guid as model_guid;
    let text = "apiVersion: credsim.dev/v1alpha1
kind: Scenario
metadata: {name: guids}
world:
  tenants:
    - name: contoso
      apps: [{name: ci-app}]
      managedIdentities: [{name: project-a-mi}]
";
    let s = load_str("guids.yaml", text).unwrap().scenario;
    let t = s.world.tenant("contoso").unwrap();
    assert_eq!(t.id, guid::tenant_id("contoso"));
    assert_eq!(t.apps[0].client_id, guid::client_id("contoso", "ci-app"));
    let mi = &t.managed_identities[0];
    assert_eq!(mi.client_id, guid::client_id("contoso", "project-a-mi"));
    assert_eq!(mi.principal_id, guid::object_id("contoso", "project-a-mi"));
    for (tenant, identity) in [
        ("contoso", "project-a-mi"),
        ("fabrikam", "ci-app"),
        ("", ""),
    ] {
        assert_eq!(model_guid::tenant_id(tenant), guid::tenant_id(tenant));
        assert_eq!(
            model_guid::client_id(tenant, identity),
            guid::client_id(tenant, identity)
        );
        assert_eq!(
            model_guid::principal_id(tenant, identity),
            guid::object_id(tenant, identity)
        );
    }
}
