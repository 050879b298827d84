//! `credsim check` and `credsim schema` as the CLI contract describes them.

use std::path::Path;
use std::process::Command;

fn credsim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_credsim"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_exits_0_on_valid_files_and_prints_their_lints() {
    let (code, stdout, stderr) = credsim(&[
        "check",
        "scenarios/tests/fixtures/valid-minimal.yaml",
        "scenarios/tests/fixtures/valid-lints.yaml",
        "scenarios/corpus",
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "scenarios/tests/fixtures/valid-lints.yaml:24:15: warning: world.clusters[1].issuer:"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("0 error(s)"), "{stderr}");
}

#[test]
fn check_exits_2_and_prints_every_error_as_file_line_col() {
    let (code, stdout, _) = credsim(&["check", "scenarios/tests/fixtures"]);
    assert_eq!(code, Some(2));
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.contains(": warning: "))
        .collect();
    assert!(errors.len() >= 25, "{stdout}");
    for line in errors {
        let mut parts = line.splitn(4, ':');
        let file = parts.next().unwrap();
        let l: u32 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        let c: u32 = parts
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        assert!(file.ends_with(".yaml") && l >= 1 && c >= 1, "{line}");
    }
    assert!(stdout.contains("scenarios/tests/fixtures/invalid-unknown-field.yaml:9:7: world.tenants[0].managedIdentity: unknown field `managedIdentity`"), "{stdout}");
    // Duplicate scenario names across files are an error too.
    let dir = tempfile::tempdir().unwrap();
    let minimal = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/tests/fixtures/valid-minimal.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("a.yaml"), &minimal).unwrap();
    std::fs::write(dir.path().join("b.yaml"), &minimal).unwrap();
    let (code, stdout, _) = credsim(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        stdout.contains("b.yaml:5:9: metadata.name: scenario name `minimal` is already used by"),
        "{stdout}"
    );
    // No files at all is not a success.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, _) = credsim(&["check", empty.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
}

#[test]
fn schema_prints_the_committed_json_schema() {
    let (code, stdout, _) = credsim(&["schema"]);
    assert_eq!(code, Some(0));
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/schema/v1alpha1.json"),
    )
    .unwrap();
    assert_eq!(stdout, committed);
}
