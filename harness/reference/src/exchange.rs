//! The reference's exchanges with the cloud: Entra's federated exchange, ACR's exchange and
//! token endpoints, the pull check before a credential is handed out, the controller's own
//! identity where a fallback is configured.

use jiff::Timestamp;
use serde_json::Value;

use credsim::implementation::{Credential, RefusalKind};

use crate::flaw::Flaw;
use crate::reference::{NULL_GUID, Reference};
use crate::refusal::{Refusal, refuse};

impl Reference {
    /// Before handing a new credential out, checks that it lets the OCI client pull the
    /// repository it was asked about: an access token for `repository:<repo>:pull` and nothing
    /// else (least privilege), whose `access` claim must grant `pull`. A credential that cannot
    /// pull is a denial, not a credential.
    pub(crate) async fn verify_pull(
        &self,
        registry: &str,
        repository: &str,
        credential: &Credential,
    ) -> Result<(), Refusal> {
        let scope = if self.flaw == Some(Flaw::BroadRegistryScope) {
            format!("registry:catalog:* repository:{repository}:pull,push")
        } else {
            format!("repository:{repository}:pull")
        };
        let scheme = if self.flaw == Some(Flaw::PlainHttpPullCheck) {
            "http"
        } else {
            "https"
        };
        // As an OCI client does, ask the registry's challenge where its token endpoint is. Anyone
        // on the path can forge a challenge, so only a realm on the registry's own host (over
        // TLS) is followed; otherwise the registry's own endpoint is used.
        let own = format!("{scheme}://{registry}/oauth2/token");
        let realm = match self.challenge_realm(registry).await {
            Some(r)
                if self.flaw == Some(Flaw::FollowForeignRealm)
                    || r.strip_prefix("https://")
                        .and_then(|rest| rest.split('/').next())
                        .is_some_and(|host| host.eq_ignore_ascii_case(registry)) =>
            {
                if self.flaw == Some(Flaw::PlainHttpPullCheck) {
                    own
                } else {
                    r
                }
            }
            Some(r) => {
                self.log(format!(
                    "{registry}'s challenge names the realm {r}, not on the registry's host: ignored"
                ));
                own
            }
            None => own,
        };
        let (status, body) = self
            .post_form(
                &realm,
                &[
                    ("grant_type", "refresh_token"),
                    ("service", registry),
                    ("scope", scope.as_str()),
                    ("refresh_token", credential.password.as_str()),
                ],
                registry,
            )
            .await?;
        if failure_kind(status) == RefusalKind::Unavailable {
            return Err(refuse(
                RefusalKind::Unavailable,
                format!("{registry} answered {status}"),
            ));
        }
        let token = body["access_token"].as_str().unwrap_or_default();
        let pulls = mock_kit::jwt::decode_unverified(token)
            .ok()
            .and_then(|d| d.claims.get("access").cloned())
            .and_then(|a| a.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .any(|e| {
                e["name"] == repository
                    && e["actions"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "pull"))
            });
        if status != 200 || !pulls {
            return Err(refuse(
                RefusalKind::Denied,
                format!("{registry} grants this identity no pull on {repository} ({status})"),
            ));
        }
        Ok(())
    }

    pub(crate) fn fallback_on_denial(&self) -> bool {
        self.env
            .get("FALLBACK_TO_CONTROLLER_IDENTITY")
            .is_some_and(|v| v == "on-denial")
    }

    pub(crate) async fn controller_credential(
        &self,
        registry: &str,
    ) -> Result<Credential, Refusal> {
        let (Some(client_id), Some(tenant), Some(file)) = (
            self.env.get("AZURE_CLIENT_ID").cloned(),
            self.env.get("AZURE_TENANT_ID").cloned(),
            self.env.get("AZURE_FEDERATED_TOKEN_FILE").cloned(),
        ) else {
            return Err(refuse(
                RefusalKind::NotConfigured,
                "fallback is configured but the controller has no workload identity",
            ));
        };
        let assertion = std::fs::read_to_string(&file).map_err(|e| {
            refuse(
                RefusalKind::Internal,
                format!("reading the token file: {e}"),
            )
        })?;
        self.exchange(&tenant, &client_id, assertion.trim(), registry)
            .await
    }

    /// ServiceAccount token → Entra access token (ACR audience) → ACR refresh token.
    pub(crate) async fn exchange(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
        registry: &str,
    ) -> Result<Credential, Refusal> {
        let access_token = self.entra_token(tenant, client_id, assertion).await?;
        self.acr_refresh_token(tenant, &access_token, registry)
            .await
    }

    /// Entra's federated exchange: the ServiceAccount token as the client assertion of a
    /// client-credentials grant for ACR's audience; the access token.
    async fn entra_token(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
    ) -> Result<String, Refusal> {
        let authority = self
            .env
            .get("AZURE_AUTHORITY_HOST")
            .cloned()
            .unwrap_or_else(|| "https://login.microsoftonline.com/".into());
        let segment = if self.flaw == Some(Flaw::OrganizationsTenant) {
            "organizations"
        } else {
            tenant
        };
        let url = format!(
            "{}/{segment}/oauth2/v2.0/token",
            authority.trim_end_matches('/')
        );
        // The client-credentials grant with the ServiceAccount token as the client assertion.
        let grant = |scope| {
            [
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("scope", scope),
            ]
        };
        if self.flaw == Some(Flaw::ManagementToken) {
            // What it would use to find the registry's resource ID through ARM; the answer does
            // not matter to the flaw.
            let _ = self
                .post_form(
                    &url,
                    &grant("https://management.azure.com/.default"),
                    "Entra",
                )
                .await;
        }
        let (status, body) = self
            .post_form(
                &url,
                &grant("https://containerregistry.azure.net/.default"),
                "Entra",
            )
            .await?;
        if status != 200 {
            let kind = failure_kind(status);
            let desc = body["error_description"]
                .as_str()
                .unwrap_or("no description");
            let first_line = desc.lines().next().unwrap_or(desc);
            return Err(refuse(
                kind,
                format!("Entra answered {status}: {first_line}"),
            ));
        }
        let access_token = body["access_token"]
            .as_str()
            .ok_or_else(|| refuse(RefusalKind::Internal, "Entra's answer has no access_token"))?
            .to_owned();
        if self.flaw == Some(Flaw::LogToken) {
            self.log(format!(
                "debug: Entra answered with access token {access_token}"
            ));
        }
        Ok(access_token)
    }

    /// ACR's exchange of the Entra token for a refresh token, handed out with the null GUID as
    /// its username and the token's expiry.
    async fn acr_refresh_token(
        &self,
        tenant: &str,
        access_token: &str,
        registry: &str,
    ) -> Result<Credential, Refusal> {
        // ACR wants the tenant's ID: take it from the token (`tid`), whatever form the
        // configuration used (a domain name works in Entra's path, not in the exchange).
        let tid = mock_kit::jwt::decode_unverified(access_token)
            .ok()
            .and_then(|d| d.claim_str("tid").map(str::to_owned))
            .unwrap_or_else(|| tenant.to_owned());
        let (status, body) = self
            .post_form(
                &format!("https://{registry}/oauth2/exchange"),
                &[
                    ("grant_type", "access_token"),
                    ("service", registry),
                    ("tenant", tid.as_str()),
                    ("access_token", access_token),
                ],
                registry,
            )
            .await?;
        if status != 200 {
            let kind = failure_kind(status);
            return Err(refuse(
                kind,
                format!("{registry} refused the exchange ({status})"),
            ));
        }
        let refresh = body["refresh_token"].as_str().ok_or_else(|| {
            refuse(
                RefusalKind::Internal,
                "the exchange answer has no refresh_token",
            )
        })?;
        let expires_at = mock_kit::jwt::decode_unverified(refresh)
            .ok()
            .and_then(|d| d.claim_i64("exp"))
            .and_then(|e| Timestamp::from_second(e).ok());
        Ok(Credential {
            username: NULL_GUID.into(),
            password: refresh.into(),
            expires_at,
        })
    }
}

impl Reference {
    /// POSTs a form to `url` (on `who`'s service): the status and the JSON body (`null` when the
    /// body is not JSON); an unreachable service is `unavailable`.
    /// The `realm` of the registry's `WWW-Authenticate: Bearer` challenge to an anonymous
    /// `GET /v2/`, if it answers with one.
    pub(crate) async fn challenge_realm(&self, registry: &str) -> Option<String> {
        let resp = self
            .http
            .get(format!("https://{registry}/v2/"))
            .send()
            .await
            .ok()?;
        let challenge = resp
            .headers()
            .get(http::header::WWW_AUTHENTICATE)?
            .to_str()
            .ok()?
            .to_owned();
        let params = challenge.strip_prefix("Bearer ")?;
        params.split(',').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == "realm").then(|| v.trim_matches('"').to_owned())
        })
    }

    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        who: &str,
    ) -> Result<(u16, Value), Refusal> {
        let resp = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| refuse(RefusalKind::Unavailable, format!("{who} unreachable: {e}")))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

/// How a failed answer is classified: throttling and server errors are `unavailable`, anything
/// else a refusal is `denied`.
pub(crate) fn failure_kind(status: u16) -> RefusalKind {
    if status == 429 || status >= 500 {
        RefusalKind::Unavailable
    } else {
        RefusalKind::Denied
    }
}
