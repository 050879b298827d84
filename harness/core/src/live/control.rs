//! The control endpoint of `credsim up`: loopback only, every `/v1/` route behind the bearer token
//! of the state directory's `control-token` (mode 0600), so another local user, or a process or
//! web page without the token, can neither change the world nor read it.
//!
//! Routes (`docs/cli.md`, "credsim ctl"):
//! - `POST /v1/apply?file=NAME`: a steps file (YAML) in the body, validated like a scenario's
//!   steps (`NAME:line:col` diagnostics, 422), then applied one by one to the running fakes;
//!   `world.json` is rewritten after each.
//! - `GET /v1/events?since=N[&follow=true][&format=human|json]`: the event log; with `follow`,
//!   one line per event as it happens, until the client goes away.
//! - `GET /v1/world`: `world.json`. `GET /v1/diagram`: the flows so far as the report draws
//!   them (SVG). `GET /v1/scenario?name=NAME`: the session as a scenario (YAML).
//! - `GET /console`: the console page. It holds no data: it reads the token from its URL's
//!   fragment and asks the `/v1/` routes with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use credsim_world::world::RunningWorld;
use scenarios::model::{Scenario, Step};
use scenarios::v1alpha1::Document;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::events::{EventLog, Happened, LiveEvent};
use super::{UpError, io_err, record};
use crate::result::FlowEvent;

/// How often the collector reads the journals.
const COLLECT_EVERY: Duration = Duration::from_millis(50);

/// How many of the newest events the diagram draws.
const DIAGRAM_EVENTS: usize = 300;

/// A world served live, with what `credsim ctl` changed in it.
#[derive(Debug)]
pub struct Live {
    pub world: RunningWorld,
    /// The world as it started (its own steps are not run by `credsim up`).
    started: Scenario,
    session: Mutex<Session>,
    pub events: EventLog,
    token: String,
    world_json: PathBuf,
}

/// The document changes are validated against, and the changes applied.
#[derive(Debug)]
struct Session {
    /// The started world's document with every applied step appended.
    doc: Document,
    /// Each applied step with the number of its event.
    applied: Vec<(usize, Step)>,
}

impl Live {
    /// A live world, with a new random token, writing its `world.json` into `state`.
    pub fn new(
        world: RunningWorld,
        mut doc: Document,
        mut started: Scenario,
        state: &Path,
    ) -> Result<Self, UpError> {
        doc.steps.clear();
        started.steps.clear();
        Ok(Self {
            world,
            started,
            session: Mutex::new(Session {
                doc,
                applied: Vec::new(),
            }),
            events: EventLog::default(),
            token: new_token(),
            world_json: state.join("world.json"),
        })
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Rewrites `world.json` from the running fakes (whole, or not at all: a reader never sees
    /// half a file).
    pub fn write_world_json(&self) -> Result<(), UpError> {
        let text = serde_json::to_string_pretty(&self.world.cloud.world_json())
            .unwrap_or_else(|_| "{}".into())
            + "\n";
        let tmp = self.world_json.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &self.world_json).map_err(io_err(&self.world_json))
    }

    /// Validates the steps in `text` (named `file` in diagnostics) and applies them in order.
    pub async fn apply(&self, file: &str, text: &str) -> Result<Value, ApplyError> {
        let mut session = self.session.lock().await;
        let loaded = scenarios::load_steps(file, text, &session.doc).map_err(|e| {
            ApplyError::Invalid(e.diagnostics().iter().map(ToString::to_string).collect())
        })?;
        if let Some((i, s)) = loaded.steps.iter().enumerate().find(|(_, s)| {
            matches!(
                s.action,
                scenarios::model::Action::Request(_) | scenarios::model::Action::Concurrently(_)
            )
        }) {
            return Err(ApplyError::Invalid(vec![format!(
                "{file}:{}:{}: steps[{i}]: a request is not a change: your own programs make the requests against `credsim up`, and `credsim ctl save` writes them as request steps",
                s.at.line, s.at.col
            )]));
        }
        let mut applied = Vec::new();
        for (written, step) in loaded.written.iter().zip(&loaded.steps) {
            let yaml = step_yaml(&written.value);
            match self.world.apply(&step.action).await {
                Ok(a) => {
                    let seq = self
                        .events
                        .change(&self.world, yaml, a.note.clone(), a.took_effect);
                    session.doc.steps.push(written.clone());
                    session.applied.push((seq, step.clone()));
                    applied.push(json!({"note": a.note, "tookEffect": a.took_effect}));
                    if let Err(e) = self.write_world_json() {
                        tracing::warn!("world.json: {}", credsim_world::error_chain(&e));
                    }
                }
                Err(e) => {
                    return Err(ApplyError::Failed {
                        error: format!(
                            "{file}:{}:{}: {}",
                            step.at.line,
                            step.at.col,
                            credsim_world::error_chain(&e)
                        ),
                        applied,
                    });
                }
            }
        }
        Ok(json!({
            "applied": applied,
            "warnings": loaded.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
    }

    /// The session so far as a scenario named `name`.
    pub async fn recording(&self, name: &str) -> record::Recording {
        self.events.collect(&self.world);
        let session = self.session.lock().await;
        record::record(&self.started, &self.events.all(), &session.applied, name)
    }

    /// The newest flows as the report's sequence diagram.
    pub fn diagram(&self) -> String {
        self.events.collect(&self.world);
        let all = self.events.all();
        let from = all.len().saturating_sub(DIAGRAM_EVENTS);
        let mut step = 0;
        let mut flow = Vec::new();
        for e in &all[from..] {
            if let Some(f) = arrow(e, &mut step) {
                flow.push(f);
            }
        }
        crate::report::sequence_svg(&LIVE_PARTICIPANTS, &flow)
    }

    fn authorized(&self, header: Option<&HeaderValue>) -> bool {
        let Some(given) = header
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
        else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), self.token.as_bytes())
    }
}

/// Why a change was not applied.
#[derive(Debug)]
pub enum ApplyError {
    /// The steps do not load: every diagnostic.
    Invalid(Vec<String>),
    /// A fake could not make a change; the ones before it were made.
    Failed { error: String, applied: Vec<Value> },
}

/// The participants of the live diagram, in its column order.
const LIVE_PARTICIPANTS: [&str; 6] = ["ctl", "clients", "cluster", "entra", "imds", "registry"];

/// One event as an arrow of the diagram; a change starts a new step.
fn arrow(e: &LiveEvent, step: &mut usize) -> Option<FlowEvent> {
    let to = match &e.happened {
        Happened::Change { .. } => {
            *step += 1;
            "clients"
        }
        Happened::Entra(_) => "entra",
        Happened::Imds(_) => "imds",
        Happened::Acr(_) => "registry",
        Happened::Cluster(_) => "cluster",
        Happened::Egress(_) => return None,
    };
    let from = if matches!(e.happened, Happened::Change { .. }) {
        "ctl"
    } else {
        "clients"
    };
    let mut label = e.summary();
    if label.chars().count() > 90 {
        label = label.chars().take(89).collect::<String>() + "…";
    }
    Some(FlowEvent {
        step: *step,
        from,
        to,
        label,
        ok: e.ok(),
    })
}

/// The step as one line of YAML, for the event log.
fn step_yaml(step: &scenarios::v1alpha1::Step) -> String {
    // JSON is YAML's flow style: one line.
    serde_json::to_string(step).unwrap_or_else(|_| "a step".into())
}

/// 32 random bytes, hex.
fn new_token() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves the control endpoint on `listener`, and follows the journals, until aborted.
pub(super) fn serve(
    live: Arc<Live>,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    let collector = live.clone();
    tokio::spawn(async move {
        let collect = async {
            loop {
                collector.events.collect(&collector.world);
                tokio::time::sleep(COLLECT_EVERY).await;
            }
        };
        let app = Router::new()
            .route("/v1/apply", post(apply))
            .route("/v1/events", get(events))
            .route("/v1/world", get(world))
            .route("/v1/diagram", get(diagram))
            .route("/v1/scenario", get(scenario))
            .layer(middleware::from_fn_with_state(live.clone(), auth))
            .route("/console", get(console))
            .layer(middleware::map_response(no_store))
            .with_state(live);
        tokio::select! {
            _ = collect => {}
            r = axum::serve(listener, app) => {
                if let Err(e) = r {
                    tracing::warn!("control endpoint: {e}");
                }
            }
        }
    })
}

/// Nothing the endpoint answers is cached or sniffed as another type.
async fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A JSON answer of the control endpoint: `{"error": ...}` (or `{"errors": [...]}` for steps
/// that do not validate) with its status.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn auth(State(live): State<Arc<Live>>, req: Request, next: Next) -> Response {
    if live.authorized(req.headers().get(header::AUTHORIZATION)) {
        return next.run(req).await;
    }
    let mut resp = answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": "credsim up's control endpoint needs the bearer token in the state directory's control-token"}),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"credsim ctl\""),
    );
    resp
}

#[derive(Deserialize)]
struct ApplyQuery {
    file: Option<String>,
}

async fn apply(
    State(live): State<Arc<Live>>,
    Query(q): Query<ApplyQuery>,
    body: Bytes,
) -> Response {
    let file = q.file.unwrap_or_else(|| "-".into());
    let Ok(text) = std::str::from_utf8(&body) else {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": [format!("{file}:1:1: the steps are not UTF-8")]}),
        );
    };
    match live.apply(&file, text).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(ApplyError::Invalid(errors)) => {
            answer(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors}))
        }
        Err(ApplyError::Failed { error, applied }) => answer(
            StatusCode::CONFLICT,
            json!({"error": error, "applied": applied}),
        ),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    since: usize,
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    format: Option<String>,
}

async fn events(State(live): State<Arc<Live>>, Query(q): Query<EventsQuery>) -> Response {
    let human = match q.format.as_deref() {
        None | Some("json") => false,
        Some("human") => true,
        Some(other) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("unknown format `{other}`: human or json")}),
            );
        }
    };
    live.events.collect(&live.world);
    if !q.follow {
        let (events, next) = live.events.since(q.since);
        if human {
            return text(lines(&live, &events, true), "text/plain; charset=utf-8");
        }
        let events: Vec<Value> = events.iter().map(|e| e.to_json(&live.world)).collect();
        return axum::Json(json!({"events": events, "next": next})).into_response();
    }
    let stream = futures::stream::unfold((live, q.since), move |(live, from)| async move {
        loop {
            let (events, next) = live.events.since(from);
            if !events.is_empty() {
                let chunk = lines(&live, &events, human);
                return Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                    (live, next),
                ));
            }
            live.events.wait_past(next, Duration::from_secs(60)).await;
        }
    });
    let content_type = if human {
        "text/plain; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn lines(live: &Live, events: &[LiveEvent], human: bool) -> String {
    let mut out = String::new();
    for e in events {
        if human {
            out.push_str(&e.human(&live.world));
        } else {
            out.push_str(&e.to_json(&live.world).to_string());
        }
        out.push('\n');
    }
    out
}

fn text(body: String, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

async fn world(State(live): State<Arc<Live>>) -> Response {
    axum::Json(live.world.cloud.world_json()).into_response()
}

async fn diagram(State(live): State<Arc<Live>>) -> Response {
    text(live.diagram(), "image/svg+xml")
}

#[derive(Deserialize)]
struct ScenarioQuery {
    name: Option<String>,
}

async fn scenario(State(live): State<Arc<Live>>, Query(q): Query<ScenarioQuery>) -> Response {
    let name = q
        .name
        .unwrap_or_else(|| format!("{}-session", live.started.name));
    let recording = live.recording(&name).await;
    match scenarios::render::to_yaml(&recording.scenario) {
        Ok(yaml) => {
            let mut head =
                String::from("# Recorded by `credsim ctl save` from a `credsim up` session.\n");
            if recording.left_out > 0 {
                head.push_str(&format!(
                    "# {} registry request(s) left out: no shard's project stood for the principal (a client secret or IMDS).\n",
                    recording.left_out
                ));
            }
            let mut resp = text(head + &yaml, "application/yaml");
            resp.headers_mut().insert(
                "x-credsim-left-out",
                HeaderValue::from(recording.left_out as u64),
            );
            resp
        }
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("rendering the scenario failed: {e}")}),
        ),
    }
}

async fn console() -> Response {
    let mut resp = text(
        include_str!("console.html").to_owned(),
        "text/html; charset=utf-8",
    );
    // The page runs only its own inline script and talks only to this endpoint.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data: blob:",
        ),
    );
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
