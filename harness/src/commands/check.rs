//! `credsim check`: scenario files validated without running them.

use std::path::PathBuf;
use std::process::ExitCode;

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders (searched recursively for *.yaml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    let mut stdout = std::io::stdout();
    match credsim::check::check(&args.paths, &mut stdout) {
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
