//! The harness's cluster code path (the `kube` crate) against the embedded clusters: TokenRequest,
//! the token verified against the JWKS from the issuer URL through the front door and accepted by
//! mock-entra; the kubeconfig backend; publishing a cluster's issuer whose key credsim does not
//! hold; and the kind backend where Docker and kind exist.

mod support;

use credsim_world::clusters::{ClusterHandle, ClusterKind, KindBackend};
use mock_k8s::{ClusterSpec, MockK8s, kubeconfig};
use serde_json::Value;
use support::{demo, federate};

const EXCHANGE: &str = "api://AzureADTokenExchange";

#[tokio::test]
async fn kube_token_request_verifies_against_the_published_jwks_and_federates() {
    let cloud = demo().await;
    let kc = cloud.admin_kubeconfig("shard-a").unwrap();
    let shard_a = ClusterHandle::connect(
        "shard-a",
        ClusterKind::Embedded,
        "https://oidc.shard-a.credsim.test/",
        &kc,
    )
    .await
    .unwrap();
    let issued = shard_a
        .token_request("project-a", "credentials", &[EXCHANGE], Some(3600))
        .await
        .unwrap();
    assert!(issued.expiration.ends_with('Z'));
    let token = issued.token.expose().clone();

    let http = cloud.door.client(None);
    let jwks: mock_kit::Jwks = http
        .get("https://oidc.shard-a.credsim.test/openid/v1/jwks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks,
        shard_a.jwks().await.unwrap(),
        "the issuer URL publishes the API server's keys"
    );
    let claims = mock_kit::jwt::verify(&token, &jwks, &[mock_kit::jwt::Algorithm::RS256]).unwrap();
    assert_eq!(
        claims.claim_str("sub"),
        Some("system:serviceaccount:project-a:credentials")
    );

    let (status, body) = federate(&cloud, &token).await;
    assert_eq!(status, 200, "{body:#}");

    // project-b's account on the same shard is a different subject: refused.
    let other = shard_a
        .token_request("project-b", "credentials", &[EXCHANGE], None)
        .await
        .unwrap();
    let (status, body) = federate(&cloud, other.token.expose()).await;
    assert_eq!(status, 401, "{body:#}");
}

#[tokio::test]
async fn the_kubeconfig_backend_uses_the_same_path_and_surfaces_api_errors() {
    let cloud = demo().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shard-b.yaml");
    std::fs::write(&path, cloud.admin_kubeconfig("shard-b").unwrap()).unwrap();
    let shard_b =
        ClusterHandle::from_kubeconfig_file("shard-b", "https://oidc.shard-b.credsim.test/", &path)
            .await
            .unwrap();
    assert_eq!(shard_b.backend, ClusterKind::Kubeconfig);
    let err = shard_b
        .token_request("kargo", "kargo-controller", &[EXCHANGE], Some(60))
        .await
        .unwrap_err();
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        text.contains("may not specify a duration less than 10 minutes"),
        "{text}"
    );
    let err = shard_b
        .token_request("kargo", "nobody", &[EXCHANGE], None)
        .await
        .unwrap_err();
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        text.contains("serviceaccounts \"nobody\" not found"),
        "{text}"
    );
}

#[tokio::test]
async fn publishing_the_issuer_of_a_cluster_whose_key_credsim_does_not_hold() {
    let cloud = demo().await;
    // A cluster whose issuer documents are not yet at its issuer URL (as with kind).
    let k = MockK8s::builder(
        ClusterSpec::new("external")
            .namespace("project-x")
            .service_account("project-x", "credentials", &[]),
    )
    .build()
    .unwrap();
    let api = cloud.door.add_site(k.site()).await.unwrap();
    let http = cloud.door.client(None);
    let before = http
        .get("https://oidc.external.credsim.test/.well-known/openid-configuration")
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 502, "not published yet");
    let kc = kubeconfig::render(
        "external",
        &api.direct_url,
        cloud.door.ca().cert_pem(),
        "admin",
        k.admin_token().expose(),
        None,
    );
    let handle = ClusterHandle::connect(
        "external",
        ClusterKind::Kubeconfig,
        "https://oidc.external.credsim.test/",
        &kc,
    )
    .await
    .unwrap();
    handle.publish_issuer(&cloud.door).await.unwrap();
    let doc: Value = http
        .get("https://oidc.external.credsim.test/.well-known/openid-configuration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://oidc.external.credsim.test/");
    let jwks: mock_kit::Jwks = http
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks.keys[0].kid, k.issuer().signing_key().kid());
    // A handle that claims the wrong issuer is caught before anything is published.
    let wrong = ClusterHandle::connect(
        "external",
        ClusterKind::Kubeconfig,
        "https://oidc.other.credsim.test/",
        &kc,
    )
    .await
    .unwrap();
    assert!(
        wrong
            .publish_issuer(&cloud.door)
            .await
            .unwrap_err()
            .to_string()
            .contains("not https://oidc.other.credsim.test/")
    );
}

#[tokio::test]
#[ignore = "needs docker and kind"]
async fn the_kind_backend_creates_a_cluster_signing_with_credsims_key() {
    let cloud = demo().await;
    let key = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Kubernetes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (kind, handle) = KindBackend::create(
        "credsim-kind",
        "https://oidc.credsim-kind.credsim.test/",
        &key,
        dir.path(),
    )
    .await
    .unwrap();
    let result = handle.publish_issuer(&cloud.door).await;
    let jwks = handle.jwks().await;
    kind.delete().await.unwrap();
    result.unwrap();
    assert!(jwks.unwrap().get(key.kid()).is_some());
}

#[tokio::test]
#[ignore = "needs docker"]
async fn the_k3s_backend_signs_with_credsims_key() {
    let cloud = demo().await;
    let key = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Kubernetes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_k3s, handle) = credsim_world::clusters::K3sBackend::start(
        "credsim-k3s",
        "https://oidc.credsim-k3s.credsim.test/",
        &key,
        dir.path(),
    )
    .await
    .unwrap();
    handle.publish_issuer(&cloud.door).await.unwrap();
    assert!(handle.jwks().await.unwrap().get(key.kid()).is_some());
}
