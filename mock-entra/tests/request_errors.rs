//! The AADSTS answers of token requests refused before or beside their assertion: wrong and
//! expired secrets, missing parameters, unsupported grants, unknown clients and tenants,
//! single-tenant apps on `/common`, the scope rules, disabled apps.

mod support;

use mock_entra::Identity;
use support::*;

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
