//! `credsim field`: the implementations from the field over their scenarios; the field report.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::progress::{Progress, WithProgress};

use credsim_world::error_chain;

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workspace the manifest's paths are relative to.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// The manifest (default: ROOT/clients/field/field.yaml).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The report (default: ROOT/docs/field-report.md).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write nothing: fail (exit 1) when the report differs from what this run sees.
    #[arg(long)]
    pub check: bool,
    /// Only this implementation (repeatable); the report is then not written or checked.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Scenarios in parallel (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Do not run scripts/install-go-clients first (the programs are already built).
    #[arg(long)]
    pub no_build: bool,
}

pub async fn main(args: Args) -> ExitCode {
    field(FieldPaths {
        manifest: args
            .manifest
            .unwrap_or_else(|| args.root.join("clients/field/field.yaml")),
        report: args
            .report
            .unwrap_or_else(|| args.root.join("docs/field-report.md")),
        root: args.root,
        check: args.check,
        only: args.only,
        jobs: args.jobs,
        no_build: args.no_build,
    })
    .await
}

/// The field's arguments with the defaults that depend on `--root` filled in.
struct FieldPaths {
    root: PathBuf,
    manifest: PathBuf,
    report: PathBuf,
    check: bool,
    only: Vec<String>,
    jobs: Option<usize>,
    no_build: bool,
}

/// `credsim field`: exit 0 when every implementation ran as its expectations say (and, with
/// `--check`, the report is unchanged), 1 when not, 2 when it could not run.
async fn field(args: FieldPaths) -> ExitCode {
    mock_kit::install_crypto_provider();
    let manifest = match credsim::field::Manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("credsim field: {}", error_chain(&e));
            return ExitCode::from(2);
        }
    };
    if let Some(unknown) = args
        .only
        .iter()
        .find(|n| !manifest.implementations.iter().any(|i| &i.name == *n))
    {
        eprintln!(
            "credsim field: --only {unknown}: the manifest has no such implementation ({})",
            manifest
                .implementations
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(2);
    }
    let build = args.root.join("scripts/install-go-clients");
    if !args.no_build && build.exists() {
        eprintln!(
            "credsim field: building the Go clients ({})",
            build.display()
        );
        match std::process::Command::new("bash").arg(&build).status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("credsim field: {} failed ({s})", build.display());
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("credsim field: cannot run {}: {e}", build.display());
                return ExitCode::from(2);
            }
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut runs = Vec::new();
    let mut as_expected = true;
    let mut silent = credsim::report::Silent;
    let mut progress = WithProgress::new(
        &mut silent,
        Progress::new("credsim field", "scenarios", None),
    );
    for imp in &manifest.implementations {
        if !args.only.is_empty() && !args.only.contains(&imp.name) {
            continue;
        }
        let run = match credsim::field::run_one(imp, &args.root, jobs, &mut progress).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("credsim field: {}", error_chain(&e));
                return ExitCode::from(2);
            }
        };
        let s = &run.summary;
        println!(
            "{:<36} {:<28} {} scenario(s): {} passed, {} failed, {} errors, {} skipped",
            imp.name, run.version, s.scenarios, s.passed, s.failed, s.errors, s.skipped
        );
        for r in run.results.iter().filter(|r| {
            matches!(
                r.verdict,
                credsim::run::Verdict::Fail | credsim::run::Verdict::Error
            )
        }) {
            println!("    {} {}: {}", r.verdict.as_str(), r.scenario, r.file);
        }
        as_expected &= run.as_expected();
        runs.push(run);
    }
    progress.progress.finish();
    if !args.only.is_empty() {
        return ExitCode::from(if as_expected { 0 } else { 1 });
    }
    let text = credsim::field::render(&runs);
    if args.check {
        let old = std::fs::read_to_string(&args.report).unwrap_or_default();
        if let Some((line, was, now)) = credsim::field::first_difference(&old, &text) {
            eprintln!(
                "credsim field: {} drifted from what this run sees, first at line {line}:\n  committed: {was}\n  this run:  {now}\nrun `credsim field` to regenerate it, and review the change",
                args.report.display()
            );
            return ExitCode::from(1);
        }
        println!("{} is up to date", args.report.display());
    } else {
        if let Err(e) = std::fs::write(&args.report, &text) {
            eprintln!("credsim field: cannot write {}: {e}", args.report.display());
            return ExitCode::from(2);
        }
        println!("wrote {}", args.report.display());
    }
    ExitCode::from(if as_expected { 0 } else { 1 })
}
