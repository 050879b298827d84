//! The exec protocol, version 1 (`docs/exec-protocol.md`), harness side.
//!
//! [`ExecLauncher`] starts the implementation's command line (split like a shell splits words,
//! no shell involved) once per shard with exactly the protocol's environment (plus `PATH`, and
//! `HOME` set to its working directory), negotiates the version, and speaks JSON-RPC 2.0, one
//! message per line. Everything on stderr is kept as evidence. A timeout, a malformed line, a
//! mismatched id or an early exit is a [`ProtocolError`] that names the offending line.
//!
//! Its parts: `process` starts the program (words, paths, sandbox, process group, one-shot
//! runs); `output` reads what it writes within fixed limits.

mod output;
mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::sandbox::ProcessNetwork;

use crate::implementation::{
    Answer, BoxFuture, Credential, CredentialRequest, Implementation, Launcher, Output,
    ProtocolError, RefusalKind, ShardContext, StderrTail,
};

pub use output::{
    FILE_READ_LIMIT, FILES_READ_LIMIT, LINE_LIMIT, OUTPUT_LIMIT, file_budget, files_written,
};
pub(crate) use process::run_once;
pub use process::{SplitError, resolve_paths, split_words};

use output::{Line, dropped_note, read_line};
use process::{ProcessGroup, spawn_shard};

/// The protocol versions this harness speaks.
///
/// Changelog: 1, the first version (`initialize`, `credentials/get`, `clock/set`, `shutdown`).
pub const PROTOCOL_VERSIONS: &[u64] = &[1];

/// How long the harness waits.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub initialize: Duration,
    pub request: Duration,
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            initialize: Duration::from_secs(10),
            request: Duration::from_secs(30),
            shutdown: Duration::from_secs(5),
        }
    }
}

/// Starts `command` per shard.
#[derive(Clone, Debug)]
pub struct ExecLauncher {
    pub command: String,
    pub timeouts: Timeouts,
}

impl ExecLauncher {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            timeouts: Timeouts::default(),
        }
    }
}

impl Launcher for ExecLauncher {
    fn describe(&self) -> String {
        self.command.clone()
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let imp = ExecImplementation::start(&self.command, shard, self.timeouts).await?;
            Ok(Box::new(imp) as Box<dyn Implementation>)
        })
    }
}

/// A running exec-protocol implementation.
#[derive(Debug)]
pub struct ExecImplementation {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The task that copies stderr into `stderr`; it ends when the pipe closes.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
    /// The sandbox's network for the process, served while it lives.
    _network: Option<ProcessNetwork>,
    /// The process group it leads: ended at shutdown, and when this is dropped.
    group: ProcessGroup,
    /// Lines on stdout that were not protocol messages.
    stray: String,
    next_id: u64,
    identity: String,
    timeouts: Timeouts,
}

impl ExecImplementation {
    /// Starts `command` with the shard's environment and runs `initialize`.
    pub async fn start(
        command: &str,
        shard: &ShardContext,
        timeouts: Timeouts,
    ) -> Result<Self, ProtocolError> {
        let words = split_words(command).map_err(|e| ProtocolError::Other(e.to_string()))?;
        if words.is_empty() {
            return Err(ProtocolError::Other(
                "the implementation's command is empty".into(),
            ));
        }
        let (mut child, network, group) = spawn_shard(&words, &[], shard, command)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        // stderr is kept up to OUTPUT_LIMIT bytes; the rest is read (so the program never blocks
        // on a full pipe), counted and dropped, and the kept text ends with a note saying so.
        let stderr_reader = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            let mut dropped = 0u64;
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                let room = OUTPUT_LIMIT.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                dropped += (n - room) as u64;
            }
            if dropped > 0 {
                let mut kept = sink.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(dropped_note("stderr", dropped).as_bytes());
            }
        });
        let mut imp = Self {
            child,
            _network: network,
            group,
            stdin,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
            stray: String::new(),
            next_id: 0,
            identity: String::new(),
            timeouts,
        };
        match imp.initialize(shard, timeouts).await {
            Ok(()) => Ok(imp),
            Err(e) => Err(imp.with_stderr(e).await),
        }
    }

    /// `initialize`: the version negotiation and who the implementation says it is.
    async fn initialize(
        &mut self,
        shard: &ShardContext,
        timeouts: Timeouts,
    ) -> Result<(), ProtocolError> {
        let imp = self;
        let result = imp
            .call(
                "initialize",
                json!({"protocolVersions": PROTOCOL_VERSIONS, "shard": shard.shard}),
                timeouts.initialize,
            )
            .await?;
        let result = match result {
            Ok(r) => r,
            Err(e) if e["code"] == -32001 => {
                return Err(ProtocolError::Version(e.to_string()));
            }
            Err(e) => {
                return Err(ProtocolError::Violation {
                    reason: "`initialize` answered with an error".into(),
                    line: e.to_string(),
                });
            }
        };
        let version = result["protocolVersion"].as_u64();
        if !version.is_some_and(|v| PROTOCOL_VERSIONS.contains(&v)) {
            return Err(ProtocolError::Version(
                result["protocolVersion"].to_string(),
            ));
        }
        let name = result["implementation"]["name"]
            .as_str()
            .unwrap_or("unnamed");
        let ver = result["implementation"]["version"].as_str().unwrap_or("");
        imp.identity = format!("{name} {ver}").trim().to_owned();
        Ok(())
    }

    /// `credentials/get`.
    async fn get_credentials(
        &mut self,
        request: &CredentialRequest,
    ) -> Result<Answer, ProtocolError> {
        let params = serde_json::to_value(request).expect("a request serialises");
        let timeout = self.timeouts.request;
        let answer = self.call("credentials/get", params, timeout).await?;
        answer_of(answer)
    }

    /// Several `credentials/get` at once: all are sent, then the answers are read in whatever
    /// order they come, each matched to its request by id, within the request timeout counted
    /// from the last one sent.
    async fn get_many(
        &mut self,
        requests: &[CredentialRequest],
    ) -> Result<Vec<Answer>, ProtocolError> {
        const METHOD: &str = "credentials/get";
        let mut ids = Vec::new();
        for r in requests {
            let params = serde_json::to_value(r).expect("a request serialises");
            ids.push(self.send(METHOD, params).await?);
        }
        let deadline = tokio::time::Instant::now() + self.timeouts.request;
        let mut answers: Vec<Option<Answer>> = vec![None; ids.len()];
        while answers.iter().any(Option::is_none) {
            let outstanding: Vec<u64> = ids
                .iter()
                .zip(&answers)
                .filter(|(_, a)| a.is_none())
                .map(|(id, _)| *id)
                .collect();
            let (id, answer) = self
                .receive(METHOD, &outstanding, deadline, self.timeouts.request)
                .await?;
            if let Some(i) = ids.iter().position(|x| *x == id) {
                answers[i] = Some(answer_of(answer)?);
            }
        }
        Ok(answers.into_iter().flatten().collect())
    }
}

/// What a `credentials/get` answer means.
fn answer_of(answer: Result<Value, Value>) -> Result<Answer, ProtocolError> {
    {
        match answer {
            Ok(Value::Null) => Ok(Answer::Anonymous),
            Ok(result) => {
                let credential: Credential =
                    serde_json::from_value(result.clone()).map_err(|e| {
                        ProtocolError::Violation {
                            reason: format!("a credential needs `username` and `password` ({e})"),
                            line: redact_result(&result),
                        }
                    })?;
                Ok(Answer::Credential(credential))
            }
            Err(error) => {
                let kind = match error["data"]["kind"].as_str() {
                    Some("not-configured") => RefusalKind::NotConfigured,
                    Some("denied") => RefusalKind::Denied,
                    Some("unavailable") => RefusalKind::Unavailable,
                    Some("unsupported") => RefusalKind::Unsupported,
                    Some("internal") | None => RefusalKind::Internal,
                    Some(other) => {
                        return Err(ProtocolError::Violation {
                            reason: format!("unknown `data.kind` {other:?}"),
                            line: error.to_string(),
                        });
                    }
                };
                Ok(Answer::Refused {
                    kind,
                    message: error["message"].as_str().unwrap_or_default().to_owned(),
                })
            }
        }
    }
}

impl ExecImplementation {
    /// `clock/set`.
    async fn send_clock(&mut self, now: Timestamp) -> Result<bool, ProtocolError> {
        let timeout = self.timeouts.request;
        match self
            .call("clock/set", json!({"now": now.to_string()}), timeout)
            .await?
        {
            Ok(_) => Ok(true),
            Err(e) if e["code"] == -32601 => Ok(false),
            Err(e) => Err(ProtocolError::Violation {
                reason: "`clock/set` failed".into(),
                line: e.to_string(),
            }),
        }
    }

    /// `error` with the last lines of the implementation's stderr. When the process has exited,
    /// waits briefly for the stderr reader to see the end of the pipe first.
    async fn with_stderr(&mut self, error: ProtocolError) -> ProtocolError {
        if matches!(self.child.try_wait(), Ok(Some(_)))
            && let Some(reader) = self.stderr_reader.take()
        {
            let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        } else {
            // Still running: what it wrote on stderr just before may not have been copied yet
            // (the two pipes are read independently). Wait, briefly, until the copy settles.
            let len = |s: &Self| s.stderr.lock().map_or(0, |b| b.len());
            let mut last = len(self);
            for _ in 0..25 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = len(self);
                if now == last && now > 0 {
                    break;
                }
                last = now;
            }
        }
        let tail = match self.stderr.lock() {
            Ok(buf) => StderrTail::of(&buf),
            Err(_) => StderrTail::default(),
        };
        error.with_stderr(tail)
    }

    /// Sends a request and waits for its answer: `Ok(Ok(result))` or `Ok(Err(error object))`.
    async fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Result<Value, Value>, ProtocolError> {
        let id = self.send(method, params).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let (_, answer) = self.receive(method, &[id], deadline, timeout).await?;
        Ok(answer)
    }

    /// Writes a request; its id.
    async fn send(&mut self, method: &str, params: Value) -> Result<u64, ProtocolError> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = msg.to_string();
        line.push('\n');
        if self.stdin.write_all(line.as_bytes()).await.is_err() {
            return Err(self.exited(method).await);
        }
        let _ = self.stdin.flush().await;
        Ok(id)
    }

    /// Reads the next answer, which must be to one of `outstanding`, by `deadline` (`timeout`
    /// is what the error says): its id, and `Ok(result)` or `Err(error object)`.
    async fn receive(
        &mut self,
        method: &str,
        outstanding: &[u64],
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<(u64, Result<Value, Value>), ProtocolError> {
        let read = tokio::time::timeout_at(deadline, read_line(&mut self.stdout, LINE_LIMIT)).await;
        let line = match read {
            Err(_) => {
                return Err(ProtocolError::Timeout {
                    method: method.to_owned(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(Ok(Line::Text(line))) => line,
            Ok(Ok(Line::TooLong(start))) => {
                return Err(ProtocolError::Violation {
                    reason: format!(
                        "a line longer than {} MiB (the protocol's limit)",
                        LINE_LIMIT >> 20
                    ),
                    line: start,
                });
            }
            Ok(Ok(Line::End) | Err(_)) => return Err(self.exited(method).await),
        };
        let violation = |reason: &str| ProtocolError::Violation {
            reason: reason.to_owned(),
            line: line.clone(),
        };
        let msg: Value = serde_json::from_str(&line).map_err(|_| {
            self.stray.push_str(&line);
            self.stray.push('\n');
            violation("not a JSON-RPC message")
        })?;
        if msg["jsonrpc"] != "2.0" {
            return Err(violation("`jsonrpc` is not \"2.0\""));
        }
        let Some(id) = msg["id"].as_u64().filter(|id| outstanding.contains(id)) else {
            let expected = match outstanding {
                [one] => format!("the answer to id {one}"),
                many => format!(
                    "an answer to one of the ids {}",
                    many.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(violation(&format!("expected {expected}")));
        };
        match (msg.get("result"), msg.get("error")) {
            (Some(r), None) => Ok((id, Ok(r.clone()))),
            (None, Some(e)) if e["code"].is_i64() && e["message"].is_string() => {
                Ok((id, Err(e.clone())))
            }
            (None, Some(_)) => Err(violation(
                "an error needs an integer `code` and a `message`",
            )),
            _ => Err(violation("exactly one of `result` and `error` is required")),
        }
    }

    async fn exited(&mut self, method: &str) -> ProtocolError {
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            _ => "closed its stdout".to_owned(),
        };
        ProtocolError::Exited {
            method: method.to_owned(),
            status,
        }
    }
}

impl Implementation for ExecImplementation {
    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        Box::pin(async move {
            match self.get_credentials(request).await {
                Err(e) => Err(self.with_stderr(e).await),
                answer => answer,
            }
        })
    }

    fn get_concurrently<'a>(
        &'a mut self,
        requests: &'a [CredentialRequest],
    ) -> BoxFuture<'a, Result<crate::implementation::Concurrent, ProtocolError>> {
        Box::pin(async move {
            match self.get_many(requests).await {
                Ok(answers) => Ok(crate::implementation::Concurrent {
                    answers,
                    overlapped: true,
                }),
                Err(e) => Err(self.with_stderr(e).await),
            }
        })
    }

    fn set_clock(&mut self, now: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        Box::pin(async move {
            match self.send_clock(now).await {
                Err(e) => Err(self.with_stderr(e).await),
                followed => followed,
            }
        })
    }

    fn shutdown(mut self: Box<Self>) -> BoxFuture<'static, Output> {
        Box::pin(async move {
            let _ = self
                .stdin
                .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"shutdown\"}\n")
                .await;
            let _ = self.stdin.flush().await;
            // Whatever else it prints before exiting is not protocol: keep it as evidence. Once
            // the program itself has exited, whatever it left running in its process group is
            // ended, so a child that still holds stdout cannot keep the drain waiting.
            let group = &self.group;
            let child = &mut self.child;
            let reap = async {
                let _ = child.wait().await;
                group.end();
            };
            let stdout = &mut self.stdout;
            let stray = &mut self.stray;
            let drain = async {
                loop {
                    match read_line(stdout, LINE_LIMIT).await {
                        Ok(Line::Text(line)) if stray.len() + line.len() < OUTPUT_LIMIT => {
                            stray.push_str(&line);
                            stray.push('\n');
                        }
                        Ok(Line::Text(_) | Line::TooLong(_)) => {
                            if !stray.ends_with("dropped]\n") {
                                stray.push_str(&format!(
                                    "[credsim: stdout kept up to {} MiB; the rest was read and dropped]\n",
                                    OUTPUT_LIMIT >> 20
                                ));
                            }
                        }
                        Ok(Line::End) | Err(_) => break,
                    }
                }
            };
            let ended = tokio::time::timeout(self.timeouts.shutdown, async {
                tokio::join!(drain, reap);
            })
            .await;
            if ended.is_err() {
                let _ = self.child.kill().await;
            }
            self.group.end();
            // Let the stderr reader see the end of the pipe.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let stderr = self.stderr.lock().expect("stderr buffer").clone();
            Output {
                stdout: std::mem::take(&mut self.stray),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            }
        })
    }
}

/// A result shown in an error without the password it may carry.
fn redact_result(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(p) = v.get_mut("password") {
        *p = Value::from("<redacted>");
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_directory_credsim_started_in() {
        let base = tempfile::tempdir().unwrap();
        let b = base.path();
        std::fs::write(b.join("my_shim.py"), "").unwrap();
        std::fs::create_dir_all(b.join("conf/sub")).unwrap();
        std::fs::write(b.join("conf/shim.yaml"), "").unwrap();
        std::fs::create_dir(b.join("reference")).unwrap();
        let words: Vec<String> = [
            "python3",
            "my_shim.py",
            "--config=conf/shim.yaml",
            "--dir",
            "conf/sub",
            "reference",
            "missing.py",
            "-",
            "/abs/path",
            "--verbose",
            "--level=my_shim.py.bak",
        ]
        .map(String::from)
        .into();
        let at = |p: &str| b.join(p).display().to_string();
        assert_eq!(
            resolve_paths(&words, b),
            [
                "python3".to_owned(),
                at("my_shim.py"),
                format!("--config={}", at("conf/shim.yaml")),
                "--dir".to_owned(),
                at("conf/sub"),
                // A bare word that names a directory is a subcommand more often than a path.
                "reference".to_owned(),
                "missing.py".to_owned(),
                "-".to_owned(),
                "/abs/path".to_owned(),
                "--verbose".to_owned(),
                "--level=my_shim.py.bak".to_owned(),
            ]
        );
        let program: Vec<String> = ["./target/debug/credsim", "reference"]
            .map(String::from)
            .into();
        assert_eq!(
            resolve_paths(&program, b),
            [at("./target/debug/credsim"), "reference".to_owned()]
        );
    }

    #[test]
    fn stderr_tails_keep_the_last_lines_and_cut_long_ones() {
        let text = (1..=20)
            .map(|i| format!("line {i}\n\n"))
            .collect::<String>();
        let tail = StderrTail::of(text.as_bytes());
        assert_eq!(tail.lines().len(), StderrTail::LINES);
        assert_eq!(tail.lines().first().map(String::as_str), Some("line 9"));
        assert_eq!(tail.lines().last().map(String::as_str), Some("line 20"));
        let long = "é".repeat(StderrTail::LINE_BYTES);
        let cut = StderrTail::of(long.as_bytes());
        assert!(cut.lines()[0].ends_with(" [cut]"));
        assert!(cut.lines()[0].len() <= StderrTail::LINE_BYTES + " [cut]".len());
        assert!(StderrTail::of(b"\n  \n").is_empty());
        let e = ProtocolError::Exited {
            method: "initialize".into(),
            status: "exit status: 2".into(),
        };
        assert_eq!(
            e.with_stderr(StderrTail::of(b"python3: can't open file 'x.py'\n"))
                .to_string(),
            "the implementation exited (exit status: 2) while `initialize` was pending; \
             the last lines of its stderr:\n    python3: can't open file 'x.py'"
        );
    }

    #[test]
    fn splits_words_like_a_shell() {
        assert_eq!(
            split_words("python3 my_shim.py --verbose").unwrap(),
            ["python3", "my_shim.py", "--verbose"]
        );
        assert_eq!(
            split_words(r#"sh -c 'echo "a b"' "x\"y" z\ w ''"#).unwrap(),
            ["sh", "-c", "echo \"a b\"", "x\"y", "z w", ""]
        );
        assert!(split_words("'unclosed").is_err());
        assert!(split_words("\"unclosed").is_err());
        assert!(split_words("").unwrap().is_empty());
    }
}
