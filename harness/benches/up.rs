//! `credsim up` on the demo world: the time from starting it until its `ready` file exists (every
//! listener accepting), and its resident memory then, against an outside reference measured in the
//! same run: Python's standard HTTP server (`python3 -m http.server` on loopback), from start
//! until it accepts a connection. The median of 5 each. Aims: ready under 300 ms, under 50 MB.
//!
//! Figures first, then one `name=value` line per figure.
//!
//! `cargo bench -p credsim-cli --bench up`.
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLES: usize = 5;

fn main() {
    let mut ready = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..SAMPLES {
        let state = tempfile::tempdir().expect("a state folder");
        let dir = state.path().join("state");
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_credsim"))
            .args(["up", "--state-dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("credsim up starts");
        while !dir.join("ready").exists() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "credsim up never became ready"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        ready.push(t.elapsed().as_secs_f64() * 1000.0);
        rss.push(mock_kit::testing::resident_mb(child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut python = Vec::new();
    for _ in 0..SAMPLES {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let t = Instant::now();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "python never listened"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        python.push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = child.kill();
        let _ = child.wait();
    }
    let (ready, rss, python) = (median(ready), median(rss), median(python));
    println!(
        "credsim up (demo world) ready in {ready:.0} ms (aim < 300), {rss:.1} MB resident (aim < 50)"
    );
    println!("reference: python3 -m http.server accepting in {python:.0} ms");
    println!("up_ready_ms={ready:.1}");
    println!("up_resident_mb={rss:.1}");
    println!("python_http_server_ready_ms={python:.1}");
    println!("up_to_python_ratio={:.2}", ready / python);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
