//! Locating the real clients the integration tests drive.
//!
//! The Python clients (`requests`, `azure-identity`, `msal`, `azure-containerregistry`,
//! `kubernetes`) live in a venv that `scripts/install-clients` creates from the frozen
//! `clients/requirements.txt`. [`python`] finds that venv and creates it on first use, so
//! `cargo test` works on a fresh checkout; the script is idempotent and serialises concurrent
//! callers with a lock.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (where `Cargo.toml`, `scripts/` and `clients/` are).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("mock-kit lives inside the workspace")
        .to_path_buf()
}

/// The venv's Python interpreter, installing the pinned clients first if needed.
pub fn python() -> Result<PathBuf, String> {
    let root = workspace_root();
    let script = root.join("scripts/install-clients");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("running {} failed: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}); its output:\n{}{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let python = root.join("target/clients/venv/bin/python");
    if python.exists() {
        Ok(python)
    } else {
        Err(format!(
            "{} did not create {}",
            script.display(),
            python.display()
        ))
    }
}

/// A script of `clients/python/` run with the pinned venv's Python, a clean environment (only
/// `PATH` and `env`), and `args`; returns its standard output parsed as JSON.
pub fn run_python_json(
    script: &str,
    args: &[&str],
    env: &[(String, String)],
) -> Result<serde_json::Value, String> {
    let python = python()?;
    let path = workspace_root().join("clients/python").join(script);
    let out = Command::new(python)
        .arg(&path)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .map_err(|e| format!("running {} failed: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {args:?} exited with {}:\n{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{} printed no JSON ({e}):\n{}\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
