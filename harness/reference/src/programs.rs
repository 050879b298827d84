//! The reference as the runner starts it: in-process launchers (with and without a flaw), and
//! as a program speaking the exec protocol, the Docker credential-helper protocol or the
//! kubelet credential-provider protocol (`credsim reference`).

use std::collections::HashMap;
use std::io::{BufRead, Write};

use jiff::Timestamp;
use serde_json::{Value, json};

use credsim::implementation::{
    Answer, BoxFuture, CredentialRequest, Implementation, Launcher, Output, ProtocolError,
    ShardContext,
};
use credsim::world::error_chain;

use crate::flaw::Flaw;
use crate::reference::Reference;
use crate::refusal::Refusal;

impl Implementation for Reference {
    fn identity(&self) -> String {
        format!("credsim-reference {}", env!("CARGO_PKG_VERSION"))
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        Box::pin(async move { Ok(Reference::get(self, request).await) })
    }

    fn get_concurrently<'a>(
        &'a mut self,
        requests: &'a [CredentialRequest],
    ) -> BoxFuture<'a, Result<credsim::implementation::Concurrent, ProtocolError>> {
        Box::pin(async move {
            let this = &*self;
            let answers = futures::future::join_all(requests.iter().map(|r| this.get(r))).await;
            Ok(credsim::implementation::Concurrent {
                answers,
                overlapped: true,
            })
        })
    }

    fn set_clock(&mut self, now: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        self.state().now = Some(now);
        Box::pin(async { Ok(true) })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output> {
        let stderr = self.take_log().join("\n");
        Box::pin(async move {
            Output {
                stdout: String::new(),
                stderr,
            }
        })
    }
}

/// Runs the reference in-process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReferenceLauncher;

/// Runs the reference in-process with one deliberate flaw.
#[derive(Clone, Copy, Debug)]
pub struct FlawedLauncher(pub Flaw);

impl Launcher for FlawedLauncher {
    fn describe(&self) -> String {
        format!(
            "the reference with the flaw {} (in-process)",
            self.0.as_str()
        )
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let env = shard.env.iter().cloned().collect();
            let r = Reference::from_env(env)
                .map_err(|e| ProtocolError::Other(error_chain(&e)))?
                .with_flaw(Some(self.0))
                .in_shard(shard);
            Ok(Box::new(r) as Box<dyn Implementation>)
        })
    }
}

impl Launcher for ReferenceLauncher {
    fn describe(&self) -> String {
        "the built-in reference implementation (in-process)".into()
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let env = shard.env.iter().cloned().collect();
            let r = Reference::from_env(env)
                .map_err(|e| ProtocolError::Other(error_chain(&e)))?
                .in_shard(shard);
            Ok(Box::new(r) as Box<dyn Implementation>)
        })
    }
}

/// `credsim reference --docker-credential-helper get`: the reference as a Docker credential
/// helper for one project (install-time `PROJECT`): the server URL on `input`, the credential as
/// `{"ServerURL","Username","Secret"}` on `output`; without one, Docker's not-found message and an
/// error.
pub async fn docker_helper_get(
    input: impl BufRead,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<bool> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let project = env.get("PROJECT").cloned().unwrap_or_default();
    let reference = Reference::from_env(env).map_err(std::io::Error::other)?;
    let mut server = String::new();
    for line in input.lines() {
        server.push_str(line?.trim());
    }
    let req = CredentialRequest {
        project,
        registry: server.clone(),
        repository: String::new(),
        artifact: "image".into(),
    };
    let answer = reference.get(&req).await;
    for line in reference.take_log() {
        writeln!(log, "{line}")?;
    }
    match answer {
        Answer::Credential(c) => {
            writeln!(
                output,
                "{}",
                json!({"ServerURL": server, "Username": c.username, "Secret": c.password})
            )?;
            Ok(true)
        }
        _ => {
            writeln!(output, "{}", credsim::docker_helper::NOT_FOUND)?;
            Ok(false)
        }
    }
}

/// `credsim reference --kubelet-credential-provider`: the reference as a kubelet image
/// credential provider with service-account tokens (KEP-4412): the pod ServiceAccount's token is
/// the assertion, its `azure.workload.identity/client-id` annotation names the identity, the
/// tenant is its `azure.workload.identity/tenant-id` annotation or install-time `TENANT_ID`.
/// Answers a `CredentialProviderResponse` for the image's registry host only.
pub async fn kubelet_provider_get(
    input: impl BufRead,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<bool> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let reference = Reference::from_env(env.clone()).map_err(std::io::Error::other)?;
    let mut text = String::new();
    for line in input.lines() {
        text.push_str(&line?);
    }
    let req: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let image = req["image"].as_str().unwrap_or_default();
    let host = image
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_acr = host.strip_suffix(".azurecr.io").is_some_and(|n| {
        (5..=50).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let annotations = &req["serviceAccountAnnotations"];
    let client_id = annotations["azure.workload.identity/client-id"].as_str();
    let tenant = annotations["azure.workload.identity/tenant-id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| env.get("TENANT_ID").cloned());
    let token = req["serviceAccountToken"].as_str();
    let (Some(client_id), Some(tenant), Some(token), true) = (client_id, tenant, token, is_acr)
    else {
        writeln!(
            log,
            "no identity for {image}: answering with no credentials"
        )?;
        writeln!(
            output,
            "{}",
            json!({"apiVersion": credsim::kubelet_provider::API_VERSION, "kind": "CredentialProviderResponse",
                "cacheKeyType": "Image", "auth": {}})
        )?;
        return Ok(true);
    };
    match reference.exchange(&tenant, client_id, token, &host).await {
        Ok(c) => {
            writeln!(
                output,
                "{}",
                json!({"apiVersion": credsim::kubelet_provider::API_VERSION, "kind": "CredentialProviderResponse",
                    "cacheKeyType": "Image", "cacheDuration": "10m",
                    "auth": {host: {"username": c.username, "password": c.password}}})
            )?;
            Ok(true)
        }
        Err(Refusal(kind, why)) => {
            writeln!(log, "{}: {why}", kind.as_str())?;
            Ok(false)
        }
    }
}

/// Speaks the exec protocol on `input`/`output` (`credsim reference`), logging on `log`.
/// Requests are read as they come: each `credentials/get` is answered by a task of its own, so
/// that several outstanding at once are worked on at once and answered as each finishes (the
/// contract allows any order); `shutdown` waits for those still running.
pub async fn serve(
    flaw: Option<Flaw>,
    follow_clock: bool,
    input: impl BufRead + Send + 'static,
    output: &mut dyn Write,
    log: &mut dyn Write,
) -> std::io::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let reference = match Reference::from_env(env) {
        Ok(r) => r.with_flaw(flaw),
        Err(e) => {
            writeln!(log, "credsim reference: {}", error_chain(&e))?;
            return Err(std::io::Error::other(e));
        }
    };
    // stdin is read on a thread of its own, line by line, into the loop below.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<std::io::Result<String>>();
    std::thread::spawn(move || {
        for line in input.lines() {
            let failed = line.is_err();
            if lines_tx.send(line).is_err() || failed {
                break;
            }
        }
    });
    let mut running: tokio::task::JoinSet<Value> = tokio::task::JoinSet::new();
    let write = |answer: &Value, output: &mut dyn Write, log: &mut dyn Write| {
        for line in reference.take_log() {
            writeln!(log, "{line}")?;
        }
        writeln!(output, "{answer}")?;
        output.flush()
    };
    loop {
        let line = tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(answer) = done {
                    write(&answer, output, log)?;
                }
                continue;
            }
            line = lines.recv() => match line {
                Some(line) => line?,
                None => break,
            },
        };
        if line.trim().is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let answer = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}});
                write(&answer, output, log)?;
                continue;
            }
        };
        let answer = match step(&reference, follow_clock, &msg) {
            Step::Shutdown => break,
            Step::Answer(answer) => answer,
            Step::Get(id, req) => {
                running.spawn(credential_answer(reference.clone(), id, req));
                continue;
            }
        };
        write(&answer, output, log)?;
    }
    while let Some(done) = running.join_next().await {
        if let Ok(answer) = done {
            write(&answer, output, log)?;
        }
    }
    for line in reference.take_log() {
        writeln!(log, "{line}")?;
    }
    Ok(())
}

/// What one message of the exec protocol asks of the serving loop.
enum Step {
    /// Answer at once.
    Answer(Value),
    /// `credentials/get`: answered when it is done, while other messages are read.
    Get(Value, CredentialRequest),
    Shutdown,
}

/// The step for one message: `initialize`, `clock/set` and refusals are answered at once.
fn step(reference: &Reference, follow_clock: bool, msg: &Value) -> Step {
    let id = msg["id"].clone();
    let error = |code: i64, message: String| {
        Step::Answer(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        )
    };
    match msg["method"].as_str() {
        Some("shutdown") => Step::Shutdown,
        Some("initialize") => {
            let versions = msg["params"]["protocolVersions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if versions.iter().any(|v| v == 1) {
                Step::Answer(
                    json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": 1,
                    "implementation": {"name": "credsim-reference", "version": env!("CARGO_PKG_VERSION")}}}),
                )
            } else {
                error(
                    -32001,
                    "no common protocol version; this implementation speaks 1".into(),
                )
            }
        }
        Some("clock/set") if !follow_clock => error(-32601, "method not found".into()),
        Some("clock/set") => match msg["params"]["now"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
        {
            Some(now) => {
                reference.state().now = Some(now);
                Step::Answer(json!({"jsonrpc": "2.0", "id": id, "result": {}}))
            }
            None => error(-32602, "`now` must be an RFC 3339 time".into()),
        },
        Some("credentials/get") => {
            match serde_json::from_value::<CredentialRequest>(msg["params"].clone()) {
                Err(e) => error(-32602, format!("invalid params: {e}")),
                Ok(req) => Step::Get(id, req),
            }
        }
        _ => error(-32601, "method not found".into()),
    }
}

/// The answer to one `credentials/get`.
async fn credential_answer(reference: Reference, id: Value, req: CredentialRequest) -> Value {
    match reference.get(&req).await {
        Answer::Credential(c) => json!({"jsonrpc": "2.0", "id": id, "result": c}),
        Answer::Anonymous => json!({"jsonrpc": "2.0", "id": id, "result": null}),
        Answer::Refused { kind, message } => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": message, "data": {"kind": kind.as_str()}}})
        }
    }
}
