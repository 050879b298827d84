//! The AADSTS answers of refused client assertions: federated ones (no credentials, issuer,
//! subject and audience mismatches, validity window, lifetime cap, unknown `kid`, bad signatures,
//! an unreachable issuer, Entra's own tokens) and certificate ones (unregistered certificate, bad
//! signature).

mod support;

use std::time::Duration;

use mock_entra::FederatedCredential;
use mock_kit::jwt::Algorithm;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn aadsts_70025_no_federated_credentials() {
    let w = World::new().await;
    let cid = w.client_id("contoso", "lonely-mi");
    let got = w.federated(&w.good_assertion(), Some(&cid)).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        70025,
        &format!("The client '{cid}'(lonely-mi) has no configured federated identity credentials."),
    );
}

#[tokio::test]
async fn aadsts_700211_issuer_mismatch_by_a_trailing_slash() {
    let w = World::new().await;
    let no_slash = ISSUER.trim_end_matches('/');
    let assertion = w
        .issuer
        .sign(&json!({"iss": no_slash, "sub": SUBJECT, "aud": [EXCHANGE],
                       "iat": w.clock.unix_seconds(), "exp": w.clock.unix_seconds() + 3600}))
        .unwrap();
    let got = w.federated(&assertion, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700211,
        &format!(
            "No matching federated identity record found for presented assertion issuer '{no_slash}'."
        ),
    );
}

#[tokio::test]
async fn aadsts_700213_subject_mismatch_and_7002138_case_mismatch() {
    let w = World::new().await;
    let other = w.sa_token(("project-b", "creds"), EXCHANGE, 0, 3600);
    let got = w.federated(&other, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700213,
        "No matching federated identity record found for presented assertion subject 'system:serviceaccount:project-b:creds'.",
    );
    let cased = w.sa_token(("Project-A", "creds"), EXCHANGE, 0, 3600);
    let got = w.federated(&cased, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7002138,
        "No matching federated identity record found for presented assertion subject 'system:serviceaccount:Project-A:creds'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison.",
    );
}

#[tokio::test]
async fn aadsts_700212_audience_mismatch() {
    let w = World::new().await;
    let api_server = w.sa_token(
        ("project-a", "creds"),
        "https://kubernetes.default.svc",
        0,
        3600,
    );
    let got = w.federated(&api_server, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700212,
        "No matching federated identity record found for presented assertion audience 'https://kubernetes.default.svc'.",
    );
}

#[tokio::test]
async fn aadsts_700024_expired_and_not_yet_valid() {
    let w = World::new().await;
    let expired = w.sa_token(("project-a", "creds"), EXCHANGE, -7200, 3600);
    let got = w.federated(&expired, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range. Current time: ",
    );
    let d = got.1["error_description"].as_str().unwrap();
    assert!(d.contains(".0000000Z"), "7-digit ISO times: {d}");
    let future = w.sa_token(("project-a", "creds"), EXCHANGE, 3600, 3600);
    let got = w.federated(&future, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range.",
    );

    // A valid token becomes expired when virtual time passes.
    let assertion = w.good_assertion();
    assert_eq!(w.federated(&assertion, None).await.0, 200);
    w.clock.advance(Duration::from_secs(2 * 3600));
    let got = w.federated(&assertion, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range.",
    );
}

#[tokio::test]
async fn aadsts_70023_external_token_over_25_hours() {
    let w = World::new().await;
    let long = w.sa_token(("project-a", "creds"), EXCHANGE, 0, 48 * 3600);
    let got = w.federated(&long, None).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        70023,
        "External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00.",
    );
    let exactly = w.sa_token(("project-a", "creds"), EXCHANGE, 0, 25 * 3600);
    assert_eq!(w.federated(&exactly, None).await.0, 200);
}

#[tokio::test]
async fn aadsts_7000272_unknown_kid_and_50027_bad_signature_alg_none_garbage() {
    let w = World::new().await;
    let now = w.clock.unix_seconds();
    let claims =
        json!({"iss": ISSUER, "sub": SUBJECT, "aud": [EXCHANGE], "iat": now, "exp": now + 3600});
    let stranger = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Kubernetes).unwrap();
    let unknown_kid = stranger
        .sign(Algorithm::RS256, &serde_json::Map::new(), &claims)
        .unwrap();
    let got = w.federated(&unknown_kid, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7000272,
        &format!(
            "The certificate with identifier {} used to sign the federated credential could not be found in the metadata of identity provider {ISSUER}.",
            stranger.kid()
        ),
    );

    // Same kid as the issuer's real key, different key: the signature fails.
    let impostor = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Fixed(
        w.issuer.signing_key().kid().to_owned(),
    ))
    .unwrap();
    let forged = impostor
        .sign(Algorithm::RS256, &serde_json::Map::new(), &claims)
        .unwrap();
    let got = w.federated(&forged, None).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed.",
    );

    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": w.issuer.signing_key().kid()})),
        b64(&claims)
    );
    let got = w.federated(&none, None).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed.",
    );

    let got = w.federated("this-is-not-a-jwt", None).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed.",
    );
}

#[tokio::test]
async fn aadsts_50166_unreachable_issuer() {
    let w = World::new().await;
    let gone = "https://oidc.gone.credsim.test/";
    w.entra
        .add_federated_credential(
            "contoso",
            "project-a-mi",
            FederatedCredential::new("gone", gone, SUBJECT),
        )
        .unwrap();
    let now = w.clock.unix_seconds();
    let assertion = w
        .issuer
        .sign(
            &json!({"iss": gone, "sub": SUBJECT, "aud": [EXCHANGE], "iat": now, "exp": now + 3600}),
        )
        .unwrap();
    let got = w.federated(&assertion, None).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        50166,
        "Request to External OIDC endpoint failed.",
    );
    // The attempt went to the front door, which refused it: nothing left the machine.
    let rec = w
        .door
        .egress()
        .find(|r| r.host == "oidc.gone.credsim.test")
        .unwrap();
    assert!(rec.refused());
    let fetch = w.entra.journal().find(|e| {
        matches!(
            e,
            mock_entra::EntraEvent::IssuerFetch { error: Some(_), .. }
        )
    });
    assert!(fetch.is_some());
}

#[tokio::test]
async fn aadsts_700222_entra_issued_assertion() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("contoso", "ci-app");
    let secret = w.secret("contoso", "ci-app", 0);
    let (_, body) =
        secret_request(&w, &format!("/{tid}/oauth2/v2.0/token"), &cid, &secret, ARM).await;
    let entra_token = body["access_token"].as_str().unwrap();
    let got = w.federated(entra_token, None).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700222,
        "AAD-issued tokens may not be used for federated identity flows.",
    );
}

#[tokio::test]
async fn aadsts_700027_certificate_not_registered_or_signature_invalid() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let app = w.identity("contoso", "cert-app");
    let cid = app.client_id.to_string();
    let now = w.clock.unix_seconds();
    let claims = json!({"aud": format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token"),
                        "iss": cid, "sub": cid, "nbf": now, "exp": now + 600});
    let other = mock_entra::directory::AppCertificate::generate("other").unwrap();
    let mut header = serde_json::Map::new();
    header.insert("x5t".into(), other.x5t().into());
    let unregistered = other.key.sign(Algorithm::RS256, &header, &claims).unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", cid.clone()),
            ("client_assertion_type", BEARER.to_owned()),
            ("client_assertion", a.to_owned()),
            ("scope", ARM.to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let w = &w;
        let tid = tid.clone();
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            w.post(&format!("/{tid}/oauth2/v2.0/token"), &f).await
        }
    };
    let got = post(form(&unregistered)).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700027,
        "Client assertion failed signature validation. The certificate with identifier used to sign the client assertion is not registered on application.",
    );
    // The registered thumbprint, signed by another key.
    let mut header = serde_json::Map::new();
    header.insert("x5t".into(), app.certificates[0].x5t().into());
    let forged = other.key.sign(Algorithm::RS256, &header, &claims).unwrap();
    let got = post(form(&forged)).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        700027,
        "Client assertion failed signature validation.",
    );
}
