//! Every corpus scenario as a test of its own, run against the reference implementation
//! in-process: `cargo test -p credsim-cli --test corpus -- happy` runs the ones whose name matches,
//! `--list` lists them (nextest uses that). A failing scenario prints the human report: the step,
//! the property's claim and the evidence.

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let (scenarios, errors) = credsim::suite::load(&[]);
    let mut trials: Vec<Trial> = errors
        .into_iter()
        .enumerate()
        .map(|(i, e)| Trial::test(format!("corpus::load-error-{i}"), move || Err(e.into())))
        .collect();
    for s in scenarios {
        let name = format!("corpus::{}", s.name);
        trials.push(Trial::test(name, move || run(&s)));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn run(s: &scenarios::Scenario) -> Result<(), Failed> {
    mock_kit::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let result = rt.block_on(credsim::run::run_scenario(
        s,
        &credsim_reference::reference::ReferenceLauncher,
    ));
    if result.verdict == credsim::run::Verdict::Pass {
        return Ok(());
    }
    let mut report = Vec::new();
    use credsim::report::Reporter;
    credsim::report::Human
        .event(
            credsim::report::Event::ScenarioFinished(&result),
            &mut report,
        )
        .map_err(|e| Failed::from(e.to_string()))?;
    Err(String::from_utf8_lossy(&report).into_owned().into())
}
