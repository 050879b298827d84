//! Implementations that misbehave on their pipes: the harness stays in control, holds a bounded
//! amount of what they print, and says so.

use std::path::Path;

use harness::exec::ExecLauncher;
use harness::run::{Verdict, run_scenario};

fn happy_path() -> scenarios::Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    scenarios::load_file(&path).unwrap().scenario
}

/// The process's peak resident memory so far, in MiB.
fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap()
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_stderr_is_kept_bounded_with_a_note_and_the_run_goes_on() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("flood.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nhead -c 200000000 /dev/zero >&2\nexec {} reference\n",
            env!("CARGO_BIN_EXE_credsim")
        ),
    )
    .unwrap();
    let before = peak_mib();
    let r = run_scenario(
        &happy_path(),
        &ExecLauncher::new(&format!("sh {}", script.display())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let grown = peak_mib().saturating_sub(before);
    assert!(
        grown < 100,
        "holding 200 MB of stderr grew the harness by {grown} MiB"
    );
    assert!(
        r.transcript
            .iter()
            .any(|l| l.contains("stderr kept up to 8 MiB;")
                && l.contains("more bytes were read and dropped")),
        "{:#?}",
        r.transcript
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_without_end_on_stdout_is_a_protocol_violation_not_unbounded_memory() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("longline.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nhead -c 40000000 /dev/zero | tr '\\0' x\nsleep 30\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let r = run_scenario(
        &happy_path(),
        &ExecLauncher::new(&format!("sh {}", script.display())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let why = r.error.clone().unwrap_or_default();
    assert!(why.contains("a line longer than 16 MiB"), "{why}");
    assert!(
        why.contains("xxxxxxxx"),
        "the start of the line is shown: {why}"
    );
    assert!(
        why.len() < 4000,
        "the error holds the whole line: {} bytes",
        why.len()
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "the harness waited for the program"
    );
}
