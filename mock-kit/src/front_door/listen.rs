//! What each listener serves, its accept loop, and serving HTTP on an accepted connection.

use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::intercept::serve_intercepted_tls;
use super::proxy::serve_proxy_connection;
use super::tls::{DirectNames, server_config};
use super::{FrontDoorError, Shared};
use crate::ca::CertificateAuthority;
use crate::dispatch::ConnInfo;
use crate::site::{ClientInfo, Scheme, Site, Via};

/// What an accept loop serves.
pub(super) enum Role {
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

impl Role {
    /// A site's own listener: TLS with a certificate for all its names plus `localhost` and
    /// `127.0.0.1`, or plain HTTP for a site that speaks only that.
    pub(super) fn for_site(
        ca: &CertificateAuthority,
        site: Arc<Site>,
    ) -> Result<Role, FrontDoorError> {
        if site.https {
            let names = DirectNames::for_site(&site);
            let acceptor = TlsAcceptor::from(server_config(ca, names)?);
            Ok(Role::DirectTls {
                site: Some(site),
                acceptor,
            })
        } else {
            Ok(Role::DirectPlain { site: Some(site) })
        }
    }
}

/// Accepts connections until the listener's token is cancelled, serving each in a task of its
/// own as `role` says; `label` names the client of every connection (adopted listeners).
pub(super) async fn accept_loop(
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
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection_shared = shared.clone();
        let role = role.clone();
        let client = ClientInfo {
            addr: peer,
            label: label.clone(),
        };
        shared
            .tracker
            .spawn(async move { serve_connection(&role, stream, client, connection_shared).await });
    }
}

/// One accepted connection, served as its listener's role says.
async fn serve_connection(role: &Role, stream: TcpStream, client: ClientInfo, shared: Arc<Shared>) {
    match role {
        // The proxy port names its clients by their proxy credentials, per request.
        Role::Proxy => serve_proxy_connection(stream, client.addr, shared).await,
        Role::DirectTls { site, acceptor } => {
            serve_direct_tls(stream, client, shared, site.clone(), acceptor.clone()).await
        }
        Role::AnyTls => serve_intercepted_tls(stream, client, shared).await,
        Role::DirectPlain { site } => {
            serve_direct_plain(stream, client, &shared, site.clone()).await
        }
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

/// Plain HTTP on a site's own listener (`Some`), or on a shared one that stands in for every
/// address (`None`: a sandbox's `:80`, hence intercepted).
async fn serve_direct_plain(
    stream: TcpStream,
    client: ClientInfo,
    shared: &Shared,
    site: Option<Arc<Site>>,
) {
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
        direct_site: site,
        certificate: None,
    };
    serve_http(stream, shared, conn).await
}

/// Serves HTTP/1.1 and HTTP/2 on an established (possibly TLS) stream through the dispatcher.
pub(super) async fn serve_http<IO>(io: IO, shared: &Shared, conn: ConnInfo)
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

/// Drives `connection` to its end; on cancellation, lets it finish what is in flight for at most
/// two seconds.
pub(super) async fn run_graceful<C>(connection: C, cancel: &CancellationToken)
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
