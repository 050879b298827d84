//! A running `credsim up` for the live-cloud tests: its state directory, a shell with its
//! env.sh sourced, and `credsim ctl` against it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn credsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credsim"));
    c.env_remove("CREDSIM_STATE_DIR")
        .env_remove("CREDSIM_CONTROL_TOKEN");
    c
}

/// A running `credsim up` with its state directory; stopped on drop.
pub struct Up {
    child: Child,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Up {
    pub fn start(extra: &[&str]) -> Up {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut child = credsim()
            .args(["up", "--state-dir"])
            .arg(&state)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !state.join("ready").exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("credsim up exited early with {status}");
            }
            assert!(Instant::now() < deadline, "credsim up never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Up {
            child,
            state,
            _dir: dir,
        }
    }

    pub fn world(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state.join("world.json")).unwrap())
            .unwrap()
    }

    /// A bash script run with env.sh sourced.
    pub fn shell(&self, script: &str) -> Output {
        Command::new("bash")
            .args([
                "-c",
                &format!("set -e; source '{}/env.sh'; {script}", self.state.display()),
            ])
            .env_remove("CREDSIM_CONTROL_TOKEN")
            .output()
            .unwrap()
    }

    pub fn shell_ok(&self, script: &str) -> String {
        let out = self.shell(script);
        assert!(
            out.status.success(),
            "{script}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `credsim ctl ARGS` against this world (through `--state-dir`).
    pub fn ctl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = credsim();
        cmd.arg("ctl")
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.state.join("control-token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn control_url(&self) -> String {
        let info: Value = serde_json::from_str(
            &std::fs::read_to_string(self.state.join("control.json")).unwrap(),
        )
        .unwrap();
        info["url"].as_str().unwrap().to_owned()
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
