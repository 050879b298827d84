//! Fault injection: make a fake misbehave on purpose.
//!
//! A [`FaultRule`] matches requests (by site, host, method, path prefix) and says what happens
//! instead of the fake's normal answer ([`FaultAction`]): a fixed status with body, added latency,
//! a dropped connection. A rule may apply to the next N matching requests only ("fail the next 3
//! token requests with 503"), after which it is spent. Rules are checked in the order they were
//! injected; the first live match wins. The front door consults [`Faults`] for every request, so
//! every fake gets fault injection without knowing about it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Identifies an injected rule, for removal and in evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaultId(pub u64);

/// Which requests a rule applies to. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultMatch {
    /// The site name (e.g. `mock-entra`).
    pub site: Option<String>,
    /// The exact host name the client asked for (case-insensitive).
    pub host: Option<String>,
    /// The HTTP method (case-insensitive).
    pub method: Option<String>,
    /// A prefix of the request path.
    pub path_prefix: Option<String>,
    /// Facts only the fake knows (`tenant`, `client`, `endpoint`, ...): every pair must be among
    /// the request's tags. The front door supplies none, so tagged rules are the fakes' own.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// A prefix of the client's label at the front door (`iut/` for the implementation under
    /// test), so a fault can model one client's network path and not another's. A request with no
    /// label (the fakes' own rules see none) never matches a rule that names one.
    #[serde(default)]
    pub client: Option<String>,
}

impl FaultMatch {
    fn matches(&self, req: &FaultRequest<'_>) -> bool {
        self.site.as_deref().is_none_or(|s| s == req.site)
            && self
                .host
                .as_deref()
                .is_none_or(|h| h.eq_ignore_ascii_case(req.host))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(req.method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| req.path.starts_with(p))
            && self
                .tags
                .iter()
                .all(|(k, v)| req.tags.iter().any(|(rk, rv)| rk == k && rv == v))
            && self
                .client
                .as_deref()
                .is_none_or(|c| req.client.is_some_and(|l| l.starts_with(c)))
    }
}

/// What happens to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultAction {
    /// Answer with this status, headers and body instead of the fake.
    Respond {
        status: u16,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
    },
    /// Wait this long, then let the fake answer normally.
    Delay {
        #[serde(with = "millis")]
        by: Duration,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Present a certificate the client must refuse on the next TLS connection through the
    /// front door's proxy (matched by host and client when the tunnel opens, before any
    /// request), then serve the connection normally if the client goes on anyway: what a
    /// man-in-the-middle with a forged certificate would see. Request-level matching skips it.
    BadCertificate { flaw: CertificateFlaw },
}

/// What is wrong with a certificate the front door presents on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateFlaw {
    /// Signed by a certificate authority the client was never told to trust.
    UntrustedIssuer,
    /// Signed by the run's CA, for another host name.
    WrongHost,
    /// Signed by the run's CA for the right names, and expired.
    Expired,
}

impl CertificateFlaw {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateFlaw::UntrustedIssuer => "untrusted-issuer",
            CertificateFlaw::WrongHost => "wrong-host",
            CertificateFlaw::Expired => "expired",
        }
    }

    /// What is wrong with it, for evidence: "a certificate {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            CertificateFlaw::UntrustedIssuer => "signed by an untrusted issuer",
            CertificateFlaw::WrongHost => "for another host",
            CertificateFlaw::Expired => "that had expired",
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// A match, an action, and how many more times it applies (`None`: until removed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub matches: FaultMatch,
    pub action: FaultAction,
    pub remaining: Option<u32>,
}

impl FaultRule {
    /// A rule matching every request of `site`.
    pub fn on_site(site: &str, action: FaultAction) -> Self {
        Self {
            matches: FaultMatch {
                site: Some(site.to_owned()),
                ..FaultMatch::default()
            },
            action,
            remaining: None,
        }
    }

    /// Restricts the rule to paths starting with `prefix`.
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        self.matches.path_prefix = Some(prefix.to_owned());
        self
    }

    /// Restricts the rule to `method`.
    pub fn method(mut self, method: &str) -> Self {
        self.matches.method = Some(method.to_owned());
        self
    }

    /// Restricts the rule to requests the fake tagged `key=value`.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.matches.tags.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Applies the rule to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

/// The request facts a rule is matched against.
#[derive(Clone, Copy, Debug)]
pub struct FaultRequest<'a> {
    pub site: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// What the fake knows about the request (`("tenant", "contoso")`); empty at the front door.
    pub tags: &'a [(&'a str, &'a str)],
    /// The client's label, where the front door knows it.
    pub client: Option<&'a str>,
}

/// A response extension a fake sets to have the listener close the connection instead of
/// answering (fault injection from inside a fake's router).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropConnection;

/// The set of live rules. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultsInner>>,
}

#[derive(Debug, Default)]
struct FaultsInner {
    next_id: u64,
    rules: Vec<(FaultId, FaultRule)>,
}

impl Faults {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `rule` after the existing ones.
    pub fn inject(&self, rule: FaultRule) -> FaultId {
        let mut inner = self.inner.lock().expect("faults lock");
        inner.next_id += 1;
        let id = FaultId(inner.next_id);
        inner.rules.push((id, rule));
        id
    }

    /// Removes a rule; false if it was not there (removed, or spent).
    pub fn remove(&self, id: FaultId) -> bool {
        let mut inner = self.inner.lock().expect("faults lock");
        let before = inner.rules.len();
        inner.rules.retain(|(i, _)| *i != id);
        inner.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.inner.lock().expect("faults lock").rules.clear();
    }

    /// The live rules.
    pub fn rules(&self) -> Vec<(FaultId, FaultRule)> {
        self.inner.lock().expect("faults lock").rules.clone()
    }

    /// For use inside a fake's handler: applies the first live rule matching `req`. A delay is
    /// waited out and yields `None` (answer normally); a fixed answer is returned; a dropped
    /// connection is a response carrying [`DropConnection`], which the listener turns into a
    /// closed connection.
    pub async fn answer(&self, req: &FaultRequest<'_>) -> Option<axum::response::Response> {
        let (id, action) = self.take(req)?;
        match action {
            FaultAction::Delay { by } => {
                tokio::time::sleep(by).await;
                None
            }
            // Never returned by `take`.
            FaultAction::BadCertificate { .. } => None,
            FaultAction::DropConnection => {
                let mut resp = axum::response::Response::new(axum::body::Body::empty());
                resp.extensions_mut().insert(DropConnection);
                resp.extensions_mut().insert(id);
                Some(resp)
            }
            FaultAction::Respond {
                status,
                headers,
                body,
            } => {
                let mut resp = axum::response::Response::new(axum::body::Body::from(body));
                *resp.status_mut() = http::StatusCode::from_u16(status)
                    .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (
                        http::HeaderName::try_from(k.as_str()),
                        http::HeaderValue::try_from(v.as_str()),
                    ) {
                        resp.headers_mut().insert(k, v);
                    }
                }
                Some(resp)
            }
        }
    }

    /// The action for `req`, if a live rule matches; counts the use and drops spent rules.
    /// Certificate rules are not request actions and never match here.
    pub fn take(&self, req: &FaultRequest<'_>) -> Option<(FaultId, FaultAction)> {
        self.take_where(req, |a| !matches!(a, FaultAction::BadCertificate { .. }))
    }

    /// The certificate flaw for a TLS connection opening to `req.host` (method `CONNECT`, no
    /// path), if a live certificate rule matches; counts the use.
    pub fn take_certificate(&self, req: &FaultRequest<'_>) -> Option<(FaultId, CertificateFlaw)> {
        match self.take_where(req, |a| matches!(a, FaultAction::BadCertificate { .. }))? {
            (id, FaultAction::BadCertificate { flaw }) => Some((id, flaw)),
            _ => None,
        }
    }

    fn take_where(
        &self,
        req: &FaultRequest<'_>,
        kind: impl Fn(&FaultAction) -> bool,
    ) -> Option<(FaultId, FaultAction)> {
        let mut inner = self.inner.lock().expect("faults lock");
        let at = inner
            .rules
            .iter()
            .position(|(_, r)| kind(&r.action) && r.matches.matches(req))?;
        let (id, rule) = &mut inner.rules[at];
        let found = (*id, rule.action.clone());
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.rules.remove(at);
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(site: &'a str, method: &'a str, path: &'a str) -> FaultRequest<'a> {
        FaultRequest {
            site,
            host: "login.microsoftonline.com",
            method,
            path,
            tags: &[("tenant", "contoso")],
            client: Some("iut/shard-a"),
        }
    }

    fn unavailable() -> FaultAction {
        FaultAction::Respond {
            status: 503,
            headers: vec![],
            body: "busy".into(),
        }
    }

    #[test]
    fn fail_the_next_n_requests_then_recover() {
        let faults = Faults::new();
        faults.inject(
            FaultRule::on_site("mock-entra", unavailable())
                .path_prefix("/contoso/oauth2/")
                .method("post")
                .times(2),
        );
        let token = req("mock-entra", "POST", "/contoso/oauth2/v2.0/token");
        // Other paths, methods and sites are untouched and do not use up the rule.
        assert!(
            faults
                .take(&req("mock-entra", "GET", "/contoso/oauth2/v2.0/token"))
                .is_none()
        );
        assert!(
            faults
                .take(&req("mock-entra", "POST", "/contoso/v2.0/.well-known/x"))
                .is_none()
        );
        assert!(
            faults
                .take(&req("mock-acr", "POST", "/contoso/oauth2/v2.0/token"))
                .is_none()
        );
        assert_eq!(faults.take(&token).map(|f| f.1), Some(unavailable()));
        assert_eq!(faults.take(&token).map(|f| f.1), Some(unavailable()));
        assert_eq!(faults.take(&token), None, "the rule is spent after two");
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn first_live_rule_wins_and_rules_can_be_removed() {
        let faults = Faults::new();
        let drop = faults.inject(FaultRule::on_site("s", FaultAction::DropConnection));
        let delay = faults.inject(FaultRule::on_site(
            "s",
            FaultAction::Delay {
                by: Duration::from_millis(5),
            },
        ));
        let r = req("s", "GET", "/");
        assert_eq!(faults.take(&r), Some((drop, FaultAction::DropConnection)));
        assert_eq!(faults.take(&r), Some((drop, FaultAction::DropConnection)));
        assert!(faults.remove(drop));
        assert!(!faults.remove(drop));
        assert_eq!(faults.take(&r).map(|f| f.0), Some(delay));
        faults.clear();
        assert_eq!(faults.take(&r), None);
    }

    #[test]
    fn tagged_rules_match_only_requests_with_those_tags() {
        let faults = Faults::new();
        faults
            .inject(FaultRule::on_site("s", FaultAction::DropConnection).tag("tenant", "contoso"));
        let other = FaultRequest {
            tags: &[("tenant", "fabrikam")],
            ..req("s", "GET", "/")
        };
        let untagged = FaultRequest {
            tags: &[],
            ..req("s", "GET", "/")
        };
        assert!(faults.take(&other).is_none());
        assert!(faults.take(&untagged).is_none());
        // A rule for one client's path.
        let faults = Faults::new();
        let mut rule = FaultRule::on_site("s", FaultAction::DropConnection);
        rule.matches.client = Some("iut/".into());
        faults.inject(rule);
        let probe = FaultRequest {
            client: Some("credsim-probe"),
            ..req("s", "GET", "/")
        };
        let unlabelled = FaultRequest {
            client: None,
            ..req("s", "GET", "/")
        };
        assert!(faults.take(&probe).is_none());
        assert!(faults.take(&unlabelled).is_none());
        assert!(faults.take(&req("s", "GET", "/")).is_some());
        assert!(faults.take(&req("s", "GET", "/")).is_some());
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rule = FaultRule::on_site("mock-acr", unavailable()).times(3);
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(serde_json::from_str::<FaultRule>(&json).unwrap(), rule);
        let delay: FaultAction = serde_json::from_str(r#"{"kind":"delay","by":250}"#).unwrap();
        assert_eq!(
            delay,
            FaultAction::Delay {
                by: Duration::from_millis(250)
            }
        );
    }
}
