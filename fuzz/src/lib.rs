//! What the fuzz targets share: a request built from the fuzzer's bytes ([`Input`]), sent to a
//! fake's router through `tower::ServiceExt::oneshot` (no sockets), and the one rule every answer
//! must keep: no panic, no 5xx (no fault is declared here).
//!
//! An input picks a method, one of the fake's real routes with holes for fuzzed path segments
//! (bytes a path cannot hold are percent-encoded, so the fake sees them decoded: `%0A`, `%00`),
//! query parameters and headers from the names the fakes read, a body, and whether to present
//! valid credentials (so that the fuzzer reaches the handlers behind authentication).

use std::net::SocketAddr;

use axum::body::Body;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use mock_kit::site::{ClientInfo, Scheme, Via};
use tower::ServiceExt as _;

/// One generated request.
#[derive(Arbitrary, Debug)]
pub struct Input {
    pub method: u8,
    pub template: u8,
    pub holes: Vec<Vec<u8>>,
    pub query: Vec<(u8, Vec<u8>)>,
    pub headers: Vec<(u8, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Present the fake's valid credentials (its admin token, password or header).
    pub authenticated: bool,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

const HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "metadata",
    "x-identity-header",
    "accept",
    "x-forwarded-for",
    "impersonate-user",
    "impersonate-group",
    "x-ms-client-request-id",
    "docker-content-digest",
    "range",
];

const QUERY_KEYS: &[&str] = &[
    "api-version",
    "resource",
    "client_id",
    "object_id",
    "msi_res_id",
    "mi_res_id",
    "principal_id",
    "scope",
    "service",
    "grant_type",
    "digest",
    "n",
    "last",
    "orderby",
    "labelSelector",
    "fieldSelector",
    "dryRun",
    "watch",
    "format",
    "artifactType",
];

/// Bytes of a path segment or query value: kept where a URI may hold them, else `%XX`. A `%`
/// is kept as it is, so that malformed escapes reach the fake too.
fn encode(bytes: &[u8], in_query: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~:@!$'()*+,;%".contains(&b)
            || (!in_query && (b == b'/' || b == b'=' || b == b'&'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Input {
    /// The request for `host` along one of `templates` (`{}` marks a hole), or `None` when the
    /// bytes make no request at all (a URI or header the HTTP types refuse before any fake could
    /// see it). `credentials` is the `authorization` (or other) header to present when the input
    /// asks to be authenticated.
    pub fn request(
        &self,
        templates: &[&str],
        host: &str,
        scheme: Scheme,
        credentials: &[(&str, String)],
    ) -> Option<http::Request<Body>> {
        let method = METHODS[self.method as usize % METHODS.len()];
        let template = templates[self.template as usize % templates.len()];
        let mut holes = self.holes.iter();
        let mut path = String::new();
        let mut parts = template.split("{}").peekable();
        while let Some(part) = parts.next() {
            path.push_str(part);
            if parts.peek().is_some() {
                path.push_str(&encode(holes.next().map_or(&[][..], |h| h), false));
            }
        }
        let query: Vec<String> = self
            .query
            .iter()
            .take(8)
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    QUERY_KEYS[*k as usize % QUERY_KEYS.len()],
                    encode(v, true)
                )
            })
            .collect();
        let uri = if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        };
        let mut b = http::Request::builder().method(method).uri(uri);
        if self.authenticated {
            for (name, value) in credentials {
                b = b.header(*name, value.as_str());
            }
        }
        for (name, value) in self.headers.iter().take(8) {
            let name = HEADERS[*name as usize % HEADERS.len()];
            if let Ok(v) = http::HeaderValue::from_bytes(value) {
                b = b.header(name, v);
            }
        }
        let mut req = b.body(Body::from(self.body.clone())).ok()?;
        req.extensions_mut().insert(mock_kit::RequestContext {
            client: ClientInfo {
                addr: SocketAddr::from(([127, 0, 0, 1], 40000)),
                label: Some("node-a".into()),
            },
            via: Via::FrontDoor,
            scheme,
            host: host.to_owned(),
            port: match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            },
        });
        Some(req)
    }
}

/// The `5xx` answers the real services give, and the fakes with them: the API server answers
/// `Impersonate-Group` without `Impersonate-User` with `500 InternalError` (its impersonation
/// filter does).
const FAITHFUL_5XX: &[&str] = &["requested impersonation of groups without impersonating a user"];

/// Sends `req` to `router` and reads the whole answer: a panic fails the run (the fuzzer's
/// finding), and so does any 5xx.
pub fn check(router: &axum::Router, req: http::Request<Body>) {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    let what = format!("{} {}", req.method(), req.uri());
    // A `HEAD` answer has no body to tell a faithful 5xx by: the same request as `GET` says.
    let as_get = (req.method() == http::Method::HEAD).then(|| {
        let mut b = http::Request::builder()
            .method("GET")
            .uri(req.uri().clone());
        for (k, v) in req.headers() {
            b = b.header(k, v);
        }
        let mut r = b.body(Body::empty()).expect("the same request");
        if let Some(c) = req.extensions().get::<mock_kit::RequestContext>() {
            r.extensions_mut().insert(c.clone());
        }
        r
    });
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let send = |req: http::Request<Body>| async {
                let Ok(resp) = router.clone().oneshot(req).await;
                let status = resp.status();
                let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
                    .await
                    .unwrap_or_default();
                (status, String::from_utf8_lossy(&body).into_owned())
            };
            let (status, mut body) = send(req).await;
            if status.as_u16() >= 500
                && let Some(get) = as_get
            {
                body = send(get).await.1;
            }
            assert!(
                status.as_u16() < 500 || FAITHFUL_5XX.iter().any(|m| body.contains(m)),
                "{what}: {status}: {body}"
            );
        });
    });
}

/// Every fake behind one directory: two tenants (an app with a secret, managed identities), a
/// registry with an admin user and content, a node with identities, a cluster with namespaces.
pub struct Fakes {
    pub entra: mock_entra::MockEntra,
    pub acr: mock_acr::MockAcr,
    pub imds: mock_imds::MockImds,
    pub k8s: mock_k8s::MockK8s,
}

impl Fakes {
    pub fn get() -> &'static Fakes {
        static FAKES: std::sync::OnceLock<Fakes> = std::sync::OnceLock::new();
        FAKES.get_or_init(|| {
            use mock_acr::model::{ArtifactKind, RepositorySpec};
            use mock_acr::policy::Role;
            use mock_entra::{Identity, Tenant};
            mock_kit::install_crypto_provider();
            // Bounded, as in `credsim up`: a long fuzzing run mints tokens without end.
            let secrets = mock_kit::SecretRegistry::bounded(1000);
            let entra = mock_entra::MockEntra::builder()
                .tenant(
                    Tenant::new("contoso")
                        .identity(Identity::system_assigned("node-a"))
                        .identity(Identity::user_assigned("kubelet-mi"))
                        .identity(Identity::user_assigned("project-a-mi"))
                        .identity(Identity::app("ci-app").minted_secret(None)),
                )
                .tenant(Tenant::new("fabrikam").identity(Identity::user_assigned("fab-mi")))
                .secrets(secrets.clone())
                .journal_capacity(1000)
                .build()
                .expect("entra");
            let acr = mock_acr::MockAcr::builder(entra.clone())
                .registry(
                    mock_acr::RegistrySpec::new("contosoacr", "contoso")
                        .admin_user()
                        .assign("contoso", "project-a-mi", Role::AcrPull, None)
                        .assign("contoso", "ci-app", Role::AcrPush, None)
                        .repository(
                            RepositorySpec::new("project-a/app")
                                .artifact("1.0.0", ArtifactKind::Image)
                                .artifact("multi", ArtifactKind::Index),
                        )
                        .repository(
                            RepositorySpec::new("charts/guestbook")
                                .artifact("0.1.0", ArtifactKind::Helm),
                        ),
                )
                .secrets(secrets.clone())
                .journal_capacity(1000)
                .build()
                .expect("acr");
            let imds = mock_imds::MockImds::builder(entra.clone())
                .node(
                    mock_imds::Node::new("node-a", "contoso")
                        .system_assigned()
                        .user_assigned("kubelet-mi")
                        .user_assigned("project-a-mi"),
                )
                .secrets(secrets.clone())
                .journal_capacity(1000)
                .build()
                .expect("imds");
            let k8s = mock_k8s::MockK8s::builder(
                mock_k8s::ClusterSpec::new("shard-a")
                    .namespace("project-a")
                    .service_account(
                        "project-a",
                        "credentials",
                        &[(
                            "azure.workload.identity/client-id",
                            "00000000-0000-0000-0000-00000000000a",
                        )],
                    ),
            )
            .secrets(secrets)
            .journal_capacity(1000)
            .build()
            .expect("k8s");
            Fakes {
                entra,
                acr,
                imds,
                k8s,
            }
        })
    }
}
