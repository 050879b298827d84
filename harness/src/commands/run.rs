//! `credsim run`: scenarios replayed against an implementation, reported.

use std::path::PathBuf;
use std::process::ExitCode;

use super::launcher_for;
use crate::progress::{Progress, WithProgress};

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::Target,
    /// human, json or junit.
    #[arg(long, default_value = "human")]
    pub format: String,
    /// Only scenarios whose name matches this glob.
    #[arg(long)]
    pub filter: Option<String>,
    /// Run the K-th of N disjoint slices.
    #[arg(long, default_value = "1/1")]
    pub partition: credsim::suite::Partition,
    /// Scenarios in parallel (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The implementation's expected failures and skips, each with a reason.
    #[arg(long)]
    pub expectations: Option<PathBuf>,
    /// Also write summary.json, junit.xml, report.html and a redacted transcript per scenario.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

pub async fn main(args: Args) -> ExitCode {
    use credsim::report::{Human, JsonLines, Reporter};

    mock_kit::install_crypto_provider();
    if !matches!(
        args.target.protocol.as_str(),
        "exec" | "docker-credential-helper" | "kubelet-credential-provider"
    ) {
        eprintln!(
            "credsim run: unknown --protocol {} (exec, docker-credential-helper or kubelet-credential-provider)",
            args.target.protocol
        );
        return ExitCode::from(2);
    }
    let (loaded, errors) = credsim::suite::load(&args.target.paths);
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return ExitCode::from(2);
    }
    let expectations = match &args.expectations {
        None => credsim::expectations::Expectations::default(),
        Some(path) => match credsim::expectations::Expectations::load(path) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("credsim run: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let names: Vec<String> = loaded.iter().map(|s| s.name.clone()).collect();
    let unknown = expectations.unknown_entries(&names);
    if !unknown.is_empty() {
        for u in unknown {
            eprintln!("credsim run: {u}");
        }
        return ExitCode::from(2);
    }
    let selected = match credsim::suite::select_some(loaded, args.filter.as_deref(), args.partition)
    {
        Ok(s) => s,
        Err(why) => {
            eprintln!("credsim run: {why}");
            return ExitCode::from(2);
        }
    };
    let launcher = match launcher_for(
        "run",
        args.target.implementation.as_deref(),
        &args.target.protocol,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut stdout = std::io::stdout();
    let mut sink = std::io::sink();
    let (mut reporter, junit): (Box<dyn Reporter>, bool) = match args.format.as_str() {
        "human" => (Box::new(Human), false),
        "json" => (Box::new(JsonLines), false),
        "junit" => (Box::new(Human), true),
        other => {
            eprintln!("credsim run: unknown --format {other:?} (human, json or junit)");
            return ExitCode::from(2);
        }
    };
    let out: &mut dyn std::io::Write = if junit { &mut sink } else { &mut stdout };
    let progress = Progress::new("credsim run", "scenarios", Some(selected.len() as u64));
    let mut reporter = WithProgress::new(reporter.as_mut(), progress);
    let (results, summary) =
        match credsim::suite::run_with(selected, launcher, jobs, &expectations, &mut reporter, out)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("credsim run: writing the report failed: {e}");
                return ExitCode::from(2);
            }
        };
    reporter.progress.finish();
    if junit && credsim::report::junit(&results, &summary, &mut stdout).is_err() {
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.report_dir
        && let Err(e) = credsim::report::write_dir(dir, &results, &summary)
    {
        eprintln!(
            "credsim run: writing the report to {} failed: {e}",
            dir.display()
        );
        return ExitCode::from(2);
    }
    ExitCode::from(summary.exit_code())
}
