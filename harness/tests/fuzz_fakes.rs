//! Malformed requests, generated, through the front door to every fake of a world (Entra, ACR and
//! its storage, IMDS, a cluster's API server): every one gets an answer (no dropped connection),
//! none is a 5xx (no fault is declared here), nothing is recorded as a fake's internal error, and
//! each fake still answers a valid request afterwards.

use std::net::SocketAddr;
use std::path::Path;

use credsim_world::world::RunningWorld;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One generated request.
#[derive(Clone, Debug)]
struct Junk {
    target: usize,
    method: &'static str,
    path: String,
    authorization: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~-]{0,10}",
        Just("%0A".to_owned()),
        Just("%0D%0A".to_owned()),
        Just("%00".to_owned()),
        Just("%2F".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("%25".to_owned()),
        Just("..".to_owned()),
        Just("".to_owned()),
        Just("v2".to_owned()),
        Just("_catalog".to_owned()),
        Just("tags".to_owned()),
        Just("list".to_owned()),
        Just("manifests".to_owned()),
        Just("blobs".to_owned()),
        Just("uploads".to_owned()),
        Just("sha256:".to_owned()),
        Just("oauth2".to_owned()),
        Just("token".to_owned()),
        Just("exchange".to_owned()),
        Just("v2.0".to_owned()),
        Just("metadata".to_owned()),
        Just("identity".to_owned()),
        Just("instance".to_owned()),
        Just("api".to_owned()),
        Just("v1".to_owned()),
        Just("namespaces".to_owned()),
        Just("serviceaccounts".to_owned()),
        Just("contoso.onmicrosoft.com".to_owned()),
        Just("project-a".to_owned()),
        Just(".well-known".to_owned()),
        Just("openid-configuration".to_owned()),
    ]
}

/// The real routes of the fakes, with holes (`{}`) for generated segments: malformed input where
/// the fakes parse it, not only at paths no route matches.
const TEMPLATES: &[&str] = &[
    "/{}/oauth2/v2.0/token",
    "/{}/oauth2/token",
    "/{}/v2.0/.well-known/openid-configuration",
    "/{}/discovery/v2.0/keys",
    "/v2/{}/tags/list",
    "/v2/{}/manifests/{}",
    "/v2/{}/blobs/{}",
    "/v2/{}/blobs/uploads/",
    "/v2/{}/blobs/uploads/{}",
    "/v2/{}/referrers/{}",
    "/acr/v1/{}/_tags",
    "/acr/v1/{}/_tags/{}",
    "/acr/v1/{}/_manifests/{}",
    "/oauth2/token",
    "/oauth2/exchange",
    "/metadata/identity/oauth2/token",
    "/metadata/instance",
    "/msi/token",
    "/api/v1/namespaces/{}/serviceaccounts/{}/token",
    "/api/v1/namespaces/{}/serviceaccounts/{}",
    "/api/v1/namespaces/{}/secrets/{}",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{}/roles/{}",
];

fn templated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(TEMPLATES),
        prop::collection::vec(prop::collection::vec(segment(), 1..3), 2),
    )
        .prop_map(|(t, holes)| {
            let mut out = t.to_owned();
            for h in holes {
                out = out.replacen("{}", &h.join("/"), 1);
            }
            out
        })
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("api-version"),
                Just("resource"),
                Just("client_id"),
                Just("scope"),
                Just("service"),
                Just("n"),
                Just("last"),
                Just("digest"),
                Just("x"),
            ],
            prop_oneof![
                "[a-zA-Z0-9:/._-]{0,24}",
                Just("%0A%00".to_owned()),
                Just("2018-02-01".to_owned()),
                Just("-1".to_owned()),
                Just("99999999999999999999".to_owned()),
            ],
        ),
        0..4,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn junk(targets: usize) -> impl Strategy<Value = Junk> {
    (
        0..targets,
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("PATCH"),
            Just("DELETE"),
            Just("HEAD"),
            Just("OPTIONS"),
        ],
        prop_oneof![
            templated(),
            prop::collection::vec(segment(), 0..7).prop_map(|s| format!("/{}", s.join("/"))),
        ],
        query(),
        prop::option::of(prop_oneof![
            "Bearer [a-zA-Z0-9._-]{0,40}",
            "Basic [a-zA-Z0-9+/=]{0,40}",
            Just("Bearer eyJhbGciOiJub25lIn0.e30.".to_owned()),
        ]),
        prop::option::of(prop_oneof![
            Just("application/x-www-form-urlencoded"),
            Just("application/json"),
            Just("application/vnd.oci.image.manifest.v1+json"),
            Just("text/plain"),
        ]),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            "(grant_type|client_id|scope|client_assertion|access_token|refresh_token|service)=[a-zA-Z0-9%&=._-]{0,40}"
                .prop_map(String::into_bytes),
            Just(b"{\"a\":".to_vec()),
        ],
    )
        .prop_map(|(target, method, mut path, q, authorization, content_type, body)| {
            if !q.is_empty() {
                path = format!("{path}?{q}");
            }
            Junk {
                target,
                method,
                path,
                authorization,
                content_type,
                body,
            }
        })
}

#[test]
fn generated_malformed_requests_get_answers_never_5xx_and_the_fakes_go_on() {
    mock_kit::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/corpus/entra/node-identity-not-borrowed.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let world = rt
        .block_on(RunningWorld::start(
            &s,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .unwrap();
    let cluster_host = world.cloud.clusters[0].api_host();
    let targets: Vec<String> = vec![
        "https://login.microsoftonline.com".into(),
        "https://contosoacr.azurecr.io".into(),
        "http://169.254.169.254".into(),
        format!("https://{cluster_host}"),
    ];
    let http = world.cloud.door.client(None);
    let mut runner = TestRunner::new(Config {
        // A few thousand in `cargo test`; `CREDSIM_FUZZ_CASES` runs more.
        cases: std::env::var("CREDSIM_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&junk(targets.len()), |j| {
        let url = format!("{}{}", targets[j.target], j.path);
        let outcome = rt.block_on(async {
            let Ok(method) = reqwest::Method::from_bytes(j.method.as_bytes()) else {
                return Ok(0);
            };
            let mut req = http.request(method, &url).body(j.body.clone());
            if let Some(a) = &j.authorization {
                req = req.header("authorization", a);
            }
            if let Some(c) = j.content_type {
                req = req.header("content-type", c);
            }
            if j.target == 2 {
                req = req.header("metadata", "true");
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let _ = resp.bytes().await;
                    Ok(status)
                }
                Err(e) if e.is_builder() => Ok(0),
                Err(e) => Err(format!("{e:?}")),
            }
        });
        match outcome {
            Ok(status) => {
                prop_assert!(status < 500, "{} {url}: {status}", j.method);
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(format!(
                "{} {url}: no answer: {e}",
                j.method
            ))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every generated request reached a fake (none refused for want of a host), and each fake
    // saw its share.
    let record = world.cloud.door.egress().snapshot();
    for site in ["mock-entra", "mock-acr", "mock-imds"] {
        let served = record
            .iter()
            .filter(|r| matches!(&r.outcome, mock_kit::egress::Outcome::Served { site: s } if s == site))
            .count();
        assert!(
            served > 200,
            "{site} served only {served} of the generated requests"
        );
    }
    let k8s = record
        .iter()
        .filter(|r| matches!(&r.outcome, mock_kit::egress::Outcome::Served { site } if site.starts_with("k8s/")))
        .count();
    assert!(k8s > 200, "the API server served only {k8s}");
    let internal: Vec<_> = world
        .cloud
        .door
        .egress()
        .snapshot()
        .into_iter()
        .filter(|r| matches!(r.outcome, mock_kit::egress::Outcome::InternalError { .. }))
        .collect();
    assert!(internal.is_empty(), "{internal:#?}");
    // Every fake still answers a valid request.
    rt.block_on(async {
        for url in [
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
                .to_owned(),
            "https://contosoacr.azurecr.io/v2/".to_owned(),
            "http://169.254.169.254/metadata/instance?api-version=2021-02-01".to_owned(),
            format!("https://{cluster_host}/version"),
        ] {
            let resp = http
                .get(&url)
                .header("metadata", "true")
                .send()
                .await
                .unwrap();
            assert!(
                matches!(resp.status().as_u16(), 200 | 401),
                "{url}: {}",
                resp.status()
            );
        }
        world.shutdown().await;
    });
}

/// A panic forced in each fake's handler (a test-only route added to the fake's own site) is
/// answered `500` in that service's error shape, kept in the egress record as an internal error,
/// and noted in the fake's own journal; the fake answers the next request as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_panic_in_each_fake_is_answered_in_its_shape_recorded_and_journaled() {
    mock_kit::install_crypto_provider();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/corpus/entra/node-identity-not-borrowed.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let world = RunningWorld::start(&s, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let cloud = &world.cloud;
    let acr = cloud.acr.as_ref().unwrap();
    let imds = cloud.imds.as_ref().unwrap();
    let k8s = &cloud.clusters[0];
    let with_panic = |mut site: mock_kit::Site| {
        site.router = axum::Router::new()
            .route(
                "/credsim-test/panic",
                axum::routing::any(|| async {
                    if std::hint::black_box(true) {
                        panic!("a test-only route that panics");
                    }
                    ""
                }),
            )
            .merge(site.router);
        site
    };
    // A second front door of its own, so that the world's sites stay as they are.
    let door = mock_kit::FrontDoor::builder().start().await.unwrap();
    for site in [cloud.entra.site(), acr.site(), imds.site(), k8s.site()] {
        door.add_site(with_panic(site)).await.unwrap();
    }
    let http = door.client(None);
    let cases = [
        ("https://login.microsoftonline.com", "mock-entra", "/error"),
        (
            "https://contosoacr.azurecr.io",
            "mock-acr",
            "/errors/0/code",
        ),
        ("http://169.254.169.254", "mock-imds", "/error"),
        (&*format!("https://{}", k8s.api_host()), "k8s/", "/reason"),
    ];
    for (base, site, code_at) in cases {
        let resp = http
            .post(format!("{base}/credsim-test/panic?secret=hidden"))
            .header("metadata", "true")
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(resp.status(), 500, "{site}");
        let body: serde_json::Value = resp.json().await.unwrap();
        let code = body.pointer(code_at).and_then(|c| c.as_str());
        let expected = match site {
            "mock-entra" => "server_error",
            "mock-acr" => "UNKNOWN",
            "mock-imds" => "unknown_error",
            _ => "InternalError",
        };
        assert_eq!(code, Some(expected), "{site}: {body}");
        assert!(
            !body.to_string().contains("hidden"),
            "the query stays out of the answer: {body}"
        );
    }
    let internal: Vec<_> = door
        .egress()
        .snapshot()
        .into_iter()
        .filter_map(|r| match r.outcome {
            mock_kit::egress::Outcome::InternalError { site } => Some((site, r.status)),
            _ => None,
        })
        .collect();
    assert_eq!(internal.len(), 4, "{internal:?}");
    assert!(internal.iter().all(|(_, status)| *status == 500));
    // Each fake's own journal says so.
    let entra = cloud.entra.journal().filter(|e| {
        matches!(e, mock_entra::EntraEvent::InternalError { path, method, .. }
            if path == "/credsim-test/panic" && method == "POST")
    });
    assert_eq!(entra.len(), 1, "{:#?}", cloud.entra.journal().snapshot());
    let acr_events = acr.journal().filter(|e| e.endpoint == "internal:api");
    assert_eq!(acr_events.len(), 1);
    assert_eq!(acr_events[0].registry, "contosoacr");
    assert_eq!(acr_events[0].status, 500);
    assert_eq!(acr_events[0].path, "/credsim-test/panic");
    assert_eq!(imds.journal().count(|e| e.endpoint == "internal"), 1);
    let audit = k8s.audit().filter(|e| e.status == 500);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].verb, "post");
    assert_eq!(audit[0].path, "/credsim-test/panic");
    // And every fake goes on.
    let after = http
        .get("https://contosoacr.azurecr.io/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    door.shutdown().await;
    world.shutdown().await;
}
