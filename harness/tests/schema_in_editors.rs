//! The committed JSON Schema works for editors: Python's `jsonschema` (Draft 2020-12, what YAML
//! language servers implement) accepts every valid fixture and every cookbook example, and
//! rejects the fixtures whose mistakes a schema can see.

use mock_kit::testing::{run_python_json, workspace_root};
use serde_json::Value;

fn validate(files: &[String]) -> Vec<Value> {
    let root = workspace_root();
    let schema = root.join("scenarios/schema/v1alpha1.json");
    let mut args = vec![schema.display().to_string()];
    args.extend(files.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_python_json("schema_check.py", &args, &[]).unwrap();
    out["results"].as_array().unwrap().clone()
}

fn fixtures(prefix: &str) -> Vec<String> {
    let dir = workspace_root().join("scenarios/tests/fixtures");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

#[test]
fn valid_fixtures_and_cookbook_examples_pass_the_schema() {
    let mut files = fixtures("valid-");
    files.push(
        workspace_root()
            .join("scenarios/README.md")
            .display()
            .to_string(),
    );
    let results = validate(&files);
    assert!(results.len() >= 30, "{} documents validated", results.len());
    for r in &results {
        assert_eq!(r["valid"], true, "{}: {}", r["source"], r["errors"]);
    }
}

#[test]
fn mistakes_a_schema_can_see_are_flagged_in_the_editor() {
    let root = workspace_root().join("scenarios/tests/fixtures");
    let files: Vec<String> = [
        "invalid-unknown-field.yaml",
        "invalid-unknown-step.yaml",
        "invalid-unknown-property.yaml",
        "invalid-role.yaml",
        "invalid-missing-field.yaml",
        "invalid-duration.yaml",
        "invalid-kind.yaml",
    ]
    .iter()
    .map(|f| root.join(f).display().to_string())
    .collect();
    let results = validate(&files);
    assert_eq!(results.len(), files.len());
    for r in &results {
        assert_eq!(r["valid"], false, "{} passed the schema", r["source"]);
    }
}
