//! The kubelet image credential provider protocol (`credentialprovider.kubelet.k8s.io/v1`),
//! harness side.
//!
//! Each request runs the provider with one `CredentialProviderRequest` on stdin: the image
//! (`<registry>/<repository>:latest`) and, when the scenario's controller configures
//! `tokenAttributes`, the project's pod ServiceAccount token for that audience with the
//! ServiceAccount's annotations (the required and optional keys only; a missing required key means
//! the kubelet never calls the provider: `not-configured`). The response's `auth` map is matched
//! against the image as the kubelet matches it: per host label glob (`*.azurecr.io`), optional
//! port, and a path prefix, the most specific key winning. No match is `anonymous`. Providers
//! cannot follow the virtual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::exec::{run_once, split_words};
use crate::implementation::{
    Answer, BoxFuture, Credential, CredentialRequest, Implementation, Launcher, Output,
    ProtocolError, RefusalKind, ShardContext, StderrTail,
};

/// The API version spoken.
pub const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// Starts the provider per request.
#[derive(Clone, Debug)]
pub struct KubeletProviderLauncher {
    pub command: String,
    pub timeout: Duration,
}

impl KubeletProviderLauncher {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Launcher for KubeletProviderLauncher {
    fn describe(&self) -> String {
        format!("{} (kubelet credential provider)", self.command)
    }

    fn launch<'a>(
        &'a self,
        shard: &'a ShardContext,
    ) -> BoxFuture<'a, Result<Box<dyn Implementation>, ProtocolError>> {
        Box::pin(async move {
            let words =
                split_words(&self.command).map_err(|e| ProtocolError::Other(e.to_string()))?;
            if words.is_empty() {
                return Err(ProtocolError::Other(
                    "the provider's command is empty".into(),
                ));
            }
            Ok(Box::new(Provider {
                words,
                shard: shard.clone(),
                timeout: self.timeout,
                output: Arc::new(Mutex::new(Output::default())),
            }) as Box<dyn Implementation>)
        })
    }
}

#[derive(Debug)]
struct Provider {
    words: Vec<String>,
    shard: ShardContext,
    timeout: Duration,
    output: Arc<Mutex<Output>>,
}

/// Whether an `auth` key matches an image, as the kubelet's `URLsMatchStr` decides: the same
/// number of host labels, each matched as a glob; the same port (or none); the key's path a
/// prefix of the image's, by segments. Returns the key's specificity (longer wins).
pub fn auth_key_matches(key: &str, image: &str) -> Option<usize> {
    let strip = |s: &str| {
        s.trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_owned()
    };
    let (key, image) = (strip(key), strip(image));
    let image = image.split(['@']).next().unwrap_or(&image).to_owned();
    let (k_host, k_path) = key.split_once('/').unwrap_or((&key, ""));
    let (i_host, i_path) = image.split_once('/').unwrap_or((&image, ""));
    // The image's tag is not part of its path.
    let i_path = match i_path.rsplit_once(':') {
        Some((p, tag)) if !tag.contains('/') => p,
        _ => i_path,
    };
    let (k_name, k_port) = k_host.split_once(':').unwrap_or((k_host, ""));
    let (i_name, i_port) = i_host.split_once(':').unwrap_or((i_host, ""));
    if k_port != i_port {
        return None;
    }
    let kl: Vec<&str> = k_name.split('.').collect();
    let il: Vec<&str> = i_name.split('.').collect();
    if kl.len() != il.len()
        || !kl
            .iter()
            .zip(&il)
            .all(|(k, i)| crate::glob::glob_match(&k.to_ascii_lowercase(), &i.to_ascii_lowercase()))
    {
        return None;
    }
    let ks: Vec<&str> = k_path.split('/').filter(|s| !s.is_empty()).collect();
    let is: Vec<&str> = i_path.split('/').filter(|s| !s.is_empty()).collect();
    if ks.len() > is.len() || ks.iter().zip(&is).any(|(a, b)| a != b) {
        return None;
    }
    Some(key.len())
}

impl Provider {
    async fn get_once(&self, req: &CredentialRequest) -> Result<Answer, ProtocolError> {
        let image = format!("{}/{}:latest", req.registry, req.repository);
        let mut request =
            json!({"apiVersion": API_VERSION, "kind": "CredentialProviderRequest", "image": image});
        if let Some(pt) = &self.shard.pod_tokens {
            let (token, annotations) = match (pt.mint)(&req.project).await {
                Ok(x) => x,
                Err(why) => {
                    return Ok(Answer::Refused {
                        kind: RefusalKind::NotConfigured,
                        message: format!(
                            "the kubelet has no pod ServiceAccount token: {}",
                            credsim_world::error_chain(&why)
                        ),
                    });
                }
            };
            if let Some(missing) = pt
                .required_annotation_keys
                .iter()
                .find(|k| !annotations.contains_key(*k))
            {
                return Ok(Answer::Refused {
                    kind: RefusalKind::NotConfigured,
                    message: format!(
                        "the pod ServiceAccount lacks the required annotation {missing}"
                    ),
                });
            }
            let passed: serde_json::Map<String, Value> = annotations
                .into_iter()
                .filter(|(k, _)| {
                    pt.required_annotation_keys.contains(k)
                        || pt.optional_annotation_keys.contains(k)
                })
                .map(|(k, v)| (k, Value::from(v)))
                .collect();
            request["serviceAccountToken"] = token.into();
            request["serviceAccountAnnotations"] = Value::Object(passed);
        }
        let out = run_once(
            &self.words,
            &[],
            &self.shard,
            request.to_string().as_bytes(),
            self.timeout,
            "CredentialProviderRequest",
        )
        .await?;
        let stderr_tail = StderrTail::of(&out.stderr);
        self.parse_provider_output(&image, out)
            .map_err(|e| e.with_stderr(stderr_tail))
    }

    /// What the program printed, as an answer.
    fn parse_provider_output(
        &self,
        image: &str,
        out: std::process::Output,
    ) -> Result<Answer, ProtocolError> {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        self.output
            .lock()
            .expect("provider output")
            .stderr
            .push_str(&stderr);
        if !out.status.success() {
            // What a failing provider printed is evidence too (the leak search reads it).
            self.output
                .lock()
                .expect("provider output")
                .stdout
                .push_str(&stdout);
            return Ok(Answer::Refused {
                kind: RefusalKind::Internal,
                message: format!(
                    "the provider exited with {}: {}",
                    out.status,
                    crate::implementation::what_it_said(&[&stderr, &stdout])
                ),
            });
        }
        let resp: Value = serde_json::from_str(stdout.trim()).map_err(|_| {
            self.output
                .lock()
                .expect("provider output")
                .stdout
                .push_str(&stdout);
            ProtocolError::Violation {
                reason: "the provider must print a CredentialProviderResponse".into(),
                line: "(stdout kept as evidence)".into(),
            }
        })?;
        if resp["kind"] != "CredentialProviderResponse" || resp["apiVersion"] != API_VERSION {
            return Err(ProtocolError::Violation {
                reason: format!(
                    "expected kind CredentialProviderResponse and apiVersion {API_VERSION}"
                ),
                line: format!("kind {} apiVersion {}", resp["kind"], resp["apiVersion"]),
            });
        }
        let best = resp["auth"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| auth_key_matches(k, image).map(|score| (score, v)))
            .max_by_key(|(score, _)| *score);
        match best {
            None => Ok(Answer::Anonymous),
            Some((_, v)) => match (v["username"].as_str(), v["password"].as_str()) {
                (Some(u), Some(p)) => Ok(Answer::Credential(Credential {
                    username: u.to_owned(),
                    password: p.to_owned(),
                    expires_at: None,
                })),
                _ => Err(ProtocolError::Violation {
                    reason: "an `auth` entry needs `username` and `password`".into(),
                    line: "(redacted)".into(),
                }),
            },
        }
    }
}

impl Implementation for Provider {
    fn identity(&self) -> String {
        format!("{} (kubelet credential provider)", self.words.join(" "))
    }

    fn get<'a>(
        &'a mut self,
        request: &'a CredentialRequest,
    ) -> BoxFuture<'a, Result<Answer, ProtocolError>> {
        Box::pin(async move { self.get_once(request).await })
    }

    fn set_clock(&mut self, _: Timestamp) -> BoxFuture<'_, Result<bool, ProtocolError>> {
        Box::pin(async { Ok(false) })
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Output> {
        let out = self.output.lock().expect("provider output").clone();
        Box::pin(async move { out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_keys_match_images_as_the_kubelet_does() {
        let img = "contosoacr.azurecr.io/project-a/app:1.0.0";
        assert!(auth_key_matches("*.azurecr.io", img).is_some());
        assert!(auth_key_matches("contosoacr.azurecr.io", img).is_some());
        assert!(auth_key_matches("contosoacr.azurecr.io/project-a", img).is_some());
        assert!(auth_key_matches("contosoacr.azurecr.io/project-b", img).is_none());
        assert!(
            auth_key_matches("*.azurecr.io", "attacker.example/contosoacr.azurecr.io/x:1")
                .is_none()
        );
        assert!(
            auth_key_matches("azurecr.io", img).is_none(),
            "label counts differ"
        );
        assert!(
            auth_key_matches("contosoacr.azurecr.io:5000", img).is_none(),
            "ports differ"
        );
        assert!(
            auth_key_matches("contosoacr.azurecr.io/project-a", img)
                > auth_key_matches("*.azurecr.io", img)
        );
    }
}
