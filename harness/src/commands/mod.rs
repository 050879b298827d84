//! One module per subcommand: its arguments (`Args`, the flags `docs/cli.md` lists) and its
//! `main`. Shared here: the launcher `--impl` and `--protocol` name.

pub mod check;
pub mod ctl;
pub mod explore;
pub mod field;
pub mod flaws;
pub mod reference;
pub mod run;
pub mod up;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use credsim::implementation::Launcher;

/// The launcher for `--impl` and `--protocol` (the in-process reference without `--impl`), or
/// exit status 2 with the reason.
pub fn launcher_for(
    command: &str,
    implementation: Option<&str>,
    protocol: &str,
) -> Result<Arc<dyn Launcher>, ExitCode> {
    let launcher = match implementation {
        Some(program) => credsim::suite::launcher(program, protocol),
        None => credsim::suite::check_protocol(protocol)
            .map(|()| Arc::new(credsim_reference::ReferenceLauncher) as Arc<dyn Launcher>),
    };
    launcher.map_err(|e| {
        eprintln!("credsim {command}: {}", credsim_world::error_chain(&e));
        ExitCode::from(2)
    })
}

/// The scenarios and the implementation under test, as `run` and `explore` take them.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Scenario files or folders (default: the corpus built into the binary).
    pub paths: Vec<PathBuf>,
    /// The implementation under test, started per shard (default: the built-in reference).
    #[arg(long = "impl")]
    pub implementation: Option<String>,
    /// exec, docker-credential-helper or kubelet-credential-provider.
    #[arg(long, default_value = "exec")]
    pub protocol: String,
}
