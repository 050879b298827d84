//! The README's `credsim run --impl '...'` examples, run as a new user types them: from the
//! repository root, with relative paths, through the `credsim` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `--impl '...'` command in the README, in order.
fn readme_impls() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| l.split_once("--impl '"))
        .filter_map(|(_, rest)| rest.split_once('\''))
        .map(|(cmd, _)| cmd.to_owned())
        .collect()
}

fn credsim_run(imp: &str, filter: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["run", "--impl", imp, "--filter", filter])
        .current_dir(root())
        .output()
        .unwrap()
}

#[test]
fn the_readmes_interpreter_and_relative_script_example_passes_from_the_repository_root() {
    // The example names the pinned venv's interpreter; make sure it exists.
    mock_kit::testing::python().unwrap();
    let imps = readme_impls();
    let example = imps
        .iter()
        .find(|c| c.contains(".py"))
        .unwrap_or_else(|| panic!("the README shows an interpreter with a script: {imps:?}"));
    let words: Vec<&str> = example.split_whitespace().collect();
    assert!(
        words.len() >= 2 && Path::new(words[1]).is_relative(),
        "the example uses a relative script path: {example}"
    );
    let out = credsim_run(example, "happy-path");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("happy-path"), "{stdout}");
    assert!(stdout.contains("pass"), "{stdout}");
}

#[test]
fn the_readmes_broken_implementation_example_fails_its_property() {
    let imps = readme_impls();
    let example = imps
        .iter()
        .find(|c| c.contains("--flaw"))
        .unwrap_or_else(|| panic!("the README shows a flaw: {imps:?}"));
    // The README names the binary where a default build puts it; this test's build may put it
    // elsewhere (CARGO_TARGET_DIR), so the same relative form is made from where it really is.
    let bin = Path::new(env!("CARGO_BIN_EXE_credsim"));
    let root = root().canonicalize().unwrap();
    let relative = bin
        .canonicalize()
        .unwrap()
        .strip_prefix(&root)
        .map(|p| format!("./{}", p.display()))
        .unwrap_or_else(|_| bin.display().to_string());
    let (program, rest) = example.split_once(' ').unwrap();
    assert_eq!(program, "./target/debug/credsim", "{example}");
    let out = credsim_run(&format!("{relative} {rest}"), "interleaved-projects");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cache-partitioning"), "{stdout}");
}

/// A `PATH` of its own: links to the real `bash`, `dirname` and `python3`, a fake `id` that says
/// the user is not root, a fake `cargo` that leaves a mark when run, and no `skopeo`, `kubectl`
/// or `sudo`.
fn unprivileged_path(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["bash", "dirname", "python3", "cc", "curl"] {
        let out = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let real = String::from_utf8(out.stdout).unwrap();
        if !real.trim().is_empty() {
            std::os::unix::fs::symlink(real.trim(), bin.join(tool)).unwrap();
        }
    }
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!{}\n{body}\n", bin.join("bash").display())).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("id", "echo 1000");
    script(
        "cargo",
        &format!("echo ran > {}", dir.join("cargo-ran").display()),
    );
    bin.display().to_string()
}

#[test]
fn the_test_command_without_install_rights_names_what_to_install_and_builds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = unprivileged_path(dir.path());
    let out = Command::new(format!("{path}/bash"))
        .arg(root().join("scripts/test"))
        .env_clear()
        .env("PATH", &path)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("skopeo"), "{stderr}");
    assert!(lines[0].contains("kubectl"), "{stderr}");
    assert!(
        lines[0].contains("sudo apt-get install -y") && lines[0].contains("skopeo"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("cargo-ran").exists(),
        "nothing is built before the tools are there"
    );

    // `--check` only lists what is missing.
    let out = Command::new(format!("{path}/bash"))
        .arg(root().join("scripts/install-deps"))
        .arg("--check")
        .env_clear()
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("missing: "), "{stdout}");
    assert!(stdout.contains("skopeo"), "{stdout}");
}
