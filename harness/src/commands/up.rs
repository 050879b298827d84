//! `credsim up`: the local mock cloud, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use credsim::live::{UpOptions, up};

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A scenario file whose world to serve (default: the built-in demo world).
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Where to write env.sh, ca.pem, world.json, the control token and ready (default: a new
    /// temporary folder).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// The front door's address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The control endpoint's address (loopback only), for `credsim ctl` and the console.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub control_listen: SocketAddr,
}

pub fn main(args: Args, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let options = UpOptions {
        world: args.world,
        state_dir: args.state_dir,
        listen: args.listen,
        control: args.control_listen,
    };
    let result = runtime.block_on(async {
        let mut stdout = std::io::stdout();
        up(options, shutdown_signal(), &mut stdout).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("credsim up: {:#}", anyhow::Error::from(e));
            ExitCode::from(2)
        }
    }
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, ctrl-c is still handled by the default disposition.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
