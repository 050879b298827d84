//! mock-entra's token endpoints through the front door: tokens and their claims for each
//! credential (a client secret in the body or Basic, certificate and federated assertions), v1 and
//! v2 answers, multi-tenant apps, the correlation ID of errors, and the journal.
//!
//! Every reachable AADSTS code of the reference's §1.6 has a test (status, `error`, `error_codes`,
//! description) in `request_errors` (parameters, secrets, tenants, scopes) or `assertion_errors`
//! (federated and certificate assertions); discovery is in `discovery`.

mod support;

use mock_entra::journal::{CredentialKind, TokenOutcome};
use mock_kit::jwt::{self, Algorithm};
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn client_secret_in_body_and_basic_gets_a_v1_arm_token_with_the_right_claims() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let app = w.identity("contoso", "ci-app");
    let cid = app.client_id.to_string();
    let secret = w.secret("contoso", "ci-app", 0);
    let (s, body) = w
        .post(
            &format!("/{tid}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_secret", &secret),
                ("scope", "https://management.core.windows.net//.default"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().expect("v2 numbers are numbers");
    assert!((3599..=5399).contains(&expires_in), "{expires_in}");
    assert!(body["ext_expires_in"].is_i64());
    for absent in ["scope", "refresh_token", "id_token"] {
        assert!(body.get(absent).is_none(), "{absent}");
    }
    let token = body["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["aud"], "https://management.core.windows.net/");
    assert_eq!(c["iss"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(c["idp"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(c["tid"], tid);
    assert_eq!(c["appid"], cid);
    assert_eq!(c["appidacr"], "1");
    assert_eq!(c["oid"], app.object_id.to_string());
    assert_eq!(c["sub"], app.object_id.to_string());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "1.0");
    assert!(c.get("xms_mirid").is_none(), "apps have no xms_mirid");
    assert!(c["uti"].as_str().unwrap().len() >= 16);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        expires_in + 1
    );
    let header = jwt::decode_unverified(token).unwrap().header;
    assert_eq!(header["x5t"], header["kid"], "v1 tokens carry x5t");
    // The token is a registered secret.
    assert_eq!(
        w.secrets.identify(token).unwrap().kind,
        "entra-access-token"
    );

    // The same secret through HTTP Basic (RFC 6749 §2.3.1).
    let resp = w
        .http
        .post(format!(
            "https://login.microsoftonline.com/{tid}/oauth2/v2.0/token"
        ))
        .basic_auth(&cid, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", ARM)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    // The audience is the resource as requested (no trailing slash added).
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "https://management.azure.com"
    );

    let event = w.entra.journal().snapshot();
    let t = event.last().unwrap().as_token().unwrap();
    assert_eq!(t.identity.as_deref(), Some("ci-app"));
    assert_eq!(t.credential, CredentialKind::Secret);
    assert!(matches!(t.outcome, TokenOutcome::Issued { version: 1, .. }));
}

#[tokio::test]
async fn v1_endpoint_answers_with_strings_and_v2_resources_get_v2_tokens() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("contoso", "ci-app");
    let secret = w.secret("contoso", "ci-app", 0);
    let (s, v1) = w
        .post(
            &format!("/{tid}/oauth2/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_secret", &secret),
                ("resource", "https://vault.azure.net"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v1:#}");
    for k in ["expires_in", "ext_expires_in", "expires_on", "not_before"] {
        assert!(
            v1[k].as_str().unwrap().parse::<i64>().is_ok(),
            "{k} is a numeric string"
        );
    }
    assert_eq!(v1["resource"], "https://vault.azure.net");
    assert_eq!(
        claims(v1["access_token"].as_str().unwrap())["aud"],
        "https://vault.azure.net"
    );

    let (s, v2) = w
        .post(
            &format!("/{tid}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_secret", &secret),
                (
                    "scope",
                    "api://credsim-api/.default openid profile offline_access",
                ),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v2:#}");
    let c = claims(v2["access_token"].as_str().unwrap());
    let api = w
        .tenant("contoso")
        .resources
        .iter()
        .find(|r| r.uris[0] == "api://credsim-api")
        .unwrap()
        .app_id;
    assert_eq!(
        c["aud"],
        api.to_string(),
        "v2 tokens name the resource by app ID"
    );
    assert_eq!(
        c["iss"],
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    );
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["azp"], cid);
    assert_eq!(c["azpacr"], "1");
}

#[tokio::test]
async fn federated_assertion_from_the_issuer_gets_a_managed_identity_token() {
    let w = World::new().await;
    let mi = w.identity("contoso", "project-a-mi");
    let assertion = w.good_assertion();
    let (s, body) = w.federated(&assertion, None).await;
    assert_eq!(s, 200, "{body:#}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["appid"], mi.client_id.to_string());
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["oid"], mi.object_id.to_string());
    assert_eq!(c["xms_mirid"], mi.resource_id.clone().unwrap());

    // mock-entra fetched the issuer's metadata through the front door, once.
    let fetches: Vec<_> = w
        .door
        .egress()
        .filter(|r| r.host == "oidc.shard-a.credsim.test");
    assert_eq!(fetches.len(), 2, "discovery document, then JWKS");
    assert_eq!(fetches[0].path, "/.well-known/openid-configuration");
    assert_eq!(fetches[1].path, "/openid/v1/jwks");
    assert_eq!(fetches[0].client.label.as_deref(), Some("mock-entra"));
    // Reusing the same assertion is fine (SDKs do for 10 minutes), and the metadata is cached.
    let (s, _) = w.federated(&assertion, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        w.door
            .egress()
            .count(|r| r.host == "oidc.shard-a.credsim.test"),
        2
    );
    let t = w.entra.journal().snapshot();
    let ev = t.iter().filter_map(|e| e.as_token()).next_back().unwrap();
    let a = ev.assertion.as_ref().unwrap();
    assert_eq!(a.iss.as_deref(), Some(ISSUER));
    assert_eq!(a.sub.as_deref(), Some(SUBJECT));
    assert_eq!(a.aud, vec![EXCHANGE.to_owned()]);
    assert_eq!(ev.credential, CredentialKind::Federated);

    // A rotated issuer key is picked up (a cached set without the kid is refetched).
    let new = mock_kit::RsaSigningKey::generate(mock_kit::KidStyle::Kubernetes).unwrap();
    w.issuer.rotate_to(new);
    let (s, body) = w.federated(&w.good_assertion(), None).await;
    assert_eq!(s, 200, "{body:#}");
}

#[tokio::test]
async fn certificate_assertions_rs256_and_ps256_with_x5t_and_x5t_s256() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let app = w.identity("contoso", "cert-app");
    let cert = &app.certificates[0];
    let cid = app.client_id.to_string();
    let now = w.clock.unix_seconds();
    let endpoint = format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token");
    for (alg, thumb_name, thumb) in [
        (Algorithm::RS256, "x5t", cert.x5t()),
        (Algorithm::PS256, "x5t#S256", cert.x5t_s256()),
    ] {
        let mut header = serde_json::Map::new();
        header.insert(thumb_name.into(), thumb.into());
        let assertion = cert
            .key
            .sign(
                alg,
                &header,
                &json!({"aud": endpoint, "iss": cid, "sub": cid, "jti": uuid::Uuid::new_v4().to_string(),
                        "nbf": now, "exp": now + 600}),
            )
            .unwrap();
        let (s, body) = w
            .post(
                &format!("/{tid}/oauth2/v2.0/token"),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &cid),
                    ("client_assertion_type", BEARER),
                    ("client_assertion", &assertion),
                    ("scope", ARM),
                ],
            )
            .await;
        assert_eq!(s, 200, "{alg:?}: {body:#}");
        assert_eq!(
            claims(body["access_token"].as_str().unwrap())["appidacr"],
            "2"
        );
    }
    let ev = w.entra.journal().snapshot();
    assert_eq!(
        ev.last().unwrap().as_token().unwrap().credential,
        CredentialKind::Certificate
    );
}

#[tokio::test]
async fn multi_tenant_apps_work_in_other_tenants_and_on_common() {
    let w = World::new().await;
    let cid = w.client_id("contoso", "multi-app");
    let secret = w.secret("contoso", "multi-app", 0);
    let form = |s: &str| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", cid.clone()),
            ("client_secret", secret.clone()),
            ("scope", s.to_owned()),
        ]
    };
    let post = |path: String, f: Vec<(&'static str, String)>| {
        let w = &w;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            w.post(&path, &f).await
        }
    };
    let fab = w.tenant_id("fabrikam");
    let (s, body) = post(format!("/{fab}/oauth2/v2.0/token"), form(ARM)).await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["tid"], fab);
    // On /common a multi-tenant app gets its home tenant's token (the historical behaviour).
    let (s, body) = post("/common/oauth2/v2.0/token".into(), form(ARM)).await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["tid"],
        w.tenant_id("contoso")
    );
}

#[tokio::test]
async fn errors_echo_the_client_request_id_as_correlation_id() {
    let w = World::new().await;
    let id = "7d1e7b6a-3f5e-4a2c-8f6b-0e9d8c7b6a5f";
    let resp = w
        .http
        .post("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
        .header("client-request-id", id)
        .form(&[("client_id", "x")])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["correlation_id"], id);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("Correlation ID: {id}"))
    );
}

#[tokio::test]
async fn the_journal_records_every_request_with_its_outcome() {
    let w = World::new().await;
    w.federated(&w.good_assertion(), None).await;
    w.federated("garbage", None).await;
    let events: Vec<_> = w
        .entra
        .journal()
        .snapshot()
        .into_iter()
        .filter_map(|e| e.as_token().cloned())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(matches!(events[0].outcome, TokenOutcome::Issued { .. }));
    assert_eq!(events[1].error_code(), Some(50027));
    assert_eq!(events[1].identity.as_deref(), Some("project-a-mi"));
    assert_eq!(events[0].tenant_id, Some(w.tenant("contoso").id));
    assert_eq!(events[0].scope.as_deref(), Some(ARM));
    assert_eq!(events[0].grant_type.as_deref(), Some("client_credentials"));
}
