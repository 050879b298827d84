//! The implementation under test, as the runner sees it: one [`Implementation`] per shard, started
//! by a [`Launcher`] with the shard's environment (`docs/exec-protocol.md`).
//!
//! The exec protocol ([`crate::exec`]) and the in-process reference (`crate::reference`) both
//! implement it, so Rust projects can run scenarios against their own code from `cargo test`.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A boxed future, so the traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `credentials/get`'s parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRequest {
    pub project: String,
    /// The registry host as the user wrote it (possibly hostile).
    pub registry: String,
    pub repository: String,
    /// `image` or `helm`.
    pub artifact: String,
}

/// A credential the implementation would hand its OCI client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub username: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How an implementation classified a refusal (`data.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    NotConfigured,
    Denied,
    Unavailable,
    Unsupported,
    Internal,
}

impl RefusalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::NotConfigured => "not-configured",
            RefusalKind::Denied => "denied",
            RefusalKind::Unavailable => "unavailable",
            RefusalKind::Unsupported => "unsupported",
            RefusalKind::Internal => "internal",
        }
    }
}

/// What an implementation answered to `credentials/get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Credential(Credential),
    /// `result: null`: it would try anonymous access.
    Anonymous,
    Refused {
        kind: RefusalKind,
        message: String,
    },
}

/// The implementation broke the protocol or could not be driven: a harness-level error for the
/// scenario (verdict `error`, exit status 2), never a pass.
///
/// Its message is the whole story (causes included, so it is never printed twice): the runner
/// puts it into the scenario's `error` verdict as it is, after redacting the world's secrets.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("starting `{command}` failed: {error}")]
    Spawn {
        command: String,
        error: std::io::Error,
    },
    #[error("no answer to `{method}` within {seconds} s")]
    Timeout { method: String, seconds: u64 },
    #[error("the implementation exited ({status}) while `{method}` was pending")]
    Exited { method: String, status: String },
    #[error("protocol violation: {reason}: {line}")]
    Violation { reason: String, line: String },
    #[error("no common protocol version (the implementation answered {0})")]
    Version(String),
    /// The sandbox's network for the program could not be made or served.
    #[error("{}", credsim_world::error_chain(.0))]
    Network(crate::sandbox::NetworkError),
    #[error("{0}")]
    Other(String),
    /// One of the above, with the last lines the implementation wrote to stderr (what explains an
    /// early exit: `can't open file ...`, a stack trace).
    #[error("{error}{stderr}")]
    WithStderr {
        error: Box<ProtocolError>,
        stderr: StderrTail,
    },
}

impl ProtocolError {
    /// This error, shown with the end of what the implementation wrote to stderr (nothing is added
    /// when it wrote nothing).
    pub fn with_stderr(self, stderr: StderrTail) -> Self {
        match self {
            ProtocolError::WithStderr { .. } => self,
            error if !stderr.is_empty() => ProtocolError::WithStderr {
                error: Box::new(error),
                stderr,
            },
            error => error,
        }
    }
}

/// The last lines of an implementation's stderr, kept to explain an error it caused. Shown raw
/// here; the runner redacts every registered secret before an error reaches a report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StderrTail(Vec<String>);

impl StderrTail {
    /// How many lines, and how many bytes of each, are kept.
    pub const LINES: usize = 12;
    pub const LINE_BYTES: usize = 400;

    /// The tail of `stderr` (lossy UTF-8), blank lines dropped, long lines cut.
    pub fn of(stderr: &[u8]) -> Self {
        let text = String::from_utf8_lossy(stderr);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(Self::LINES);
        StderrTail(
            lines[start..]
                .iter()
                .map(|l| {
                    let l = l.trim_end();
                    if l.len() <= Self::LINE_BYTES {
                        return l.to_owned();
                    }
                    let mut end = Self::LINE_BYTES;
                    while !l.is_char_boundary(end) {
                        end -= 1;
                    }
                    format!("{} [cut]", &l[..end])
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn lines(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for StderrTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, "; the last lines of its stderr:")?;
        for line in &self.0 {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

/// How much of what a failing one-shot program printed goes into its refusal's message; all of it
/// stays in the output kept as evidence.
pub const MESSAGE_CHARS: usize = 2048;

/// What a failing one-shot program said, for its refusal's message: the non-empty streams, in the
/// order given, joined with `; ` and cut at [`MESSAGE_CHARS`].
pub fn what_it_said(streams: &[&str]) -> String {
    let said = streams
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match said.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &said[..cut]),
        None => said,
    }
}

/// What a shard's implementation is started with.
#[derive(Clone, Debug)]
pub struct ShardContext {
    pub scenario: String,
    pub shard: String,
    /// The environment, exactly as the exec protocol lists it.
    pub env: Vec<(String, String)>,
    /// The implementation's working directory (searched for leaked secrets afterwards).
    pub workdir: PathBuf,
    /// For kubelet credential providers with `tokenAttributes`: tokens of a project's pod
    /// ServiceAccount, as the kubelet would pass them.
    pub pod_tokens: Option<PodTokens>,
    /// The sandbox a program runs in (`crate::sandbox`); `None` runs it as is.
    pub sandbox: Option<crate::sandbox::ShardSandbox>,
}

/// A pod ServiceAccount token and the ServiceAccount's annotations, being minted.
pub type MintFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    (String, std::collections::BTreeMap<String, String>),
                    PodTokenError,
                >,
            > + Send,
    >,
>;

/// Why there is no pod ServiceAccount token for a project.
#[derive(Debug, thiserror::Error)]
pub enum PodTokenError {
    #[error("no project {0}")]
    NoProject(String),
    /// The project's cluster refused to read the ServiceAccount or to mint its token.
    #[error(transparent)]
    Cluster(#[from] credsim_world::cloud::WorldClusterError),
}

/// A project's pod ServiceAccount token and annotations, minted on demand.
#[derive(Clone)]
pub struct PodTokens {
    /// `serviceAccountTokenAudience`.
    pub audience: String,
    pub required_annotation_keys: Vec<String>,
    pub optional_annotation_keys: Vec<String>,
    /// project → (token, the ServiceAccount's annotations), or why there is none.
    pub mint: std::sync::Arc<dyn Fn(&str) -> MintFuture + Send + Sync>,
}

impl std::fmt::Debug for PodTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodTokens")
            .field("audience", &self.audience)
            .field("required_annotation_keys", &self.required_annotation_keys)
            .field("optional_annotation_keys", &self.optional_annotation_keys)
            .finish_non_exhaustive()
    }
}

impl ShardContext {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What an implementation wrote while it ran.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Lines on stdout that were not protocol answers (a violation) or everything an in-process
    /// implementation logged.
    pub stdout: String,
    pub stderr: String,
}

/// A running implementation for one shard.
pub trait Implementation: Send {
    /// `name version` from `initialize`.
    fn identity(&self) -> String;

    /// `credentials/get`.
    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>>;

    /// Several `credentials/get` at once: all are sent before any answer is read, and the answers
    /// may come in any order (`docs/exec-protocol.md`). The answers are in the order of
    /// `requests`. The default asks one after another, and says so (`overlapped: false`): what a
    /// one-shot protocol, which cannot overlap, does.
    fn get_concurrently<'a>(
        &'a mut self,
        requests: &'a [CredentialRequest],
    ) -> BoxFuture<'a, Result<Concurrent, ProtocolError>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(requests.len());
            for r in requests {
                answers.push(self.get(r).await?);
            }
            Ok(Concurrent {
                answers,
                overlapped: false,
            })
        })
    }

    /// `clock/set`; `Ok(false)` when the implementation cannot follow the virtual clock.
    fn set_clock(&mut self, now: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>>;

    /// `shutdown`, and what it wrote.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output>;
}

/// The answers to [`Implementation::get_concurrently`], in the order of the requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Concurrent {
    pub answers: Vec<Answer>,
    /// Whether the requests were outstanding at the same time (false: one after another).
    pub overlapped: bool,
}

/// Starts an implementation for a shard.
pub trait Launcher: Send + Sync {
    /// What the implementation is, for reports (`credsim reference`, the `--impl` command).
    fn describe(&self) -> String;

    /// Whether the scenario can be expressed through this launcher's protocol; `Err` is the reason
    /// it cannot, and the scenario is skipped (`not applicable`), never passed.
    fn applies_to(&self, _scenario: &scenarios::Scenario) -> Result<(), NotApplicable> {
        Ok(())
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>>;
}

/// Why a scenario cannot be expressed through a launcher's protocol ([`Launcher::applies_to`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    /// The protocol is asked for a server only, with one identity; the scenario's requests come
    /// from several projects.
    #[error(
        "its requests come from {} projects ({}); a credential helper is asked for a server only",
        .projects.len(),
        .projects.join(", ")
    )]
    SeveralProjects { projects: Vec<String> },
    /// Any other reason, in words (for launchers outside credsim).
    #[error("{0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_failing_program_said_is_joined_and_cut() {
        assert_eq!(what_it_said(&["  out\n", "", " err "]), "out; err");
        assert_eq!(what_it_said(&["", "  "]), "");
        let long = "é".repeat(MESSAGE_CHARS + 10);
        let said = what_it_said(&[&long]);
        assert_eq!(said.chars().count(), MESSAGE_CHARS + 1);
        assert!(said.ends_with('…'));
    }
}
