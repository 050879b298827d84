//! Implementations that misbehave: on their pipes (the harness holds a bounded amount of what they
//! print, and says so), by never answering (the contract's timeouts), by leaving processes behind
//! (ended with the implementation, in the sandbox or not), and by writing more files than can be
//! searched (an error that says what was not read). Each ends in bounded time with a clear verdict
//! and nothing left running.

use std::path::Path;

use std::time::Duration;

use credsim::exec::{ExecLauncher, Timeouts};
use credsim::run::{Verdict, run_scenario};

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

/// The processes whose command line holds `marker`: none left means nothing outlived the run.
/// A process that was killed and not yet reaped has an empty command line, so it does not count.
fn running_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{}: {cmdline}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Waits up to 5 s for every process holding `marker` to be gone.
fn gone(marker: &str) -> Vec<String> {
    let t = std::time::Instant::now();
    loop {
        let left = running_with(marker);
        if left.is_empty() || t.elapsed() > std::time::Duration::from_secs(5) {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A script that leaves two processes behind, `sleep <marker>` (holding its stdout and stderr)
/// and an orphan reparented away from it, then becomes the reference implementation.
fn leaves_children(dir: &Path, marker: &str) -> std::path::PathBuf {
    let script = dir.join("forks.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep {marker} &\n( sleep {marker} </dev/null >/dev/null 2>&1 & )\nexec {} reference\n",
            env!("CARGO_BIN_EXE_credsim")
        ),
    )
    .unwrap();
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_an_implementation_leaves_behind_are_ended_with_it() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("4242.{}1", std::process::id());
    let script = leaves_children(dir.path(), &marker);
    let started = std::time::Instant::now();
    let r = run_scenario(
        &happy_path(),
        &ExecLauncher::new(&format!("sh {}", script.display())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "a child holding stdout kept the run waiting"
    );
    let left = gone(&marker);
    assert!(left.is_empty(), "still running after the run: {left:?}");
}

#[test]
fn without_the_sandbox_the_process_group_is_ended_and_a_child_holding_stdout_does_not_stall() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("4343.{}1", std::process::id());
    let script = leaves_children(dir.path(), &marker);
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/corpus/entra/happy-path.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credsim"))
        .arg("run")
        .arg("--impl")
        .arg(format!("sh {}", script.display()))
        .arg(&scenario)
        .env("CREDSIM_SANDBOX", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sandbox: none (switched off by CREDSIM_SANDBOX=off)"),
        "{stdout}"
    );
    let left = gone(&marker);
    assert!(left.is_empty(), "still running after credsim run: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implementation_that_never_answers_is_an_error_at_the_timeout_and_is_ended() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("4444.{}1", std::process::id());
    let script = dir.path().join("silent.sh");
    // Answers `initialize`, then reads the request and never answers it.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread line\necho '{{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{{\"protocolVersion\":1,\"implementation\":{{\"name\":\"silent\",\"version\":\"0\"}}}}}}'\nread line\nexec sleep {marker}\n"
        ),
    )
    .unwrap();
    let mut launcher = ExecLauncher::new(&format!("sh {}", script.display()));
    launcher.timeouts = Timeouts {
        initialize: Duration::from_secs(5),
        request: Duration::from_secs(2),
        shutdown: Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let r = run_scenario(&happy_path(), &launcher).await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let why = r.error.clone().unwrap_or_default();
    assert!(
        why.contains("no answer to `credentials/get` within 2 s"),
        "{why}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the harness waited past the contract's timeouts"
    );
    let left = gone(&marker);
    assert!(left.is_empty(), "still running after the run: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_files_than_the_leak_search_reads_is_an_error_that_says_what_was_not_read() {
    mock_kit::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("writes.sh");
    // A 40 MiB file in its working directory (over the 16 MiB a file that is read), then the
    // reference implementation.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nhead -c 41943040 /dev/zero > cache.bin\nexec {} reference\n",
            env!("CARGO_BIN_EXE_credsim")
        ),
    )
    .unwrap();
    let r = run_scenario(
        &happy_path(),
        &ExecLauncher::new(&format!("sh {}", script.display())),
    )
    .await;
    assert_eq!(r.verdict, Verdict::Error, "{r:#?}");
    let why = r.error.clone().unwrap_or_default();
    assert!(
        why.contains("the implementation left more files than the leak search reads"),
        "{why}"
    );
    assert!(
        why.contains("cache.bin: 41943040 bytes, of which 16777216 were read"),
        "{why}"
    );
}

#[test]
fn the_file_budget_counts_files_and_bytes_across_folders() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        std::fs::write(dir.path().join(format!("f{i}")), vec![b'x'; 100]).unwrap();
    }
    let mut budget = credsim::sandbox::FileBudget::new(60, 250, 3);
    let read = credsim::sandbox::read_tree(dir.path(), "/tmp", &mut budget);
    assert_eq!(read.len(), 3, "three files at most");
    let sizes: Vec<usize> = read.iter().map(|(_, c)| c.len()).collect();
    assert_eq!(sizes, [60, 60, 60]);
    assert!(
        budget
            .unread
            .iter()
            .any(|u| u.contains("more than 3 files")),
        "{:?}",
        budget.unread
    );
    assert!(
        budget
            .unread
            .iter()
            .any(|u| u.contains("100 bytes, of which 60 were read"))
    );
    // The total runs out too: another folder gets what is left, then nothing.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("g"), vec![b'y'; 100]).unwrap();
    let mut budget = credsim::sandbox::FileBudget::new(60, 100, 10);
    credsim::sandbox::read_tree(dir.path(), "/tmp", &mut budget);
    let rest = credsim::sandbox::read_tree(other.path(), "/var/tmp", &mut budget);
    assert_eq!(rest[0].1.len(), 0);
    assert!(
        budget
            .unread
            .iter()
            .any(|u| u.starts_with("/var/tmp/g: 100 bytes, of which 0"))
    );
}
