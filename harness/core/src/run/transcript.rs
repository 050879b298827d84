//! What a human reads of a run: each request's flow (the report's sequence diagram), its
//! transcript line, what the implementations wrote, every secret redacted.

use std::collections::BTreeMap;

use crate::evidence::RequestRecord;
use crate::result::FlowEvent;

use crate::implementation::{Answer, Output};
use credsim_world::world::RunningWorld;

/// How many lines of an implementation's output a transcript keeps per channel.
pub(super) const TRANSCRIPT_OUTPUT_LINES: usize = 200;

/// The arrows of one request, from the journals of its window (virtual time stands still during
/// a request, so the order is the flow's own: cluster, Entra, registry).
pub(super) fn flow(world: &RunningWorld, rec: &RequestRecord) -> Vec<FlowEvent> {
    let step = rec.step;
    let mut out = vec![FlowEvent {
        step,
        from: "harness",
        to: "implementation",
        label: format!(
            "credentials/get {} {}/{}",
            rec.request.project, rec.request.registry, rec.request.repository
        ),
        ok: true,
    }];
    for (cluster, from, to) in &rec.audit_seq {
        let Some(k8s) = world.cloud.cluster(cluster) else {
            continue;
        };
        for a in k8s.audit().since(*from).into_iter().take(to - from) {
            out.push(FlowEvent {
                step,
                from: "implementation",
                to: "cluster",
                label: format!(
                    "{cluster}: {} {} → {}",
                    a.verb,
                    a.resource.as_deref().map_or(a.path.clone(), |r| format!(
                        "{r} {}/{}",
                        a.namespace.clone().unwrap_or_default(),
                        a.name.clone().unwrap_or_default()
                    )),
                    a.status
                ),
                ok: a.status < 400,
            });
        }
    }
    for t in rec.entra_events(world) {
        let (outcome, ok) = match &t.outcome {
            mock_entra::journal::TokenOutcome::Issued { .. } => ("token issued".to_owned(), true),
            mock_entra::journal::TokenOutcome::Error { code, .. } => {
                (format!("AADSTS{code}"), false)
            }
            mock_entra::journal::TokenOutcome::Faulted { status } => {
                (format!("fault {status}"), false)
            }
        };
        out.push(FlowEvent {
            step,
            from: "implementation",
            to: "entra",
            label: format!(
                "token for {} ({}) → {outcome}",
                t.identity
                    .clone()
                    .or(t.client_id.clone())
                    .unwrap_or_default(),
                t.assertion
                    .as_ref()
                    .and_then(|a| a.sub.clone())
                    .unwrap_or_else(|| "no assertion".into())
            ),
            ok,
        });
    }
    for a in rec.acr_events(world) {
        out.push(FlowEvent {
            step,
            from: "implementation",
            to: "registry",
            label: format!(
                "{} {} {} → {}",
                a.registry,
                a.endpoint,
                a.requested.join(" "),
                a.status
            ),
            ok: a.status < 400,
        });
    }
    let (label, ok) = match &rec.answer {
        Answer::Credential(_) => ("credential".to_owned(), true),
        Answer::Anonymous => ("null (anonymous)".to_owned(), true),
        Answer::Refused { kind, .. } => (kind.as_str().to_owned(), false),
    };
    out.push(FlowEvent {
        step,
        from: "implementation",
        to: "harness",
        label,
        ok,
    });
    if rec.credential().is_some() {
        let unlocked: Vec<String> = rec.unlocked().iter().map(ToString::to_string).collect();
        out.push(FlowEvent {
            step,
            from: "harness",
            to: "registry",
            label: format!(
                "probe {} repositories: unlocked [{}]",
                rec.probes.len(),
                unlocked.join(", ")
            ),
            ok: true,
        });
    }
    for e in &mut out {
        e.label = redact(world, &e.label);
    }
    out
}

/// What the implementations wrote and where they tried to go, redacted, for the transcript.
pub(super) fn transcribe_outputs(
    world: &RunningWorld,
    outputs: &BTreeMap<String, Output>,
    files: &BTreeMap<String, Vec<(String, String)>>,
    transcript: &mut Vec<String>,
) {
    for (shard, out) in outputs {
        for (channel, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let lines: Vec<&str> = text.lines().collect();
            for line in lines.iter().take(TRANSCRIPT_OUTPUT_LINES) {
                transcript.push(format!("{shard} {channel}: {}", redact(world, line)));
            }
            if lines.len() > TRANSCRIPT_OUTPUT_LINES {
                transcript.push(format!(
                    "{shard} {channel}: ... {} more lines",
                    lines.len() - TRANSCRIPT_OUTPUT_LINES
                ));
                // What credsim says about what it kept always shows.
                if let Some(note) = lines.last().filter(|l| l.starts_with("[credsim: ")) {
                    transcript.push(format!("{shard} {channel}: {note}"));
                }
            }
        }
    }
    for (shard, list) in files {
        for (path, content) in list {
            transcript.push(format!("{shard} wrote {path} ({} bytes)", content.len()));
        }
    }
    for rec in world.cloud.door.egress().snapshot() {
        let Some(shard) = rec
            .client
            .label
            .as_deref()
            .and_then(|l| l.strip_prefix("iut/"))
        else {
            continue;
        };
        if let mock_kit::egress::Outcome::Refused { reason } = &rec.outcome {
            let carried: Vec<&str> = rec.secrets.iter().map(|s| s.kind.as_str()).collect();
            transcript.push(format!(
                "{shard} tried {} {}{}: refused by the front door ({}), carrying [{}]",
                rec.method,
                rec.host,
                rec.path,
                reason.as_str(),
                carried.join(", ")
            ));
        }
    }
}

/// A transcript line for a request, with the credential shown by kind and fingerprint only.
pub(super) fn describe_request(world: &RunningWorld, rec: &RequestRecord) -> String {
    let answer = match &rec.answer {
        Answer::Credential(c) => {
            let what = world.cloud.secrets.identify(&c.password).map_or_else(
                || "an unregistered secret".to_owned(),
                |i| format!("{} {}", i.kind, i.fingerprint.as_str()),
            );
            let unlocked: Vec<String> = rec.unlocked().iter().map(ToString::to_string).collect();
            format!("credential ({what}) unlocking [{}]", unlocked.join(", "))
        }
        Answer::Anonymous => "null (anonymous)".into(),
        Answer::Refused { kind, message } => {
            format!("{}: {}", kind.as_str(), redact(world, message))
        }
    };
    format!(
        "step {} (line {}): {} asks for {}/{} on behalf of {}: {answer}",
        rec.step + 1,
        rec.line,
        rec.shard,
        rec.request.registry,
        rec.request.repository,
        rec.request.project
    )
}

/// `text` with every registered secret, raw or encoded, replaced by `<kind fingerprint>` (an
/// encoded one with the whole encoded text that holds it).
pub fn redact(world: &RunningWorld, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in world.cloud.secrets.search(text.as_bytes()) {
        let span = h.span();
        // Overlapping hits were merged by the search; a later one inside a replaced span is gone.
        if span.start < at || !text.is_char_boundary(span.start) || !text.is_char_boundary(span.end)
        {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(&format!(
            "<{} {}>",
            h.secret.kind,
            h.secret.fingerprint.as_str()
        ));
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}
