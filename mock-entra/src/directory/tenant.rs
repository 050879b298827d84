//! Tenants and the resources tokens can be requested for. (Finding things in a tenant is
//! `lookup`'s; what building fills in is `build`'s.)

use entra_rules::guid;
use mock_kit::RsaSigningKey;
use uuid::Uuid;

use super::Identity;

/// A tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub name: String,
    pub id: Uuid,
    pub display_name: String,
    pub domains: Vec<String>,
    pub identities: Vec<Identity>,
    pub resources: Vec<Resource>,
    /// Published keys; `keys[signing]` signs.
    pub keys: Vec<RsaSigningKey>,
    pub signing: usize,
    /// The tenant GUID was given, not derived from the name.
    pub(super) id_given: bool,
}

impl Tenant {
    /// A tenant named `name` with domain `{name}.onmicrosoft.com`, the well-known resources, and
    /// a GUID derived from the name.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            id: Uuid::nil(),
            display_name: name.to_owned(),
            domains: vec![format!("{name}.onmicrosoft.com")],
            identities: Vec::new(),
            resources: Resource::well_known(),
            keys: Vec::new(),
            signing: 0,
            id_given: false,
        }
    }

    /// Fixes the tenant GUID.
    pub fn id(mut self, id: Uuid) -> Self {
        self.id = id;
        self.id_given = true;
        self
    }

    /// Adds a verified domain.
    pub fn domain(mut self, domain: &str) -> Self {
        self.domains.push(domain.to_ascii_lowercase());
        self
    }

    /// Adds an app or identity.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identities.push(identity);
        self
    }

    /// Adds a resource.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// The key that signs now.
    pub fn signing_key(&self) -> &RsaSigningKey {
        &self.keys[self.signing]
    }
}

/// Something tokens can be requested for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The application ID URIs it is known by (e.g. `https://management.azure.com/`).
    pub uris: Vec<String>,
    /// Its app ID (a scope may name it by GUID).
    pub app_id: Uuid,
    /// 1 or 2: the access-token version the resource accepts (decides `aud`, `iss`, `ver`).
    pub token_version: u8,
}

impl Resource {
    /// A resource with one URI, v1 tokens, app ID derived from the URI.
    pub fn new(uri: &str) -> Self {
        Self {
            uris: vec![uri.to_owned()],
            app_id: guid::resource_app_id(uri),
            token_version: 1,
        }
    }

    /// Accepts v2 tokens.
    pub fn v2(mut self) -> Self {
        self.token_version = 2;
        self
    }

    /// Another URI for the same resource.
    pub fn alias(mut self, uri: &str) -> Self {
        self.uris.push(uri.to_owned());
        self
    }

    /// The resources every tenant has: ARM, ACR, Key Vault, Graph, Storage.
    pub fn well_known() -> Vec<Resource> {
        let fixed = |uri: &str, app_id: &str| Resource {
            uris: vec![uri.to_owned()],
            app_id: Uuid::parse_str(app_id).expect("well-known app IDs parse"),
            token_version: 1,
        };
        vec![
            fixed(
                "https://management.core.windows.net/",
                "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            )
            .alias("https://management.azure.com/")
            .alias("https://management.azure.com"),
            Resource::new("https://containerregistry.azure.net"),
            fixed(
                "https://vault.azure.net",
                "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
            ),
            fixed(
                "https://graph.microsoft.com",
                "00000003-0000-0000-c000-000000000000",
            ),
            fixed(
                "https://storage.azure.com",
                "e406a681-f3d4-42a8-90b6-c2b029497af1",
            ),
        ]
    }
}
