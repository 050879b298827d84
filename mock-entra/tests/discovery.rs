//! mock-entra's discovery through the front door: the v1, v2 and `/common` OpenID
//! configurations, the JWKS and key rotation, MSAL's instance discovery.

mod support;

use mock_kit::jwt::{self, Algorithm};
use serde_json::json;
use support::*;

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
