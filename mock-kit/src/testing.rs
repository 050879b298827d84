//! Locating the real clients the integration tests drive.
//!
//! The Python clients (`requests`, `azure-identity`, `msal`, `azure-containerregistry`,
//! `kubernetes`) live in a venv that `scripts/install-clients` creates from the frozen
//! `clients/requirements.txt`. [`python`] finds that venv and creates it on first use, so
//! `cargo test` works on a fresh checkout; the script is idempotent and serialises concurrent
//! callers with a lock. The Go programs (the SDK driver `sdkcheck`, the shims, and upstream
//! programs) are built the same way by `scripts/install-go-clients` ([`go_program`],
//! [`run_go_json`]).

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (where `Cargo.toml`, `scripts/` and `clients/` are).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("mock-kit lives inside the workspace")
        .to_path_buf()
}

/// Runs `scripts/<name>` (an idempotent installer); returns its path, or what it printed when it
/// failed.
fn install(name: &str) -> Result<PathBuf, String> {
    let script = workspace_root().join("scripts").join(name);
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
    Ok(script)
}

/// The venv's Python interpreter, installing the pinned clients first if needed.
pub fn python() -> Result<PathBuf, String> {
    let root = workspace_root();
    let script = install("install-clients")?;
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

/// A Go program the tests drive (`sdkcheck`, the shims, and the upstream programs built from
/// pinned modules: `acr-credential-provider`, `docker-credential-acr-env`, `helm`, ...), building
/// them first if needed with `scripts/install-go-clients` (idempotent, serialised with a lock).
pub fn go_program(name: &str) -> Result<PathBuf, String> {
    let root = workspace_root();
    let script = install("install-go-clients")?;
    let program = root.join("target/clients/go/bin").join(name);
    if program.exists() {
        Ok(program)
    } else {
        Err(format!(
            "{} did not build {}",
            script.display(),
            program.display()
        ))
    }
}

/// `sdkcheck CASE` (`clients/go/cmd/sdkcheck`) with a clean environment (only `PATH` and `env`);
/// returns what it printed, parsed as JSON: the library's results, or `{"error": ...}` when the
/// library failed (exit status 1). Any other failure is an `Err`.
pub fn run_go_json(case: &str, env: &[(String, String)]) -> Result<serde_json::Value, String> {
    let program = go_program("sdkcheck")?;
    let out = Command::new(&program)
        .arg(case)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .map_err(|e| format!("running {} failed: {e}", program.display()))?;
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "sdkcheck {case} ({}) printed no JSON ({e}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if !out.status.success() && parsed.get("error").is_none() {
        return Err(format!("sdkcheck {case} exited with {}", out.status));
    }
    Ok(parsed)
}

/// The reference every crypto-bound benchmark compares with, measured in the same run: RSA-2048
/// (sign/s, verify/s) on one core, from the `openssl` binary's `openssl speed -seconds N rsa2048`
/// (Debian's `openssl` package; `scripts/install-deps` installs it).
pub fn openssl_rsa2048_rates(seconds: u64) -> Result<(f64, f64), String> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "rsa2048"])
        .output()
        .map_err(|e| format!("running openssl failed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_openssl_speed(&text)
        .ok_or_else(|| format!("openssl speed printed no rsa 2048 line:\n{text}"))
}

/// (sign/s, verify/s) from `openssl speed rsa2048`'s table: the line `rsa 2048 bits <sign time>s
/// <verify time>s <sign/s> <verify/s>` (OpenSSL 3 adds encrypt/decrypt columns after them).
fn parse_openssl_speed(text: &str) -> Option<(f64, f64)> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa") && l.contains("2048 bits"))?;
    let (_, rest) = line.split_once("bits")?;
    let mut rates = rest
        .split_whitespace()
        .filter(|t| !t.ends_with('s'))
        .filter_map(|t| t.parse::<f64>().ok());
    Some((rates.next()?, rates.next()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn openssl_speed_lines_of_both_formats_parse() {
        let v1 = "                  sign    verify    sign/s verify/s\n\
                  rsa 2048 bits 0.000671s 0.000020s   1489.6  51041.8\n";
        assert_eq!(super::parse_openssl_speed(v1), Some((1489.6, 51041.8)));
        let v3 = "                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s\n\
                  rsa   2048 bits 0.000811s 0.000024s 0.000025s 0.000800s   1233.0  41580.6  40000.0   1250.0\n";
        assert_eq!(super::parse_openssl_speed(v3), Some((1233.0, 41580.6)));
        assert_eq!(super::parse_openssl_speed("nothing here"), None);
    }
}

/// `VmRSS` of process `pid`, in MB (NaN when it cannot be read), for the benchmarks.
pub fn resident_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A benchmark's duration: `$CREDSIM_BENCH_SECONDS`, else `default`.
pub fn bench_seconds(default: u64) -> u64 {
    std::env::var("CREDSIM_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A load generator for the benchmarks: `connections` clients, one keep-alive TLS tunnel each
/// through a front door (`proxy`, trusting only `ca_pem`), each posting a form as fast as it is
/// answered, for `seconds`.
#[derive(Clone, Debug)]
pub struct FormLoad {
    pub proxy: String,
    pub ca_pem: String,
    pub connections: usize,
    pub seconds: u64,
}

impl FormLoad {
    /// Requests per second, every answer's status accepted by `ok` (a benchmark that measures
    /// something else than it means to fails loudly), and the body of the last warm-up answer.
    pub async fn run(
        &self,
        url: &str,
        form: std::sync::Arc<Vec<(&'static str, String)>>,
        ok: fn(u16) -> bool,
    ) -> Result<(f64, String), String> {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let ca =
            reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).map_err(|e| e.to_string())?;
        let proxy = reqwest::Proxy::all(&self.proxy).map_err(|e| e.to_string())?;
        let clients = (0..self.connections)
            .map(|_| {
                reqwest::Client::builder()
                    .proxy(proxy.clone())
                    .tls_certs_only([ca.clone()])
                    .http1_only()
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Warm up every connection (and the fakes' caches).
        let mut body = String::new();
        for c in &clients {
            let r = c
                .post(url)
                .form(&*form)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            body = r.text().await.unwrap_or_default();
            if !ok(status) {
                return Err(format!("warm-up answered {status}: {body}"));
            }
        }
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let started = std::time::Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|c| {
                let (done, stop, url, form) =
                    (done.clone(), stop.clone(), url.to_owned(), form.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = c
                            .post(&url)
                            .form(&*form)
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        let status = r.status().as_u16();
                        if !ok(status) {
                            return Err(format!("answered {status}"));
                        }
                        r.bytes().await.map_err(|e| e.to_string())?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_secs(self.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        Ok((rate, body))
    }
}
