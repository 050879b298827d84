//! TokenRequest end to end: the Python `kubernetes` client creates one; the token verifies against
//! the JWKS fetched from the issuer URL through the front door; mock-entra accepts it as a
//! federated assertion. And the negative cases: too short, no rights, unknown ServiceAccount, a
//! token from cluster B presented as cluster A's.

mod support;

use serde_json::{Value, json};
use support::*;

async fn token_request(
    w: &World,
    cluster: &str,
    token: &str,
    ns: &str,
    sa: &str,
    body: Value,
) -> (u16, Value) {
    let resp = w
        .api_client()
        .post(format!(
            "{}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
            w.server(cluster)
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap())
}

fn controller_token(w: &World) -> String {
    let yaml = std::fs::read_to_string(&w.controller_kubeconfig).unwrap();
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_owned()
}

async fn federate(w: &World, assertion: &str) -> (u16, Value) {
    let dir = w.entra.directory();
    let t = dir.tenant_named("contoso").unwrap();
    let mi = t.identity_named("project-a-mi").unwrap();
    let http = w.door.client(None);
    let resp = http
        .post(format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            t.id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &mi.client_id.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", "https://containerregistry.azure.net/.default"),
        ])
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap())
}

#[tokio::test]
async fn python_kubernetes_client_token_request_verifies_and_federates() {
    let w = World::new().await;
    let kubeconfig = w.controller_kubeconfig.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        mock_kit::testing::run_python_json(
            "k8s_clients.py",
            &["token-request"],
            &[
                ("KUBECONFIG".into(), kubeconfig),
                ("CREDSIM_NAMESPACE".into(), "project-a".into()),
                ("CREDSIM_SERVICE_ACCOUNT".into(), "credentials".into()),
                ("CREDSIM_AUDIENCE".into(), EXCHANGE.into()),
                ("CREDSIM_SECONDS".into(), "3600".into()),
            ],
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.get("error").is_none(), "{out:#}");
    let token = out["token"].as_str().unwrap().to_owned();
    assert!(out["expirationTimestamp"].as_str().unwrap().ends_with('Z'));

    // Verify against the JWKS published at the issuer URL, fetched through the front door.
    let http = w.door.client(None);
    let discovery: Value = http
        .get("https://oidc.shard-a.credsim.test/.well-known/openid-configuration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "https://oidc.shard-a.credsim.test/");
    let resp = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/jwk-set+json");
    let jwks: mock_kit::Jwks = resp.json().await.unwrap();
    let verified =
        mock_kit::jwt::verify(&token, &jwks, &[mock_kit::jwt::Algorithm::RS256]).unwrap();
    assert_eq!(
        verified.claim_str("iss"),
        Some("https://oidc.shard-a.credsim.test/")
    );
    assert_eq!(
        verified.claim_str("sub"),
        Some("system:serviceaccount:project-a:credentials")
    );
    assert_eq!(verified.claims["kubernetes.io"]["namespace"], "project-a");
    assert!(verified.claim_str("jti").is_some());

    // mock-entra accepts it as a federated assertion.
    let (s, body) = federate(&w, &token).await;
    assert_eq!(s, 200, "{body:#}");
    let audit =
        w.a.audit()
            .find(|e| e.token_request.is_some() && e.user.ends_with(":controller"))
            .unwrap();
    assert_eq!(
        audit.token_request.unwrap().token,
        mock_kit::Fingerprint::of(&token)
    );
}

#[tokio::test]
async fn negative_token_requests() {
    let w = World::new().await;
    let controller = controller_token(&w);
    let (s, body) = token_request(&w, "shard-a", &controller, "project-a", "credentials",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": [EXCHANGE], "expirationSeconds": 60}})).await;
    assert_eq!(s, 422);
    assert_eq!(body["reason"], "Invalid");
    assert_eq!(
        body["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    let (s, body) = token_request(
        &w,
        "shard-a",
        &controller,
        "project-b",
        "credentials",
        json!({"spec": {"audiences": [EXCHANGE]}}),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(body["reason"], "Forbidden");
    let admin = w.a.admin_token().expose().clone();
    let (s, body) = token_request(
        &w,
        "shard-a",
        &admin,
        "project-a",
        "nobody",
        json!({"spec": {}}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(body["message"], "serviceaccounts \"nobody\" not found");
    // Defaults: the API server's own audience, one hour.
    let (s, body) = token_request(
        &w,
        "shard-a",
        &admin,
        "project-a",
        "credentials",
        json!({"spec": {}}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        body["spec"]["audiences"],
        json!(["https://oidc.shard-a.credsim.test/"])
    );
    assert_eq!(body["spec"]["expirationSeconds"], 3600);

    // A token minted by cluster B: cluster A's API server refuses it, and mock-entra refuses it
    // for project-a's identity, which trusts only cluster A's issuer.
    let b_token =
        w.b.service_account_token(
            "project-a",
            "credentials",
            &[EXCHANGE],
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
    let (s, body) = federate(&w, b_token.expose()).await;
    assert_eq!(s, 401);
    assert_eq!(body["error_codes"], json!([700211]));
    let b_api =
        w.b.service_account_token(
            "kargo",
            "controller",
            &[w.b.issuer().url()],
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
    let (s, body) = token_request(
        &w,
        "shard-a",
        b_api.expose(),
        "project-a",
        "credentials",
        json!({"spec": {}}),
    )
    .await;
    assert_eq!(s, 401, "{body:#}");
    // A token for another audience is not an API credential either.
    let exchange_token =
        w.a.service_account_token(
            "kargo",
            "controller",
            &[EXCHANGE],
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
    let (s, _) = token_request(
        &w,
        "shard-a",
        exchange_token.expose(),
        "project-a",
        "credentials",
        json!({"spec": {}}),
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn issuer_documents_on_the_api_server_follow_rbac() {
    let w = World::new().await;
    let http = w.api_client();
    let url = format!("{}/openid/v1/jwks", w.server("shard-a"));
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        403,
        "anonymous JWKS is forbidden by default"
    );
    let sa = http
        .get(&url)
        .bearer_auth(controller_token(&w))
        .send()
        .await
        .unwrap();
    assert_eq!(sa.status(), 200);
    assert_eq!(sa.headers()["content-type"], "application/jwk-set+json");
}

#[tokio::test]
async fn projected_token_files_rotate_at_eighty_percent_of_their_lifetime() {
    let clock = mock_kit::Clock::frozen_at("2026-11-29T18:00:00Z".parse().unwrap());
    let k = mock_k8s::MockK8s::builder(support::cluster("shard-a"))
        .clock(clock.clone())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wi/token/azure-identity-token");
    let projected = k
        .project_token(
            "project-a",
            "credentials",
            EXCHANGE,
            std::time::Duration::from_secs(3600),
            &path,
        )
        .unwrap();
    let first = std::fs::read_to_string(&path).unwrap();
    let claims = mock_kit::jwt::decode_unverified(&first).unwrap();
    assert_eq!(
        claims.claim_str("sub"),
        Some("system:serviceaccount:project-a:credentials")
    );
    assert_eq!(claims.claims["aud"], json!([EXCHANGE]));
    clock.advance(std::time::Duration::from_secs(2879));
    assert!(!projected.refresh_if_due().unwrap());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    clock.advance(std::time::Duration::from_secs(1));
    assert!(projected.refresh_if_due().unwrap());
    let second = std::fs::read_to_string(&path).unwrap();
    assert_ne!(second, first);
    let c2 = mock_kit::jwt::decode_unverified(&second).unwrap();
    assert_eq!(
        c2.claim_i64("iat").unwrap() - claims.claim_i64("iat").unwrap(),
        2880
    );
    // On a schedule: a background task rotates once the virtual clock passes 80% again.
    let projected = std::sync::Arc::new(projected);
    let task = projected
        .clone()
        .keep_fresh(std::time::Duration::from_millis(20));
    clock.advance(std::time::Duration::from_secs(2880));
    let mut rotated = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if std::fs::read_to_string(&path).unwrap() != second {
            rotated = true;
            break;
        }
    }
    task.abort();
    assert!(rotated, "the scheduled rotation did not happen");
    // Each rotation is audited like the kubelet's TokenRequest.
    assert_eq!(
        k.audit().count(
            |e| e.user == "system:node:kubelet" && e.namespace.as_deref() == Some("project-a")
        ),
        3
    );
}

#[tokio::test]
async fn token_lifetimes_are_capped_by_the_cluster_maximum() {
    let spec = support::cluster("capped");
    let spec = mock_k8s::ClusterSpec {
        max_token_expiration: Some(std::time::Duration::from_secs(7200)),
        ..spec
    };
    let k = mock_k8s::MockK8s::builder(spec).build().unwrap();
    let door = mock_kit::FrontDoor::builder().start().await.unwrap();
    let api = door.add_site(k.site()).await.unwrap();
    let http = door.direct_client();
    let resp = http
        .post(format!(
            "{}/api/v1/namespaces/project-a/serviceaccounts/credentials/token",
            api.direct_url
        ))
        .bearer_auth(k.admin_token().expose())
        .json(&json!({"spec": {"audiences": [EXCHANGE], "expirationSeconds": 48 * 3600}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["spec"]["expirationSeconds"], 7200);
    let c = mock_kit::jwt::decode_unverified(body["status"]["token"].as_str().unwrap()).unwrap();
    assert_eq!(
        c.claim_i64("exp").unwrap() - c.claim_i64("iat").unwrap(),
        7200
    );
}
