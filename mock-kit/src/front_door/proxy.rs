//! One request on the proxy port: `CONNECT` (a tunnel the front door terminates), absolute-form
//! plain-HTTP forwarding, or a question to the proxy itself (`GET /`, the status page).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;

use super::Shared;
use super::intercept::tunnel;
use super::listen::run_graceful;
use crate::dispatch::{ConnInfo, Dropped};
use crate::site::{ClientInfo, Scheme, Via, basic_credentials};

/// Serves the proxy protocol (HTTP/1.1 only, with upgrades for CONNECT) on one connection.
pub(super) async fn serve_proxy_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) {
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

/// One request on the proxy port: CONNECT, absolute-form forwarding, or a question to the proxy.
async fn proxy_request(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Dropped> {
    let client = ClientInfo {
        addr: peer,
        label: proxy_label(req.headers()),
    };
    // Hop-by-hop: the proxy's own headers never reach a site.
    req.headers_mut().remove(http::header::PROXY_AUTHORIZATION);
    req.headers_mut().remove("proxy-connection");

    if req.method() == Method::CONNECT {
        return Ok(open_tunnel(req, client, &shared));
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

/// The client label: the user name of the proxy credentials (`http://label:x@proxy`),
/// percent-decoded.
fn proxy_label(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .map(|cred| {
            let user = cred.split_once(':').map(|(u, _)| u).unwrap_or(&cred);
            percent_encoding::percent_decode_str(user)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// Answers a CONNECT `200` and serves the tunnel in a task of its own once the connection is
/// upgraded; `400` when the request names no `host:port`.
fn open_tunnel(req: Request<Incoming>, client: ClientInfo, shared: &Arc<Shared>) -> Response<Body> {
    let Some(target) = req.uri().authority().map(|a| {
        (
            a.host().trim_matches(['[', ']']).to_ascii_lowercase(),
            a.port_u16().unwrap_or(443),
        )
    }) else {
        return plain(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let tunnel_shared = shared.clone();
    shared.tracker.spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => tunnel(upgraded, target, client, tunnel_shared).await,
            Err(error) => tracing::debug!(%error, "CONNECT upgrade failed"),
        }
    });
    Response::new(Body::empty())
}

/// A plain-text answer from the proxy itself.
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
