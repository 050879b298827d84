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

/// A request the front door answers itself, refusing it: why, with what status, and the message
/// the client reads.
struct Refused {
    reason: Refusal,
    status: StatusCode,
    message: String,
}

impl Dispatcher {
    /// Records the request on arrival, reads its body, finds the secrets it carries, routes it to
    /// its site (or refuses it), applies any injected fault, and lets the site answer; whatever
    /// happens, the request leaves exactly one [`EgressRecord`].
    pub(crate) async fn handle<B>(
        &self,
        req: Request<B>,
        conn: &ConnInfo,
    ) -> Result<Response<Body>, Dropped>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let mut record = self.arrival_record(&parts, conn);
        // Taken on arrival: if no answer ever leaves (the connection ends first, the front door
        // shuts down mid-request), the request is still in the record, as unanswered.
        let mut arrival = Arrival::new(&self.egress, &record);

        let body = read_body(body).await;
        // Secrets are looked for before anything is decided, so that a refusal records them too.
        let readable: &[u8] = body.as_deref().unwrap_or_default();
        record.secrets = self.scan(&parts.headers, parts.uri.query(), readable);
        let body = match body {
            Ok(body) => body,
            Err(refused) => return Ok(self.refuse(&mut arrival, record, refused)),
        };
        arrival.record = Some(record.clone());

        let site = match self.route(conn, &record.host, record.port) {
            Ok(site) => site,
            Err(refused) => return Ok(self.refuse(&mut arrival, record, refused)),
        };
        if let Some(answer) = self.apply_fault(&site, &parts, &mut record).await {
            arrival.finish(record);
            return answer;
        }

        let req = site_request(parts, body, conn, &record);
        let answer = run_site(&site, req, &mut record).await;
        arrival.finish(record);
        answer
    }

    /// The record of a request as it arrives: when, from whom, where to; no secrets found yet,
    /// and refused as a bad request until something else is decided.
    fn arrival_record(&self, parts: &http::request::Parts, conn: &ConnInfo) -> EgressRecord {
        let wall = Timestamp::now();
        let at = self.clock.now();
        let (host, port) = destination(parts, conn);
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        EgressRecord {
            at,
            wall,
            client: conn.client.clone(),
            via: conn.via,
            method: parts.method.as_str().to_owned(),
            scheme: conn.scheme,
            host,
            port,
            path,
            status: 0,
            outcome: Outcome::Refused {
                reason: Refusal::BadRequest,
            },
            secrets: Vec::new(),
            certificate: conn.certificate,
        }
    }

    /// The site that serves `host:port` over the connection's scheme, or why none does.
    fn route(&self, conn: &ConnInfo, host: &str, port: u16) -> Result<Arc<Site>, Refused> {
        let site = self.find_site(conn, host, port).ok_or_else(|| Refused {
            reason: Refusal::UnknownHost,
            status: StatusCode::BAD_GATEWAY,
            message: format!(
                "credsim front door: no fake serves {host}:{port}; the request was refused, \
                 recorded, and not forwarded (nothing leaves this machine)"
            ),
        })?;
        serves_scheme(&site, conn.scheme, host)?;
        Ok(site)
    }

    /// The site a request is for: a direct listener's own site, else the site answering for the
    /// host name, else (for a loopback host) the site listening directly on the port.
    fn find_site(&self, conn: &ConnInfo, host: &str, port: u16) -> Option<Arc<Site>> {
        match &conn.direct_site {
            Some(site) => Some(site.clone()),
            None => self.sites.lookup(host).or_else(|| {
                let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
                loopback.then(|| self.sites.lookup_direct(port)).flatten()
            }),
        }
    }

    /// Takes the fault injected for this request, if any, and applies it: a dropped connection or
    /// a canned answer ends the request here (the answer to give, the record saying which fault),
    /// a delay only holds it back.
    async fn apply_fault(
        &self,
        site: &Site,
        parts: &http::request::Parts,
        record: &mut EgressRecord,
    ) -> Option<Result<Response<Body>, Dropped>> {
        let fault = self.faults.take(&FaultRequest {
            site: &site.name,
            host: &record.host,
            method: &record.method,
            path: parts.uri.path(),
            tags: &[],
            client: record.client.label.as_deref(),
        });
        match fault {
            Some((id, FaultAction::DropConnection)) => {
                record.outcome = Outcome::Dropped { fault: id };
                Some(Err(Dropped))
            }
            Some((
                id,
                FaultAction::Respond {
                    status,
                    headers,
                    body,
                },
            )) => {
                let resp = fault_response(status, headers, body);
                record.status = resp.status().as_u16();
                record.outcome = Outcome::Faulted { fault: id };
                Some(Ok(resp))
            }
            Some((_, FaultAction::Delay { by })) => {
                tokio::time::sleep(by).await;
                None
            }
            Some((_, FaultAction::BadCertificate { .. })) | None => None,
        }
    }

    fn refuse(
        &self,
        arrival: &mut Arrival<'_>,
        mut record: EgressRecord,
        refused: Refused,
    ) -> Response<Body> {
        let Refused {
            reason,
            status,
            message,
        } = refused;
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

impl<'a> Arrival<'a> {
    /// Takes `record` as the request's record on arrival.
    fn new(egress: &'a Journal<EgressRecord>, record: &EgressRecord) -> Self {
        Self {
            egress,
            record: Some(record.clone()),
        }
    }

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

/// The whole request body, or the refusal if it cannot be read or is larger than [`MAX_BODY`].
async fn read_body<B>(body: B) -> Result<Bytes, Refused>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(Refused {
            reason: Refusal::BadRequest,
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "the request body could not be read or is larger than 64 MiB".to_owned(),
        }),
    }
}

/// Refuses a scheme the site does not serve: plain http to an https-only site, or https to a
/// plain-http-only one.
fn serves_scheme(site: &Site, scheme: Scheme, host: &str) -> Result<(), Refused> {
    match scheme {
        Scheme::Http if !site.plain_http => Err(Refused {
            reason: Refusal::PlainHttpNotServed,
            status: StatusCode::FORBIDDEN,
            message: format!(
                "credsim front door: {host} is only served over https; plain http was refused \
                 and recorded"
            ),
        }),
        Scheme::Https if !site.https => Err(Refused {
            reason: Refusal::HttpsNotServed,
            status: StatusCode::BAD_GATEWAY,
            message: format!("credsim front door: {host} is only served over plain http"),
        }),
        _ => Ok(()),
    }
}

/// The canned answer of a [`FaultAction::Respond`] rule; a status or header that is not valid
/// HTTP falls back to `500` or is left out.
fn fault_response(status: u16, headers: Vec<(String, String)>, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// The request as the site's router sees it: carrying its [`RequestContext`], in origin form, with
/// the body already read.
fn site_request(
    mut parts: http::request::Parts,
    body: Bytes,
    conn: &ConnInfo,
    record: &EgressRecord,
) -> Request<Body> {
    parts.extensions.insert(RequestContext {
        client: conn.client.clone(),
        via: conn.via,
        scheme: conn.scheme,
        host: record.host.clone(),
        port: record.port,
    });
    // Routers match on the path; hand them origin-form even when a proxy request carried
    // the absolute form.
    if let Some(pq) = parts.uri.path_and_query().cloned() {
        parts.uri = http::Uri::from(pq);
    }
    Request::from_parts(parts, Body::from(body))
}

/// Lets the site answer the request and records how it did: served, a dropped connection its
/// fault rules asked for, or (its handler panicked) an internal error.
async fn run_site(
    site: &Site,
    req: Request<Body>,
    record: &mut EgressRecord,
) -> Result<Response<Body>, Dropped> {
    let resp = match run_router(site, req).await {
        Ok(resp) => resp,
        Err(why) => return Ok(internal_error(site, &why, record)),
    };
    if resp.extensions().get::<DropConnection>().is_some() {
        record.outcome = Outcome::Dropped {
            fault: resp
                .extensions()
                .get::<FaultId>()
                .copied()
                .unwrap_or(FaultId(0)),
        };
        return Err(Dropped);
    }
    record.status = resp.status().as_u16();
    record.outcome = Outcome::Served {
        site: site.name.clone(),
    };
    Ok(resp)
}

/// Runs the site's router in a task of its own, so that a panic in its handler is caught here
/// (answered in the service's error shape, recorded, never a dropped connection); a panic comes
/// back as what it said.
async fn run_router(site: &Site, req: Request<Body>) -> Result<Response<Body>, String> {
    let router = site.router.clone();
    let handled = tokio::spawn(async move {
        let resp: Result<Response<Body>, Infallible> = router.oneshot(req).await;
        resp
    })
    .await;
    match handled {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(never)) => match never {},
        Err(join) => Err(match join.try_into_panic() {
            Ok(payload) => payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
            Err(_) => "the handler was cancelled".into(),
        }),
    }
}

/// The answer to a request whose handler panicked (`why`): in the service's own error shape
/// ([`Site::internal_error`]), recorded as an internal error of the site.
fn internal_error(site: &Site, why: &str, record: &mut EgressRecord) -> Response<Body> {
    tracing::error!(site = %site.name, %why, method = %record.method, path = %record.path, "a fake's handler panicked");
    // The query stays out of the answer and the journal: it may carry a secret.
    let bare = record.path.split('?').next().unwrap_or("/");
    let message = format!(
        "credsim: {} failed internally on {} {bare}",
        site.name, record.method
    );
    let resp = (site.internal_error)(&crate::site::InternalFailure {
        method: &record.method,
        host: &record.host,
        path: bare,
        message: &message,
    });
    record.status = resp.status().as_u16();
    record.outcome = Outcome::InternalError {
        site: site.name.clone(),
    };
    resp
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
