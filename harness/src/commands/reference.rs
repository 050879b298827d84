//! `credsim reference`: the reference implementation as a program, in one of the three
//! protocols.

use std::process::ExitCode;

use credsim_world::error_chain;

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run with one deliberate flaw, to see the harness catch it (`credsim flaws` lists them
    /// with the property each trips).
    #[arg(long)]
    pub flaw: Option<credsim_reference::Flaw>,
    /// Answer `clock/set` with "method not found", like an implementation that cannot follow
    /// the virtual clock.
    #[arg(long)]
    pub no_clock: bool,
    /// Act as a Docker credential helper for the project in `PROJECT` instead (`get` only).
    #[arg(long)]
    pub docker_credential_helper: bool,
    /// Act as a kubelet image credential provider with service-account tokens instead.
    #[arg(long)]
    pub kubelet_credential_provider: bool,
    /// The credential helper's action (`get`).
    pub action: Option<String>,
}

pub fn main(args: Args, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    if args.docker_credential_helper {
        if args.action.as_deref() != Some("get") {
            eprintln!("credsim reference --docker-credential-helper: only `get` is supported");
            return ExitCode::from(1);
        }
        return one_shot_exit(runtime.block_on(credsim_reference::docker_helper_get(
            stdin.lock(),
            &mut stdout,
            &mut stderr,
        )));
    }
    if args.kubelet_credential_provider {
        return one_shot_exit(runtime.block_on(credsim_reference::kubelet_provider_get(
            stdin.lock(),
            &mut stdout,
            &mut stderr,
        )));
    }
    match runtime.block_on(credsim_reference::serve(
        args.flaw,
        !args.no_clock,
        std::io::BufReader::new(stdin),
        &mut stdout,
        &mut stderr,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("credsim reference: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The exit status of a one-shot helper or provider run: 0 with an answer, 1 without one or when
/// it could not run.
fn one_shot_exit(result: std::io::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("credsim reference: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}
