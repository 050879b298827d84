//! `credsim flaws`: the catalogue of deliberately broken implementations against its table.

use std::process::ExitCode;

use crate::progress::{Progress, WithProgress};

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenarios in parallel (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print what was observed as a verdict table (YAML), to review and commit.
    #[arg(long)]
    pub print_table: bool,
    /// Only this flaw (and the reference); repeatable. The score then covers only these.
    #[arg(long = "flaw", value_name = "NAME")]
    pub only: Vec<String>,
}

pub async fn main(args: Args) -> ExitCode {
    flaws(args.jobs, args.print_table, &args.only).await
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
    let total = (scenarios.len() * catalogue::runs(&only)) as u64;
    let mut silent = credsim::report::Silent;
    let mut progress = WithProgress::new(
        &mut silent,
        Progress::new("credsim flaws", "scenarios", Some(total)),
    );
    let outcomes = catalogue::run(&scenarios, jobs, &only, &mut progress).await;
    progress.progress.finish();
    let outcomes = match outcomes {
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
