//! The one request path every listener shares.
//!
//! For each decrypted (or plain) request: read the body (bounded), find every registered secret it
//! carries, decide which site owns the host, apply fault rules, hand the request to the site's
//! router, and append one [`EgressRecord`] whatever happened. Refusals are answered here, by the
//! front door, and never forwarded anywhere.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use jiff::Timestamp;
use tower::ServiceExt as _;

use crate::clock::Clock;
use crate::egress::{CarriedSecret, EgressRecord, Outcome, Refusal};
use crate::fault::{DropConnection, FaultAction, FaultId, FaultRequest, Faults};
use crate::journal::Journal;
use crate::secret::SecretRegistry;
use crate::site::{ClientInfo, RequestContext, Scheme, Site, SiteTable, Via};

/// Request bodies larger than this are refused (413); credential flows send a few KiB.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Header naming why the front door refused a request.
pub(crate) const REFUSED_HEADER: &str = "x-credsim-refused";

/// Shared state of the request path.
#[derive(Clone, Debug)]
pub(crate) struct Dispatcher {
    pub sites: SiteTable,
    pub faults: Faults,
    pub egress: Journal<EgressRecord>,
    pub secrets: SecretRegistry,
    pub clock: Clock,
}

/// What is known about the connection a request arrived on.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    pub client: ClientInfo,
    pub via: Via,
    pub scheme: Scheme,
    /// The destination of a CONNECT tunnel (what the bytes would really have reached).
    pub tunnel_target: Option<(String, u16)>,
    /// The TLS server name the client sent.
    pub sni: Option<String>,
    /// For a direct listener: the site it belongs to.
    pub direct_site: Option<Arc<Site>>,
    /// The flawed certificate this TLS connection was served with (fault injection), which the
    /// client accepted.
    pub certificate: Option<crate::fault::CertificateFlaw>,
}

/// The service failed on purpose: close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub(crate) struct Dropped;

impl Dispatcher {
    pub(crate) async fn handle<B>(
        &self,
        req: Request<B>,
        conn: &ConnInfo,
    ) -> Result<Response<Body>, Dropped>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let wall = Timestamp::now();
        let at = self.clock.now();
        let (mut parts, body) = req.into_parts();
        let (host, port) = destination(&parts, conn);
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let method = parts.method.as_str().to_owned();
        let mut record = EgressRecord {
            at,
            wall,
            client: conn.client.clone(),
            via: conn.via,
            method: method.clone(),
            scheme: conn.scheme,
            host: host.clone(),
            port,
            path: path.clone(),
            status: 0,
            outcome: Outcome::Refused {
                reason: Refusal::BadRequest,
            },
            secrets: Vec::new(),
            certificate: conn.certificate,
        };
        // Taken on arrival: if no answer ever leaves (the connection ends first, the front door
        // shuts down mid-request), the request is still in the record, as unanswered.
        let mut arrival = Arrival {
            egress: &self.egress,
            record: Some(record.clone()),
        };

        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                record.secrets = self.scan(&parts.headers, parts.uri.query(), b"");
                return Ok(self.refuse(
                    &mut arrival,
                    record,
                    Refusal::BadRequest,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body could not be read or is larger than 64 MiB",
                ));
            }
        };
        record.secrets = self.scan(&parts.headers, parts.uri.query(), &body);
        arrival.record = Some(record.clone());

        let site = match &conn.direct_site {
            Some(site) => Some(site.clone()),
            None => self.sites.lookup(&host).or_else(|| {
                let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1");
                loopback.then(|| self.sites.lookup_direct(port)).flatten()
            }),
        };
        let Some(site) = site else {
            let msg = format!(
                "credsim front door: no fake serves {host}:{port}; the request was refused, \
                 recorded, and not forwarded (nothing leaves this machine)"
            );
            return Ok(self.refuse(
                &mut arrival,
                record,
                Refusal::UnknownHost,
                StatusCode::BAD_GATEWAY,
                &msg,
            ));
        };
        match conn.scheme {
            Scheme::Http if !site.plain_http => {
                let msg = format!(
                    "credsim front door: {host} is only served over https; plain http was refused \
                     and recorded"
                );
                return Ok(self.refuse(
                    &mut arrival,
                    record,
                    Refusal::PlainHttpNotServed,
                    StatusCode::FORBIDDEN,
                    &msg,
                ));
            }
            Scheme::Https if !site.https => {
                let msg = format!("credsim front door: {host} is only served over plain http");
                return Ok(self.refuse(
                    &mut arrival,
                    record,
                    Refusal::HttpsNotServed,
                    StatusCode::BAD_GATEWAY,
                    &msg,
                ));
            }
            _ => {}
        }

        let fault = self.faults.take(&FaultRequest {
            site: &site.name,
            host: &host,
            method: &method,
            path: parts.uri.path(),
            tags: &[],
            client: record.client.label.as_deref(),
        });
        match fault {
            Some((id, FaultAction::DropConnection)) => {
                record.outcome = Outcome::Dropped { fault: id };
                arrival.finish(record);
                return Err(Dropped);
            }
            Some((
                id,
                FaultAction::Respond {
                    status,
                    headers,
                    body,
                },
            )) => {
                let mut resp = Response::new(Body::from(body));
                *resp.status_mut() =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                for (name, value) in headers {
                    if let (Ok(n), Ok(v)) = (
                        http::HeaderName::try_from(name.as_str()),
                        HeaderValue::try_from(value.as_str()),
                    ) {
                        resp.headers_mut().append(n, v);
                    }
                }
                record.status = resp.status().as_u16();
                record.outcome = Outcome::Faulted { fault: id };
                arrival.finish(record);
                return Ok(resp);
            }
            Some((_, FaultAction::Delay { by })) => tokio::time::sleep(by).await,
            Some((_, FaultAction::BadCertificate { .. })) | None => {}
        }

        parts.extensions.insert(RequestContext {
            client: conn.client.clone(),
            via: conn.via,
            scheme: conn.scheme,
            host: host.clone(),
            port,
        });
        // Routers match on the path; hand them origin-form even when a proxy request carried
        // the absolute form.
        if let Some(pq) = parts.uri.path_and_query().cloned() {
            parts.uri = http::Uri::from(pq);
        }
        let req = Request::from_parts(parts, Body::from(body));
        // The fake runs in a task of its own, so that a panic in its handler is caught here:
        // answered in the service's error shape, recorded, never a dropped connection.
        let router = site.router.clone();
        let handled = tokio::spawn(async move {
            let resp: Result<Response<Body>, Infallible> = router.oneshot(req).await;
            resp
        })
        .await;
        let resp = match handled {
            Ok(Ok(r)) => r,
            Ok(Err(never)) => match never {},
            Err(join) => {
                let why = match join.try_into_panic() {
                    Ok(payload) => payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into()),
                    Err(_) => "the handler was cancelled".into(),
                };
                tracing::error!(site = %site.name, %why, method = %method, path = %path, "a fake's handler panicked");
                // The query stays out of the answer and the journal: it may carry a secret.
                let bare = record.path.split('?').next().unwrap_or("/");
                let message = format!(
                    "credsim: {} failed internally on {method} {bare}",
                    site.name
                );
                let resp = (site.internal_error)(&crate::site::InternalFailure {
                    method: &method,
                    host: &host,
                    path: bare,
                    message: &message,
                });
                record.status = resp.status().as_u16();
                record.outcome = Outcome::InternalError {
                    site: site.name.clone(),
                };
                arrival.finish(record);
                return Ok(resp);
            }
        };
        if resp.extensions().get::<DropConnection>().is_some() {
            record.outcome = Outcome::Dropped {
                fault: resp
                    .extensions()
                    .get::<FaultId>()
                    .copied()
                    .unwrap_or(FaultId(0)),
            };
            arrival.finish(record);
            return Err(Dropped);
        }
        record.status = resp.status().as_u16();
        record.outcome = Outcome::Served {
            site: site.name.clone(),
        };
        arrival.finish(record);
        Ok(resp)
    }

    fn refuse(
        &self,
        arrival: &mut Arrival<'_>,
        mut record: EgressRecord,
        reason: Refusal,
        status: StatusCode,
        message: &str,
    ) -> Response<Body> {
        tracing::info!(host = %record.host, reason = reason.as_str(), "front door refused a request");
        let mut resp = Response::new(Body::from(format!("{message}\n")));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp.headers_mut()
            .insert(REFUSED_HEADER, HeaderValue::from_static(reason.as_str()));
        record.status = status.as_u16();
        record.outcome = Outcome::Refused { reason };
        arrival.finish(record);
        resp
    }

    /// Every registered secret in the headers, query and body, raw or encoded (HTTP Basic
    /// credentials, percent-encoding, base64 at any alignment: [`crate::leak`]).
    fn scan(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Vec<CarriedSecret> {
        if self.secrets.is_empty() {
            return Vec::new();
        }
        let mut places: Vec<(String, &[u8])> = Vec::new();
        for (name, value) in headers {
            places.push((name.as_str().to_owned(), value.as_bytes()));
        }
        if let Some(q) = query {
            places.push(("query".into(), q.as_bytes()));
        }
        if !body.is_empty() {
            places.push(("body".into(), body));
        }
        let mut found: Vec<CarriedSecret> = Vec::new();
        for (place, text) in places {
            for hit in self.secrets.search(text) {
                if found
                    .iter()
                    .any(|c| c.fingerprint == hit.secret.fingerprint)
                {
                    continue;
                }
                let location = match (place.as_str(), hit.form.context) {
                    ("query" | "body", _) => place.clone(),
                    (header, Some(crate::leak::Context::HttpBasic)) => format!("basic:{header}"),
                    (header, _) => format!("header:{header}"),
                };
                found.push(CarriedSecret {
                    fingerprint: hit.secret.fingerprint,
                    kind: hit.secret.kind,
                    label: hit.secret.label,
                    location,
                    form: hit.form,
                });
            }
        }
        found
    }
}

/// A request's record from its arrival until its answer leaves: [`Arrival::finish`] records the
/// outcome; dropped unfinished (the handling was abandoned), it records the request as
/// [`Outcome::Unanswered`].
struct Arrival<'a> {
    egress: &'a Journal<EgressRecord>,
    record: Option<EgressRecord>,
}

impl Arrival<'_> {
    fn finish(&mut self, record: EgressRecord) {
        self.record = None;
        self.egress.push(record);
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.status = 0;
            record.outcome = Outcome::Unanswered;
            self.egress.push(record);
        }
    }
}

/// Where the request is really going: the tunnel's target, else the absolute URI's authority,
/// else the Host header, else the SNI.
fn destination(parts: &http::request::Parts, conn: &ConnInfo) -> (String, u16) {
    let default_port = match conn.scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    if let Some((host, port)) = &conn.tunnel_target {
        return (host.clone(), *port);
    }
    if let Some(auth) = parts.uri.authority() {
        return (
            auth.host().trim_matches(['[', ']']).to_ascii_lowercase(),
            auth.port_u16().unwrap_or(default_port),
        );
    }
    if let Some(host) = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
    {
        return (
            host.host().trim_matches(['[', ']']).to_ascii_lowercase(),
            host.port_u16().unwrap_or(default_port),
        );
    }
    (
        conn.sni.clone().unwrap_or_default().to_ascii_lowercase(),
        default_port,
    )
}

#[cfg(test)]
mod tests {
    use crate::site::basic_credentials;

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(
            basic_credentials("Basic dXNlcjpwYXNz").as_deref(),
            Some("user:pass")
        );
        assert_eq!(
            basic_credentials("basic dXNlcjpwYXNz").as_deref(),
            Some("user:pass")
        );
        assert_eq!(basic_credentials("Bearer dXNlcjpwYXNz"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
