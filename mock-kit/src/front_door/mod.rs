//! The front door: how unmodified clients reach the fakes by their real host names.
//!
//! Real SDKs hard-code `login.microsoftonline.com`, `169.254.169.254` and `<name>.azurecr.io`, and
//! insist on HTTPS. The front door is an HTTP forward proxy on loopback that clients are pointed at
//! with `HTTPS_PROXY`/`HTTP_PROXY`:
//! - `CONNECT host:443`: the front door answers `200`, then terminates TLS itself with a certificate
//!   from the run's CA for that host, and hands each decrypted request to the site that owns the
//!   host. A host no site owns is intercepted the same way (so the record shows which secrets the
//!   client would have leaked to it) and answered `502` by the front door: nothing is forwarded.
//! - `GET http://169.254.169.254/...` (absolute form): plain-HTTP forwarding to a site that serves
//!   plain HTTP; a plain-HTTP request to an HTTPS-only site is a downgrade and is refused (`403`).
//!
//! Clients that never proxy loopback or IP destinations (kubectl, Go programs) use each site's own
//! direct loopback listener instead ([`FrontDoor::add_site`] starts it); it shares the request path
//! and the record. Every request on either path is appended to [`FrontDoor::egress`].
//!
//! A [`Gateway`] serves listeners bound elsewhere: the harness's sandbox binds the proxy's and the
//! sites' ports, and every address's `:443` and `:80`, inside an implementation's own network
//! namespace and hands them over ([`Gateway::adopt`]). A program there that ignores the proxy and
//! connects straight to `collector.example:443` reaches the front door, is told apart by its SNI,
//! and is served or refused (and recorded, [`crate::site::Via::Intercepted`]) as the same
//! request through a CONNECT tunnel would be, certificate faults included.
//!
//! A client can name itself by putting a user name in the proxy URL
//! (`http://shard-a@127.0.0.1:port`); the record carries it as the client label.
//!
//! Submodules (all private; their public items are re-exported here):
//! - `builder`: [`FrontDoorBuilder`], which binds the proxy port and starts its accept loop.
//! - `gateway`: [`Gateway`], [`Adopted`] and [`Adoption`]: listeners bound elsewhere.
//! - `listen`: what each listener serves (`Role`), the accept loop, and serving HTTP/1.1 and
//!   HTTP/2 on an accepted connection through the dispatcher, with a graceful end.
//! - `proxy`: one request on the proxy port: CONNECT, absolute-form forwarding, the status page.
//! - `intercept`: TLS the front door terminates for a host it stands in for (inside a CONNECT
//!   tunnel, or straight from a sandbox), and the record of a handshake that failed.
//! - `tls`: rustls server configurations and the names each listener's certificates carry,
//!   flawed certificates for fault injection included.

mod builder;
mod gateway;
mod intercept;
mod listen;
mod proxy;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ca::{CaError, CertificateAuthority};
use crate::clock::Clock;
use crate::dispatch::Dispatcher;
use crate::egress::EgressRecord;
use crate::fault::Faults;
use crate::journal::Journal;
use crate::secret::SecretRegistry;
use crate::site::{Scheme, Site, SiteError};

pub use builder::FrontDoorBuilder;
pub use gateway::{Adopted, Adoption, Gateway};

use listen::{Role, accept_loop};
use tls::{TunnelNames, server_config};

/// Why the front door or a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum FrontDoorError {
    #[error("binding {addr} failed")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("making the run's certificate authority failed")]
    Ca(#[from] CaError),
    #[error("configuring TLS failed")]
    Tls(#[from] rustls::Error),
    #[error("adding a site failed")]
    Site(#[from] SiteError),
}

/// The running front door and the direct listeners of its sites.
#[derive(Debug)]
pub struct FrontDoor {
    proxy_addr: SocketAddr,
    shared: Arc<Shared>,
    direct: Mutex<HashMap<String, DirectListener>>,
}

/// Where a site can be reached without the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteEndpoint {
    pub name: String,
    pub direct_addr: SocketAddr,
    /// `https://127.0.0.1:port` (or `http://` for plain-HTTP sites).
    pub direct_url: String,
}

impl FrontDoor {
    /// A builder with every default.
    pub fn builder() -> FrontDoorBuilder {
        FrontDoorBuilder::default()
    }

    /// The proxy's address.
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// `http://127.0.0.1:port`, for `HTTPS_PROXY`/`HTTP_PROXY`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy_addr)
    }

    /// The same, with a user name that the record will carry as the client label. A password
    /// (`credsim`, never checked) is included because some clients (Python `requests`) only send
    /// proxy credentials when both halves are present.
    pub fn proxy_url_for(&self, label: &str) -> String {
        let user: String =
            percent_encoding::utf8_percent_encode(label, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!("http://{user}:credsim@{}", self.proxy_addr)
    }

    /// The standard variables that point an unmodified client at the front door and make it trust
    /// only the run's CA (written as PEM at `ca_file`): the proxy variables in both cases, an empty
    /// `NO_PROXY`, and `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`,
    /// `NODE_EXTRA_CA_CERTS`. With `label`, the proxy URL names the client (see
    /// [`FrontDoor::proxy_url_for`]).
    pub fn client_env(
        &self,
        label: Option<&str>,
        ca_file: &std::path::Path,
    ) -> Vec<(String, String)> {
        let proxy = match label {
            Some(l) => self.proxy_url_for(l),
            None => self.proxy_url(),
        };
        let ca = ca_file.display().to_string();
        [
            ("HTTPS_PROXY", proxy.as_str()),
            ("HTTP_PROXY", proxy.as_str()),
            ("https_proxy", proxy.as_str()),
            ("http_proxy", proxy.as_str()),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("SSL_CERT_FILE", ca.as_str()),
            ("REQUESTS_CA_BUNDLE", ca.as_str()),
            ("CURL_CA_BUNDLE", ca.as_str()),
            ("NODE_EXTRA_CA_CERTS", ca.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// A `reqwest` client that trusts only the run's CA and sends everything through this front
    /// door, naming itself `label` when given (see [`FrontDoor::proxy_url_for`]).
    pub fn client(&self, label: Option<&str>) -> reqwest::Client {
        let proxy = match label {
            Some(l) => self.proxy_url_for(l),
            None => self.proxy_url(),
        };
        self.base_client()
            .proxy(reqwest::Proxy::all(proxy).expect("the proxy URL parses"))
            .build()
            .expect("the client builds")
    }

    /// A `reqwest` client that trusts only the run's CA and goes straight to loopback listeners.
    pub fn direct_client(&self) -> reqwest::Client {
        self.base_client()
            .no_proxy()
            .build()
            .expect("the client builds")
    }

    /// The run's CA.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.shared.ca
    }

    /// The record of every request.
    pub fn egress(&self) -> &Journal<EgressRecord> {
        &self.shared.dispatcher.egress
    }

    /// The fault rules every request is checked against.
    pub fn faults(&self) -> &Faults {
        &self.shared.dispatcher.faults
    }

    /// The run's clock.
    pub fn clock(&self) -> &Clock {
        &self.shared.dispatcher.clock
    }

    /// The run's secret registry.
    pub fn secrets(&self) -> &SecretRegistry {
        &self.shared.dispatcher.secrets
    }

    /// Every site.
    pub fn sites(&self) -> Vec<Arc<Site>> {
        self.shared.dispatcher.sites.all()
    }

    /// Adds a site: the front door routes its host names to it from now on, and its own loopback
    /// listener starts (TLS with a certificate for its names, `localhost` and `127.0.0.1`; plain
    /// HTTP for plain-HTTP-only sites).
    pub async fn add_site(&self, site: Site) -> Result<SiteEndpoint, FrontDoorError> {
        let site = self.shared.dispatcher.sites.add(site)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                self.shared.dispatcher.sites.remove(&site.name);
                return Err(FrontDoorError::Bind { addr, source });
            }
        };
        let direct_addr = listener
            .local_addr()
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let scheme = if site.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let role = Role::for_site(&self.shared.ca, site.clone())?;
        let (shared, cancel) = self.shared.child();
        self.shared
            .tracker
            .spawn(async move { accept_loop(listener, shared, role, None).await });
        self.shared
            .dispatcher
            .sites
            .bind_direct(direct_addr.port(), &site.name);
        self.direct.lock().expect("direct listeners").insert(
            site.name.clone(),
            DirectListener {
                addr: direct_addr,
                scheme,
                cancel,
            },
        );
        Ok(SiteEndpoint {
            name: site.name.clone(),
            direct_addr,
            direct_url: format!("{}://{direct_addr}", scheme.as_str()),
        })
    }

    /// Starts an HTTPS listener on `addr` that serves every site, routed by SNI and `Host`, with
    /// certificates from the run's CA. For clients that cannot use a proxy but can be pointed at an
    /// address for a host name (`curl --resolve`, a hosts entry, a network namespace where this
    /// listens on the real address). Returns the bound address.
    pub async fn listen_tls(&self, addr: SocketAddr) -> Result<SocketAddr, FrontDoorError> {
        let names = TunnelNames {
            sites: self.shared.dispatcher.sites.clone(),
            target: "127.0.0.1".into(),
        };
        let role = Role::DirectTls {
            site: None,
            acceptor: TlsAcceptor::from(server_config(&self.shared.ca, names)?),
        };
        self.listen_shared(addr, role).await
    }

    /// Starts a plain-HTTP listener on `addr` that serves every site that speaks plain HTTP,
    /// routed by `Host` (IMDS on `169.254.169.254:80` inside a network namespace). Returns the
    /// bound address.
    pub async fn listen_http(&self, addr: SocketAddr) -> Result<SocketAddr, FrontDoorError> {
        self.listen_shared(addr, Role::DirectPlain { site: None })
            .await
    }

    /// Removes a site: its host names become unknown and its direct listener stops.
    pub fn remove_site(&self, name: &str) -> bool {
        let removed = self.shared.dispatcher.sites.remove(name).is_some();
        if let Some(direct) = self.direct.lock().expect("direct listeners").remove(name) {
            direct.cancel.cancel();
        }
        removed
    }

    /// Where the site named `name` listens directly.
    pub fn endpoint(&self, name: &str) -> Option<SiteEndpoint> {
        let direct = self.direct.lock().expect("direct listeners");
        direct.get(name).map(|d| SiteEndpoint {
            name: name.to_owned(),
            direct_addr: d.addr,
            direct_url: format!("{}://{}", d.scheme.as_str(), d.addr),
        })
    }

    /// Stops accepting, lets in-flight requests finish (at most a few seconds), closes everything.
    /// When it returns, nothing listens any more.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), self.shared.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("front door connections did not finish within 5 s of shutdown");
        }
    }

    fn base_client(&self) -> reqwest::ClientBuilder {
        crate::install_crypto_provider();
        let ca = reqwest::Certificate::from_pem(self.shared.ca.cert_pem().as_bytes())
            .expect("the run's CA is PEM");
        reqwest::Client::builder().tls_certs_only([ca])
    }

    /// Binds `addr` and serves `role` there until the front door shuts down.
    async fn listen_shared(
        &self,
        addr: SocketAddr,
        role: Role,
    ) -> Result<SocketAddr, FrontDoorError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let shared = self.shared.clone();
        self.shared
            .tracker
            .spawn(async move { accept_loop(listener, shared, role, None).await });
        Ok(bound)
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

/// What every listener of one front door shares: the CA, the request path, and the token and
/// tracker that end them all.
#[derive(Debug)]
struct Shared {
    ca: CertificateAuthority,
    /// A CA no client trusts, made on first use, for certificate fault injection.
    rogue_ca: Arc<std::sync::OnceLock<CertificateAuthority>>,
    dispatcher: Dispatcher,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Shared {
    /// The same state for listeners that stop on their own token (a child of this one's), which
    /// is returned too.
    fn child(&self) -> (Arc<Shared>, CancellationToken) {
        let cancel = self.cancel.child_token();
        let shared = Arc::new(Shared {
            ca: self.ca.clone(),
            rogue_ca: self.rogue_ca.clone(),
            dispatcher: self.dispatcher.clone(),
            cancel: cancel.clone(),
            tracker: self.tracker.clone(),
        });
        (shared, cancel)
    }
}

/// A site's own loopback listener, stopped by its token when the site is removed.
#[derive(Debug)]
struct DirectListener {
    addr: SocketAddr,
    scheme: Scheme,
    cancel: CancellationToken,
}
