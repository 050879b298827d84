//! Keys without the wait must still be keys of one world only: two worlds built at the same time
//! share no RSA key, and neither accepts the other's tokens, even under its own `kid`.

use std::net::SocketAddr;
use std::path::Path;

use credsim_world::world::RunningWorld;
use mock_kit::issuer::ServiceAccountClaims;
use mock_kit::jwt::{Algorithm, JwtError, verify};
use mock_kit::{KidStyle, OidcIssuer, RsaSigningKey};

fn moduli(w: &RunningWorld) -> Vec<String> {
    let mut n: Vec<String> = w
        .cloud
        .entra
        .directory()
        .tenants
        .iter()
        .map(|t| t.signing_key().jwk().n)
        .collect();
    for c in &w.cloud.clusters {
        n.extend(c.issuer().jwks().keys.into_iter().map(|k| k.n));
    }
    n
}

fn token(issuer: &OidcIssuer) -> String {
    issuer
        .service_account_token(&ServiceAccountClaims {
            namespace: "project-a",
            service_account: "credentials",
            service_account_uid: "uid",
            audiences: &["api://AzureADTokenExchange"],
            issued_at: 1_800_000_000,
            lifetime_seconds: 3600,
            pod: None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_worlds_share_no_key_and_refuse_each_others_tokens() {
    mock_kit::install_crypto_provider();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/corpus/shards/per-shard-client-ids.yaml");
    let s = scenarios::load_file(&path).unwrap().scenario;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (a, b) = tokio::join!(
        RunningWorld::start(&s, listen),
        RunningWorld::start(&s, listen)
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    let (na, nb) = (moduli(&a), moduli(&b));
    assert!(
        na.len() >= 3,
        "tenants and clusters have keys: {}",
        na.len()
    );
    let mut all = na.clone();
    all.extend(nb.iter().cloned());
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        count,
        "a key appears twice within or across the worlds"
    );

    let (ia, ib) = (a.cloud.clusters[0].issuer(), b.cloud.clusters[0].issuer());
    let from_b = token(ib);
    assert!(verify(&from_b, &ib.jwks(), &[Algorithm::RS256]).is_ok());
    assert!(matches!(
        verify(&from_b, &ia.jwks(), &[Algorithm::RS256]),
        Err(JwtError::UnknownKid(_))
    ));
    // RunningWorld B's key under world A's kid: the signature gives it away.
    let impostor = OidcIssuer::with_key(
        ia.url(),
        RsaSigningKey::from_pkcs8_der(
            &private_der(ib),
            KidStyle::Fixed(ia.signing_key().kid().to_owned()),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        verify(&token(&impostor), &ia.jwks(), &[Algorithm::RS256]),
        Err(JwtError::BadSignature)
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// The PKCS#8 DER of an issuer's signing key, from its PEM.
fn private_der(issuer: &OidcIssuer) -> Vec<u8> {
    use base64::Engine as _;
    let pem = issuer.signing_key().private_key_pem().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}
