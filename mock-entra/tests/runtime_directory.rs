//! Tenants and identities created while the fake runs (`credsim up`'s `addTenant` and
//! `addIdentity`): usable through the front door at once, with their secrets minted and
//! registered and their federated credentials created at that moment; refused, leaving the
//! directory as it was, when building would refuse them.

mod support;

use mock_entra::{DirectoryError, FederatedCredential, Identity, Tenant};
use support::*;

#[tokio::test]
async fn a_tenant_created_at_run_time_serves_discovery_and_tokens() {
    let w = World::new().await;
    w.entra
        .add_tenant(Tenant::new("northwind").identity(Identity::app("nw-app").minted_secret(None)))
        .unwrap();
    let (s, disco) = w
        .get("https://login.microsoftonline.com/northwind.onmicrosoft.com/v2.0/.well-known/openid-configuration")
        .await;
    assert_eq!(s, 200, "{disco:#}");
    let tid = w.tenant_id("northwind");
    assert!(
        disco["issuer"].as_str().unwrap().contains(&tid),
        "{disco:#}"
    );
    let secret = w.secret("northwind", "nw-app", 0);
    // The minted secret is registered, so a leak of it is found.
    assert!(w.secrets.identify(&secret).is_some());
    let cid = w.client_id("northwind", "nw-app");
    let (s, body) =
        secret_request(&w, &format!("/{tid}/oauth2/v2.0/token"), &cid, &secret, ARM).await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["tid"], tid);
}

#[tokio::test]
async fn an_identity_created_at_run_time_exchanges_a_federated_assertion() {
    let w = World::new().await;
    let before = w.entra.journal().len();
    let cid = w
        .entra
        .add_identity(
            "fabrikam",
            Identity::user_assigned("new-mi")
                .federated(FederatedCredential::new("shard-a", ISSUER, SUBJECT)),
        )
        .unwrap();
    assert_eq!(cid.to_string(), w.client_id("fabrikam", "new-mi"));
    // Its credential was created now, not with the world.
    let fic = &w.identity("fabrikam", "new-mi").federated[0];
    assert!(fic.created_at.is_some_and(|t| t <= w.clock.now()));
    let tid = w.tenant_id("fabrikam");
    let (s, body) = w
        .post(
            &format!("/{tid}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid.to_string()),
                ("client_assertion_type", BEARER),
                ("client_assertion", &w.good_assertion()),
                ("scope", ARM),
            ],
        )
        .await;
    assert_eq!(s, 200, "{body:#}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appid"],
        cid.to_string()
    );
    assert!(w.entra.journal().len() > before);
}

#[tokio::test]
async fn what_building_would_refuse_is_refused_and_changes_nothing() {
    let w = World::new().await;
    let tenants = w.entra.directory().tenants.len();
    assert_eq!(
        w.entra.add_tenant(Tenant::new("contoso")),
        Err(DirectoryError::DuplicateTenant("contoso".into()))
    );
    let contoso = w.tenant("contoso").id;
    assert_eq!(
        w.entra.add_tenant(Tenant::new("other").id(contoso)),
        Err(DirectoryError::DuplicateTenantId(contoso))
    );
    let clash = Tenant::new("other").domain("contoso.onmicrosoft.com");
    assert!(matches!(
        w.entra.add_tenant(clash),
        Err(DirectoryError::DuplicateDomain { .. })
    ));
    assert_eq!(w.entra.directory().tenants.len(), tenants);

    let identities = w.tenant("contoso").identities.len();
    assert!(matches!(
        w.entra.add_identity("contoso", Identity::app("ci-app")),
        Err(DirectoryError::DuplicateObject { .. })
    ));
    let taken = w.identity("contoso", "ci-app").client_id;
    assert_eq!(
        w.entra
            .add_identity("fabrikam", Identity::app("copy").client_id(taken)),
        Err(DirectoryError::DuplicateClientId(taken))
    );
    let bad = Identity::user_assigned("bad").federated(FederatedCredential::new(
        "x",
        "http://not-https/",
        SUBJECT,
    ));
    assert!(matches!(
        w.entra.add_identity("contoso", bad),
        Err(DirectoryError::InvalidFederatedCredential { .. })
    ));
    assert_eq!(
        w.entra.add_identity("nowhere", Identity::app("a")),
        Err(DirectoryError::UnknownTenant("nowhere".into()))
    );
    assert_eq!(w.tenant("contoso").identities.len(), identities);
    assert!(w.tenant("fabrikam").identity_named("copy").is_none());
}
