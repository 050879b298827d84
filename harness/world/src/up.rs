//! `credsim up`: the local mock cloud.
//!
//! Starts the world's fakes (the built-in demo world, or a scenario's with `--world`) behind the
//! front door, writes the state directory, reports ready, and
//! serves until the shutdown future resolves (the binary wires it to SIGINT and SIGTERM).
//!
//! State directory (`docs/cli.md`): `env.sh` (proxy and CA variables,
//! `AZURE_AUTHORITY_HOST`, `AZURE_POD_IDENTITY_AUTHORITY_HOST` for the first node's IMDS,
//! `KUBECONFIG` for the first cluster), `ca.pem`, `kubeconfig/<cluster>.yaml` (admin),
//! `world.json`, and `ready`, created last, when every listener accepts connections, and removed
//! again on shutdown.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mock_kit::Clock;

use crate::cloud::{Cloud, CloudError};
use crate::demo;
use crate::world::{RunningWorld, WorldError};

/// What `credsim up` was asked to do.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub world: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub listen: SocketAddr,
}

/// Why `credsim up` could not serve.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// The scenario file did not load; the source lists every `file:line:col` error.
    #[error("--world: the scenario does not load")]
    Scenario(#[source] scenarios::LoadError),
    #[error("starting the scenario's world failed")]
    RunningWorld(#[from] WorldError),
    #[error("writing {path} failed")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the mock cloud failed")]
    Cloud(#[from] CloudError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> UpError + '_ {
    move |source| UpError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Serves until `shutdown` resolves, reporting progress lines to `out`.
pub async fn up(
    options: UpOptions,
    shutdown: impl Future<Output = ()>,
    out: &mut (dyn Write + Send),
) -> Result<(), UpError> {
    let state = match options.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            dir
        }
        None => {
            let tmp = std::env::temp_dir();
            tempfile::Builder::new()
                .prefix("credsim-up-")
                .tempdir_in(&tmp)
                .map_err(io_err(&tmp))?
                .keep()
        }
    };
    let state = std::path::absolute(&state).map_err(io_err(&state))?;
    let ready = state.join("ready");
    if ready.exists() {
        std::fs::remove_file(&ready).map_err(io_err(&ready))?;
    }

    let cloud = match &options.world {
        None => Cloud::start(demo::world(), options.listen).await?,
        Some(path) => {
            let loaded = scenarios::load_file(path).map_err(UpError::Scenario)?;
            for w in &loaded.warnings {
                let _ = writeln!(out, "{w}");
            }
            // A running clock: developers poke at the world in real time, from the scenario's
            // start time when it pins one.
            let start = loaded
                .scenario
                .world
                .options
                .start_time
                .unwrap_or_else(Timestamp::now);
            RunningWorld::start_on(&loaded.scenario, options.listen, Clock::running_from(start))
                .await?
                .into_cloud()
        }
    };
    let ca = state.join("ca.pem");
    write(&ca, cloud.door.ca().cert_pem())?;
    let world = state.join("world.json");
    let world_json =
        serde_json::to_string_pretty(&cloud.world_json()).expect("world.json serialises");
    write(&world, &(world_json + "\n"))?;
    let kube_dir = state.join("kubeconfig");
    std::fs::create_dir_all(&kube_dir).map_err(io_err(&kube_dir))?;
    let mut first_kubeconfig = None;
    for c in &cloud.all_clusters() {
        let path = kube_dir.join(format!("{}.yaml", c.name()));
        let yaml = cloud.admin_kubeconfig(c.name()).unwrap_or_default();
        write(&path, &yaml)?;
        first_kubeconfig.get_or_insert(path);
    }
    let env = state.join("env.sh");
    write(
        &env,
        &env_sh(&cloud, &ca, &state, first_kubeconfig.as_deref()),
    )?;
    write(&ready, "")?;

    let _ = writeln!(out, "credsim up: front door on {}", cloud.door.proxy_url());
    for site in cloud.door.sites() {
        let hosts: Vec<String> = site.hosts.iter().map(ToString::to_string).collect();
        let direct = cloud
            .door
            .endpoint(&site.name)
            .map(|e| e.direct_url)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<12} {} (direct: {direct})",
            site.name,
            hosts.join(", ")
        );
    }
    let _ = writeln!(out, "state in {}", state.display());
    let _ = writeln!(out, "point a shell at it: source {}", env.display());
    let _ = out.flush();

    shutdown.await;
    // A long-running world keeps the newest entries of each record; say what was let go.
    for (record, n) in cloud.evidence_dropped() {
        let _ = writeln!(
            out,
            "credsim up: {record} kept its newest {} entries and dropped {n} older ones",
            crate::cloud::EGRESS_CAPACITY
        );
    }
    cloud.shutdown().await;
    let _ = std::fs::remove_file(&ready);
    let _ = writeln!(out, "credsim up: stopped");
    Ok(())
}

fn write(path: &Path, content: &str) -> Result<(), UpError> {
    std::fs::write(path, content).map_err(io_err(path))
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn env_sh(cloud: &Cloud, ca: &Path, state: &Path, kubeconfig: Option<&Path>) -> String {
    let mut lines = vec![
        "# credsim up: source this file to point unmodified clients at the local mock cloud.".to_owned(),
        "# Every request goes through the front door; destinations no fake serves are refused and recorded.".to_owned(),
    ];
    let mut vars: Vec<(String, String)> = cloud.door.client_env(None, ca);
    vars.push((
        "AZURE_AUTHORITY_HOST".into(),
        "https://login.microsoftonline.com/".into(),
    ));
    vars.push(("CREDSIM_STATE_DIR".into(), state.display().to_string()));
    if let Some(k) = kubeconfig {
        vars.push(("KUBECONFIG".into(), k.display().to_string()));
    }
    let first_node = cloud
        .imds
        .as_ref()
        .and_then(|i| i.nodes().into_iter().next());
    if let Some(url) = first_node.and_then(|n| cloud.node_imds_url(&n)) {
        vars.push(("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), url));
    }
    for (name, value) in vars {
        lines.push(format!("export {name}={}", shell_quote(&value)));
    }
    lines.push(String::new());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
