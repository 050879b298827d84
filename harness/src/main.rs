//! The `credsim` command line (`docs/cli.md`, version 1).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use credsim::implementation::Launcher;

use clap::{Parser, Subcommand};
use credsim_world::up::{UpOptions, up};

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
    /// Replay scenarios against an implementation and judge its security from evidence.
    Run {
        /// Scenario files or folders (default: the corpus built into the binary).
        paths: Vec<PathBuf>,
        /// The implementation under test, started per shard (default: the built-in reference).
        #[arg(long = "impl")]
        implementation: Option<String>,
        /// exec, docker-credential-helper or kubelet-credential-provider.
        #[arg(long, default_value = "exec")]
        protocol: String,
        /// human, json or junit.
        #[arg(long, default_value = "human")]
        format: String,
        /// Only scenarios whose name matches this glob.
        #[arg(long)]
        filter: Option<String>,
        /// Run the K-th of N disjoint slices.
        #[arg(long, default_value = "1/1")]
        partition: credsim::suite::Partition,
        /// Scenarios in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// The implementation's expected failures and skips, each with a reason.
        #[arg(long)]
        expectations: Option<PathBuf>,
        /// Also write summary.json, junit.xml, report.html and a redacted transcript per scenario.
        #[arg(long)]
        report_dir: Option<PathBuf>,
    },
    /// Play many schedules of the scenarios (reordered, overlapped, repeated requests, clock
    /// advances) against an implementation, the properties as the oracle; shrink every failure to
    /// a minimal scenario file that `credsim run` reproduces.
    Explore {
        /// Scenario files or folders (default: the corpus built into the binary).
        paths: Vec<PathBuf>,
        /// The implementation under test, started per shard (default: the built-in reference).
        #[arg(long = "impl")]
        implementation: Option<String>,
        /// exec, docker-credential-helper or kubelet-credential-provider.
        #[arg(long, default_value = "exec")]
        protocol: String,
        /// The seed: the same seed plays the same schedules.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many schedules (`240`), or for how long (`90s`, `5m`).
        #[arg(long, default_value = "240")]
        budget: credsim::explore::Budget,
        /// Schedules in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// human or json (one JSON line per finding, then a summary line).
        #[arg(long, default_value = "human")]
        format: String,
        /// Where reproducers are written (one scenario file per finding, and summary.json).
        #[arg(long, default_value = "explore-findings")]
        report_dir: PathBuf,
        /// Also explore this many worlds generated from the seed (default: 24 without PATHS,
        /// none with them).
        #[arg(long)]
        generated: Option<usize>,
    },
    /// Run the implementations from the field (clients/field/field.yaml: upstream programs and
    /// packages built unmodified from pinned Go modules) over their scenarios, and write the
    /// field report (docs/field-report.md).
    Field {
        /// The workspace the manifest's paths are relative to.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// The manifest (default: ROOT/clients/field/field.yaml).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The report (default: ROOT/docs/field-report.md).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write nothing: fail (exit 1) when the report differs from what this run sees.
        #[arg(long)]
        check: bool,
        /// Only this implementation (repeatable); the report is then not written or checked.
        #[arg(long = "only", value_name = "NAME")]
        only: Vec<String>,
        /// Scenarios in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Do not run scripts/install-go-clients first (the programs are already built).
        #[arg(long)]
        no_build: bool,
    },
    /// The reference implementation as an exec-protocol program (stdin/stdout).
    Reference {
        /// Run with one deliberate flaw, to see the harness catch it (`credsim flaws` lists them
        /// with the property each trips).
        #[arg(long)]
        flaw: Option<credsim_reference::Flaw>,
        /// Answer `clock/set` with "method not found", like an implementation that cannot follow
        /// the virtual clock.
        #[arg(long)]
        no_clock: bool,
        /// Act as a Docker credential helper for the project in `PROJECT` instead (`get` only).
        #[arg(long)]
        docker_credential_helper: bool,
        /// Act as a kubelet image credential provider with service-account tokens instead.
        #[arg(long)]
        kubelet_credential_provider: bool,
        /// The credential helper's action (`get`).
        action: Option<String>,
    },
    /// Run the catalogue of deliberately broken implementations over the built-in corpus: check
    /// the verdict table (harness/reference/flaws.yaml) and print the mutation score per property.
    Flaws {
        /// Scenarios in parallel (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print what was observed as a verdict table (YAML), to review and commit.
        #[arg(long)]
        print_table: bool,
        /// Only this flaw (and the reference); repeatable. The score then covers only these.
        #[arg(long = "flaw", value_name = "NAME")]
        only: Vec<String>,
    },
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
        Command::Flaws {
            jobs,
            print_table,
            only,
        } => runtime.block_on(flaws(jobs, print_table, &only)),
        Command::Check { paths } => {
            let mut stdout = std::io::stdout();
            match credsim::check::check(&paths, &mut stdout) {
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
        Command::Reference {
            docker_credential_helper: true,
            action,
            ..
        } => {
            if action.as_deref() != Some("get") {
                eprintln!("credsim reference --docker-credential-helper: only `get` is supported");
                return ExitCode::from(1);
            }
            let stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout();
            let mut stderr = std::io::stderr();
            one_shot_exit(runtime.block_on(credsim_reference::docker_helper_get(
                stdin,
                &mut stdout,
                &mut stderr,
            )))
        }
        Command::Reference {
            kubelet_credential_provider: true,
            ..
        } => {
            let stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout();
            let mut stderr = std::io::stderr();
            one_shot_exit(runtime.block_on(credsim_reference::kubelet_provider_get(
                stdin,
                &mut stdout,
                &mut stderr,
            )))
        }
        Command::Reference { flaw, no_clock, .. } => {
            let stdin = std::io::BufReader::new(std::io::stdin());
            let mut stdout = std::io::stdout();
            let mut stderr = std::io::stderr();
            match runtime.block_on(credsim_reference::serve(
                flaw,
                !no_clock,
                stdin,
                &mut stdout,
                &mut stderr,
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("credsim reference: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run {
            paths,
            implementation,
            protocol,
            format,
            filter,
            partition,
            jobs,
            expectations,
            report_dir,
        } => runtime.block_on(run(RunArgs {
            paths,
            implementation,
            protocol,
            format,
            filter,
            partition,
            jobs,
            expectations,
            report_dir,
        })),
        Command::Explore {
            paths,
            implementation,
            protocol,
            seed,
            budget,
            jobs,
            format,
            report_dir,
            generated,
        } => runtime.block_on(explore(ExploreArgs {
            paths,
            implementation,
            protocol,
            seed,
            budget,
            jobs,
            format,
            report_dir,
            generated,
        })),
        Command::Field {
            root,
            manifest,
            report,
            check,
            only,
            jobs,
            no_build,
        } => runtime.block_on(field(FieldArgs {
            manifest: manifest.unwrap_or_else(|| root.join("clients/field/field.yaml")),
            report: report.unwrap_or_else(|| root.join("docs/field-report.md")),
            root,
            check,
            only,
            jobs,
            no_build,
        })),
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

struct ExploreArgs {
    paths: Vec<PathBuf>,
    implementation: Option<String>,
    protocol: String,
    seed: u64,
    budget: credsim::explore::Budget,
    jobs: Option<usize>,
    format: String,
    report_dir: PathBuf,
    generated: Option<usize>,
}

/// The launcher for `--impl` and `--protocol` (the in-process reference without `--impl`), or
/// exit status 2 with the reason.
fn launcher_for(
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
        eprintln!("credsim {command}: {e}");
        ExitCode::from(2)
    })
}

async fn explore(args: ExploreArgs) -> ExitCode {
    use std::io::{IsTerminal as _, Write as _};
    let json = match args.format.as_str() {
        "human" => false,
        "json" => true,
        other => {
            eprintln!("credsim explore: unknown --format {other:?} (human or json)");
            return ExitCode::from(2);
        }
    };
    let (mut loaded, errors) = credsim::suite::load(&args.paths);
    if !errors.is_empty() {
        for e in errors {
            eprintln!("{e}");
        }
        return ExitCode::from(2);
    }
    let generated = args
        .generated
        .unwrap_or(if args.paths.is_empty() { 24 } else { 0 });
    match credsim::generate::scenarios(args.seed, generated) {
        Ok(g) => loaded.extend(g),
        Err(e) => {
            eprintln!("credsim explore: a generated world does not load (a bug): {e}");
            return ExitCode::from(2);
        }
    }
    let launcher = match launcher_for("explore", args.implementation.as_deref(), &args.protocol) {
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
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |p: &credsim::explore::Progress| {
        let mut err = std::io::stderr();
        if terminal {
            let bar = match p.of {
                Some(of) => {
                    let done = p.cases * 30 / of.max(1);
                    format!(
                        "[{}{}] {}/{of}",
                        "=".repeat(done),
                        " ".repeat(30 - done.min(30)),
                        p.cases
                    )
                }
                None => format!("{} schedules, {:.0} s", p.cases, p.elapsed.as_secs_f64()),
            };
            let _ = write!(err, "\r{bar}, {} finding(s)  ", p.findings);
            let _ = err.flush();
        } else if p.cases.is_multiple_of(50) {
            let _ = writeln!(
                err,
                "explore: {} schedules, {} finding(s), {:.0} s",
                p.cases,
                p.findings,
                p.elapsed.as_secs_f64()
            );
        }
    };
    let report = credsim::explore::explore(
        &loaded,
        launcher.as_ref(),
        &credsim_reference::ReferenceLauncher,
        &options,
        &mut progress,
    )
    .await;
    if terminal {
        eprintln!();
    }
    let mut written = Vec::new();
    if !report.findings.is_empty() {
        if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
            eprintln!("credsim explore: {}: {e}", args.report_dir.display());
            return ExitCode::from(2);
        }
        for f in &report.findings {
            let path = args.report_dir.join(format!("{}.yaml", f.minimal.name));
            let text = match scenarios::render::to_yaml(&f.minimal) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("credsim explore: rendering {}: {e}", f.minimal.name);
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("credsim explore: {}: {e}", path.display());
                return ExitCode::from(2);
            }
            written.push(path);
        }
    }
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

struct RunArgs {
    paths: Vec<PathBuf>,
    implementation: Option<String>,
    protocol: String,
    format: String,
    filter: Option<String>,
    partition: credsim::suite::Partition,
    jobs: Option<usize>,
    expectations: Option<PathBuf>,
    report_dir: Option<PathBuf>,
}

async fn run(args: RunArgs) -> ExitCode {
    use credsim::report::{Human, JsonLines, Reporter};

    mock_kit::install_crypto_provider();
    if !matches!(
        args.protocol.as_str(),
        "exec" | "docker-credential-helper" | "kubelet-credential-provider"
    ) {
        eprintln!(
            "credsim run: unknown --protocol {} (exec, docker-credential-helper or kubelet-credential-provider)",
            args.protocol
        );
        return ExitCode::from(2);
    }
    let (loaded, errors) = credsim::suite::load(&args.paths);
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
    let launcher = match launcher_for("run", args.implementation.as_deref(), &args.protocol) {
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
    let (results, summary) = match credsim::suite::run_with(
        selected,
        launcher,
        jobs,
        &expectations,
        reporter.as_mut(),
        out,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("credsim run: writing the report failed: {e}");
            return ExitCode::from(2);
        }
    };
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

struct FieldArgs {
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
async fn field(args: FieldArgs) -> ExitCode {
    mock_kit::install_crypto_provider();
    let manifest = match credsim::field::Manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("credsim field: {e}");
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
    for imp in &manifest.implementations {
        if !args.only.is_empty() && !args.only.contains(&imp.name) {
            continue;
        }
        let run = match credsim::field::run_one(imp, &args.root, jobs).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("credsim field: {e}");
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

/// The exit status of a one-shot helper or provider run: 0 with an answer, 1 without one or when
/// it could not run.
fn one_shot_exit(result: std::io::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("credsim reference: {e}");
            ExitCode::from(1)
        }
    }
}

/// `credsim flaws`: exit 0 when every flaw gets exactly its table row and the reference fails
/// nothing, 1 otherwise, 2 when the run itself failed.
async fn flaws(jobs: Option<usize>, print_table: bool, only: &[String]) -> ExitCode {
    use credsim_reference::catalogue::{self, Observed, Table};
    let only: Vec<credsim_reference::Flaw> = match only.iter().map(|f| f.parse()).collect() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("credsim flaws: {e}");
            return ExitCode::from(2);
        }
    };
    let table = match Table::committed() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("credsim flaws: {e}");
            return ExitCode::from(2);
        }
    };
    let (scenarios, errors) = credsim::suite::load(&[]);
    if !errors.is_empty() {
        eprintln!(
            "credsim flaws: the corpus does not load:\n{}",
            errors.join("\n")
        );
        return ExitCode::from(2);
    }
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let outcomes = match catalogue::run(&scenarios, jobs, &only).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("credsim flaws: {e}");
            return ExitCode::from(2);
        }
    };
    if print_table {
        let rows: Vec<_> = outcomes
            .iter()
            .filter_map(|o| {
                let flaw = o.flaw?;
                Some(o.observed.as_row(flaw, table.row(flaw)))
            })
            .collect();
        match serde_saphyr::to_string(&Table { flaws: rows }) {
            Ok(y) => print!("{y}"),
            Err(e) => {
                eprintln!("credsim flaws: {e}");
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    let mut differences = 0;
    for o in &outcomes {
        let name = o.flaw.map_or("the reference", |f| f.as_str());
        let row = o.flaw.and_then(|f| table.row(f));
        let diff: Vec<String> = if o.flaw.is_some() && row.is_none() {
            vec!["is not in harness/reference/flaws.yaml".into()]
        } else {
            Observed::diff(&o.observed, row)
        };
        if diff.is_empty() {
            let fails: Vec<String> = o
                .observed
                .fails
                .iter()
                .map(|(p, s)| format!("{p} in {}", s.len()))
                .collect();
            println!(
                "ok    {name:<30} {}",
                if fails.is_empty() {
                    "fails nothing".into()
                } else {
                    format!("fails {}", fails.join(", "))
                }
            );
        } else {
            differences += diff.len();
            println!("DIFF  {name}");
            for d in diff {
                println!("        {d}");
            }
        }
    }
    println!();
    print!(
        "{}",
        catalogue::render_score(&catalogue::score(&table, &outcomes))
    );
    if differences == 0 {
        ExitCode::SUCCESS
    } else {
        println!("{differences} difference(s) from harness/reference/flaws.yaml");
        ExitCode::from(1)
    }
}
