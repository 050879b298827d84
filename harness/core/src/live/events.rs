//! The live event stream: the fakes' journals and the egress record, followed as they grow, and
//! the changes `credsim ctl` made, as one numbered log ([`EventLog`]).
//!
//! Every event keeps the journal entry it came from ([`Happened`]), so the recorder reads typed
//! evidence, and renders as JSON ([`LiveEvent::to_json`]) or one human line
//! ([`LiveEvent::human`]). The journals hold no secret (tokens appear as fingerprints); every
//! line and detail is still passed through the world's secret registry, so a secret that reached
//! a path or an error message shows only as `<kind fingerprint>`.

use std::sync::Mutex;
use std::time::Duration;

use credsim_world::world::RunningWorld;
use jiff::Timestamp;
use mock_acr::AcrEvent;
use mock_entra::journal::{EntraEvent, TokenEvent, TokenOutcome};
use mock_imds::ImdsEvent;
use mock_k8s::AuditEvent;
use mock_kit::Journal;
use mock_kit::egress::{EgressRecord, Outcome as EgressOutcome};
use mock_kit::site::Scheme;
use serde_json::{Value, json};

use crate::run::redact;

/// How many events the live log keeps (the oldest are dropped past it).
pub const EVENT_CAPACITY: usize = 50_000;

/// Where an event came from, with the journal entry itself.
#[derive(Clone, Debug)]
pub enum Happened {
    Entra(EntraEvent),
    Imds(ImdsEvent),
    Acr(AcrEvent),
    Cluster(AuditEvent),
    /// A request the front door refused, faulted or dropped (what it served is in the fakes'
    /// journals).
    Egress(EgressRecord),
    /// A change `credsim ctl` applied: the step as YAML, and what it did.
    Change {
        step: String,
        note: String,
        took_effect: bool,
    },
}

/// One numbered event.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    pub seq: usize,
    pub at: Timestamp,
    pub happened: Happened,
}

impl LiveEvent {
    /// `entra`, `imds`, `acr`, `cluster/<name>`, `egress` or `ctl`.
    pub fn source(&self) -> String {
        match &self.happened {
            Happened::Entra(_) => "entra".into(),
            Happened::Imds(_) => "imds".into(),
            Happened::Acr(_) => "acr".into(),
            Happened::Cluster(a) => format!("cluster/{}", a.cluster),
            Happened::Egress(_) => "egress".into(),
            Happened::Change { .. } => "ctl".into(),
        }
    }

    /// What kind of event: `token`, `issuer-fetch`, `exchange`, `grant`, `api`, `storage`,
    /// `token-request`, `request`, `refused-egress`, `change`, `internal-error`.
    pub fn kind(&self) -> &'static str {
        match &self.happened {
            Happened::Entra(EntraEvent::Token(_)) => "token",
            Happened::Entra(EntraEvent::IssuerFetch { .. }) => "issuer-fetch",
            Happened::Entra(EntraEvent::InternalError { .. }) => "internal-error",
            Happened::Imds(_) => "token",
            Happened::Acr(a) => match a.endpoint.as_str() {
                "exchange" => "exchange",
                "token" => "grant",
                "storage" => "storage",
                e if e.starts_with("internal") => "internal-error",
                _ => "api",
            },
            Happened::Cluster(a) if a.token_request.is_some() => "token-request",
            Happened::Cluster(_) => "request",
            Happened::Egress(_) => "refused-egress",
            Happened::Change { .. } => "change",
        }
    }

    /// Whether it went as the caller wanted (a token issued, a 2xx, a change that took effect).
    pub fn ok(&self) -> bool {
        match &self.happened {
            Happened::Entra(EntraEvent::Token(t)) => {
                matches!(t.outcome, TokenOutcome::Issued { .. })
            }
            Happened::Entra(EntraEvent::IssuerFetch { error, .. }) => error.is_none(),
            Happened::Entra(EntraEvent::InternalError { .. }) => false,
            Happened::Imds(i) => i.status < 400,
            Happened::Acr(a) => a.status < 400,
            Happened::Cluster(a) => a.status < 400,
            Happened::Egress(_) => false,
            Happened::Change { took_effect, .. } => *took_effect,
        }
    }

    /// One line: what happened, secrets by kind and fingerprint only.
    pub fn summary(&self) -> String {
        match &self.happened {
            Happened::Entra(EntraEvent::Token(t)) => entra_token(t),
            Happened::Entra(EntraEvent::IssuerFetch {
                issuer, url, error, ..
            }) => match error {
                None => format!("fetched issuer {issuer} metadata ({url})"),
                Some(e) => format!("fetching issuer {issuer} metadata ({url}) failed: {e}"),
            },
            Happened::Entra(EntraEvent::InternalError {
                method,
                path,
                message,
                ..
            }) => {
                format!("internal error on {method} {path}: {message}")
            }
            Happened::Imds(i) => format!(
                "{} {} for {} resource {} → {}{}",
                i.node,
                i.endpoint,
                i.identity.as_deref().unwrap_or("the node's identity"),
                i.resource.as_deref().unwrap_or("-"),
                i.status,
                fingerprint(
                    "entra-access-token",
                    i.token.as_ref().map(ToString::to_string)
                ) + &error_suffix(i.error.as_deref()),
            ),
            Happened::Acr(a) => acr(a),
            Happened::Cluster(a) => audit(a),
            Happened::Egress(e) => egress(e),
            Happened::Change { step, note, .. } => format!("{note} ({step})"),
        }
    }

    /// The event as `credsim ctl events --format json` and the console read it.
    pub fn to_json(&self, world: &RunningWorld) -> Value {
        let detail = match &self.happened {
            Happened::Entra(e) => serde_json::to_value(e),
            Happened::Imds(e) => serde_json::to_value(e),
            Happened::Acr(e) => serde_json::to_value(e),
            Happened::Cluster(e) => serde_json::to_value(e),
            Happened::Egress(e) => serde_json::to_value(e),
            Happened::Change {
                step,
                note,
                took_effect,
            } => Ok(json!({"step": step, "note": note, "tookEffect": took_effect})),
        }
        .unwrap_or(Value::Null);
        json!({
            "seq": self.seq,
            "at": self.at.to_string(),
            "source": self.source(),
            "kind": self.kind(),
            "ok": self.ok(),
            "summary": redact(world, &self.summary()),
            "detail": redact_value(world, detail),
        })
    }

    /// `credsim ctl events --format human`: time, source, summary.
    pub fn human(&self, world: &RunningWorld) -> String {
        format!(
            "{} {:<15} {} {}",
            self.at.strftime("%H:%M:%S"),
            self.source(),
            if self.ok() { " " } else { "!" },
            redact(world, &self.summary())
        )
    }
}

fn redact_value(world: &RunningWorld, v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact(world, &s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| redact_value(world, v)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, redact_value(world, v)))
                .collect(),
        ),
        other => other,
    }
}

fn fingerprint(kind: &str, fp: Option<String>) -> String {
    fp.map(|f| format!(" <{kind} {f}>")).unwrap_or_default()
}

fn error_suffix(e: Option<&str>) -> String {
    e.map(|e| format!(": {e}")).unwrap_or_default()
}

fn entra_token(t: &TokenEvent) -> String {
    let who = t
        .identity
        .clone()
        .or_else(|| t.client_id.clone())
        .unwrap_or_else(|| "unknown client".into());
    let how = match &t.assertion {
        Some(a) => format!(
            "assertion iss={} sub={} aud={} <service-account-token {}>",
            a.iss.as_deref().unwrap_or("-"),
            a.sub.as_deref().unwrap_or("-"),
            a.aud.join(","),
            a.fingerprint
        ),
        None => format!("{:?}", t.credential).to_lowercase(),
    };
    let outcome = match &t.outcome {
        TokenOutcome::Issued {
            token,
            audience,
            version,
            ..
        } => {
            format!("issued v{version} for {audience} <entra-access-token {token}>")
        }
        TokenOutcome::Error { code, error } => format!("AADSTS{code} {error}"),
        TokenOutcome::Faulted { status } => format!("fault answered {status}"),
    };
    format!(
        "{} token for {who} by {how}{} → {outcome}",
        t.endpoint,
        t.scope
            .as_deref()
            .map(|s| format!(" scope={s}"))
            .unwrap_or_default()
    )
}

fn acr(a: &AcrEvent) -> String {
    let kind = match a.endpoint.as_str() {
        "exchange" => "acr-refresh-token",
        _ => "acr-access-token",
    };
    let mut s = format!("{} {} {} {}", a.registry, a.endpoint, a.method, a.path);
    if let Some(p) = &a.principal {
        s.push_str(&format!(" by {p}"));
    }
    if !a.requested.is_empty() {
        s.push_str(&format!(" asked [{}]", a.requested.join(" ")));
    }
    if a.endpoint == "token" || !a.granted.is_empty() {
        s.push_str(&format!(" granted [{}]", a.granted.join(" ")));
    }
    s.push_str(&format!(" → {}", a.status));
    if a.endpoint == "exchange" || a.endpoint == "token" {
        s.push_str(&fingerprint(
            kind,
            a.token.as_ref().map(ToString::to_string),
        ));
    }
    s + &error_suffix(a.error.as_deref())
}

fn audit(a: &AuditEvent) -> String {
    let who = a.impersonated_user.as_deref().unwrap_or(&a.user);
    match &a.token_request {
        Some(t) => format!(
            "TokenRequest by {who} for {}/{} aud={} {}s → {} <service-account-token {}>",
            t.namespace,
            t.service_account,
            t.audiences.join(","),
            t.expiration_seconds,
            a.status,
            t.token
        ),
        None => format!(
            "{} {} by {who} → {}",
            a.verb,
            a.resource.as_deref().map_or(a.path.clone(), |r| format!(
                "{r} {}{}",
                a.namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                a.name.clone().unwrap_or_default()
            )),
            a.status
        ),
    }
}

fn egress(e: &EgressRecord) -> String {
    let why = match &e.outcome {
        EgressOutcome::Refused { reason } => format!("refused ({reason:?})"),
        EgressOutcome::Faulted { fault } => format!("faulted by {fault:?}"),
        EgressOutcome::Dropped { fault } => format!("dropped by {fault:?}"),
        EgressOutcome::InternalError { site } => format!("internal error in {site}"),
        EgressOutcome::Unanswered => "unanswered".into(),
        EgressOutcome::Served { site } => format!("served by {site}"),
    };
    let carried: Vec<String> = e
        .secrets
        .iter()
        .map(|s| format!("<{} {}>", s.kind, s.fingerprint))
        .collect();
    let scheme = match e.scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
    };
    format!(
        "{} {scheme}://{}:{}{} {why}{}",
        e.method,
        e.host,
        e.port,
        e.path,
        if carried.is_empty() {
            String::new()
        } else {
            format!(" carrying {}", carried.join(" "))
        }
    )
}

/// Where the collector stands in each journal.
#[derive(Debug, Default)]
struct Cursors {
    entra: usize,
    imds: usize,
    acr: usize,
    clusters: Vec<usize>,
    egress: usize,
}

/// The numbered log of everything that happened in a running world: a bounded journal of
/// events, each carrying its own number, and where the collector stands in the fakes' journals.
#[derive(Debug)]
pub struct EventLog {
    events: Journal<LiveEvent>,
    /// Held while events are appended, so the collector and a change append in one order.
    cursors: Mutex<Cursors>,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            events: Journal::bounded(EVENT_CAPACITY),
            cursors: Mutex::new(Cursors::default()),
        }
    }
}

impl EventLog {
    /// Reads what the journals gained since the last look into the log, in the order it
    /// happened (by the fakes' clock, the journals' order among equal times).
    pub fn collect(&self, world: &RunningWorld) {
        let cloud = &world.cloud;
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let c = &mut *cursors;
        let mut new: Vec<(Timestamp, Happened)> = Vec::new();
        let (entries, next) = cloud.entra.journal().since_with_next(c.entra);
        c.entra = next;
        new.extend(
            entries
                .into_iter()
                .map(|e| (entra_at(&e), Happened::Entra(e))),
        );
        if let Some(imds) = &cloud.imds {
            let (entries, next) = imds.journal().since_with_next(c.imds);
            c.imds = next;
            new.extend(entries.into_iter().map(|e| (e.at, Happened::Imds(e))));
        }
        if let Some(acr) = &cloud.acr {
            let (entries, next) = acr.journal().since_with_next(c.acr);
            c.acr = next;
            new.extend(entries.into_iter().map(|e| (e.at, Happened::Acr(e))));
        }
        c.clusters.resize(cloud.clusters.len(), 0);
        for (k8s, cursor) in cloud.clusters.iter().zip(c.clusters.iter_mut()) {
            let (entries, next) = k8s.audit().since_with_next(*cursor);
            *cursor = next;
            new.extend(entries.into_iter().map(|e| (e.at, Happened::Cluster(e))));
        }
        let (entries, next) = cloud.door.egress().since_with_next(c.egress);
        c.egress = next;
        new.extend(
            entries
                .into_iter()
                .filter(|e| !matches!(e.outcome, EgressOutcome::Served { .. }))
                .map(|e| (e.at, Happened::Egress(e))),
        );
        // Stable: equal times keep the order above (cluster before Entra before the registry
        // would be the flow's; the journals' own order is kept within each).
        new.sort_by_key(|(at, _)| *at);
        for (at, happened) in new {
            self.push(at, happened);
        }
    }

    /// Records a change (after collecting what happened before it, so the order holds); returns
    /// its number.
    pub fn change(
        &self,
        world: &RunningWorld,
        step: String,
        note: String,
        took_effect: bool,
    ) -> usize {
        self.collect(world);
        let _order = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let at = world.cloud.clock.now();
        self.push(
            at,
            Happened::Change {
                step,
                note,
                took_effect,
            },
        )
    }

    fn push(&self, at: Timestamp, happened: Happened) -> usize {
        self.events
            .push_numbered(|seq| LiveEvent { seq, at, happened })
    }

    /// The kept events numbered `seq` and later, and the number the next event will get.
    pub fn since(&self, seq: usize) -> (Vec<LiveEvent>, usize) {
        self.events.since_with_next(seq)
    }

    /// Every kept event.
    pub fn all(&self) -> Vec<LiveEvent> {
        self.events.snapshot()
    }

    /// Waits until an event numbered `seq` or later exists, at most `timeout`.
    pub async fn wait_past(&self, seq: usize, timeout: Duration) {
        self.events.wait_past(seq, timeout).await;
    }
}

fn entra_at(e: &EntraEvent) -> Timestamp {
    match e {
        EntraEvent::Token(t) => t.at,
        EntraEvent::IssuerFetch { at, .. } | EntraEvent::InternalError { at, .. } => *at,
    }
}
