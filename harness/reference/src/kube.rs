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

impl Kube {
    pub(crate) fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let path = env.get("KUBECONFIG").ok_or("no KUBECONFIG")?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        let config: Value = serde_saphyr::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let server = config["clusters"][0]["cluster"]["server"]
            .as_str()
            .ok_or("the kubeconfig names no server")?
            .trim_end_matches('/')
            .to_owned();
        let token = config["users"][0]["user"]["token"]
            .as_str()
            .ok_or("the kubeconfig has no token")?
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
