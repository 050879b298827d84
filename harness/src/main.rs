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
        partition: harness::suite::Partition,
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
    /// The reference implementation as an exec-protocol program (stdin/stdout).
    Reference {
        /// Run with one deliberate flaw, to see the harness catch it (`credsim flaws` lists them
        /// with the property each trips).
        #[arg(long)]
        flaw: Option<harness::reference::Flaw>,
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
    /// the verdict table (harness/flaws.yaml) and print the mutation score per property.
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
            one_shot_exit(runtime.block_on(harness::reference::docker_helper_get(
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
            one_shot_exit(runtime.block_on(harness::reference::kubelet_provider_get(
                stdin,
                &mut stdout,
                &mut stderr,
            )))
        }
        Command::Reference { flaw, no_clock, .. } => {
            let stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout();
            let mut stderr = std::io::stderr();
            match runtime.block_on(harness::reference::serve(
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

struct RunArgs {
    paths: Vec<PathBuf>,
    implementation: Option<String>,
    protocol: String,
    format: String,
    filter: Option<String>,
    partition: harness::suite::Partition,
    jobs: Option<usize>,
    expectations: Option<PathBuf>,
    report_dir: Option<PathBuf>,
}

async fn run(args: RunArgs) -> ExitCode {
    use harness::implementation::Launcher;
    use harness::report::{Human, JsonLines, Reporter};
    use std::sync::Arc;

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
    let (loaded, errors) = harness::suite::load(&args.paths);
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return ExitCode::from(2);
    }
    let expectations = match &args.expectations {
        None => harness::expectations::Expectations::default(),
        Some(path) => match harness::expectations::Expectations::load(path) {
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
    let selected = harness::suite::select(loaded, args.filter.as_deref(), args.partition);
    let launcher: Arc<dyn Launcher> = match &args.implementation {
        None => Arc::new(harness::reference::ReferenceLauncher),
        Some(cmd) if args.protocol == "kubelet-credential-provider" => {
            Arc::new(harness::kubelet_provider::KubeletProviderLauncher::new(cmd))
        }
        Some(cmd) if args.protocol == "docker-credential-helper" => {
            Arc::new(harness::docker_helper::DockerHelperLauncher::new(cmd))
        }
        Some(cmd) => Arc::new(harness::exec::ExecLauncher::new(cmd)),
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
    let (results, summary) = match harness::suite::run_with(
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
    if junit && harness::report::junit(&results, &summary, &mut stdout).is_err() {
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.report_dir
        && let Err(e) = harness::report::write_dir(dir, &results, &summary)
    {
        eprintln!(
            "credsim run: writing the report to {} failed: {e}",
            dir.display()
        );
        return ExitCode::from(2);
    }
    ExitCode::from(summary.exit_code())
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
    use harness::catalogue::{self, Observed, Table};
    let only: Vec<harness::reference::Flaw> = match only.iter().map(|f| f.parse()).collect() {
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
    let (scenarios, errors) = harness::suite::load(&[]);
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
            vec!["is not in harness/flaws.yaml".into()]
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
        println!("{differences} difference(s) from harness/flaws.yaml");
        ExitCode::from(1)
    }
}
