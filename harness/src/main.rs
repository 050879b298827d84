//! The `credsim` command line (`docs/cli.md`, version 1): argument parsing and wiring only.
//! Each subcommand is a module of [`commands`] with its arguments and its `main`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Up(commands::up::Args),
    /// Change a running `credsim up` world with the scenario format's steps, watch its events,
    /// save the session as a scenario.
    Ctl(commands::ctl::Args),
    /// Validate scenario files without running them; every error as file:line:col: message.
    Check(commands::check::Args),
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Replay scenarios against an implementation and judge its security from evidence.
    Run(commands::run::Args),
    /// Play many schedules of the scenarios (reordered, overlapped, repeated requests, clock
    /// advances) against an implementation, the properties as the oracle; shrink every failure to
    /// a minimal scenario file that `credsim run` reproduces.
    Explore(commands::explore::Args),
    /// Run the implementations from the field (clients/field/field.yaml: upstream programs and
    /// packages built unmodified from pinned Go modules) over their scenarios, and write the
    /// field report (docs/field-report.md).
    Field(commands::field::Args),
    /// The reference implementation as an exec-protocol program (stdin/stdout).
    Reference(commands::reference::Args),
    /// Run the catalogue of deliberately broken implementations over the built-in corpus: check
    /// the verdict table (harness/reference/flaws.yaml) and print the mutation score per property.
    Flaws(commands::flaws::Args),
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
        Command::Up(args) => commands::up::main(args, &runtime),
        Command::Ctl(args) => runtime.block_on(commands::ctl::main(args)),
        Command::Check(args) => commands::check::main(args),
        Command::Schema => {
            print!("{}", scenarios::schema_text());
            ExitCode::SUCCESS
        }
        Command::Run(args) => runtime.block_on(commands::run::main(args)),
        Command::Explore(args) => runtime.block_on(commands::explore::main(args)),
        Command::Field(args) => runtime.block_on(commands::field::main(args)),
        Command::Reference(args) => commands::reference::main(args, &runtime),
        Command::Flaws(args) => runtime.block_on(commands::flaws::main(args)),
    }
}
