//! `credsim up`: the live mock cloud, and `credsim ctl`'s endpoint into it.
//!
//! [`up`] starts a world (the built-in demo world, or a scenario's with `--world`) on a running
//! clock behind the front door, writes the state directory, starts the control endpoint, reports
//! ready, and serves until the shutdown future resolves (the binary wires it to SIGINT and
//! SIGTERM). The world's own steps are not run: a developer's programs make the requests, and
//! `credsim ctl` makes the changes.
//!
//! Submodules:
//! - `control`: the control endpoint (loopback, bearer token): changes as scenario steps,
//!   events, the world, the diagram, the recording, the console page.
//! - [`events`]: the fakes' journals and the egress record as one numbered event log.
//! - [`record`]: a session as a scenario (`credsim ctl save`).
//!
//! State directory (`docs/cli.md`): `env.sh` (proxy and CA variables, `AZURE_AUTHORITY_HOST`,
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` for the first node's IMDS, `KUBECONFIG` for the first
//! cluster, `CREDSIM_STATE_DIR`), `ca.pem`, `tls/localhost.pem` and `tls/localhost-key.pem` (a
//! certificate for `localhost` and `127.0.0.1` from the run's CA, for local services such as
//! Azurite that clients of env.sh should trust), `kubeconfig/<cluster>.yaml` (admin),
//! `world.json` (rewritten after each change), `control.json` (the control endpoint's and the
//! console's URLs), `control-token` (mode 0600: the bearer token `credsim ctl` and the console
//! need), and `ready`, created last, when every listener accepts connections, and removed again
//! on shutdown with `control.json` and `control-token`.

mod control;
pub mod events;
pub mod record;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use credsim_world::cloud::{Cloud, CloudError};
use credsim_world::demo;
use credsim_world::world::{RunningWorld, WorldError};
use jiff::Timestamp;
use mock_kit::Clock;

pub use control::Live;

/// What `credsim up` was asked to do.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub world: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    /// The control endpoint's address; loopback only.
    pub control: SocketAddr,
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
    #[error("making the local TLS certificate failed")]
    Certificate(#[from] mock_kit::ca::CaError),
    #[error("the control endpoint must listen on loopback, not {0}")]
    ControlNotLoopback(SocketAddr),
    #[error("the control endpoint could not listen on {addr}")]
    Control {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> UpError + '_ {
    move |source| UpError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The world's scenario: its file's text (for the document `credsim ctl apply` appends to) and
/// what it loaded to.
fn load_world(
    options: &UpOptions,
    out: &mut (dyn Write + Send),
) -> Result<(String, String), UpError> {
    match &options.world {
        None => Ok((demo::FILE.to_owned(), demo::TEXT.to_owned())),
        Some(path) => {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| {
                UpError::Scenario(scenarios::LoadError::Read {
                    file: file.clone(),
                    source,
                })
            })?;
            let loaded = scenarios::load_str(&file, &text).map_err(UpError::Scenario)?;
            for w in &loaded.warnings {
                let _ = writeln!(out, "{w}");
            }
            Ok((file, text))
        }
    }
}

/// Serves until `shutdown` resolves, reporting progress lines to `out`.
pub async fn up(
    options: UpOptions,
    shutdown: impl Future<Output = ()>,
    out: &mut (dyn Write + Send),
) -> Result<(), UpError> {
    if !options.control.ip().is_loopback() {
        return Err(UpError::ControlNotLoopback(options.control));
    }
    let state = state_dir(options.state_dir.as_deref())?;
    let ready = state.join("ready");
    if ready.exists() {
        std::fs::remove_file(&ready).map_err(io_err(&ready))?;
    }
    let (file, text) = load_world(&options, out)?;
    let (doc, scenario) = match (
        scenarios::decode::decode(&file, &text),
        scenarios::load_str(&file, &text),
    ) {
        (Ok(doc), Ok(loaded)) => (doc, loaded.scenario),
        (_, Err(e)) => return Err(UpError::Scenario(e)),
        (Err(d), Ok(_)) => return Err(UpError::Scenario(scenarios::LoadError::Invalid(vec![d]))),
    };
    // A running clock: developers poke at the world in real time, from the scenario's start
    // time when it pins one.
    let start = scenario
        .world
        .options
        .start_time
        .unwrap_or_else(Timestamp::now);
    let world =
        RunningWorld::start_on(&scenario, options.listen, Clock::running_from(start)).await?;
    let live = match Live::new(world, doc, scenario, &state) {
        Ok(live) => Arc::new(live),
        Err(e) => return Err(e),
    };
    let served = serve_state(&live, &state, options.control, out).await;
    let control = match served {
        Ok(c) => c,
        Err(e) => {
            live.world.shutdown().await;
            return Err(e);
        }
    };
    write(&ready, "")?;
    let _ = out.flush();

    shutdown.await;
    control.abort();
    let cloud = &live.world.cloud;
    // A long-running world keeps the newest entries of each record; say what was let go.
    for (record, n) in cloud.evidence_dropped() {
        let _ = writeln!(
            out,
            "credsim up: {record} kept its newest {} entries and dropped {n} older ones",
            credsim_world::cloud::EGRESS_CAPACITY
        );
    }
    live.world.shutdown().await;
    for f in ["ready", "control.json", "control-token"] {
        let _ = std::fs::remove_file(state.join(f));
    }
    let _ = writeln!(out, "credsim up: stopped");
    Ok(())
}

/// The state directory: the one asked for, or a new temporary one.
fn state_dir(asked: Option<&Path>) -> Result<PathBuf, UpError> {
    let state = match asked {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            dir.to_path_buf()
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
    std::path::absolute(&state).map_err(io_err(&state))
}

/// Writes the state directory, starts the control endpoint and prints where everything is.
async fn serve_state(
    live: &Arc<Live>,
    state: &Path,
    control_addr: SocketAddr,
    out: &mut (dyn Write + Send),
) -> Result<tokio::task::JoinHandle<()>, UpError> {
    let cloud = &live.world.cloud;
    let ca = state.join("ca.pem");
    write(&ca, cloud.door.ca().cert_pem())?;
    write_local_tls(cloud, state)?;
    live.write_world_json()?;
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
        &env_sh(cloud, &ca, state, first_kubeconfig.as_deref()),
    )?;

    let listener = tokio::net::TcpListener::bind(control_addr)
        .await
        .map_err(|source| UpError::Control {
            addr: control_addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| UpError::Control {
        addr: control_addr,
        source,
    })?;
    let token_path = state.join("control-token");
    write_private(&token_path, &format!("{}\n", live.token()))?;
    let url = format!("http://{addr}");
    let console = format!("{url}/console");
    let info = serde_json::json!({"url": url, "console": console});
    write(&state.join("control.json"), &format!("{info:#}\n"))?;
    let handle = control::serve(live.clone(), listener);

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
    let _ = writeln!(
        out,
        "change it: credsim ctl apply FILE (control endpoint on {url}, token in {})",
        token_path.display()
    );
    let _ = writeln!(out, "console: {console}#token=<the token in control-token>");
    Ok(handle)
}

/// `tls/localhost.pem` and `tls/localhost-key.pem`: a server certificate for `localhost` and
/// `127.0.0.1` from the run's CA, so a local service (Azurite over HTTPS) is trusted by every
/// client that env.sh points at `ca.pem`.
fn write_local_tls(cloud: &Cloud, state: &Path) -> Result<(), UpError> {
    let dir = state.join("tls");
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let leaf = cloud.door.ca().issue(&["localhost", "127.0.0.1"])?;
    write(&dir.join("localhost.pem"), &leaf.pem)?;
    write_private(&dir.join("localhost-key.pem"), &leaf.key_pem())?;
    Ok(())
}

fn write(path: &Path, content: &str) -> Result<(), UpError> {
    std::fs::write(path, content).map_err(io_err(path))
}

/// Writes a file only its owner may read (mode 0600, also when it existed before).
fn write_private(path: &Path, content: &str) -> Result<(), UpError> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(content.as_bytes()).map_err(io_err(path))
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
