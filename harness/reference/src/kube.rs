//! The reference's Kubernetes client: ServiceAccounts read and TokenRequests made with the
//! controller's own kubeconfig.

use std::collections::HashMap;

use serde_json::{Value, json};

use credsim::implementation::RefusalKind;

use crate::refusal::{Refusal, refuse};

/// The shard's API server, from its kubeconfig.
pub(crate) struct Kube {
    server: String,
    token: String,
}

/// Why the controller's kubeconfig is of no use. The message is a refusal's (`internal`), so it
/// carries its cause in the text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeconfigError {
    #[error("no KUBECONFIG")]
    Unset,
    #[error("reading {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: {error}")]
    Decode {
        path: String,
        error: Box<serde_saphyr::Error>,
    },
    #[error("the kubeconfig names no server")]
    NoServer,
    #[error("the kubeconfig has no token")]
    NoToken,
}

impl Kube {
    pub(crate) fn from_env(env: &HashMap<String, String>) -> Result<Self, KubeconfigError> {
        let path = env.get("KUBECONFIG").ok_or(KubeconfigError::Unset)?;
        let text = std::fs::read_to_string(path).map_err(|error| KubeconfigError::Read {
            path: path.clone(),
            error,
        })?;
        let config: Value =
            serde_saphyr::from_str(&text).map_err(|error| KubeconfigError::Decode {
                path: path.clone(),
                error: Box::new(error),
            })?;
        let server = config["clusters"][0]["cluster"]["server"]
            .as_str()
            .ok_or(KubeconfigError::NoServer)?
            .trim_end_matches('/')
            .to_owned();
        let token = config["users"][0]["user"]["token"]
            .as_str()
            .ok_or(KubeconfigError::NoToken)?
            .to_owned();
        Ok(Self { server, token })
    }

    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        path: &str,
    ) -> Result<Option<Value>, Refusal> {
        let resp = http
            .get(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| {
                refuse(
                    RefusalKind::Unavailable,
                    format!("the API server is unreachable: {e}"),
                )
            })?;
        match resp.status().as_u16() {
            200 => Ok(resp.json().await.ok()),
            404 => Ok(None),
            s => Err(refuse(
                RefusalKind::Internal,
                format!("the API server answered {s} to GET {path}"),
            )),
        }
    }

    pub(crate) async fn token_request(
        &self,
        http: &reqwest::Client,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        seconds: u32,
    ) -> Result<String, Refusal> {
        let path =
            format!("/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token");
        let resp = http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .json(
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": seconds}}),
            )
            .send()
            .await
            .map_err(|e| {
                refuse(
                    RefusalKind::Unavailable,
                    format!("the API server is unreachable: {e}"),
                )
            })?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status != 201 && status != 200 {
            // The cluster's RBAC refusing the controller is a denial like the cloud's.
            let kind = if status == 403 {
                RefusalKind::Denied
            } else {
                RefusalKind::Internal
            };
            return Err(refuse(
                kind,
                format!(
                    "TokenRequest for {namespace}/{service_account} answered {status}: {}",
                    body["message"].as_str().unwrap_or("")
                ),
            ));
        }
        body["status"]["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                refuse(
                    RefusalKind::Internal,
                    "the TokenRequest answer has no token",
                )
            })
    }
}
