//! Starting an implementation's program: its command line split into words and its paths
//! resolved, the shard's command (sandboxed, in a process group of its own), and one-shot runs
//! for the protocols that start a program per request.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::output::read_capped;
use tokio::process::Command;

use crate::sandbox::ProcessNetwork;

use crate::implementation::{ProtocolError, ShardContext};

/// Why a command line does not split into words; each names the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("unclosed single quote in {0:?}")]
    UnclosedSingleQuote(String),
    #[error("unclosed double quote in {0:?}")]
    UnclosedDoubleQuote(String),
    #[error("trailing backslash in {0:?}")]
    TrailingBackslash(String),
}

/// Splits a command line like a POSIX shell splits words: whitespace separates, single quotes keep
/// everything, double quotes keep everything but `\"` and `\\`, a backslash escapes the next
/// character outside quotes.
pub fn split_words(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnclosedSingleQuote(line.to_owned())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::UnclosedDoubleQuote(line.to_owned())),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnclosedDoubleQuote(line.to_owned())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(SplitError::TrailingBackslash(line.to_owned())),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Starts the shard's command. In the sandbox, a program that cannot be found is refused here, as
/// it is without one, rather than as bubblewrap's own exit; with the sandbox's network, the
/// command starts in a namespace of its own, whose sockets the front door serves while the
/// returned [`ProcessNetwork`] lives.
pub(crate) fn spawn_shard(
    words: &[String],
    extra: &[&str],
    shard: &ShardContext,
    command: &str,
) -> Result<(tokio::process::Child, Option<ProcessNetwork>, ProcessGroup), ProtocolError> {
    let spawn_error = |error| ProtocolError::Spawn {
        command: command.to_owned(),
        error,
    };
    if shard.sandbox.is_some() {
        let base = std::env::current_dir().unwrap_or_default();
        let resolved = resolve_paths(words, &base);
        let program = resolved.first().map(String::as_str).unwrap_or_default();
        let found = if program.contains('/') {
            Path::new(program).is_file()
        } else {
            std::env::var("PATH")
                .unwrap_or_default()
                .split(':')
                .any(|d| Path::new(d).join(program).is_file())
        };
        if !found {
            return Err(spawn_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "No such file or directory",
            )));
        }
    }
    let mut cmd = shard_command(words, extra, shard);
    let pending = match shard.sandbox.as_ref().and_then(|sb| sb.network.as_ref()) {
        Some(net) => Some(net.prepare(&mut cmd).map_err(ProtocolError::Network)?),
        None => None,
    };
    // Its own process group, so that everything it starts can be ended with it (in the sandbox
    // its PID namespace does that as well).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut cmd = Command::from(cmd);
    cmd.kill_on_drop(true);
    let child = match (cmd.spawn(), pending) {
        (Ok(child), pending) => (child, pending),
        (Err(e), None) => return Err(spawn_error(e)),
        (Err(e), Some(pending)) => {
            return Err(match pending.failed(e) {
                netns::Error::Spawn(e) => spawn_error(e),
                other => ProtocolError::Other(format!(
                    "{command}: {}",
                    credsim_world::error_chain(&other)
                )),
            });
        }
    };
    let group = ProcessGroup(child.0.id());
    let network = match child.1 {
        Some(pending) => Some(pending.attach().map_err(ProtocolError::Network)?),
        None => None,
    };
    Ok((child.0, network, group))
}

/// The process group an implementation program leads (its pid is the group's id). Ending it
/// kills whatever the program started that is still in the group: children it forked, a daemon
/// it left behind. A child that leaves the group (`setsid`) escapes this outside the sandbox;
/// inside it, the sandbox's PID namespace ends with the program and takes every process in it.
#[derive(Debug)]
pub(crate) struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    /// Kills every process left in the group (none left is fine). Called once the program has
    /// exited or is being killed, so the group's id is still the program's.
    pub(crate) fn end(&self) {
        let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.end();
    }
}

/// The command `words` (plus `extra` arguments) for a shard: exactly the protocol's environment
/// (plus `PATH`, and `HOME` set to the working directory), run in the working directory, all three
/// pipes captured. `words` is not empty.
pub(crate) fn shard_command(
    words: &[String],
    extra: &[&str],
    shard: &ShardContext,
) -> std::process::Command {
    let words = match std::env::current_dir() {
        Ok(base) => resolve_paths(words, &base),
        Err(_) => words.to_vec(),
    };
    let (program, args) = words.split_first().expect("a command has a program");
    let mut cmd = match &shard.sandbox {
        Some(sb) => {
            let mut c = std::process::Command::new(&sb.bwrap);
            c.args(sb.command_prefix(&words)).arg(program);
            c
        }
        None => std::process::Command::new(program),
    };
    cmd.args(args)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &shard.workdir)
        .envs(shard.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&shard.workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The command line as the user who typed it meant it. The implementation runs in a working
/// directory of its own, so paths relative to the directory `credsim` was started in (`base`)
/// are made absolute:
/// - the program, when it contains a `/` (`./my-shim`, `target/debug/credsim`);
/// - an argument that names an existing file relative to `base` (`python3 my_shim.py`), or that
///   contains a `/` and names an existing file or directory (`--config conf/`);
/// - the value of `--name=VALUE` by the same rule (`--config=shim.yaml`).
///
/// Everything else is passed as typed: absolute paths, words that name nothing in `base` (`get`,
/// `reference`, a flag), and `-` (standard input). A program without a `/` is looked up in `PATH`.
pub fn resolve_paths(words: &[String], base: &Path) -> Vec<String> {
    let absolute = |word: &str| base.join(word).display().to_string();
    let names_file = |word: &str| {
        let candidate = Path::new(word);
        !word.is_empty()
            && word != "-"
            && candidate.is_relative()
            && (base.join(candidate).is_file()
                || (word.contains('/') && base.join(candidate).exists()))
    };
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                return if word.contains('/') && Path::new(word).is_relative() {
                    absolute(word)
                } else {
                    word.clone()
                };
            }
            if let Some((flag, value)) = word.split_once('=')
                && flag.starts_with("--")
                && names_file(value)
            {
                return format!("{flag}={}", absolute(value));
            }
            if !word.starts_with('-') && names_file(word) {
                return absolute(word);
            }
            word.clone()
        })
        .collect()
}

/// Runs a one-shot protocol command (a credential helper's `get`, a credential provider): `input`
/// on stdin, then everything it printed, within `timeout`.
pub(crate) async fn run_once(
    words: &[String],
    extra: &[&str],
    shard: &ShardContext,
    input: &[u8],
    timeout: Duration,
    method: &str,
) -> Result<std::process::Output, ProtocolError> {
    let (mut child, _network, group) = spawn_shard(words, extra, shard, &words.join(" "))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    // A program that exits without reading its input is judged by what it printed.
    let _ = stdin.write_all(input).await;
    drop(stdin);
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let run = async {
        // Once the program has exited, whatever it left in its group is ended: its output is
        // complete, and a child still holding the pipes cannot make it a timeout.
        let reap = async {
            let status = child.wait().await;
            group.end();
            status
        };
        let (stdout, stderr, status) =
            tokio::join!(read_capped(out, "stdout"), read_capped(err, "stderr"), reap);
        let status = status?;
        Ok::<_, std::io::Error>(std::process::Output {
            status,
            stdout,
            stderr,
        })
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| ProtocolError::Timeout {
            method: method.to_owned(),
            seconds: timeout.as_secs(),
        })?
        .map_err(|e| ProtocolError::Other(format!("running `{}` failed: {e}", words.join(" "))))
}
