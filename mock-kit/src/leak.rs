//! Finding registered secrets in the forms credentials really take in logs, files and requests.
//!
//! A raw search misses a registry login logged as `Authorization: Basic <base64 of user:token>`,
//! a Docker `config.json` (`auths.<host>.auth` is base64 of `user:password`), a Kubernetes Secret
//! (base64 of a `.dockerconfigjson` that holds base64 again), a token in a query string, or one
//! written with JSON or shell escapes. [`SecretRegistry::search`](crate::SecretRegistry::search)
//! finds every registered secret:
//!
//! - raw, and a JWT by its signature segment alone (the part that makes it a credential);
//! - inside base64 and base64url, padded or not, at every alignment: each run of the alphabet is
//!   decoded from each of its first four characters, so a secret anywhere inside a longer encoded
//!   blob (`user:secret`) is found, and runs split by a line wrap (`base64 -w 76`, PEM, YAML block
//!   scalars) are also joined and decoded;
//! - percent-encoded, and with JSON (`\/`, `\u0041`) or shell (`\~`, `\x41`, `\101`) escapes;
//! - through up to [`MAX_LAYERS`] of these nested (base64 inside base64, percent-encoded base64).
//!
//! Each hit says where (the span of the outermost encoded text, so redaction can replace it) and
//! how it was found ([`Form`]), so evidence can read `stderr:3: acr-refresh-token as base64 in an
//! HTTP Basic header`, never the value.
//!
//! Cost: one pass over the text per decoder, decoding only runs long enough to hold a secret;
//! each decoded candidate is searched with the registry's tail index, so the search is linear in
//! the text and independent of how many secrets are registered.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How many decodings may be nested (base64 of JSON with base64 inside is two).
pub const MAX_LAYERS: usize = 3;

/// The shortest base64 run that can hold a registered secret (12 bytes decode from 16 chars).
const MIN_RUN: usize = 16;

/// One decoding step between the text and the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    Base64,
    Base64Url,
    /// Base64 whose alphabet does not tell the standard and URL-safe forms apart.
    Base64Either,
    Percent,
    JsonEscape,
    ShellEscape,
}

impl Layer {
    fn describe(self) -> &'static str {
        match self {
            Layer::Base64 | Layer::Base64Either => "base64",
            Layer::Base64Url => "base64url",
            Layer::Percent => "percent-encoding",
            Layer::JsonEscape => "JSON string escapes",
            Layer::ShellEscape => "shell escapes",
        }
    }
}

/// Where the encoded text stood, when its surroundings say what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// After `Basic ` (an HTTP `Authorization` or `Proxy-Authorization` header).
    HttpBasic,
    /// The value of a JSON `"auth"` key (a Docker `config.json` entry).
    DockerConfigAuth,
}

/// How a secret was found in a text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Form {
    /// The decodings applied, outermost first; empty for the raw value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Layer>,
    /// Only the JWT's signature segment appeared (which is what makes it usable as a credential).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub jwt_signature: bool,
    /// A base64 run that was split across lines had to be joined.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrapped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
}

impl Form {
    /// The secret as it was minted.
    pub fn raw() -> Self {
        Self::default()
    }

    pub fn is_raw(&self) -> bool {
        self.layers.is_empty() && !self.jwt_signature
    }

    /// Raw, with nothing around it: what serialisation leaves out.
    pub fn is_plain(&self) -> bool {
        *self == Form::raw()
    }
}

impl fmt::Display for Form {
    /// `raw`, `as base64 in an HTTP Basic header`, `as its JWT signature segment in base64url
    /// inside base64, line-wrapped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_raw() {
            f.write_str("raw")?;
        } else {
            f.write_str("as ")?;
            if self.jwt_signature {
                f.write_str("its JWT signature segment")?;
                if !self.layers.is_empty() {
                    f.write_str(" in ")?;
                }
            }
            // Innermost first reads naturally: "base64url inside base64".
            for (i, layer) in self.layers.iter().rev().enumerate() {
                if i > 0 {
                    f.write_str(" inside ")?;
                }
                f.write_str(layer.describe())?;
            }
            if self.wrapped {
                f.write_str(", line-wrapped")?;
            }
        }
        match self.context {
            Some(Context::HttpBasic) => f.write_str(" in an HTTP Basic header"),
            Some(Context::DockerConfigAuth) => f.write_str(" in a Docker config `auth` field"),
            None => Ok(()),
        }
    }
}

/// A decoded candidate: where it stands in the searched text and what it decodes to.
pub(crate) struct Candidate {
    pub start: usize,
    pub end: usize,
    pub layer: Layer,
    pub wrapped: bool,
    pub bytes: Vec<u8>,
}

/// Every decodable candidate of `text`, for one more layer of search.
pub(crate) fn candidates(text: &[u8]) -> Vec<Candidate> {
    let mut out = Vec::new();
    base64_candidates(text, &mut out);
    if text.contains(&b'%') {
        for (start, end) in tokens(text) {
            let token = &text[start..end];
            if token.contains(&b'%')
                && let Some(bytes) = percent_decode(token)
            {
                out.push(Candidate {
                    start,
                    end,
                    layer: Layer::Percent,
                    wrapped: false,
                    bytes,
                });
            }
        }
    }
    if text.contains(&b'\\') {
        for (start, end) in tokens(text) {
            let token = &text[start..end];
            if !token.contains(&b'\\') {
                continue;
            }
            for (layer, decoded) in [
                (Layer::JsonEscape, json_unescape(token)),
                (Layer::ShellEscape, shell_unescape(token)),
            ] {
                if let Some(bytes) = decoded {
                    out.push(Candidate {
                        start,
                        end,
                        layer,
                        wrapped: false,
                        bytes,
                    });
                }
            }
        }
    }
    out
}

/// What the text just before `start` says the encoded value is.
pub(crate) fn context_before(text: &[u8], start: usize) -> Option<Context> {
    let before = &text[start.saturating_sub(32)..start];
    let lower: Vec<u8> = before.iter().map(u8::to_ascii_lowercase).collect();
    if lower.ends_with(b"basic ") {
        return Some(Context::HttpBasic);
    }
    // `"auth": "`, with any spacing.
    let trimmed: Vec<u8> = lower
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if trimmed.ends_with(b"\"auth\":\"") {
        return Some(Context::DockerConfigAuth);
    }
    None
}

fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64 or base64url leniently: both alphabets, no padding needed, trailing bits dropped.
fn b64_decode(chars: impl Iterator<Item = u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in chars {
        let Some(v) = b64_value(c) else { continue };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Runs of the base64 alphabets: `(start, end)`; `=` ends a run (padding, or a `key=` separator).
fn b64_runs(text: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if b64_value(text[i]).is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && b64_value(text[i]).is_some() {
            i += 1;
        }
        runs.push((start, i));
    }
    runs
}

fn layer_of(run: &[u8]) -> Layer {
    let url = run.iter().any(|&b| b == b'-' || b == b'_');
    let std = run.iter().any(|&b| b == b'+' || b == b'/');
    match (std, url) {
        (true, false) => Layer::Base64,
        (false, true) => Layer::Base64Url,
        _ => Layer::Base64Either,
    }
}

/// Whether only a line break (and indentation) separates two runs. Padding (`=`) ends a blob,
/// so a run followed by it is never joined to the next line.
fn line_break_between(gap: &[u8]) -> bool {
    gap.iter().filter(|&&b| b == b'\n').count() == 1
        && gap
            .iter()
            .all(|&b| matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
}

fn base64_candidates(text: &[u8], out: &mut Vec<Candidate>) {
    let runs = b64_runs(text);
    let push_run = |out: &mut Vec<Candidate>, start: usize, end: usize| {
        let run = &text[start..end];
        let layer = layer_of(run);
        // Every alignment: the blob may start one to three characters into the run.
        for skip in 0..4.min(run.len()) {
            if run.len() - skip < MIN_RUN {
                break;
            }
            out.push(Candidate {
                start: start + skip,
                end,
                layer,
                wrapped: false,
                bytes: b64_decode(run[skip..].iter().copied()),
            });
        }
    };
    for &(start, end) in &runs {
        if end - start >= MIN_RUN {
            push_run(out, start, end);
        }
    }
    // Runs joined across line wraps: a chain of runs each separated by one line break, the
    // first of which is long enough to be a wrapped line.
    let mut i = 0;
    while i < runs.len() {
        let mut j = i;
        while j + 1 < runs.len()
            && runs[j].1 - runs[j].0 >= MIN_RUN
            && line_break_between(&text[runs[j].1..runs[j + 1].0])
        {
            j += 1;
        }
        if j > i {
            let (start, end) = (runs[i].0, runs[j].1);
            let joined: Vec<u8> = text[start..end]
                .iter()
                .copied()
                .filter(|&b| b64_value(b).is_some())
                .collect();
            let layer = layer_of(&joined);
            for skip in 0..4.min(joined.len()) {
                out.push(Candidate {
                    start,
                    end,
                    layer,
                    wrapped: true,
                    bytes: b64_decode(joined[skip..].iter().copied()),
                });
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
}

/// Tokens for the escape and percent decoders: runs between whitespace and the characters that
/// delimit values (quotes, `&`, `=`, `;`, `,`, brackets), where a backslash keeps the next
/// character inside the token.
fn tokens(text: &[u8]) -> Vec<(usize, usize)> {
    let delim = |b: u8| {
        b.is_ascii_whitespace()
            || matches!(
                b,
                b'"' | b'\''
                    | b'&'
                    | b'='
                    | b';'
                    | b','
                    | b'<'
                    | b'>'
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'{'
                    | b'}'
                    | b'?'
            )
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if delim(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && !delim(text[i]) {
            i += if text[i] == b'\\' && i + 1 < text.len() {
                2
            } else {
                1
            };
        }
        let end = i.min(text.len());
        if end - start >= 12 {
            out.push((start, end));
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(token: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(token.len());
    let mut changed = false;
    let mut i = 0;
    while i < token.len() {
        if token[i] == b'%'
            && i + 2 < token.len()
            && let (Some(h), Some(l)) = (hex(token[i + 1]), hex(token[i + 2]))
        {
            out.push(h << 4 | l);
            changed = true;
            i += 3;
        } else {
            out.push(token[i]);
            i += 1;
        }
    }
    changed.then_some(out)
}

fn push_char(out: &mut Vec<u8>, c: u32) {
    if let Some(ch) = char::from_u32(c) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

/// JSON string escapes: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`.
fn json_unescape(token: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(token.len());
    let mut changed = false;
    let mut i = 0;
    while i < token.len() {
        if token[i] != b'\\' || i + 1 >= token.len() {
            out.push(token[i]);
            i += 1;
            continue;
        }
        let next = token[i + 1];
        let simple = match next {
            b'"' | b'\\' | b'/' => Some(next),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
        } else if next == b'u'
            && i + 6 <= token.len()
            && let Some(code) = token[i + 2..i + 6]
                .iter()
                .try_fold(0u32, |acc, &b| hex(b).map(|d| acc << 4 | u32::from(d)))
        {
            push_char(&mut out, code);
            i += 6;
        } else {
            out.push(token[i]);
            i += 1;
            continue;
        }
        changed = true;
    }
    changed.then_some(out)
}

/// Shell escapes: a backslash before any character (`\~`, `\$`), `\xHH` and `\NNN` (octal) as
/// `$'...'` and `printf` write them.
fn shell_unescape(token: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(token.len());
    let mut changed = false;
    let mut i = 0;
    while i < token.len() {
        if token[i] != b'\\' || i + 1 >= token.len() {
            out.push(token[i]);
            i += 1;
            continue;
        }
        changed = true;
        let next = token[i + 1];
        if next == b'x'
            && i + 4 <= token.len()
            && let (Some(h), Some(l)) = (hex(token[i + 2]), hex(token[i + 3]))
        {
            out.push(h << 4 | l);
            i += 4;
        } else if (b'0'..=b'3').contains(&next)
            && i + 4 <= token.len()
            && token[i + 2..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            out.push((next - b'0') << 6 | (token[i + 2] - b'0') << 3 | (token[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(next);
            i += 2;
        }
    }
    changed.then_some(out)
}

/// The signature segment of a value shaped like a compact JWS (`header.payload.signature`), as a
/// length from the end.
pub(crate) fn jwt_signature_len(value: &str) -> Option<usize> {
    let mut parts = value.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let is_b64url = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (h.starts_with("eyJ") && is_b64url(h) && is_b64url(p) && is_b64url(s) && s.len() >= 16)
        .then_some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_decodes_both_alphabets_without_padding() {
        assert_eq!(
            b64_decode(b"dXNlcjpzZWNyZXQ".iter().copied()),
            b"user:secret"
        );
        assert_eq!(
            b64_decode(b"-_-_".iter().copied()),
            b64_decode(b"+/+/".iter().copied())
        );
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(json_unescape(br"a\/b\u0041").unwrap(), b"a/bA");
        assert_eq!(shell_unescape(br"a\~b\x41\101").unwrap(), b"a~bAA");
        assert_eq!(percent_decode(b"a%7Eb%2f").unwrap(), b"a~b/");
        assert!(percent_decode(b"no-escapes-here").is_none());
        assert!(json_unescape(b"no-escapes").is_none());
        // Truncated escapes are kept as they are, not read past the end.
        assert_eq!(percent_decode(b"abc%4").as_deref(), None);
        assert_eq!(json_unescape(br"abc\u00").as_deref(), None);
        assert_eq!(shell_unescape(br"abc\x4").unwrap(), b"abcx4");
    }

    #[test]
    fn forms_read_as_evidence() {
        let f = Form {
            layers: vec![Layer::Base64],
            context: Some(Context::HttpBasic),
            ..Form::default()
        };
        assert_eq!(f.to_string(), "as base64 in an HTTP Basic header");
        let f = Form {
            layers: vec![Layer::Base64, Layer::Base64Url],
            jwt_signature: true,
            wrapped: true,
            context: None,
        };
        assert_eq!(
            f.to_string(),
            "as its JWT signature segment in base64url inside base64, line-wrapped"
        );
        assert_eq!(Form::raw().to_string(), "raw");
    }

    #[test]
    fn jwt_shapes_are_recognised() {
        assert_eq!(
            jwt_signature_len("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"),
            Some(26)
        );
        assert_eq!(jwt_signature_len("not.a.jwt"), None);
        assert_eq!(jwt_signature_len("eyJa.b"), None);
    }
}
