//! `credsim ctl`: changes a running `credsim up` world with the scenario format's steps, streams
//! its events, and saves the session as a scenario, through the control endpoint the state
//! directory names (`control.json`), with its token (`control-token`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

// The variant's doc comment in main.rs is the subcommand's help.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state directory of the `credsim up` to control (default: $CREDSIM_STATE_DIR, which
    /// env.sh sets).
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Ctl,
}

#[derive(Debug, clap::Subcommand)]
pub enum Ctl {
    /// Apply steps (YAML: a list of the scenario format's steps, or a mapping with `steps:`) from
    /// FILE, or from stdin with `-`; validated first, with file:line:col errors.
    Apply {
        /// The steps file, or `-` for stdin.
        file: PathBuf,
    },
    /// Move the world's clock forward (a duration: 90s, 10m, 3h, 1d).
    Advance {
        /// How far.
        by: String,
    },
    /// Switch one of the world's faults on or off.
    Fault {
        /// The fault's name (world.faults[].name).
        name: String,
        /// Switch it on.
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        /// Switch it off.
        #[arg(long)]
        off: bool,
    },
    /// Print the events so far: token requests, exchanges and grants, TokenRequests, refused
    /// egress, changes; secrets only as kind and fingerprint.
    Events {
        /// Keep printing events as they happen, until interrupted.
        #[arg(long)]
        follow: bool,
        /// human or json (one JSON object per line).
        #[arg(long, default_value = "human")]
        format: String,
        /// Start at this event number.
        #[arg(long, default_value_t = 0)]
        since: usize,
    },
    /// Write the session so far as a scenario file (the world as it started, the changes
    /// applied, and the requests seen as request steps with their outcomes).
    Save {
        /// Where to write it (`-`: stdout).
        file: PathBuf,
        /// The scenario's name (default: the world's name with `-session`).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Why a `credsim ctl` command could not do its job.
#[derive(Debug, thiserror::Error)]
enum CtlError {
    #[error(
        "no state directory: pass --state-dir or set CREDSIM_STATE_DIR (source the env.sh of a running credsim up)"
    )]
    NoStateDir,
    #[error("{path}: cannot read it (is credsim up running with this state directory?)")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not the control endpoint's description")]
    BadState(PathBuf),
    #[error("the control endpoint at {url} cannot be reached (has credsim up stopped?)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the control endpoint refused the token (401): {0}")]
    Unauthorized(String),
    #[error("the control endpoint answered {status}: {body}")]
    Answer { status: u16, body: String },
    #[error("{path}: cannot {what} it")]
    File {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

struct Control {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Control {
    fn open(state_dir: Option<&Path>) -> Result<Self, CtlError> {
        let dir = match state_dir {
            Some(d) => d.to_path_buf(),
            None => std::env::var_os("CREDSIM_STATE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or(CtlError::NoStateDir)?,
        };
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| CtlError::State { path, source })
        };
        let info: Value = serde_json::from_str(&read("control.json")?)
            .map_err(|_| CtlError::BadState(dir.join("control.json")))?;
        let url = info["url"]
            .as_str()
            .ok_or_else(|| CtlError::BadState(dir.join("control.json")))?
            .trim_end_matches('/')
            .to_owned();
        let token = std::env::var("CREDSIM_CONTROL_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map_or_else(|| read("control-token"), Ok)?
            .trim()
            .to_owned();
        // Straight to loopback: env.sh's proxy variables point at the front door, not here.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|source| CtlError::Unreachable {
                url: url.clone(),
                source,
            })?;
        Ok(Self { url, token, http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, CtlError> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| CtlError::Unreachable {
                url: self.url.clone(),
                source,
            })?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            let body = resp.text().await.unwrap_or_default();
            let msg = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(body);
            return Err(CtlError::Unauthorized(msg));
        }
        Ok(resp)
    }

    /// Sends steps; prints what each did. Exit 0: all took effect; 1: a fake refused one (as the
    /// real service would); 2: they do not validate, or a change failed.
    async fn apply(&self, file: &str, text: String) -> Result<ExitCode, CtlError> {
        let resp = self
            .send(
                self.http
                    .post(format!("{}/v1/apply", self.url))
                    .query(&[("file", file)])
                    .body(text),
            )
            .await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let print_applied = |v: &Value| -> bool {
            let mut all = true;
            for a in v.as_array().into_iter().flatten() {
                let took = a["tookEffect"].as_bool().unwrap_or(false);
                all &= took;
                println!(
                    "{}{}",
                    if took { "" } else { "not applied: " },
                    a["note"].as_str().unwrap_or("")
                );
            }
            all
        };
        match status {
            200 => {
                for w in body["warnings"].as_array().into_iter().flatten() {
                    eprintln!("{}", w.as_str().unwrap_or(""));
                }
                Ok(if print_applied(&body["applied"]) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            422 => {
                for e in body["errors"].as_array().into_iter().flatten() {
                    eprintln!("{}", e.as_str().unwrap_or(""));
                }
                eprintln!("credsim ctl apply: nothing was applied");
                Ok(ExitCode::from(2))
            }
            409 => {
                print_applied(&body["applied"]);
                eprintln!(
                    "credsim ctl apply: {}",
                    body["error"].as_str().unwrap_or("")
                );
                Ok(ExitCode::from(2))
            }
            _ => Err(CtlError::Answer {
                status,
                body: body.to_string(),
            }),
        }
    }

    async fn events(&self, since: usize, follow: bool, format: &str) -> Result<ExitCode, CtlError> {
        if format != "human" && format != "json" {
            eprintln!("credsim ctl events: unknown --format `{format}`: human or json");
            return Ok(ExitCode::from(2));
        }
        let since = since.to_string();
        let mut query = vec![("since", since.as_str()), ("format", format)];
        if follow {
            query.push(("follow", "true"));
        }
        let mut resp = self
            .send(
                self.http
                    .get(format!("{}/v1/events", self.url))
                    .query(&query),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(CtlError::Answer {
                status: resp.status().as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        let mut stdout = std::io::stdout();
        if !follow && format == "json" {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            for e in body["events"].as_array().into_iter().flatten() {
                let _ = writeln!(stdout, "{e}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        while let Ok(Some(chunk)) = resp.chunk().await {
            if stdout
                .write_all(&chunk)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                break;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn save(&self, file: &Path, name: Option<&str>) -> Result<ExitCode, CtlError> {
        let mut req = self.http.get(format!("{}/v1/scenario", self.url));
        if let Some(n) = name {
            req = req.query(&[("name", n)]);
        }
        let resp = self.send(req).await?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            return Err(CtlError::Answer { status, body });
        }
        if file == Path::new("-") {
            print!("{body}");
        } else {
            std::fs::write(file, &body).map_err(|source| CtlError::File {
                path: file.to_path_buf(),
                what: "write",
                source,
            })?;
            eprintln!("credsim ctl save: wrote {}", file.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A YAML scalar in double quotes (for a value typed on the command line).
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

pub async fn main(args: Args) -> ExitCode {
    mock_kit::install_crypto_provider();
    let result = async {
        let control = Control::open(args.state_dir.as_deref())?;
        match args.command {
            Ctl::Apply { file } => {
                let (name, text) = if file == Path::new("-") {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|source| CtlError::File {
                            path: file.clone(),
                            what: "read",
                            source,
                        })?;
                    ("-".to_owned(), text)
                } else {
                    let text = std::fs::read_to_string(&file).map_err(|source| CtlError::File {
                        path: file.clone(),
                        what: "read",
                        source,
                    })?;
                    (file.display().to_string(), text)
                };
                control.apply(&name, text).await
            }
            // The same steps a file would hold, so they validate and record alike.
            Ctl::Advance { by } => {
                control
                    .apply("advance", format!("- advance: {}\n", yaml_string(&by)))
                    .await
            }
            Ctl::Fault { name, on, .. } => {
                control
                    .apply(
                        "fault",
                        format!("- fault: {{name: {}, active: {on}}}\n", yaml_string(&name)),
                    )
                    .await
            }
            Ctl::Events {
                follow,
                format,
                since,
            } => control.events(since, follow, &format).await,
            Ctl::Save { file, name } => control.save(&file, name.as_deref()).await,
        }
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credsim ctl: {:#}", anyhow::Error::from(e));
            ExitCode::from(2)
        }
    }
}
