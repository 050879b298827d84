//! Scenarios per second for the embedded corpus against the in-process reference, the time to
//! build and tear down one world, and where a scenario's time goes.
//!
//! The reference figure, measured in the same run, is a bare world: building every scenario's
//! fakes (CA, keys, secrets, listeners) and tearing them down, with no implementation and no
//! steps. The ratio says how many bare worlds one scenario costs, and the breakdown says what the
//! rest is (the implementation's work, probing every returned credential, judging).
//!
//! A bare world's time is then split: the same builds with their fresh RSA-2048 keys already
//! generated (the key pool full before each build, not timed), against the time to generate one
//! key, also measured here. Everything but key generation is the world builder's own cost.
//!
//! `cargo bench -p harness --bench corpus` (env `CREDSIM_BENCH_ROUNDS`, default 2).
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use harness::report::JsonLines;
use harness::run::Timings;
use harness::world::World;

fn main() {
    let rounds: usize = std::env::var("CREDSIM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    mock_kit::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (scenarios, errors) = harness::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:?}");
    let n = scenarios.len();

    // Reference: a bare world per scenario, built and torn down.
    let t = Instant::now();
    for _ in 0..rounds {
        for s in &scenarios {
            rt.block_on(async {
                let w = World::start(s, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .expect("the world starts");
                w.shutdown().await;
            });
        }
    }
    let world_ms = t.elapsed().as_secs_f64() * 1000.0 / (rounds * n) as f64;

    // The same worlds with their keys generated ahead (waiting for the pool is not timed).
    let keys_before = mock_kit::jwt::keys_generated();
    let mut ahead = Vec::new();
    for _ in 0..rounds {
        for s in &scenarios {
            mock_kit::jwt::wait_for_key_pool();
            let t = Instant::now();
            rt.block_on(async {
                let w = World::start(s, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .expect("the world starts");
                w.shutdown().await;
            });
            ahead.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let keys_per_world =
        (mock_kit::jwt::keys_generated() - keys_before) as f64 / (rounds * n) as f64;
    ahead.sort_by(f64::total_cmp);
    let ahead_median = ahead[ahead.len() / 2];
    let t = Instant::now();
    let samples = 5;
    for _ in 0..samples {
        mock_kit::RsaSigningKey::generate_unpooled(mock_kit::KidStyle::Kubernetes).expect("a key");
    }
    let key_ms = t.elapsed().as_secs_f64() * 1000.0 / samples as f64;

    let mut best = f64::MAX;
    let mut totals = Timings::default();
    for jobs in [1, 2] {
        for _ in 0..rounds {
            let t = Instant::now();
            let (results, summary) = rt
                .block_on(harness::suite::run_all(
                    scenarios.clone(),
                    Arc::new(harness::reference::ReferenceLauncher),
                    jobs,
                    &mut JsonLines,
                    &mut std::io::sink(),
                ))
                .expect("the corpus runs");
            let elapsed = t.elapsed().as_secs_f64();
            assert_eq!(summary.passed, n, "the reference passes the corpus");
            if jobs == 1 {
                best = best.min(elapsed);
                for r in &results {
                    let x = r.timings;
                    totals.world_us += x.world_us;
                    totals.launch_us += x.launch_us;
                    totals.implementation_us += x.implementation_us;
                    totals.probes_us += x.probes_us;
                    totals.changes_us += x.changes_us;
                    totals.shutdown_us += x.shutdown_us;
                    totals.judge_us += x.judge_us;
                    totals.teardown_us += x.teardown_us;
                }
            } else {
                println!(
                    "corpus, --jobs 2: {n} scenarios in {:.2} s = {:.1} scenarios/s",
                    elapsed,
                    n as f64 / elapsed
                );
            }
        }
    }
    let per_scenario_ms = best * 1000.0 / n as f64;
    println!(
        "corpus, --jobs 1: {n} scenarios in {best:.2} s = {:.1} scenarios/s ({per_scenario_ms:.0} ms each)",
        n as f64 / best
    );
    println!("bare world (build + teardown, reference): {world_ms:.0} ms");
    println!(
        "  with its keys generated ahead: {ahead_median:.1} ms median ({:.1}% of a bare world)",
        ahead_median * 100.0 / world_ms
    );
    println!(
        "  fresh RSA-2048 keys: {keys_per_world:.1} per world, {key_ms:.0} ms each to generate ({:.1} key generations per bare world)",
        world_ms / key_ms
    );
    println!(
        "ratio: one scenario costs {:.2} bare worlds",
        per_scenario_ms / world_ms
    );
    let parts = [
        ("world build", totals.world_us),
        ("implementation start", totals.launch_us),
        ("implementation answers", totals.implementation_us),
        ("probing credentials", totals.probes_us),
        ("world changes and clock", totals.changes_us),
        ("implementation shutdown", totals.shutdown_us),
        ("judging properties", totals.judge_us),
        ("world teardown", totals.teardown_us),
    ];
    let sum: u64 = parts.iter().map(|(_, v)| v).sum();
    println!("where the time goes (--jobs 1, all rounds):");
    for (what, v) in parts {
        println!(
            "  {what:<26} {:>5.1} %",
            v as f64 * 100.0 / sum.max(1) as f64
        );
    }
}
