//! `credsim explore`'s throughput: schedules per second on the embedded corpus against the
//! in-process reference (default budget, jobs as the machine's CPUs), shrinking included (the
//! reference has no finding, so none is shrunk).
//!
//! The reference, measured in the same run: the `openssl` binary's RSA-2048 signatures per
//! second. Every schedule builds a world and mints tokens (each an RSA-2048 signature, in
//! aws-lc-rs); the figure `schedule_cost_in_openssl_signs` says how many of openssl's signatures
//! one schedule's CPU time would buy. The last lines are `name=value`, one per figure.
//!
//! `cargo bench -p credsim-cli --bench explore` (env `CREDSIM_BENCH_SCHEDULES`, default 240).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use credsim::explore::{Budget, Options, explore};
use credsim_reference::ReferenceLauncher;

fn main() {
    let schedules: usize = std::env::var("CREDSIM_BENCH_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    mock_kit::install_crypto_provider();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .enable_all()
        .build()
        .expect("a runtime");
    let (scenarios, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:?}");
    let options = Options {
        budget: Budget::Cases(schedules),
        jobs: cpus,
        ..Options::default()
    };
    let t = Instant::now();
    let report = rt.block_on(explore(
        &scenarios,
        &ReferenceLauncher,
        &ReferenceLauncher,
        &options,
        &mut |_| {},
    ));
    let seconds = t.elapsed().as_secs_f64();
    let rate = report.cases as f64 / seconds;
    let (sign, _verify) =
        mock_kit::testing::openssl_rsa2048_rates(2).expect("openssl speed rsa2048 runs");
    // openssl's figure is for one core; the schedules ran on `cpus`.
    let cost = sign * cpus as f64 / rate;
    println!(
        "explore: {} schedules of {} corpus scenarios in {seconds:.1} s on {cpus} CPU(s): {rate:.1} schedules/s, {} error(s), {} finding(s)",
        report.cases,
        scenarios.len(),
        report.errors,
        report.findings.len()
    );
    println!(
        "reference: openssl rsa2048 {sign:.0} signatures/s on one core; one schedule costs the CPU time of {cost:.0} of them"
    );
    println!("explore_schedules={}", report.cases);
    println!("explore_schedules_per_s={rate:.1}");
    println!("explore_findings={}", report.findings.len());
    println!("openssl_rsa2048_sign_per_s={sign:.0}");
    println!("schedule_cost_in_openssl_signs={cost:.0}");
}
