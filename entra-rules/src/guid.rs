//! GUIDs derived from names: UUIDv5 of a path of names in one namespace.
//!
//! A world described by names (a tenant `contoso`, an identity `project-a-mi`) gets the same
//! IDs on every run, so reports stay stable and a scenario can name a client ID (in a
//! ServiceAccount annotation, say) before any fake is built. mock-entra fills in the IDs a world
//! does not give with these functions, and the scenario loader resolves the same defaults with
//! them; the paths below are the scheme, and changing one changes every derived ID.

use uuid::Uuid;

/// The namespace of every name-derived GUID.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b4e_8a3d_4c5f_9e0a_1b2c_3d4e_5f60);

/// The GUID of a path of names (`tenant/contoso`, `contoso/project-a-mi/client-id`).
pub fn derive(path: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, path.as_bytes())
}

/// A tenant's ID: `tenant/{tenant}`.
pub fn tenant_id(tenant: &str) -> Uuid {
    derive(&format!("tenant/{tenant}"))
}

/// An app's or managed identity's client ID: `{tenant}/{identity}/client-id`.
pub fn client_id(tenant: &str, identity: &str) -> Uuid {
    derive(&format!("{tenant}/{identity}/client-id"))
}

/// A service principal's object ID, which is a managed identity's principal ID:
/// `{tenant}/{identity}/object-id`.
pub fn object_id(tenant: &str, identity: &str) -> Uuid {
    derive(&format!("{tenant}/{identity}/object-id"))
}

/// The subscription a tenant's managed identities live in (their ARM resource IDs):
/// `{tenant}/subscription`.
pub fn subscription_id(tenant: &str) -> Uuid {
    derive(&format!("{tenant}/subscription"))
}

/// The app ID of a resource known by `uri`: `resource/{uri}`.
pub fn resource_app_id(uri: &str) -> Uuid {
    derive(&format!("resource/{uri}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheme is pinned (the values are Python's `uuid.uuid5` of the same namespace and
    /// paths): a change to the namespace or a path fails here before it changes every ID in
    /// every report.
    #[test]
    fn derived_guids_are_pinned() {
        let pinned = [
            (tenant_id("contoso"), "fbcfb2d8-7389-52d8-8955-207b5c12069e"),
            (
                client_id("contoso", "project-a-mi"),
                "860debdc-caeb-56d8-bed8-20db7a214da1",
            ),
            (
                object_id("contoso", "project-a-mi"),
                "ff015d4c-065c-5e06-b409-1e6017a9b01a",
            ),
            (
                subscription_id("contoso"),
                "54051597-998a-566c-b48b-c2c4116747f4",
            ),
            (
                resource_app_id("https://containerregistry.azure.net"),
                "51311299-47fc-5dcc-b3b5-c1ec12b401c3",
            ),
        ];
        for (derived, expected) in pinned {
            assert_eq!(derived.to_string(), expected);
        }
    }

    #[test]
    fn paths_are_the_documented_ones() {
        assert_eq!(tenant_id("contoso"), derive("tenant/contoso"));
        assert_eq!(client_id("contoso", "mi"), derive("contoso/mi/client-id"));
        assert_eq!(object_id("contoso", "mi"), derive("contoso/mi/object-id"));
        assert_eq!(subscription_id("contoso"), derive("contoso/subscription"));
        assert_eq!(resource_app_id("api://x"), derive("resource/api://x"));
        assert_eq!(derive("a").get_version_num(), 5);
    }

    #[test]
    fn derived_guids_are_stable_and_distinct() {
        assert_eq!(tenant_id("contoso"), tenant_id("contoso"));
        assert_ne!(tenant_id("contoso"), tenant_id("fabrikam"));
        assert_ne!(client_id("contoso", "mi"), object_id("contoso", "mi"));
        assert_ne!(client_id("contoso", "mi"), client_id("fabrikam", "mi"));
    }
}
