//! mock-entra through the front door: discovery, JWKS, tokens and their claims, and one test per
//! reachable AADSTS code of the reference's §1.6 (status, `error`, `error_codes`, description).

mod support;

use std::time::Duration;

use mock_entra::journal::{CredentialKind, TokenOutcome};
use mock_entra::{FederatedCredential, Identity};
use mock_kit::jwt::{self, Algorithm};
use serde_json::{Value, json};
use support::*;

const BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn discovery_documents_and_keys_are_consistent() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let (s, v2) = w
        .get("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v2["issuer"],
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    );
    assert_eq!(
        v2["token_endpoint"],
        format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token")
    );
    for k in [
        "authorization_endpoint",
        "token_endpoint",
        "issuer",
        "jwks_uri",
    ] {
        assert!(v2[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
    }
    let (_, v1) = w
        .get(&format!(
            "https://login.microsoftonline.com/{tid}/.well-known/openid-configuration"
        ))
        .await;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(
        v1["token_endpoint"],
        format!("https://login.microsoftonline.com/{tid}/oauth2/token")
    );
    let (_, common) = w
        .get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")
        .await;
    assert_eq!(
        common["issuer"],
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );

    let (_, keys) = w.get(v2["jwks_uri"].as_str().unwrap()).await;
    let keys = keys["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], keys[0]["x5t"]);
    assert_eq!(keys[0]["issuer"], v2["issuer"]);
    assert!(keys[0]["x5c"][0].as_str().unwrap().len() > 500);

    // Rotation: both keys published, the new one signs.
    let new_kid = w.entra.rotate_signing_key("contoso").unwrap();
    let (_, keys) = w.get(v2["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    let (_, tok) = w.federated(&w.good_assertion(), None).await;
    let token = tok["access_token"].as_str().unwrap();
    let header = jwt::decode_unverified(token).unwrap().header;
    assert_eq!(header["kid"], new_kid.as_str());
    let jwks: mock_kit::Jwks = serde_json::from_value(keys).unwrap();
    jwt::verify(token, &jwks, &[Algorithm::RS256]).unwrap();
}

#[tokio::test]
async fn instance_discovery_knows_microsoft_hosts_only() {
    let w = World::new().await;
    for api in ["1.0", "1.1"] {
        let (s, body) = w
            .get(&format!(
                "https://login.microsoftonline.com/common/discovery/instance?api-version={api}&authorization_endpoint=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
            ))
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["api-version"], api);
        assert_eq!(
            body["tenant_discovery_endpoint"],
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        assert!(
            body["metadata"][0]["aliases"]
                .as_array()
                .unwrap()
                .contains(&json!("login.windows.net"))
        );
    }
    let got = w
        .get("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://127.0.0.1:4443/t/oauth2/v2.0/authorize")
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_instance",
        50049,
        "Unknown or invalid instance.",
    );
}

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

// ---- the negative table --------------------------------------------------------------------------

async fn secret_request(
    w: &World,
    path: &str,
    cid: &str,
    secret: &str,
    scope: &str,
) -> (u16, Value) {
    w.post(
        path,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", secret),
            ("scope", scope),
        ],
    )
    .await
}

#[tokio::test]
async fn aadsts_7000215_wrong_secret_and_7000222_expired_secret() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("contoso", "ci-app");
    let path = format!("/{tid}/oauth2/v2.0/token");
    let got = secret_request(&w, &path, &cid, "not-the-secret-value", ARM).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided.",
    );
    let expired = w.secret("contoso", "ci-app", 1);
    let got = secret_request(&w, &path, &cid, &expired, ARM).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7000222,
        "The provided client secret keys for app",
    );
    // A managed identity has no secrets to present.
    let mi = w.client_id("contoso", "project-a-mi");
    let got = secret_request(&w, &path, &mi, "anything-at-all-here", ARM).await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided.",
    );
}

#[tokio::test]
async fn aadsts_7000218_no_credential_and_900144_missing_parameters() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("contoso", "ci-app");
    let path = format!("/{tid}/oauth2/v2.0/token");
    let got = w
        .post(
            &path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("scope", ARM),
            ],
        )
        .await;
    assert_aadsts(
        &got,
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    let got = w.post(&path, &[("client_id", &cid), ("scope", ARM)]).await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
    );
    let got = w
        .post(
            &path,
            &[("grant_type", "client_credentials"), ("scope", ARM)],
        )
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'client_id'.",
    );
    let got = w
        .post(
            &path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_assertion", "x.y.z"),
            ],
        )
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        90014,
        "The required field 'scope' is missing",
    );
}

#[tokio::test]
async fn aadsts_70003_unsupported_grant_type() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let got = w
        .post(
            &format!("/{tid}/oauth2/v2.0/token"),
            &[
                ("grant_type", "password"),
                ("client_id", "x"),
                ("scope", ARM),
            ],
        )
        .await;
    assert_aadsts(
        &got,
        400,
        "unsupported_grant_type",
        70003,
        "The access grant 'password' is not supported.",
    );
}

#[tokio::test]
async fn aadsts_700016_client_unknown_in_the_tenant() {
    let w = World::new().await;
    // fab-app exists, but in fabrikam, not contoso.
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("fabrikam", "fab-app");
    let secret = w.secret("fabrikam", "fab-app", 0);
    let got = secret_request(&w, &format!("/{tid}/oauth2/v2.0/token"), &cid, &secret, ARM).await;
    assert_aadsts(
        &got,
        400,
        "unauthorized_client",
        700016,
        &format!("Application with identifier '{cid}' was not found in the directory 'contoso'."),
    );
}

#[tokio::test]
async fn aadsts_90002_unknown_tenant_quotes_the_segment_and_900023_bad_syntax() {
    let w = World::new().await;
    let got = w
        .get("https://login.microsoftonline.com//v2.0/.well-known/openid-configuration")
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_tenant",
        90002,
        "Tenant 'v2.0' not found.",
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    let got = secret_request(&w, &format!("/{unknown}/oauth2/v2.0/token"), "x", "y", ARM).await;
    assert_aadsts(
        &got,
        400,
        "invalid_tenant",
        90002,
        &format!("Tenant '{unknown}' not found."),
    );
    let got = w
        .get("https://login.microsoftonline.com/not%20a%20tenant/v2.0/.well-known/openid-configuration")
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        900023,
        "Specified tenant identifier 'not a tenant' is neither a valid DNS name",
    );
}

#[tokio::test]
async fn aadsts_50194_single_tenant_app_on_common() {
    let w = World::new().await;
    let cid = w.client_id("contoso", "ci-app");
    let secret = w.secret("contoso", "ci-app", 0);
    for seg in ["common", "organizations"] {
        let got =
            secret_request(&w, &format!("/{seg}/oauth2/v2.0/token"), &cid, &secret, ARM).await;
        assert_aadsts(
            &got,
            400,
            "invalid_request",
            50194,
            &format!("Application '{cid}' is not configured as a multi-tenant application."),
        );
    }
}

#[tokio::test]
async fn aadsts_scope_rules_1002012_700022_500011_901002() {
    let w = World::new().await;
    let tid = w.tenant_id("contoso");
    let cid = w.client_id("contoso", "ci-app");
    let secret = w.secret("contoso", "ci-app", 0);
    let path = format!("/{tid}/oauth2/v2.0/token");
    let got = secret_request(&w, &path, &cid, &secret, "openid").await;
    assert_aadsts(
        &got,
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope openid is not valid. Client credential flows must have a scope value with /.default suffixed",
    );
    let got = secret_request(
        &w,
        &path,
        &cid,
        &secret,
        "https://management.azure.com/user_impersonation",
    )
    .await;
    assert_aadsts(
        &got,
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope https://management.azure.com/user_impersonation is not valid.",
    );
    let got = secret_request(
        &w,
        &path,
        &cid,
        &secret,
        "https://vault.azure.net/.default https://graph.microsoft.com/.default",
    )
    .await;
    assert_aadsts(
        &got,
        400,
        "invalid_scope",
        700022,
        "The provided value for the input parameter 'scope' is not valid because it contains more than one resource.",
    );
    let got = secret_request(&w, &path, &cid, &secret, "https://unknown.example/.default").await;
    assert_aadsts(
        &got,
        400,
        "invalid_resource",
        500011,
        "The resource principal named https://unknown.example was not found in the tenant named",
    );
    let got = w
        .post(
            &path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_secret", &secret),
                ("scope", ARM),
                ("resource", "https://management.azure.com/"),
            ],
        )
        .await;
    assert_aadsts(
        &got,
        400,
        "invalid_request",
        901002,
        "The 'resource' request parameter isn't supported.",
    );
}

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

#[tokio::test]
async fn aadsts_7000112_disabled_application() {
    let w = World::new().await;
    let dir_app = Identity::app("off-app").minted_secret(None);
    let mut off = dir_app;
    off.disabled = true;
    let entra = mock_entra::MockEntra::builder()
        .tenant(mock_entra::Tenant::new("t").identity(off))
        .build()
        .unwrap();
    w.door.remove_site("mock-entra");
    w.door.add_site(entra.site()).await.unwrap();
    let dir = entra.directory();
    let t = dir.tenant_named("t").unwrap();
    let app = t.identity_named("off-app").unwrap();
    let got = secret_request(
        &w,
        &format!("/{}/oauth2/v2.0/token", t.id),
        &app.client_id.to_string(),
        app.secrets[0].value.expose(),
        ARM,
    )
    .await;
    assert_aadsts(
        &got,
        400,
        "unauthorized_client",
        7000112,
        &format!("Application '{}' is disabled.", app.client_id),
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
