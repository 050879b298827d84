//! The `credsim` command line (`../shared/contracts/cli.md`, version 1).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::up::{UpOptions, up};

/// credsim: a simulation and conformance harness for cloud workload-identity credential flows.
#[derive(Debug, Parser)]
#[command(name = "credsim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the fakes (Entra ID, ...) behind the front door until interrupted.
    Up {
        /// A scenario file whose world to serve (default: the built-in demo world).
        #[arg(long)]
        world: Option<PathBuf>,
        /// Where to write env.sh, ca.pem, world.json and ready (default: a new temporary folder).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// The front door's address.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Validate scenario files without running them; every error as file:line:col: message.
    Check {
        /// Scenario files or folders (searched recursively for *.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credsim: starting the async runtime failed: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Check { paths } => {
            let mut stdout = std::io::stdout();
            match harness::check::check(&paths, &mut stdout) {
                Ok((summary, _)) => {
                    eprintln!(
                        "credsim check: {} file(s), {} error(s), {} warning(s)",
                        summary.files, summary.errors, summary.warnings
                    );
                    if summary.ok() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(2)
                    }
                }
                Err(e) => {
                    eprintln!("credsim check: writing the report failed: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Schema => {
            print!("{}", scenarios::schema_text());
            ExitCode::SUCCESS
        }
        Command::Up {
            world,
            state_dir,
            listen,
        } => {
            let options = UpOptions {
                world,
                state_dir,
                listen,
            };
            let result = runtime.block_on(async {
                let mut stdout = std::io::stdout();
                up(options, shutdown_signal(), &mut stdout).await
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!(
                        "credsim up: {}",
                        anyhow::Error::from(e)
                            .chain()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(": ")
                    );
                    ExitCode::from(2)
                }
            }
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
