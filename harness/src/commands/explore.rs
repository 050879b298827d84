//! `credsim explore`: seeded schedules, failures shrunk to reproducers.

use std::path::PathBuf;
use std::process::ExitCode;

use super::launcher_for;
use crate::progress::Progress;

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::Target,
    /// The seed: the same seed plays the same schedules.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many schedules (`240`), or for how long (`90s`, `5m`).
    #[arg(long, default_value = "240")]
    pub budget: credsim::explore::Budget,
    /// Schedules in parallel (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// human or json (one JSON line per finding, then a summary line).
    #[arg(long, default_value = "human")]
    pub format: String,
    /// Where reproducers are written (one scenario file per finding, and summary.json).
    #[arg(long, default_value = "explore-findings")]
    pub report_dir: PathBuf,
    /// Also explore this many worlds generated from the seed (default: 24 without PATHS,
    /// none with them).
    #[arg(long)]
    pub generated: Option<usize>,
}

pub async fn main(args: Args) -> ExitCode {
    let json = match args.format.as_str() {
        "human" => false,
        "json" => true,
        other => {
            eprintln!("credsim explore: unknown --format {other:?} (human or json)");
            return ExitCode::from(2);
        }
    };
    let loaded = match scenarios_to_explore(&args) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let launcher = match launcher_for(
        "explore",
        args.target.implementation.as_deref(),
        &args.target.protocol,
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let options = credsim::explore::Options {
        seed: args.seed,
        budget: args.budget,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        stop_at: None,
    };
    let mut bar: Option<Progress> = None;
    let report = credsim::explore::explore(
        &loaded,
        launcher.as_ref(),
        &credsim_reference::ReferenceLauncher,
        &options,
        &mut |p: &credsim::explore::Progress| {
            let bar = bar.get_or_insert_with(|| {
                Progress::new("credsim explore", "schedules", p.of.map(|n| n as u64))
            });
            bar.advance(format!("{} finding(s)", p.findings));
        },
    )
    .await;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let written = match write_reproducers(&args.report_dir, &report.findings) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let rate = report.cases as f64 / report.elapsed.as_secs_f64().max(1e-3);
    let summary = serde_json::json!({"scenarios": loaded.len(), "schedules": report.cases,
        "errors": report.errors, "findings": report.findings.len(), "seed": args.seed,
        "seconds": report.elapsed.as_secs_f64(), "schedulesPerSecond": rate,
        "implementation": launcher.describe(),
        "reproducers": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()});
    if !report.findings.is_empty() {
        let path = args.report_dir.join("summary.json");
        if let Err(e) = std::fs::write(&path, format!("{summary:#}\n")) {
            eprintln!("credsim explore: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    for (f, path) in report.findings.iter().zip(&written) {
        print_finding(f, path, json);
    }
    if json {
        println!("{}", serde_json::json!({ "summary": summary }));
    } else {
        println!(
            "explore: {} schedule(s) of {} scenario(s) against {} in {:.1} s ({rate:.1}/s), {} error(s), {} finding(s)",
            report.cases,
            loaded.len(),
            launcher.describe(),
            report.elapsed.as_secs_f64(),
            report.errors,
            report.findings.len()
        );
    }
    if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The scenarios of `PATHS` (or the corpus) and the worlds generated from the seed; a file that
/// does not load exits 2.
fn scenarios_to_explore(args: &Args) -> Result<Vec<scenarios::Scenario>, ExitCode> {
    let (mut loaded, errors) = credsim::suite::load(&args.target.paths);
    if !errors.is_empty() {
        for e in errors {
            eprintln!("{e}");
        }
        return Err(ExitCode::from(2));
    }
    let generated = args
        .generated
        .unwrap_or(if args.target.paths.is_empty() { 24 } else { 0 });
    match credsim::generate::scenarios(args.seed, generated) {
        Ok(g) => loaded.extend(g),
        Err(e) => {
            eprintln!("credsim explore: a generated world does not load (a bug): {e}");
            return Err(ExitCode::from(2));
        }
    }
    Ok(loaded)
}

/// One reproducer file per finding, named after its minimal scenario, in `report_dir`.
fn write_reproducers(
    report_dir: &std::path::Path,
    findings: &[credsim::explore::Finding],
) -> Result<Vec<PathBuf>, ExitCode> {
    let mut written = Vec::new();
    if !findings.is_empty() {
        if let Err(e) = std::fs::create_dir_all(report_dir) {
            eprintln!("credsim explore: {}: {e}", report_dir.display());
            return Err(ExitCode::from(2));
        }
        for f in findings {
            let path = report_dir.join(format!("{}.yaml", f.minimal.name));
            let text = match scenarios::render::to_yaml(&f.minimal) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("credsim explore: rendering {}: {e}", f.minimal.name);
                    return Err(ExitCode::from(2));
                }
            };
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("credsim explore: {}: {e}", path.display());
                return Err(ExitCode::from(2));
            }
            written.push(path);
        }
    }
    Ok(written)
}

/// One finding on stdout: a JSON line, or the human lines.
fn print_finding(f: &credsim::explore::Finding, path: &std::path::Path, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"finding": {"scenario": f.scenario, "property": f.property.as_str(),
                "seed": f.seed, "case": f.case, "foundSteps": f.found_steps,
                "steps": f.minimal.steps.len(), "requests": f.requests(),
                "reproduced": f.reproduced, "runs": credsim::explore::REPRODUCE_RUNS,
                "reason": f.reason, "reproducer": path.display().to_string()}})
        );
    } else {
        println!(
            "FINDING  {}  {}  schedule {} (seed {}), shrunk from {} to {} step(s), {} request(s), failing {} of {} runs again\n      {}\n      reproducer: {}  (credsim run {} --impl ...)",
            f.scenario,
            f.property.as_str(),
            f.case,
            f.seed,
            f.found_steps,
            f.minimal.steps.len(),
            f.requests(),
            f.reproduced,
            credsim::explore::REPRODUCE_RUNS,
            f.reason,
            path.display(),
            path.display()
        );
    }
}
