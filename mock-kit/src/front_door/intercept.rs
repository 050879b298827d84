//! TLS the front door terminates for a host it stands in for: inside a CONNECT tunnel, or a
//! connection straight from a sandbox told apart by its SNI. Both get the certificate the host
//! would (or the flawed one a certificate fault asks for), and a failed handshake is recorded.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::listen::serve_http;
use super::tls::{TunnelNames, flawed_config, server_config};
use super::{FrontDoorError, Shared};
use crate::dispatch::ConnInfo;
use crate::egress::{EgressRecord, Outcome, Refusal};
use crate::fault::{CertificateFlaw, FaultRequest};
use crate::site::{ClientInfo, Scheme, Via};

/// Terminates TLS inside a CONNECT tunnel and serves the requests it carries.
pub(super) async fn tunnel(
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
pub(super) async fn serve_intercepted_tls(
    stream: TcpStream,
    client: ClientInfo,
    shared: Arc<Shared>,
) {
    let local = stream.local_addr().ok();
    let port = local.map_or(443, |a| a.port());
    let address = local.map(|a| a.ip().to_string()).unwrap_or_default();
    // The ClientHello is read before any certificate is chosen: its SNI names the host.
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
    Option<CertificateFlaw>,
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
        .take_certificate(&FaultRequest {
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
    certificate: Option<CertificateFlaw>,
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
