//! Evidence from use: what a credential really unlocks.
//!
//! The harness never trusts what an implementation says about the credential it returned. It uses
//! the credential the way an OCI client does, against every repository of every registry of the
//! world: the `/v2/` challenge, the registry's token endpoint with HTTP Basic (the credential's
//! username and password; a Docker identity token, username `<token>`, as the OAuth2 refresh
//! token Docker sends) and the scope `repository:<repo>:pull,metadata_read`, then tag listing
//! and a manifest pull with the token it got. Everything goes through the front door, labelled
//! `credsim-probe`, so the probes are in the egress record like any other request.

use serde::Serialize;
use serde_json::Value;

use credsim_world::cloud::Cloud;

/// What a credential did at one repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryProbe {
    pub registry: String,
    pub repository: String,
    /// Status of the token request (0 when none was made).
    pub token_status: u16,
    /// Whether `tags/list` answered 200.
    pub listed: bool,
    /// Whether a manifest GET answered 200.
    pub pulled: bool,
}

impl RepositoryProbe {
    /// Whether the credential unlocked anything here.
    pub fn unlocked(&self) -> bool {
        self.listed || self.pulled
    }
}

/// Why probing could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probing {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{registry} answered /v2/ without a usable Bearer challenge")]
    Challenge { registry: String },
}

/// Docker's convention for a credential helper's answer (docker/cli's `tokenUsername`): the
/// username `<token>` marks the secret as an identity token, which the client does not send as
/// HTTP Basic but as an OAuth2 refresh token (`POST` to the realm, `grant_type=refresh_token`).
/// The probe uses such a credential the way Docker would.
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// Probes every repository of every registry of `cloud` with `username`/`password`.
pub async fn probe_credential(
    cloud: &Cloud,
    username: &str,
    password: &str,
) -> Result<Vec<RepositoryProbe>, ProbeError> {
    let Some(acr) = &cloud.acr else {
        return Ok(Vec::new());
    };
    let http = cloud.door.client(Some("credsim-probe"));
    let mut out = Vec::new();
    for registry in acr.registries() {
        let Some((login_server, _, repositories)) = acr.describe(&registry) else {
            continue;
        };
        let base = format!("https://{login_server}");
        let (realm, service) = challenge(&http, &base, &registry).await?;
        for repository in repositories {
            let mut probe = RepositoryProbe {
                registry: registry.clone(),
                repository: repository.clone(),
                token_status: 0,
                listed: false,
                pulled: false,
            };
            let scope = format!("repository:{repository}:pull,metadata_read");
            let token_request = if username == IDENTITY_TOKEN_USERNAME {
                http.post(&realm).form(&[
                    ("grant_type", "refresh_token"),
                    ("service", service.as_str()),
                    ("scope", scope.as_str()),
                    ("refresh_token", password),
                    ("client_id", "docker"),
                ])
            } else {
                http.get(&realm)
                    .query(&[("service", service.as_str()), ("scope", scope.as_str())])
                    .basic_auth(username, Some(password))
            };
            let resp = send(token_request, &realm).await?;
            probe.token_status = resp.status().as_u16();
            if resp.status().is_success() {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if let Some(token) = body["access_token"].as_str().or(body["token"].as_str()) {
                    let tags_url = format!("{base}/v2/{repository}/tags/list");
                    let tags = send(http.get(&tags_url).bearer_auth(token), &tags_url).await?;
                    probe.listed = tags.status().is_success();
                    let first_tag = if probe.listed {
                        let v: Value = tags.json().await.unwrap_or(Value::Null);
                        v["tags"][0].as_str().map(str::to_owned)
                    } else {
                        None
                    };
                    // A pull needs a reference even when listing is denied: use a tag the
                    // registry holds.
                    let reference = first_tag.or_else(|| first_tag_of(acr, &registry, &repository));
                    if let Some(reference) = reference {
                        let url = format!("{base}/v2/{repository}/manifests/{reference}");
                        let m = send(
                            http.get(&url).bearer_auth(token).header(
                                "accept",
                                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
                            ),
                            &url,
                        )
                        .await?;
                        probe.pulled = m.status().is_success();
                    }
                }
            }
            out.push(probe);
        }
    }
    Ok(out)
}

/// A tag of the repository, read from the fake itself (for probing pulls when listing is denied).
fn first_tag_of(acr: &mock_acr::MockAcr, registry: &str, repository: &str) -> Option<String> {
    acr.tags(registry, repository).into_iter().next()
}

async fn send(req: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response, ProbeError> {
    req.send().await.map_err(|source| ProbeError::Request {
        url: url.to_owned(),
        source,
    })
}

/// `realm` and `service` of the `/v2/` challenge.
async fn challenge(
    http: &reqwest::Client,
    base: &str,
    registry: &str,
) -> Result<(String, String), ProbeError> {
    let url = format!("{base}/v2/");
    let resp = send(http.get(&url), &url).await?;
    let header = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let params = header.strip_prefix("Bearer ").unwrap_or_default();
    let get = |name: &str| {
        params.split(',').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    match (get("realm"), get("service")) {
        (Some(r), Some(s)) => Ok((r, s)),
        _ => Err(ProbeError::Challenge {
            registry: registry.to_owned(),
        }),
    }
}
