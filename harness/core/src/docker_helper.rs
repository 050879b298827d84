//! The Docker credential-helper protocol (`docker-credential-<name> get`), harness side.
//!
//! Each request runs `<command> get` with the shard's environment, the registry's server URL on
//! stdin, and reads `{"ServerURL","Username","Secret"}` from stdout. A helper that has nothing for
//! the registry exits non-zero printing `credentials not found in native keychain`
//! (`not-configured`); any other failure is `internal` with its stderr as the message. The
//! protocol carries no project, so only scenarios whose requests all come from one project apply
//! ([`single_project`]); the others are skipped with that reason. Helpers cannot follow the
//! virtual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use scenarios::Scenario;
use scenarios::model::Action;
use serde_json::Value;

use crate::exec::{run_once, split_words};
use crate::implementation::{
    Answer, BoxFuture, Credential, CredentialRequest, Implementation, Launcher, NotApplicable,
    Output, ProtocolError, RefusalKind, ShardContext, StderrTail,
};

/// What Docker's helpers print when they have no credential for a server.
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// Whether a scenario can be expressed to a single-identity helper: `Err` with the reason if not.
pub fn single_project(s: &Scenario) -> Result<(), NotApplicable> {
    let mut projects: Vec<&str> = s
        .steps
        .iter()
        .flat_map(|st| match &st.action {
            Action::Request(r) => vec![r.project.as_str()],
            Action::Concurrently(rs) => rs.iter().map(|r| r.project.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    projects.sort_unstable();
    projects.dedup();
    if projects.len() > 1 {
        return Err(NotApplicable::SeveralProjects {
            projects: projects.into_iter().map(str::to_owned).collect(),
        });
    }
    Ok(())
}

/// Starts a Docker credential helper per request.
#[derive(Clone, Debug)]
pub struct DockerHelperLauncher {
    pub command: String,
    pub timeout: Duration,
}

impl DockerHelperLauncher {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Launcher for DockerHelperLauncher {
    fn describe(&self) -> String {
        format!("{} (docker credential helper)", self.command)
    }

    fn applies_to(&self, s: &Scenario) -> Result<(), NotApplicable> {
        single_project(s)
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let words =
                split_words(&self.command).map_err(|e| ProtocolError::Other(e.to_string()))?;
            if words.is_empty() {
                return Err(ProtocolError::Other("the helper's command is empty".into()));
            }
            Ok(Box::new(DockerHelper {
                words,
                shard: shard.clone(),
                timeout: self.timeout,
                output: Arc::new(Mutex::new(Output::default())),
            }) as Box<dyn Implementation>)
        })
    }
}

#[derive(Debug)]
struct DockerHelper {
    words: Vec<String>,
    shard: ShardContext,
    timeout: Duration,
    output: Arc<Mutex<Output>>,
}

impl DockerHelper {
    async fn get_once(&self, server: &str) -> Result<Answer, ProtocolError> {
        let out = run_once(
            &self.words,
            &["get"],
            &self.shard,
            server.as_bytes(),
            self.timeout,
            "get",
        )
        .await?;
        let stderr_tail = StderrTail::of(&out.stderr);
        self.parse_helper_output(out)
            .map_err(|e| e.with_stderr(stderr_tail))
    }

    /// What the program printed, as an answer.
    fn parse_helper_output(&self, out: std::process::Output) -> Result<Answer, ProtocolError> {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        self.output
            .lock()
            .expect("helper output")
            .stderr
            .push_str(&stderr);
        if !out.status.success() {
            // What a failing helper printed is evidence too (the leak search reads it).
            self.output
                .lock()
                .expect("helper output")
                .stdout
                .push_str(&stdout);
            if stdout.contains(NOT_FOUND) {
                return Ok(Answer::Refused {
                    kind: RefusalKind::NotConfigured,
                    message: NOT_FOUND.into(),
                });
            }
            // docker-credential-helpers' `Serve` prints a failure's message on stdout.
            let said = crate::implementation::what_it_said(&[&stdout, &stderr]);
            return Ok(Answer::Refused {
                kind: RefusalKind::Internal,
                message: format!("the helper exited with {}: {said}", out.status),
            });
        }
        let v: Value = serde_json::from_str(stdout.trim()).map_err(|_| {
            self.output
                .lock()
                .expect("helper output")
                .stdout
                .push_str(&stdout);
            ProtocolError::Violation {
                reason: "`get` must print {\"ServerURL\",\"Username\",\"Secret\"}".into(),
                line: "(stdout kept as evidence)".into(),
            }
        })?;
        match (v["Username"].as_str(), v["Secret"].as_str()) {
            (Some(u), Some(p)) => Ok(Answer::Credential(Credential {
                username: u.to_owned(),
                password: p.to_owned(),
                expires_at: None,
            })),
            _ => Err(ProtocolError::Violation {
                reason: "`get` must print `Username` and `Secret`".into(),
                line: "(stdout kept as evidence)".into(),
            }),
        }
    }
}

impl Implementation for DockerHelper {
    fn identity(&self) -> String {
        format!("{} (docker credential helper)", self.words.join(" "))
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        Box::pin(async move { self.get_once(&request.registry).await })
    }

    fn set_clock(&mut self, _: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        Box::pin(async { Ok(false) })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output> {
        let out = self.output.lock().expect("helper output").clone();
        Box::pin(async move { out })
    }
}
