//! mock-imds through the front door (plain HTTP to 169.254.169.254) and on its nodes' direct
//! listeners: token answers with every field each SDK needs, identity selection, the error table,
//! instance metadata, the App Service variant, faults; and the real Python
//! `ManagedIdentityCredential` three ways.

use std::time::Duration;

use mock_entra::{Identity, MockEntra, Tenant};
use mock_imds::{MockImds, Node};
use mock_kit::fault::FaultRule;
use mock_kit::{FrontDoor, SecretRegistry};
use serde_json::Value;

struct World {
    door: FrontDoor,
    entra: MockEntra,
    imds: MockImds,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    ca_path: std::path::PathBuf,
}

impl World {
    async fn new() -> Self {
        mock_kit::install_crypto_provider();
        let secrets = SecretRegistry::new();
        let door = FrontDoor::builder()
            .secrets(secrets.clone())
            .start()
            .await
            .unwrap();
        let entra = MockEntra::builder()
            .tenant(
                Tenant::new("contoso")
                    .identity(Identity::system_assigned("shard-a-node"))
                    .identity(Identity::user_assigned("kubelet-mi"))
                    .identity(Identity::user_assigned("project-x-mi")),
            )
            .secrets(secrets.clone())
            .build()
            .unwrap();
        let imds = MockImds::builder(entra.clone())
            .node(
                Node::new("shard-a-node", "contoso")
                    .system_assigned()
                    .user_assigned("kubelet-mi"),
            )
            .node(
                Node::new("multi-node", "contoso")
                    .user_assigned("kubelet-mi")
                    .user_assigned("project-x-mi"),
            )
            .node(Node::new("bare-node", "contoso"))
            .secrets(secrets.clone())
            .build()
            .unwrap();
        door.add_site(entra.site()).await.unwrap();
        door.add_site(imds.site()).await.unwrap();
        for n in imds.nodes() {
            door.add_site(imds.node_site(&n).unwrap()).await.unwrap();
        }
        let http = door.client(Some("shard-a-node"));
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, door.ca().cert_pem()).unwrap();
        Self {
            door,
            entra,
            imds,
            http,
            _dir: dir,
            ca_path,
        }
    }

    fn client_for(&self, node: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(self.door.proxy_url_for(node)).unwrap())
            .build()
            .unwrap()
    }

    fn identity(&self, name: &str) -> Identity {
        self.entra
            .directory()
            .tenant_named("contoso")
            .unwrap()
            .identity_named(name)
            .unwrap()
            .clone()
    }

    async fn token(
        &self,
        client: &reqwest::Client,
        query: &str,
        metadata: Option<&str>,
    ) -> (u16, Value, String) {
        let mut req = client.get(format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?{query}"
        ));
        if let Some(m) = metadata {
            req = req.header("Metadata", m);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, resp.json().await.unwrap_or(Value::Null), ct)
    }
}

const ARM: &str = "resource=https%3A%2F%2Fmanagement.azure.com%2F";

fn claims(token: &str) -> Value {
    Value::Object(mock_kit::jwt::decode_unverified(token).unwrap().claims)
}

#[tokio::test]
async fn system_assigned_token_has_every_field_as_strings() {
    let w = World::new().await;
    let (s, body, ct) = w
        .token(
            &w.http,
            &format!("api-version=2018-02-01&{ARM}"),
            Some("true"),
        )
        .await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(ct, "application/json; charset=utf-8");
    for k in ["expires_in", "expires_on", "ext_expires_in", "not_before"] {
        assert!(
            body[k].as_str().unwrap().parse::<i64>().is_ok(),
            "{k} must be a numeric string: {body:#}"
        );
    }
    assert_eq!(body["expires_in"], "86399");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://management.azure.com/");
    let node = w.identity("shard-a-node");
    assert_eq!(body["client_id"], node.client_id.to_string());
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], "https://management.azure.com/");
    assert_eq!(c["oid"], node.object_id.to_string());
    assert_eq!(c["appid"], node.client_id.to_string());
    assert!(
        c["xms_mirid"]
            .as_str()
            .unwrap()
            .ends_with("/providers/Microsoft.Compute/virtualMachines/shard-a-node")
    );
    assert_eq!(
        c["exp"].as_i64().unwrap().to_string(),
        body["expires_on"].as_str().unwrap()
    );
    assert_eq!(
        c["iss"].as_str().unwrap(),
        format!("https://sts.windows.net/{}/", c["tid"].as_str().unwrap())
    );
    let ev = w.imds.journal().snapshot();
    assert_eq!(ev[0].identity.as_deref(), Some("shard-a-node"));
    assert_eq!(ev[0].status, 200);
}

#[tokio::test]
async fn user_assigned_selection_by_client_id_object_id_and_resource_id() {
    let w = World::new().await;
    let kubelet = w.identity("kubelet-mi");
    let rid = kubelet.resource_id.clone().unwrap();
    for q in [
        format!("client_id={}", kubelet.client_id),
        format!("object_id={}", kubelet.object_id),
        format!("msi_res_id={}", rid),
    ] {
        let (s, body, _) = w
            .token(
                &w.http,
                &format!("api-version=2019-08-01&{ARM}&{q}"),
                Some("true"),
            )
            .await;
        assert_eq!(s, 200, "{q}: {body:#}");
        let c = claims(body["access_token"].as_str().unwrap());
        assert_eq!(c["oid"], kubelet.object_id.to_string(), "{q}");
        assert_eq!(c["xms_mirid"], rid);
    }
}

async fn assert_imds_error(got: (u16, Value, String), error: &str, description: &str) {
    assert_eq!(got.0, 400, "{:#}", got.1);
    assert_eq!(got.1["error"], error, "{:#}", got.1);
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .starts_with(description),
        "{:#}",
        got.1
    );
}

#[tokio::test]
async fn the_error_table() {
    let w = World::new().await;
    let q = format!("api-version=2018-02-01&{ARM}");
    assert_imds_error(
        w.token(&w.http, &q, None).await,
        "invalid_request",
        "Required metadata header not specified",
    )
    .await;
    assert_imds_error(
        w.token(&w.http, &q, Some("True")).await,
        "invalid_request",
        "Required metadata header not specified",
    )
    .await;
    assert_imds_error(
        w.token(&w.http, ARM, Some("true")).await,
        "invalid_request",
        "Required query variable 'api-version' is missing",
    )
    .await;
    assert_imds_error(
        w.token(&w.http, "api-version=2018-02-01", Some("true"))
            .await,
        "invalid_request",
        "Required audience parameter not specified",
    )
    .await;
    let stranger = uuid::Uuid::new_v4();
    assert_imds_error(
        w.token(&w.http, &format!("{q}&client_id={stranger}"), Some("true"))
            .await,
        "invalid_request",
        "Identity not found",
    )
    .await;
    // project-x-mi exists in the tenant but is not attached to shard-a-node.
    let x = w.identity("project-x-mi").client_id;
    assert_imds_error(
        w.token(&w.http, &format!("{q}&client_id={x}"), Some("true"))
            .await,
        "invalid_request",
        "Identity not found",
    )
    .await;
    assert_imds_error(w.token(&w.client_for("multi-node"), &q, Some("true")).await, "invalid_request", "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request").await;
    assert_imds_error(
        w.token(&w.client_for("bare-node"), &q, Some("true")).await,
        "invalid_request",
        "Identity not found",
    )
    .await;
    assert_imds_error(
        w.token(
            &w.http,
            "api-version=2018-02-01&resource=https://unknown.example/",
            Some("true"),
        )
        .await,
        "invalid_resource",
        "AADSTS500011: The resource principal named https://unknown.example/ was not found",
    )
    .await;
    let resp = w
        .http
        .post(format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?{q}"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    // Never over TLS: IMDS is plain HTTP only.
    let resp = w
        .http
        .get(format!(
            "https://169.254.169.254/metadata/identity/oauth2/token?{q}"
        ))
        .send()
        .await;
    assert!(resp.is_err() || resp.unwrap().status() == 502);
}

#[tokio::test]
async fn instance_metadata_with_aks_tags() {
    let w = World::new().await;
    let resp = w
        .http
        .get("http://169.254.169.254/metadata/instance?api-version=2021-10-01&format=json")
        .header("Metadata", "True")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["compute"]["name"], "shard-a-node");
    assert_eq!(doc["compute"]["azEnvironment"], "AzurePublicCloud");
    let tags = doc["compute"]["tagsList"].as_array().unwrap();
    let kubelet = tags
        .iter()
        .find(|t| t["name"] == "aks-managed-kubeletIdentityClientID")
        .unwrap();
    assert_eq!(
        kubelet["value"],
        w.identity("kubelet-mi").client_id.to_string()
    );
    assert!(
        doc["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"]
            .as_str()
            .unwrap()
            .starts_with("10.224.")
    );
    let resp = w
        .http
        .get("http://169.254.169.254/metadata/instance?api-version=2021-10-01")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn instance_api_versions_and_forwarded_requests_are_refused_as_imds_does() {
    let w = World::new().await;
    let get = |q: &'static str| {
        w.http
            .get(format!("http://169.254.169.254/metadata/instance{q}"))
            .header("Metadata", "true")
            .send()
    };
    for (q, error) in [
        (
            "",
            "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds",
        ),
        (
            "?api-version=",
            "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds",
        ),
        (
            "?api-version=2099-01-01",
            "Bad request. api-version was not a supported version",
        ),
        (
            "?api-version=latest%0A",
            "Bad request. api-version was not a supported version",
        ),
    ] {
        let resp = get(q).await.unwrap();
        assert_eq!(resp.status(), 400, "{q}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error, "{q}");
        // The three newest versions, newest first, each one the endpoint takes.
        let newest = body["newest-versions"].as_array().unwrap();
        assert_eq!(newest.len(), 3);
        assert!(newest[0].as_str().unwrap() > newest[1].as_str().unwrap());
        let v = newest[0].as_str().unwrap().to_owned();
        let ok = w
            .http
            .get(format!(
                "http://169.254.169.254/metadata/instance?api-version={v}"
            ))
            .header("Metadata", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{v}");
    }
    // Through a proxy that says so: refused on both paths.
    for url in [
        "http://169.254.169.254/metadata/instance?api-version=2021-02-01".to_owned(),
        format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&{ARM}"
        ),
    ] {
        let resp = w
            .http
            .get(&url)
            .header("Metadata", "true")
            .header("X-Forwarded-For", "10.0.0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_description"], mock_imds::FORWARDED_REFUSED);
    }
    let no_forward = w
        .http
        .get(format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&{ARM}"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(no_forward.status(), 200);
}

#[tokio::test]
async fn app_service_variant_checks_the_identity_header() {
    let w = World::new().await;
    let endpoint = w.door.endpoint("mock-imds/shard-a-node").unwrap();
    let header = w.imds.identity_header("shard-a-node").unwrap();
    let url = format!(
        "{}/msi/token?api-version=2019-08-01&{ARM}",
        endpoint.direct_url
    );
    let direct = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = direct
        .get(&url)
        .header("X-IDENTITY-HEADER", header.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(body["resource"], "https://management.azure.com/");
    assert_eq!(body["token_type"], "Bearer");
    let resp = direct
        .get(&url)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["statusCode"], 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("X-IDENTITY-HEADER")
    );
}

#[tokio::test]
async fn faults_updating_throttled_and_no_answer() {
    let w = World::new().await;
    let q = format!("api-version=2018-02-01&{ARM}");
    w.imds.faults().inject(
        FaultRule::on_site("mock-imds", mock_imds::faults::updating())
            .tag("endpoint", "token")
            .times(1),
    );
    let (s, _, _) = w.token(&w.http, &q, Some("true")).await;
    assert_eq!(s, 410);
    let (s, _, _) = w.token(&w.http, &q, Some("true")).await;
    assert_eq!(s, 200);
    // Throttle only one node.
    w.imds.faults().inject(
        FaultRule::on_site("mock-imds", mock_imds::faults::throttled()).tag("node", "multi-node"),
    );
    assert_eq!(
        w.token(&w.client_for("multi-node"), &q, Some("true"))
            .await
            .0,
        429
    );
    assert_eq!(w.token(&w.http, &q, Some("true")).await.0, 200);
    w.imds.faults().clear();
    w.imds.faults().inject(
        FaultRule::on_site(
            "mock-imds",
            mock_imds::faults::no_answer(Duration::from_secs(30)),
        )
        .times(1),
    );
    let impatient = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(w.door.proxy_url()).unwrap())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = impatient
        .get(format!(
            "http://169.254.169.254/metadata/identity/oauth2/token?{q}"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

// ---- the real Python ManagedIdentityCredential ------------------------------------------------

async fn python_mi(w: &World, label: &str, extra: Vec<(&str, String)>) -> Value {
    let mut env = w.door.client_env(Some(label), &w.ca_path);
    env.push((
        "CREDSIM_SCOPE".into(),
        "https://management.azure.com/.default".into(),
    ));
    env.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    tokio::task::spawn_blocking(move || {
        mock_kit::testing::run_python_json("azure_credentials.py", &["managed-identity"], &env)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn py_claims(out: &Value) -> Value {
    assert!(out.get("error").is_none(), "{out:#}");
    out["claims"].clone()
}

#[tokio::test]
async fn python_managed_identity_credential_three_ways() {
    let w = World::new().await;
    let system = w.identity("shard-a-node");
    let kubelet = w.identity("kubelet-mi");

    // 1. Through the front door at 169.254.169.254 (the proxy label names the node).
    let out = python_mi(&w, "shard-a-node", vec![]).await;
    assert_eq!(py_claims(&out)["oid"], system.object_id.to_string());
    let out = python_mi(
        &w,
        "shard-a-node",
        vec![("CREDSIM_CLIENT_ID", kubelet.client_id.to_string())],
    )
    .await;
    assert_eq!(py_claims(&out)["oid"], kubelet.object_id.to_string());
    assert!(
        w.door
            .egress()
            .count(|r| r.host == "169.254.169.254" && r.status == 200)
            >= 2
    );

    // 2. AZURE_POD_IDENTITY_AUTHORITY_HOST pointing at the node's own listener (NO_PROXY empty:
    //    the front door recognises its direct listener's address).
    let node = w.door.endpoint("mock-imds/shard-a-node").unwrap();
    let out = python_mi(
        &w,
        "pod",
        vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", node.direct_url.clone())],
    )
    .await;
    assert_eq!(py_claims(&out)["oid"], system.object_id.to_string());

    // 3. The App Service variant.
    let out = python_mi(
        &w,
        "app-service",
        vec![
            (
                "IDENTITY_ENDPOINT",
                format!("{}/msi/token", node.direct_url),
            ),
            (
                "IDENTITY_HEADER",
                w.imds
                    .identity_header("shard-a-node")
                    .unwrap()
                    .expose()
                    .clone(),
            ),
        ],
    )
    .await;
    assert_eq!(py_claims(&out)["oid"], system.object_id.to_string());
    let app = w.imds.journal().filter(|e| e.endpoint == "app-service");
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].status, 200);

    // An identity the node does not have: the SDK reports the 400, without minutes of retries.
    let x = w.identity("project-x-mi").client_id.to_string();
    let started = std::time::Instant::now();
    let out = python_mi(&w, "shard-a-node", vec![("CREDSIM_CLIENT_ID", x)]).await;
    assert!(out["error"].is_string(), "{out:#}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("Identity not found"),
        "{out:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

// ---- the real Go ManagedIdentityCredential (azidentity, pinned in clients/go/go.mod) ----------

async fn go_mi(w: &World, label: &str, extra: Vec<(&str, String)>) -> Value {
    let mut env = w.door.client_env(Some(label), &w.ca_path);
    env.push((
        "CHECK_SCOPE".into(),
        "https://management.azure.com/.default".into(),
    ));
    env.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    tokio::task::spawn_blocking(move || mock_kit::testing::run_go_json("managed-identity", &env))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn go_managed_identity_credential_system_and_user_assigned() {
    let w = World::new().await;
    let system = w.identity("shard-a-node");
    let kubelet = w.identity("kubelet-mi");
    // Through the front door at 169.254.169.254: Go's proxy settings apply to a link-local
    // address, and the proxy label names the node.
    let out = go_mi(&w, "shard-a-node", vec![]).await;
    assert!(out.get("error").is_none(), "{out:#}");
    assert_eq!(out["claims"]["oid"], system.object_id.to_string());
    assert_eq!(out["claims"]["aud"], "https://management.azure.com");
    let out = go_mi(
        &w,
        "shard-a-node",
        vec![("CHECK_CLIENT", kubelet.client_id.to_string())],
    )
    .await;
    assert!(out.get("error").is_none(), "{out:#}");
    assert_eq!(out["claims"]["oid"], kubelet.object_id.to_string());
    assert_eq!(out["claims"]["appid"], kubelet.client_id.to_string());
    // The SDK sent the Metadata header and an api-version IMDS accepts: both were journaled 200.
    let ok = w
        .imds
        .journal()
        .filter(|e| e.endpoint == "token" && e.status == 200);
    assert!(ok.len() >= 2, "{ok:#?}");
    // An identity the node does not have: the 400 reaches the caller, quickly.
    let x = w.identity("project-x-mi").client_id.to_string();
    let started = std::time::Instant::now();
    let out = go_mi(&w, "shard-a-node", vec![("CHECK_CLIENT", x)]).await;
    let err = out["error"].as_str().unwrap_or_else(|| panic!("{out:#}"));
    assert!(err.contains("Identity not found"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
}
