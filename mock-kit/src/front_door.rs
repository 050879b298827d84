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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use jiff::Timestamp;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ca::{CaError, CertNames, CertResolver, CertificateAuthority};
use crate::clock::Clock;
use crate::dispatch::{ConnInfo, Dispatcher};
use crate::egress::{EgressRecord, Outcome, Refusal};
use crate::fault::Faults;
use crate::journal::Journal;
use crate::secret::SecretRegistry;
use crate::site::{
    ClientInfo, HostPattern, Scheme, Site, SiteError, SiteTable, Via, basic_credentials,
};

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

/// Configures and starts a [`FrontDoor`].
#[derive(Debug, Default)]
pub struct FrontDoorBuilder {
    listen: Option<SocketAddr>,
    ca: Option<CertificateAuthority>,
    clock: Option<Clock>,
    secrets: Option<SecretRegistry>,
    faults: Option<Faults>,
    egress_capacity: Option<usize>,
}

impl FrontDoorBuilder {
    /// Keeps at most `n` egress records, dropping the oldest (for long-running mock clouds);
    /// default unbounded, so a run's evidence is complete.
    pub fn egress_capacity(mut self, n: usize) -> Self {
        self.egress_capacity = Some(n);
        self
    }

    /// The proxy's address; default `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// The run's CA; default a fresh one.
    pub fn ca(mut self, ca: CertificateAuthority) -> Self {
        self.ca = Some(ca);
        self
    }

    /// The run's clock (timestamps in the record); default [`Clock::system`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The run's secret registry (scanned in every request); default an empty one.
    pub fn secrets(mut self, secrets: SecretRegistry) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The run's fault rules; default none.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Binds the proxy and starts accepting.
    pub async fn start(self) -> Result<FrontDoor, FrontDoorError> {
        crate::install_crypto_provider();
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let ca = match self.ca {
            Some(ca) => ca,
            None => CertificateAuthority::new("front door")?,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let proxy_addr = listener
            .local_addr()
            .map_err(|source| FrontDoorError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            ca,
            rogue_ca: Arc::default(),
            dispatcher: Dispatcher {
                sites: SiteTable::new(),
                faults: self.faults.unwrap_or_default(),
                egress: match self.egress_capacity {
                    Some(n) => Journal::bounded(n),
                    None => Journal::new(),
                },
                secrets: self.secrets.unwrap_or_default(),
                clock: self.clock.unwrap_or_else(Clock::system),
            },
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let task = shared.clone();
        shared
            .tracker
            .spawn(async move { accept_loop(listener, task, Role::Proxy, None).await });
        Ok(FrontDoor {
            proxy_addr,
            shared,
            direct: Mutex::new(HashMap::new()),
        })
    }
}

/// The running front door and the direct listeners of its sites.
#[derive(Debug)]
pub struct FrontDoor {
    proxy_addr: SocketAddr,
    shared: Arc<Shared>,
    direct: Mutex<HashMap<String, DirectListener>>,
}

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

#[derive(Debug)]
struct DirectListener {
    addr: SocketAddr,
    scheme: Scheme,
    cancel: CancellationToken,
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

    fn base_client(&self) -> reqwest::ClientBuilder {
        crate::install_crypto_provider();
        let ca = reqwest::Certificate::from_pem(self.shared.ca.cert_pem().as_bytes())
            .expect("the run's CA is PEM");
        reqwest::Client::builder().tls_certs_only([ca])
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
        let role = match scheme {
            Scheme::Https => {
                let names = DirectNames::for_site(&site);
                Role::DirectTls {
                    site: Some(site.clone()),
                    acceptor: TlsAcceptor::from(server_config(&self.shared.ca, names)?),
                }
            }
            Scheme::Http => Role::DirectPlain {
                site: Some(site.clone()),
            },
        };
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
}

/// What a listener handed to the front door stands for ([`Gateway::adopt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adopted {
    /// The proxy port: what `HTTPS_PROXY` names.
    Proxy,
    /// The direct listener of the site with this name.
    Site(String),
    /// TLS to any host: recognised by its SNI and served or refused as a CONNECT tunnel to that
    /// host would be.
    AnyTls,
    /// Plain HTTP to any host, routed by `Host` (IMDS on `169.254.169.254`).
    AnyPlain,
}

/// A handle on the front door for listeners bound somewhere else: the harness's sandbox binds
/// them inside an implementation's network namespace and hands them over, so every connection
/// made in there reaches the front door's request path and its record, whatever address it
/// was sent to. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    loopback: Vec<(SocketAddr, Adopted)>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("loopback", &self.loopback)
            .finish_non_exhaustive()
    }
}

/// Stops the listeners of one [`Gateway::adopt`] when dropped (connections in flight get the
/// front door's graceful end).
#[derive(Debug)]
pub struct Adoption {
    cancel: CancellationToken,
}

impl Drop for Adoption {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl FrontDoor {
    /// A [`Gateway`] for the sites added so far.
    pub fn gateway(&self) -> Gateway {
        let mut loopback = vec![(self.proxy_addr, Adopted::Proxy)];
        let direct = self.direct.lock().expect("direct listeners");
        let mut sites: Vec<_> = direct
            .iter()
            .map(|(name, d)| (d.addr, Adopted::Site(name.clone())))
            .collect();
        sites.sort_by_key(|(addr, _)| *addr);
        loopback.extend(sites);
        Gateway {
            shared: self.shared.clone(),
            loopback,
        }
    }
}

impl Gateway {
    /// The loopback addresses clients are given (the proxy, each site's direct listener), with
    /// what each is, so that a network namespace can offer the same addresses.
    pub fn loopback(&self) -> &[(SocketAddr, Adopted)] {
        &self.loopback
    }

    /// Serves `listeners` (already listening) as what each stands for, until the returned
    /// [`Adoption`] is dropped or the front door shuts down. Requests on them carry `label` as
    /// their client label (a proxy URL's own label still wins on the proxy port). Must be called
    /// inside a Tokio runtime.
    pub fn adopt(
        &self,
        listeners: Vec<(std::net::TcpListener, Adopted)>,
        label: Option<String>,
    ) -> Result<Adoption, FrontDoorError> {
        let (shared, cancel) = self.shared.child();
        let mut roles = Vec::with_capacity(listeners.len());
        for (listener, what) in listeners {
            let addr = listener
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            let bind_error = |source| FrontDoorError::Bind { addr, source };
            listener.set_nonblocking(true).map_err(bind_error)?;
            let listener = TcpListener::from_std(listener).map_err(bind_error)?;
            let role = match what {
                Adopted::Proxy => Role::Proxy,
                Adopted::AnyTls => Role::AnyTls,
                Adopted::AnyPlain => Role::DirectPlain { site: None },
                Adopted::Site(name) => {
                    let site = self.shared.dispatcher.sites.get(&name).ok_or_else(|| {
                        bind_error(std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("no site {name}"),
                        ))
                    })?;
                    if site.https {
                        let names = DirectNames::for_site(&site);
                        Role::DirectTls {
                            site: Some(site),
                            acceptor: TlsAcceptor::from(server_config(&self.shared.ca, names)?),
                        }
                    } else {
                        Role::DirectPlain { site: Some(site) }
                    }
                }
            };
            roles.push((listener, role));
        }
        for (listener, role) in roles {
            let shared = shared.clone();
            let label = label.clone();
            self.shared
                .tracker
                .spawn(async move { accept_loop(listener, shared, role, label).await });
        }
        Ok(Adoption { cancel })
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

/// What an accept loop serves.
enum Role {
    Proxy,
    /// TLS for one site (`Some`), or for every site, routed by SNI and `Host` (`None`).
    DirectTls {
        site: Option<Arc<Site>>,
        acceptor: TlsAcceptor,
    },
    /// Plain HTTP for one site, or for every site routed by `Host`.
    DirectPlain {
        site: Option<Arc<Site>>,
    },
    /// TLS to any host, recognised by its SNI and intercepted as a CONNECT tunnel to that host
    /// would be (the same certificates and certificate faults).
    AnyTls,
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    role: Role,
    label: Option<String>,
) {
    let role = Arc::new(role);
    loop {
        let accepted = tokio::select! {
            _ = shared.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared2 = shared.clone();
        let role = role.clone();
        let client = ClientInfo {
            addr: peer,
            label: label.clone(),
        };
        shared.tracker.spawn(async move {
            match &*role {
                Role::Proxy => serve_proxy_connection(stream, peer, shared2).await,
                Role::DirectTls { site, acceptor } => {
                    serve_direct_tls(stream, client, shared2, site.clone(), acceptor.clone()).await
                }
                Role::AnyTls => serve_intercepted_tls(stream, client, shared2).await,
                Role::DirectPlain { site } => {
                    let via = match site {
                        Some(_) => Via::Direct,
                        None => Via::Intercepted,
                    };
                    let conn = ConnInfo {
                        client,
                        via,
                        scheme: Scheme::Http,
                        tunnel_target: None,
                        sni: None,
                        direct_site: site.clone(),
                        certificate: None,
                    };
                    serve_http(stream, &shared2, conn).await
                }
            }
        });
    }
}

async fn serve_direct_tls(
    stream: TcpStream,
    client: ClientInfo,
    shared: Arc<Shared>,
    site: Option<Arc<Site>>,
    acceptor: TlsAcceptor,
) {
    let tls = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)) => tls,
    };
    let Ok(Ok(tls)) = tls else {
        tracing::debug!(peer = %client.addr, "TLS handshake on a direct listener failed");
        return;
    };
    let sni = tls.get_ref().1.server_name().map(str::to_owned);
    let conn = ConnInfo {
        client,
        via: Via::Direct,
        scheme: Scheme::Https,
        tunnel_target: None,
        sni,
        direct_site: site,
        certificate: None,
    };
    serve_http(tls, &shared, conn).await;
}

/// Serves HTTP/1.1 and HTTP/2 on an established (possibly TLS) stream through the dispatcher.
async fn serve_http<IO>(io: IO, shared: &Shared, conn: ConnInfo)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let dispatcher = shared.dispatcher.clone();
    let conn = Arc::new(conn);
    let svc = service_fn(move |req: Request<Incoming>| {
        let dispatcher = dispatcher.clone();
        let conn = conn.clone();
        async move { dispatcher.handle(req, &conn).await }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(io), svc);
    run_graceful(connection, &shared.cancel).await;
}

async fn serve_proxy_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let svc_shared = shared.clone();
    let svc = service_fn(move |req: Request<Incoming>| {
        let shared = svc_shared.clone();
        async move { proxy_request(req, peer, shared).await }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    let builder = builder.http1_only();
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    run_graceful(connection, &shared.cancel).await;
}

async fn run_graceful<C>(connection: C, cancel: &CancellationToken)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), connection).await;
        }
    }
}

/// One request on the proxy port: CONNECT, absolute-form forwarding, or a question to the proxy.
async fn proxy_request(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<Body>, crate::dispatch::Dropped> {
    let client = ClientInfo {
        addr: peer,
        label: req
            .headers()
            .get(http::header::PROXY_AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(basic_credentials)
            .map(|cred| {
                let user = cred.split_once(':').map(|(u, _)| u).unwrap_or(&cred);
                percent_encoding::percent_decode_str(user)
                    .decode_utf8_lossy()
                    .into_owned()
            }),
    };
    // Hop-by-hop: the proxy's own headers never reach a site.
    req.headers_mut().remove(http::header::PROXY_AUTHORIZATION);
    req.headers_mut().remove("proxy-connection");

    if req.method() == Method::CONNECT {
        let Some(target) = req.uri().authority().map(|a| {
            (
                a.host().trim_matches(['[', ']']).to_ascii_lowercase(),
                a.port_u16().unwrap_or(443),
            )
        }) else {
            return Ok(plain(StatusCode::BAD_REQUEST, "CONNECT needs host:port"));
        };
        let tunnel_shared = shared.clone();
        shared.tracker.spawn(async move {
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => tunnel(upgraded, target, client, tunnel_shared).await,
                Err(error) => tracing::debug!(%error, "CONNECT upgrade failed"),
            }
        });
        return Ok(Response::new(Body::empty()));
    }

    match req.uri().scheme_str() {
        Some("http") => {
            let conn = ConnInfo {
                client,
                via: Via::FrontDoor,
                scheme: Scheme::Http,
                tunnel_target: None,
                sni: None,
                direct_site: None,
                certificate: None,
            };
            shared.dispatcher.handle(req, &conn).await
        }
        Some(_) => Ok(plain(
            StatusCode::BAD_REQUEST,
            "credsim front door: send https requests through CONNECT",
        )),
        None if req.uri().path() == "/" => Ok(status_page(&shared)),
        None => Ok(plain(
            StatusCode::BAD_REQUEST,
            "credsim front door: this is a forward proxy; use it as HTTPS_PROXY/HTTP_PROXY",
        )),
    }
}

/// Terminates TLS inside a CONNECT tunnel and serves the requests it carries.
async fn tunnel(
    upgraded: hyper::upgrade::Upgraded,
    target: (String, u16),
    client: ClientInfo,
    shared: Arc<Shared>,
) {
    let (config, certificate) = tunnel_config(&shared, &target.0, client.label.as_deref());
    let acceptor = match config {
        Ok(config) => TlsAcceptor::from(config),
        Err(error) => {
            tracing::warn!(%error, "TLS configuration for a tunnel failed");
            return;
        }
    };
    let handshake = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        h = tokio::time::timeout(
            Duration::from_secs(10),
            acceptor.accept(TokioIo::new(upgraded)),
        ) => h,
    };
    let intercepted = Intercepted {
        client,
        via: Via::FrontDoor,
        target,
        certificate,
    };
    match handshake {
        Ok(Ok(tls)) => {
            let sni = tls.get_ref().1.server_name().map(str::to_owned);
            intercepted.serve(tls, sni, &shared).await;
        }
        _ => intercepted.handshake_failed(&shared),
    }
}

/// A direct TLS connection to any host (inside a sandbox's network namespace): the host is the
/// SNI the client sent (else the address it connected to), and from there it is what a CONNECT
/// tunnel to that host is.
async fn serve_intercepted_tls(stream: TcpStream, client: ClientInfo, shared: Arc<Shared>) {
    let local = stream.local_addr().ok();
    let port = local.map_or(443, |a| a.port());
    let address = local.map(|a| a.ip().to_string()).unwrap_or_default();
    let hello = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        h = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream),
        ) => h,
    };
    let Ok(Ok(start)) = hello else {
        Intercepted {
            client,
            via: Via::Intercepted,
            target: (address, port),
            certificate: None,
        }
        .handshake_failed(&shared);
        return;
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(|n| n.to_ascii_lowercase());
    let target = (sni.clone().unwrap_or(address), port);
    let (config, certificate) = tunnel_config(&shared, &target.0, client.label.as_deref());
    let intercepted = Intercepted {
        client,
        via: Via::Intercepted,
        target,
        certificate,
    };
    let Ok(config) = config else {
        tracing::warn!("TLS configuration for an intercepted connection failed");
        intercepted.handshake_failed(&shared);
        return;
    };
    let handshake = tokio::select! {
        _ = shared.cancel.cancelled() => return,
        h = tokio::time::timeout(Duration::from_secs(10), start.into_stream(config)) => h,
    };
    match handshake {
        Ok(Ok(tls)) => intercepted.serve(tls, sni, &shared).await,
        _ => intercepted.handshake_failed(&shared),
    }
}

/// The server configuration for TLS intercepted for `host` (a CONNECT tunnel's target or a
/// direct connection's SNI): the right certificate, or the flawed one a certificate fault asks
/// for, with the flaw.
fn tunnel_config(
    shared: &Shared,
    host: &str,
    label: Option<&str>,
) -> (
    Result<Arc<ServerConfig>, FrontDoorError>,
    Option<crate::fault::CertificateFlaw>,
) {
    let names = TunnelNames {
        sites: shared.dispatcher.sites.clone(),
        target: host.to_owned(),
    };
    let site_name = shared
        .dispatcher
        .sites
        .lookup(host)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let certificate = shared
        .dispatcher
        .faults
        .take_certificate(&crate::fault::FaultRequest {
            site: &site_name,
            host,
            method: "CONNECT",
            path: "",
            tags: &[],
            client: label,
        })
        .map(|(_, flaw)| flaw);
    let config = match certificate {
        Some(flaw) => flawed_config(shared, &names, flaw),
        None => server_config(&shared.ca, names),
    };
    (config, certificate)
}

/// A TLS connection the front door terminates for a host it stands in for.
struct Intercepted {
    client: ClientInfo,
    via: Via,
    target: (String, u16),
    certificate: Option<crate::fault::CertificateFlaw>,
}

impl Intercepted {
    async fn serve<IO>(self, tls: IO, sni: Option<String>, shared: &Shared)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let conn = ConnInfo {
            client: self.client,
            via: self.via,
            scheme: Scheme::Https,
            tunnel_target: Some(self.target),
            sni,
            direct_site: None,
            certificate: self.certificate,
        };
        serve_http(tls, shared, conn).await;
    }

    /// The client did not complete the handshake (it refused the certificate, or spoke no TLS):
    /// recorded as a refused connection that carried nothing.
    fn handshake_failed(self, shared: &Shared) {
        let d = &shared.dispatcher;
        d.egress.push(EgressRecord {
            at: d.clock.now(),
            wall: Timestamp::now(),
            client: self.client,
            via: self.via,
            method: "CONNECT".into(),
            scheme: Scheme::Https,
            host: self.target.0,
            port: self.target.1,
            path: String::new(),
            status: 0,
            outcome: Outcome::Refused {
                reason: Refusal::TlsHandshakeFailed,
            },
            secrets: Vec::new(),
            certificate: self.certificate,
        });
    }
}

/// A server configuration presenting a certificate with `flaw` for the tunnel's target.
fn flawed_config(
    shared: &Shared,
    names: &TunnelNames,
    flaw: crate::fault::CertificateFlaw,
) -> Result<Arc<ServerConfig>, FrontDoorError> {
    use crate::fault::CertificateFlaw;
    let right = names
        .names_for(None)
        .and_then(|n| n.into_iter().next())
        .unwrap_or_else(|| names.target.clone());
    let issued = match flaw {
        CertificateFlaw::UntrustedIssuer => {
            let rogue = match shared.rogue_ca.get() {
                Some(ca) => ca.clone(),
                None => {
                    let ca = CertificateAuthority::new("trusted by no client")?;
                    let _ = shared.rogue_ca.set(ca.clone());
                    ca
                }
            };
            rogue.issue(&[&right])?
        }
        CertificateFlaw::WrongHost => shared.ca.issue(&["wrong-host.credsim.invalid"])?,
        CertificateFlaw::Expired => shared.ca.issue_expired(&[&right])?,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(issued.key_pkcs8_der.clone().into());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(issued.chain.clone(), key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn server_config(
    ca: &CertificateAuthority,
    names: impl CertNames,
) -> Result<Arc<ServerConfig>, FrontDoorError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CertResolver::new(ca.clone(), names)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Certificates inside a tunnel: the owning site's pattern (so `*.azurecr.io` is one cert), or
/// exactly the asked-for name when no site owns it (interception of unknown hosts).
struct TunnelNames {
    sites: SiteTable,
    target: String,
}

impl CertNames for TunnelNames {
    fn names_for(&self, sni: Option<&str>) -> Option<Vec<String>> {
        let name = sni.unwrap_or(&self.target).to_ascii_lowercase();
        let pattern = self
            .sites
            .lookup(&name)
            .and_then(|site| site.pattern_for(&name).map(HostPattern::cert_name));
        Some(vec![pattern.unwrap_or(name)])
    }
}

/// Certificates on a site's direct listener: all its names plus `localhost` and `127.0.0.1`.
struct DirectNames {
    names: Vec<String>,
}

impl DirectNames {
    fn for_site(site: &Site) -> Self {
        let mut names: Vec<String> = site.hosts.iter().map(HostPattern::cert_name).collect();
        names.push("localhost".into());
        names.push("127.0.0.1".into());
        Self { names }
    }
}

impl CertNames for DirectNames {
    fn names_for(&self, _sni: Option<&str>) -> Option<Vec<String>> {
        Some(self.names.clone())
    }
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("{message}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// `GET /` on the proxy port: which sites exist, for a developer poking at `credsim up`.
fn status_page(shared: &Shared) -> Response<Body> {
    let sites: Vec<serde_json::Value> = shared
        .dispatcher
        .sites
        .all()
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "hosts": s.hosts,
                "https": s.https,
                "plainHttp": s.plain_http,
            })
        })
        .collect();
    let body = serde_json::json!({"credsim": "front door", "sites": sites});
    let mut resp = Response::new(Body::from(body.to_string()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
