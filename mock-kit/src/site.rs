//! Sites: a fake's router and the host names it answers for.
//!
//! The front door and the direct listeners route every request to the [`Site`] that owns the host
//! name the client asked for. Host names are matched case-insensitively; a wildcard pattern
//! (`*.azurecr.io`) matches exactly one more label, as TLS wildcards do, so `a.b.azurecr.io` and
//! `azurecr.io` are not matched by `*.azurecr.io`. An exact pattern beats a wildcard.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use serde::{Deserialize, Serialize};

/// A host name a site answers for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum HostPattern {
    /// Exactly this name (lower-case).
    Exact(String),
    /// `*.` followed by this suffix (lower-case, without the leading dot).
    Wildcard(String),
}

impl HostPattern {
    /// Parses `name` or `*.suffix`.
    pub fn parse(pattern: &str) -> Self {
        let p = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => HostPattern::Wildcard(suffix.to_owned()),
            None => HostPattern::Exact(p),
        }
    }

    /// Whether `host` (no port) is covered.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        match self {
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name),
            HostPattern::Wildcard(suffix) => {
                let host = host.to_ascii_lowercase();
                match host.split_once('.') {
                    Some((label, rest)) => !label.is_empty() && rest == suffix,
                    None => false,
                }
            }
        }
    }

    /// The name to put in a certificate for this pattern.
    pub fn cert_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(n) => f.write_str(n),
            HostPattern::Wildcard(s) => write!(f, "*.{s}"),
        }
    }
}

impl From<HostPattern> for String {
    fn from(p: HostPattern) -> String {
        p.to_string()
    }
}

impl From<String> for HostPattern {
    fn from(s: String) -> Self {
        HostPattern::parse(&s)
    }
}

impl From<&str> for HostPattern {
    fn from(s: &str) -> Self {
        HostPattern::parse(s)
    }
}

/// One fake as the network sees it.
#[derive(Clone)]
pub struct Site {
    /// Unique name, e.g. `mock-entra`; used in evidence and fault rules.
    pub name: String,
    /// The host names it answers for.
    pub hosts: Vec<HostPattern>,
    /// Whether it answers over TLS (`https://`).
    pub https: bool,
    /// Whether it answers plain `http://` (IMDS does; Entra does not).
    pub plain_http: bool,
    /// The fake itself.
    pub router: Router,
    /// The answer when the fake's handler panics: `500` in the service's own error shape. The fake
    /// also notes the failure in its journal here. Plain JSON unless the fake sets its own.
    pub internal_error: InternalErrorAnswer,
}

/// A fake's handler that panicked, as its [`Site::internal_error`] is told.
#[derive(Clone, Copy, Debug)]
pub struct InternalFailure<'a> {
    pub method: &'a str,
    /// The host the request was for.
    pub host: &'a str,
    /// The request's path (no query).
    pub path: &'a str,
    /// What failed, for the answer's message: names the site, the method and the path.
    pub message: &'a str,
}

/// How a site answers (and journals) a panic of its handler.
pub type InternalErrorAnswer =
    Arc<dyn Fn(&InternalFailure<'_>) -> axum::response::Response + Send + Sync>;

/// The default [`Site::internal_error`]: `500 {"error":"internal_error","message":...}`.
pub fn plain_internal_error(failure: &InternalFailure<'_>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": "internal_error", "message": failure.message})),
    )
        .into_response()
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .field("https", &self.https)
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

impl Site {
    /// An HTTPS-only site with no host names yet.
    pub fn new(name: impl Into<String>, router: Router) -> Self {
        Self {
            name: name.into(),
            hosts: Vec::new(),
            https: true,
            plain_http: false,
            router,
            internal_error: Arc::new(plain_internal_error),
        }
    }

    /// Answers a panic of the fake's handler with `answer` (the service's error shape); `answer`
    /// is where the fake records the failure in its own journal.
    pub fn internal_error(
        mut self,
        answer: impl Fn(&InternalFailure<'_>) -> axum::response::Response + Send + Sync + 'static,
    ) -> Self {
        self.internal_error = Arc::new(answer);
        self
    }

    /// Adds a host name or `*.` wildcard.
    pub fn host(mut self, pattern: impl Into<HostPattern>) -> Self {
        self.hosts.push(pattern.into());
        self
    }

    /// Serves plain `http://` only (like IMDS at `169.254.169.254`).
    pub fn plain_http_only(mut self) -> Self {
        self.https = false;
        self.plain_http = true;
        self
    }

    /// The pattern of this site that covers `host`, exact patterns first.
    pub fn pattern_for(&self, host: &str) -> Option<&HostPattern> {
        self.hosts
            .iter()
            .find(|p| matches!(p, HostPattern::Exact(_)) && p.matches(host))
            .or_else(|| self.hosts.iter().find(|p| p.matches(host)))
    }
}

/// Every site the network knows, looked up by host name. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct SiteTable {
    sites: Arc<RwLock<Vec<Arc<Site>>>>,
    /// Loopback ports of the sites' direct listeners, so `127.0.0.1:<port>` reached through the
    /// front door (a client given a direct URL and a proxy) finds its site too.
    direct_ports: Arc<RwLock<Vec<(u16, String)>>>,
}

/// Why a site could not be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SiteError {
    #[error("a site named {0:?} already exists")]
    DuplicateName(String),
    #[error("host {host} is already served by site {owner:?}")]
    HostTaken { host: String, owner: String },
    #[error("site {0:?} serves neither https nor plain http")]
    NoScheme(String),
}

impl SiteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `site`; refuses duplicate names and host patterns another site already has.
    pub fn add(&self, site: Site) -> Result<Arc<Site>, SiteError> {
        if !site.https && !site.plain_http {
            return Err(SiteError::NoScheme(site.name));
        }
        let mut sites = self.sites.write().expect("site table lock");
        if sites.iter().any(|s| s.name == site.name) {
            return Err(SiteError::DuplicateName(site.name));
        }
        for pattern in &site.hosts {
            if let Some(owner) = sites.iter().find(|s| s.hosts.contains(pattern)) {
                return Err(SiteError::HostTaken {
                    host: pattern.to_string(),
                    owner: owner.name.clone(),
                });
            }
        }
        let site = Arc::new(site);
        sites.push(site.clone());
        Ok(site)
    }

    /// Records that the site named `name` listens directly on loopback `port`.
    pub fn bind_direct(&self, port: u16, name: &str) {
        let mut ports = self.direct_ports.write().expect("site table lock");
        ports.retain(|(p, _)| *p != port);
        ports.push((port, name.to_owned()));
    }

    /// The site whose direct listener is on loopback `port`.
    pub fn lookup_direct(&self, port: u16) -> Option<Arc<Site>> {
        let name = {
            let ports = self.direct_ports.read().expect("site table lock");
            ports.iter().find(|(p, _)| *p == port)?.1.clone()
        };
        self.get(&name)
    }

    /// Removes the site named `name`; returns it.
    pub fn remove(&self, name: &str) -> Option<Arc<Site>> {
        self.direct_ports
            .write()
            .expect("site table lock")
            .retain(|(_, n)| n != name);
        let mut sites = self.sites.write().expect("site table lock");
        let at = sites.iter().position(|s| s.name == name)?;
        Some(sites.remove(at))
    }

    /// The site named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Site>> {
        let sites = self.sites.read().expect("site table lock");
        sites.iter().find(|s| s.name == name).cloned()
    }

    /// The site that owns `host`: an exact pattern anywhere beats any wildcard.
    pub fn lookup(&self, host: &str) -> Option<Arc<Site>> {
        let sites = self.sites.read().expect("site table lock");
        let exact = sites.iter().find(|s| {
            s.hosts
                .iter()
                .any(|p| matches!(p, HostPattern::Exact(_)) && p.matches(host))
        });
        exact
            .or_else(|| {
                sites
                    .iter()
                    .find(|s| s.hosts.iter().any(|p| p.matches(host)))
            })
            .cloned()
    }

    /// All sites, in the order they were added.
    pub fn all(&self) -> Vec<Arc<Site>> {
        self.sites.read().expect("site table lock").clone()
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The TCP peer.
    pub addr: SocketAddr,
    /// The user name of the proxy credentials the client presented (`http://shard-a@127.0.0.1:port`),
    /// which the harness uses to tell implementations apart.
    pub label: Option<String>,
}

/// How a request reached a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// Through the front door (forward proxy).
    FrontDoor,
    /// Straight to a site's own loopback listener.
    Direct,
    /// A connection made straight to an address, ignoring the proxy, that reached the front door
    /// because it was made inside a network namespace where every address leads there (the
    /// harness's sandbox): recognised by SNI or `Host`, recorded, and served or refused as the
    /// same request through the proxy would be.
    Intercepted,
}

/// The URL scheme a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The `user:password` text inside an HTTP Basic header value (`Basic dXNlcjpwYXNz`).
pub fn basic_credentials(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The user and password of a request's `Authorization: Basic` header, as sent (no unescaping).
pub fn basic_auth(headers: &http::HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let text = basic_credentials(value)?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// Inserted into every request's extensions before the site's router sees it, so a fake knows who
/// called, how, and under which host name (a registry fake needs its own name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub client: ClientInfo,
    pub via: Via,
    pub scheme: Scheme,
    /// The host the client asked for (lower-case, no port).
    pub host: String,
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_exactly_one_label() {
        let p = HostPattern::parse("*.AzureCR.io");
        assert_eq!(p, HostPattern::Wildcard("azurecr.io".into()));
        assert!(p.matches("myreg.azurecr.io"));
        assert!(p.matches("MyReg.AzureCR.io."));
        assert!(!p.matches("azurecr.io"));
        assert!(!p.matches(".azurecr.io"));
        assert!(!p.matches("a.b.azurecr.io"));
        assert!(!p.matches("myreg.azurecr.io.attacker.example"));
        assert!(!p.matches("attacker.example"));
        let e = HostPattern::parse("login.microsoftonline.com");
        assert!(e.matches("LOGIN.microsoftonline.com"));
        assert!(!e.matches("login.microsoftonline.com.attacker.example"));
        assert_eq!(p.to_string(), "*.azurecr.io");
    }

    #[test]
    fn table_routes_exact_before_wildcard_and_refuses_overlaps() {
        let table = SiteTable::new();
        table
            .add(Site::new("acr", Router::new()).host("*.azurecr.io"))
            .unwrap();
        table
            .add(Site::new("special", Router::new()).host("special.azurecr.io"))
            .unwrap();
        assert_eq!(table.lookup("myreg.azurecr.io").unwrap().name, "acr");
        assert_eq!(table.lookup("special.azurecr.io").unwrap().name, "special");
        assert!(table.lookup("example.com").is_none());
        assert_eq!(
            table
                .add(Site::new("acr", Router::new()).host("x.example"))
                .unwrap_err(),
            SiteError::DuplicateName("acr".into())
        );
        assert_eq!(
            table
                .add(Site::new("other", Router::new()).host("*.AZURECR.io"))
                .unwrap_err(),
            SiteError::HostTaken {
                host: "*.azurecr.io".into(),
                owner: "acr".into()
            }
        );
        assert_eq!(table.remove("special").unwrap().name, "special");
        assert_eq!(table.lookup("special.azurecr.io").unwrap().name, "acr");
        assert_eq!(table.all().len(), 1);
    }
}
