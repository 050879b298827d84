//! The committed JSON Schema (`scenarios/schema/v1alpha1.json`) is what the types generate, so
//! editors validate against the format the loader reads. Regenerate it with
//! `CREDSIM_BLESS=1 cargo test -p scenarios --test schema` (or `credsim schema > ...`).

use std::path::Path;

#[test]
fn committed_schema_has_not_drifted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/v1alpha1.json");
    let generated = scenarios::schema_text();
    if std::env::var_os("CREDSIM_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the scenario types; regenerate it with \
         `CREDSIM_BLESS=1 cargo test -p scenarios --test schema` and commit it",
        path.display()
    );
}

#[test]
fn schema_describes_the_format_authors_write() {
    let schema = scenarios::schema();
    let text = schema.to_string();
    // Positions are invisible: names are plain strings, durations carry their pattern.
    assert_eq!(
        schema
            .pointer("/properties/apiVersion/type")
            .and_then(|v| v.as_str()),
        Some("string"),
        "{text}"
    );
    assert!(text.contains(r#""pattern":"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$""#));
    assert_eq!(
        schema
            .pointer("/properties/apiVersion/const")
            .and_then(|v| v.as_str()),
        Some(scenarios::API_VERSION)
    );
    // Strict: every object refuses unknown fields.
    let defs = schema
        .pointer("/$defs")
        .and_then(|v| v.as_object())
        .unwrap();
    for name in [
        "Tenant", "Registry", "Cluster", "Request", "Expect", "Policy",
    ] {
        assert_eq!(
            defs[name].get("additionalProperties"),
            Some(&serde_json::Value::Bool(false)),
            "{name} must refuse unknown fields"
        );
    }
    // Closed vocabularies are enumerated.
    for word in [
        "project-isolation",
        "not-configured",
        "Container Registry Repository Reader",
        "content/read",
        "instant-federated-credential-propagation",
        "addFederatedCredential",
    ] {
        assert!(text.contains(&format!("\"{word}\"")), "{word} missing");
    }
}
