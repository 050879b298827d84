//! Scenarios per second for the embedded corpus against the in-process reference (`--jobs 1`
//! and the default), the time to
//! build and tear down one world, and where a scenario's time goes.
//!
//! The reference figure, measured in the same run, is a bare world: building every scenario's
//! fakes (CA, keys, secrets, listeners) and tearing them down, with no implementation and no
//! steps. The ratio says how many bare worlds one scenario costs, and the breakdown says what the
//! rest is (the implementation's work, probing every returned credential, judging).
//!
//! A bare world takes its RSA-2048 keys from the key store (`mock_kit::keys`) as a run does; the
//! bench says how many it needed and how many had to be generated, and times generating one key
//! against the `openssl` binary's `genpkey`, measured here.
//!
//! Also: the leak search's time per scenario (a share of a scenario) and its throughput against
//! `grep -F` on the same text, and the start-up the sandbox adds per implementation process
//! (bubblewrap and the network namespace against starting the same program directly), as a share
//! of a scenario run by a program (the reference through the exec protocol). The last
//! lines are `name=value`, one per figure.
//!
//! `cargo bench -p credsim-cli --bench corpus` (env `CREDSIM_BENCH_ROUNDS`, default 2).
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use credsim::report::JsonLines;
use credsim::run::Timings;
use credsim_world::world::RunningWorld;

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
    let (scenarios, errors) = credsim::suite::load(&[]);
    assert!(errors.is_empty(), "{errors:?}");
    let n = scenarios.len();

    // A bare world per scenario, built and torn down, its keys taken from the key store as a
    // run takes them (cached across runs; generated only when the cache has none).
    let (taken_before, generated_before) = mock_kit::keys::KeyStore::global().counts();
    let mut worlds = Vec::new();
    for _ in 0..rounds {
        for s in &scenarios {
            let t = Instant::now();
            rt.block_on(async {
                let w = RunningWorld::start(s, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .expect("the world starts");
                w.shutdown().await;
            });
            worlds.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let world_ms = worlds.iter().sum::<f64>() / worlds.len() as f64;
    worlds.sort_by(f64::total_cmp);
    let world_median = worlds[worlds.len() / 2];
    let (taken, generated) = mock_kit::keys::KeyStore::global().counts();
    let keys_per_world = (taken - taken_before) as f64 / (rounds * n) as f64;
    let generated_share =
        (generated - generated_before) as f64 * 100.0 / (taken - taken_before).max(1) as f64;

    // Generating one RSA-2048 key: ours (aws-lc-rs) against the `openssl` binary's, the median
    // of 5 each (openssl's includes starting the process, a few ms).
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let key_ms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                mock_kit::RsaSigningKey::generate_unpooled(mock_kit::KidStyle::Kubernetes)
                    .expect("a key");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let openssl_key_ms = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let status = std::process::Command::new("openssl")
                    .args([
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        "rsa_keygen_bits:2048",
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .expect("openssl runs");
                assert!(status.success());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let default_jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut default_best = f64::MAX;

    let mut best = f64::MAX;
    let mut totals = Timings::default();
    let mut leak_search_us = 0u64;
    for jobs in [1, default_jobs] {
        for _ in 0..rounds {
            let t = Instant::now();
            let (results, summary) = rt
                .block_on(credsim::suite::run_all(
                    scenarios.clone(),
                    Arc::new(credsim_reference::ReferenceLauncher),
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
                    leak_search_us += r
                        .properties
                        .iter()
                        .filter(|p| p.id == scenarios::vocab::PropertyId::NoSecretLeak)
                        .map(|p| p.judged_us)
                        .sum::<u64>();
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
                default_best = default_best.min(elapsed);
            }
        }
    }
    let per_scenario_ms = best * 1000.0 / n as f64;
    println!(
        "corpus, --jobs 1: {n} scenarios in {best:.2} s = {:.1} scenarios/s ({per_scenario_ms:.0} ms each)",
        n as f64 / best
    );
    if default_jobs > 1 {
        println!(
            "corpus, --jobs {default_jobs} (the default): {n} scenarios in {default_best:.2} s = {:.1} scenarios/s",
            n as f64 / default_best
        );
    } else {
        default_best = best;
    }
    println!(
        "bare world (build + teardown, keys from the store): {world_median:.1} ms median, {world_ms:.1} ms mean"
    );
    println!(
        "  RSA-2048 keys: {keys_per_world:.1} per world, {generated_share:.0}% of them generated in this run; \
         generating one: {key_ms:.0} ms (aws-lc-rs), openssl genpkey: {openssl_key_ms:.0} ms"
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

    // The leak search (every minted secret, raw and encoded, in every channel) per scenario, as
    // a share of a scenario's time; and its throughput against `grep -F` over the same text with
    // the same secrets (raw only, which is all grep can do), measured here.
    let leak_ms = leak_search_us as f64 / 1000.0 / (rounds * n) as f64;
    println!(
        "leak search: {leak_ms:.2} ms per scenario ({:.2}% of a scenario)",
        leak_ms * 100.0 / per_scenario_ms
    );
    let (ours_mb_s, grep_mb_s) = leak_search_vs_grep();
    println!(
        "leak search over 4 MiB with 2,000 secrets: {ours_mb_s:.0} MB/s raw and encoded; grep -F (raw only): {grep_mb_s:.0} MB/s"
    );

    // The sandbox's added start-up per implementation process: `true` through bubblewrap with
    // the sandbox's own arguments, against `true` started directly, both measured here.
    let sandbox = credsim::sandbox::Sandbox::detect();
    let added_ms = match sandbox {
        credsim::sandbox::Sandbox::Bubblewrap(bwrap) => Some(sandbox_added_ms(bwrap)),
        credsim::sandbox::Sandbox::Unavailable(why) => {
            println!("sandbox: none ({why}), its start-up not measured");
            None
        }
    };
    let shards: f64 = scenarios
        .iter()
        .map(|s| s.shards().count() as f64)
        .sum::<f64>()
        / n as f64;
    // The sandbox only wraps implementation programs, so its share is of a scenario run by one:
    // the same reference as an exec-protocol program (`credsim reference`), sandboxed, --jobs 1.
    let exec_ms = {
        let launcher = credsim::exec::ExecLauncher::new(&format!(
            "{} reference",
            env!("CARGO_BIN_EXE_credsim")
        ));
        let t = Instant::now();
        let (_, summary) = rt
            .block_on(credsim::suite::run_all(
                scenarios.clone(),
                Arc::new(launcher),
                1,
                &mut JsonLines,
                &mut std::io::sink(),
            ))
            .expect("the corpus runs");
        assert_eq!(summary.passed, n, "the reference program passes the corpus");
        t.elapsed().as_secs_f64() * 1000.0 / n as f64
    };
    println!(
        "corpus with the reference as a program (exec protocol), --jobs 1: {exec_ms:.0} ms a scenario"
    );
    if let Some(added) = added_ms {
        println!(
            "sandbox start-up: {added:.1} ms added per implementation process, {shards:.2} per scenario ({:.2}% of a scenario run by a program)",
            added * shards * 100.0 / exec_ms
        );
    }
    println!("scenarios_per_second_jobs1={:.2}", n as f64 / best);
    println!(
        "scenarios_per_second_default_jobs={:.2}",
        n as f64 / default_best
    );
    println!("scenario_ms={per_scenario_ms:.1}");
    println!("exec_scenario_ms={exec_ms:.1}");
    println!("bare_world_median_ms={world_median:.2}");
    println!("bare_world_mean_ms={world_ms:.2}");
    println!("keys_per_world={keys_per_world:.2}");
    println!("keys_generated_percent={generated_share:.1}");
    println!("key_generation_ms={key_ms:.1}");
    println!("openssl_genpkey_ms={openssl_key_ms:.1}");
    println!("leak_search_ms_per_scenario={leak_ms:.3}");
    println!(
        "leak_search_share_percent={:.3}",
        leak_ms * 100.0 / per_scenario_ms
    );
    println!("leak_search_mb_per_s={ours_mb_s:.1}");
    println!("grep_fixed_mb_per_s={grep_mb_s:.1}");
    if let Some(added) = added_ms {
        println!("sandbox_startup_ms={added:.2}");
        println!(
            "sandbox_share_percent={:.3}",
            added * shards * 100.0 / exec_ms
        );
    }
}

/// Throughput of `SecretRegistry::search` and of `grep -F -f` on the same 4 MiB of log-like text
/// holding a few secrets, raw and base64, among 2,000 registered: (ours, grep) in MB/s.
fn leak_search_vs_grep() -> (f64, f64) {
    use base64::Engine as _;
    let reg = mock_kit::SecretRegistry::new();
    let mut secrets = Vec::new();
    for i in 0..2000 {
        secrets.push(
            reg.mint(mock_kit::SecretKind::Canary, &format!("s{i}"), "eyJ", 340)
                .into_inner(),
        );
    }
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4 << 20 {
        text.push_str(&format!(
            "2026-12-01T20:00:{:02}Z INFO request {i} GET /v2/project-a/app/tags/list 200 in 3 ms\n",
            i % 60
        ));
        if i % 5000 == 0 {
            let s = &secrets[i % secrets.len()];
            text.push_str(&format!("debug: token {s}\n"));
            text.push_str(&format!(
                "debug: Authorization: Basic {}\n",
                base64::engine::general_purpose::STANDARD.encode(format!("user:{s}"))
            ));
        }
        i += 1;
    }
    let mb = text.len() as f64 / 1e6;
    let t = Instant::now();
    let hits = reg.search(text.as_bytes()).len();
    let ours = mb / t.elapsed().as_secs_f64();
    assert!(hits >= 2, "the planted secrets are found");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (log, patterns) = (dir.path().join("log"), dir.path().join("patterns"));
    std::fs::write(&log, &text).expect("writing the text");
    std::fs::write(&patterns, secrets.join("\n")).expect("writing the patterns");
    let t = Instant::now();
    let out = std::process::Command::new("grep")
        .args(["-c", "-F", "-f"])
        .arg(&patterns)
        .arg(&log)
        .output()
        .expect("grep runs");
    let grep = mb / t.elapsed().as_secs_f64();
    assert!(out.status.success(), "grep finds the raw ones");
    (ours, grep)
}

/// The start-up the sandbox adds to a process, in ms: `true` sandboxed as implementations are
/// (bubblewrap, and the network namespace with the sockets a shard's has, handed over, where the
/// machine gives one), against `true` directly; the median of 20 each.
fn sandbox_added_ms(bwrap: &std::path::Path) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("a working directory");
    let sb = credsim::sandbox::ShardSandbox::prepare(
        bwrap.to_path_buf(),
        dir.path().join("sandbox"),
        work,
        Vec::new(),
    )
    .expect("sandbox folders");
    let median = |sandboxed: bool| {
        let mut v: Vec<f64> = (0..20)
            .map(|_| {
                let t = Instant::now();
                let status = if sandboxed {
                    let mut cmd = std::process::Command::new(&sb.bwrap);
                    cmd.args(sb.command_prefix(&["true".to_owned()]))
                        .arg("true");
                    if *credsim::sandbox::network() == credsim::sandbox::Network::Isolated {
                        let pending = netns::prepare(&mut cmd, &shard_like_plan()).expect("plan");
                        let mut child = cmd.spawn().expect("it starts");
                        pending.receive().expect("the sockets arrive");
                        child.wait()
                    } else {
                        cmd.status()
                    }
                } else {
                    std::process::Command::new("true").status()
                };
                assert!(status.expect("it starts").success());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(true) - median(false)).max(0.0)
}

/// The sockets of a shard's network namespace: the resolver, every address's `:443` and `:80`,
/// and the proxy's and five sites' loopback ports.
fn shard_like_plan() -> netns::Plan {
    use std::net::{Ipv4Addr, SocketAddrV4};
    let any = |port| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    (0..6).fold(
        netns::Plan::new().udp(any(53)).tcp(any(443)).tcp(any(80)),
        |plan, i| plan.tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40000 + i)),
    )
}
