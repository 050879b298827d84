//! One module per subcommand: its arguments (`Args`, the flags `docs/cli.md` lists) and its
//! `main`. Shared here: the launcher `--impl` and `--protocol` name.

pub mod check;
pub mod explore;
pub mod field;
pub mod flaws;
pub mod reference;
pub mod run;
pub mod up;

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
