//! The directory's tests: derived IDs, minted secrets, Entra's federated-credential rules and
//! their answers, segment resolution, cross-tenant uniqueness.

use entra_rules::guid;
use mock_kit::SecretRegistry;
use uuid::Uuid;

use super::{
    Directory, DirectoryError, FederatedCredential, Identity, Resource, Tenant, TenantRef,
    default_client_id, guid_for, plausible_tenant_segment,
};

fn fic(name: &str, subject: &str) -> FederatedCredential {
    FederatedCredential::new(name, "https://issuer.example/", subject)
}

#[test]
fn guids_are_stable_and_distinct() {
    assert_eq!(guid_for("tenant/contoso"), guid_for("tenant/contoso"));
    assert_ne!(guid_for("tenant/contoso"), guid_for("tenant/fabrikam"));
}

#[test]
fn materialise_derives_ids_mints_registered_secrets_and_keys() {
    let secrets = SecretRegistry::new();
    let mut t = Tenant::new("contoso")
        .identity(Identity::app("ci-app").minted_secret(None))
        .identity(Identity::user_assigned("project-a-mi"));
    t.materialise(&secrets).unwrap();
    assert_eq!(t.id, guid_for("tenant/contoso"));
    assert_eq!(t.keys.len(), 1);
    let app = t.identity_named("ci-app").unwrap();
    assert!(!app.client_id.is_nil());
    assert_ne!(app.client_id, app.object_id);
    assert_eq!(app.secrets.len(), 1);
    let value = app.secrets[0].value.expose();
    assert!(value.starts_with("cs8Q~") && value.len() == 40, "{value}");
    assert_eq!(secrets.identify(value).unwrap().kind, "entra-client-secret");
    let mi = t.identity_named("project-a-mi").unwrap();
    assert!(
        mi.resource_id
            .as_deref()
            .unwrap()
            .ends_with("/providers/Microsoft.ManagedIdentity/userAssignedIdentities/project-a-mi")
    );
    assert_eq!(
        t.identity_by_client_id(&mi.client_id.to_string())
            .unwrap()
            .name,
        "project-a-mi"
    );
}

#[test]
fn the_twenty_first_federated_credential_is_refused() {
    let mut mi = Identity::user_assigned("mi");
    for i in 0..20 {
        mi = mi.federated(fic(
            &format!("fic-{i}"),
            &format!("system:serviceaccount:ns:sa{i}"),
        ));
    }
    mi.check_federated().unwrap();
    let mi = mi.federated(fic("fic-20", "system:serviceaccount:ns:sa20"));
    assert_eq!(
        mi.check_federated().unwrap_err(),
        DirectoryError::TooManyFederatedCredentials {
            identity: "mi".into(),
            count: 21,
            max: 20
        }
    );
}

#[test]
fn federated_credentials_are_validated_like_entra() {
    let check =
        |f: FederatedCredential| Identity::user_assigned("mi").federated(f).check_federated();
    assert!(check(fic("ok-name_1", "s")).is_ok());
    assert!(check(fic("-bad", "s")).is_err());
    assert!(check(fic("ab", "s")).is_err());
    assert!(check(fic("has space", "s")).is_err());
    assert!(check(FederatedCredential::new("x1x", "http://plain.example", "s")).is_err());
    assert!(check(fic("x1x", "")).is_err());
    assert!(check(fic("x1x", "s").audiences(&[])).is_err());
    assert!(check(fic("x1x", "s").audiences(&["a", "b"])).is_err());
    let dup = Identity::user_assigned("mi")
        .federated(fic("one", "system:serviceaccount:a:b"))
        .federated(fic("two", "system:serviceaccount:a:b"));
    let err = dup.check_federated().unwrap_err().to_string();
    assert!(
        err.contains("Issuer and subject combination already exists"),
        "{err}"
    );
}

/// Every rule of `entra_rules::federated` is refused here with the text the fake has always
/// answered (the scenario loader refuses the same inputs at load time).
#[test]
fn every_shared_rule_is_refused_with_the_same_answer() {
    let problem = |identity: Identity| match identity.check_federated() {
        Err(DirectoryError::InvalidFederatedCredential { problem, .. }) => problem,
        other => panic!("{other:?}"),
    };
    let one = |f: FederatedCredential| problem(Identity::user_assigned("mi").federated(f));
    let name = "the name must be 3 to 120 characters of letters, digits, '-' and '_', starting with a letter or digit";
    for bad in ["ab", "-ab", "_ab", "a.b", "a b", &"x".repeat(121)] {
        assert_eq!(one(fic(bad, "s")), name, "{bad}");
    }
    for bad in [
        "http://plain.example".to_owned(),
        "https://".to_owned(),
        "https:///path".to_owned(),
        format!("https://issuer.example/{}", "p".repeat(600)),
    ] {
        assert_eq!(
            one(FederatedCredential::new("x1x", &bad, "s")),
            format!("the issuer {bad:?} must be an https URL of at most 600 characters")
        );
    }
    for bad in [String::new(), "s".repeat(601)] {
        assert_eq!(
            one(fic("x1x", &bad)),
            "the subject must be 1 to 600 characters"
        );
    }
    assert_eq!(
        one(fic("x1x", "s").audiences(&["a", "b"])),
        "must have exactly one audience, has 2"
    );
    let long = "a".repeat(601);
    for bad in ["", long.as_str()] {
        assert_eq!(
            one(fic("x1x", "s").audiences(&[bad])),
            "the audience must be 1 to 600 characters"
        );
    }
    let two = |a: FederatedCredential, b: FederatedCredential| {
        problem(Identity::user_assigned("mi").federated(a).federated(b))
    };
    assert_eq!(
        two(fic("one", "s1"), fic("one", "s2")),
        "the name is already used on this identity"
    );
    assert_eq!(
        two(fic("one", "s1"), fic("two", "s1")),
        "Issuer and subject combination already exists for this Managed Identity"
    );
    // What the rules accept, the fake accepts.
    let longest = FederatedCredential::new(
        &"x".repeat(120),
        &format!("https://issuer.example/{}", "p".repeat(600 - 23)),
        &"s".repeat(600),
    )
    .audiences(&[&"a".repeat(600)]);
    Identity::user_assigned("mi")
        .federated(longest)
        .check_federated()
        .unwrap();
}

/// The IDs the fake derives are `entra_rules::guid`'s, the same the scenario loader derives.
#[test]
fn derived_ids_are_entra_rules_guids() {
    let secrets = SecretRegistry::new();
    let mut t = Tenant::new("contoso")
        .identity(Identity::app("ci-app"))
        .identity(Identity::user_assigned("project-a-mi"));
    t.materialise(&secrets).unwrap();
    assert_eq!(t.id, guid::tenant_id("contoso"));
    for name in ["ci-app", "project-a-mi"] {
        let i = t.identity_named(name).unwrap();
        assert_eq!(i.client_id, guid::client_id("contoso", name));
        assert_eq!(i.client_id, default_client_id("contoso", name));
        assert_eq!(i.object_id, guid::object_id("contoso", name));
    }
    let mi = t.identity_named("project-a-mi").unwrap();
    let sub = guid::subscription_id("contoso");
    assert!(
        mi.resource_id
            .as_deref()
            .unwrap()
            .starts_with(&format!("/subscriptions/{sub}/")),
        "{:?}",
        mi.resource_id
    );
    let uri = "https://containerregistry.azure.net";
    assert_eq!(Resource::new(uri).app_id, guid::resource_app_id(uri));
    for path in ["tenant/contoso", "fabrikam/node/node-1", ""] {
        assert_eq!(guid_for(path), guid::derive(path));
    }
}

#[test]
fn segments_resolve_by_guid_domain_and_alias() {
    let secrets = SecretRegistry::new();
    let mut t = Tenant::new("contoso").domain("Contoso.com");
    t.materialise(&secrets).unwrap();
    let id = t.id;
    let dir = Directory { tenants: vec![t] };
    dir.validate().unwrap();
    assert!(
        matches!(dir.resolve(&id.to_string()), Some(TenantRef::Tenant(t)) if t.name == "contoso")
    );
    assert!(matches!(
        dir.resolve("CONTOSO.onmicrosoft.com"),
        Some(TenantRef::Tenant(_))
    ));
    assert!(matches!(
        dir.resolve("contoso.com"),
        Some(TenantRef::Tenant(_))
    ));
    assert!(matches!(
        dir.resolve("Common"),
        Some(TenantRef::Alias("common"))
    ));
    assert!(dir.resolve("v2.0").is_none());
    assert!(dir.resolve(&Uuid::new_v4().to_string()).is_none());
    assert!(plausible_tenant_segment("v2.0"));
    assert!(!plausible_tenant_segment("a b"));
}

#[test]
fn duplicate_domains_across_tenants_are_refused() {
    let dir = Directory {
        tenants: vec![
            Tenant::new("a").domain("x.com"),
            Tenant::new("b").domain("x.com"),
        ],
    };
    assert_eq!(
        dir.validate().unwrap_err(),
        DirectoryError::DuplicateDomain {
            domain: "x.com".into(),
            first: "a".into(),
            second: "b".into()
        }
    );
}
