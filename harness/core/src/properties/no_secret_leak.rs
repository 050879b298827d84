//! `no-secret-leak`: no secret minted during the run appears in the implementation's stdout,
//! stderr or files.
//!
//! Threat: logging tokens, writing them into reports or caches on disk. Evidence: every secret
//! the fakes minted (each unique and registered) searched in every captured channel, raw and in
//! the encodings credentials take (base64 at any alignment and across line wraps, percent, JSON
//! and shell escapes, a JWT's signature alone: `mock_kit::leak`), reported as
//! `shard channel:line` with the secret's kind, fingerprint and form, never its value.

use scenarios::model::PropertyId;

use super::PropertyResult;
use crate::evidence::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let secrets = &e.world.cloud.secrets;
    if secrets.is_empty() {
        return PropertyResult::not_applicable(PropertyId::NoSecretLeak, "no secret was minted");
    }
    let mut channels: Vec<(String, &str)> = Vec::new();
    for (shard, out) in &e.outputs {
        channels.push((format!("{shard} stdout"), out.stdout.as_str()));
        channels.push((format!("{shard} stderr"), out.stderr.as_str()));
    }
    for (shard, files) in &e.files {
        for (path, content) in files {
            channels.push((format!("{shard} file {path}"), content.as_str()));
        }
    }
    let bytes: usize = channels.iter().map(|(_, t)| t.len()).sum();
    let mut result = PropertyResult::new(
        PropertyId::NoSecretLeak,
        format!(
            "{} minted secret(s) searched in {} channel(s) ({bytes} bytes)",
            secrets.len(),
            channels.len()
        ),
    );
    for (channel, text) in channels {
        for hit in secrets.search(text.as_bytes()) {
            result.fail(
                format!("a {} appeared in {channel}", hit.secret.kind),
                format!(
                    "{channel}:{}: {} {} {} ({})",
                    hit.line,
                    hit.secret.kind,
                    hit.secret.fingerprint.as_str(),
                    hit.form,
                    hit.secret.label
                ),
            );
        }
    }
    result
}
