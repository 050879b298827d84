//! The directory: tenants and what lives in them.
//!
//! Per tenant: a GUID, verified domains, signing keys (several published, one signing, for
//! rotation), app registrations (client ID, service-principal object ID, secrets with expiry,
//! certificates, federated identity credentials, multi-tenant flag), user-assigned managed
//! identities (client ID, principal ID, ARM resource ID, federated credentials), system-assigned
//! identities of nodes, and the resources tokens can be requested for.
//!
//! GUIDs not given explicitly are derived from names (UUIDv5, [`entra_rules::guid`]), so a world
//! described by names gets the same IDs on every run and reports stay stable.
//!
//! Federated identity credentials are validated as Entra validates them on creation (reference
//! §2.1), by the rules of [`entra_rules::federated`] (the scenario loader applies the same ones):
//! name 3–120 characters of `[A-Za-z0-9_-]` starting alphanumeric, issuer an https URL of at most
//! 600 characters, subject 1 to 600, exactly one audience of 1 to 600, name and issuer+subject
//! unique per identity, and at most 20 per identity.

use entra_rules::federated::{self as rules, FederatedCredentialRef};
use entra_rules::guid;
use jiff::Timestamp;
use mock_kit::secret::Secret;
use mock_kit::{KidStyle, RsaSigningKey, SecretRegistry};
use uuid::Uuid;

/// A GUID derived from a path of names (stable across runs; [`entra_rules::guid::derive`]).
pub fn guid_for(path: &str) -> Uuid {
    guid::derive(path)
}

/// The client ID an identity named `identity` in tenant `tenant` gets when none is given (so
/// worlds can refer to it before mock-entra is built, e.g. in ServiceAccount annotations).
pub fn default_client_id(tenant: &str, identity: &str) -> Uuid {
    guid::client_id(tenant, identity)
}

/// The most federated identity credentials one app or identity may have.
pub use entra_rules::MAX_FEDERATED_CREDENTIALS;

/// Why a directory object was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("tenant {0:?} is defined twice")]
    DuplicateTenant(String),
    #[error("domain {domain:?} is verified in both {first:?} and {second:?}")]
    DuplicateDomain {
        domain: String,
        first: String,
        second: String,
    },
    #[error("{kind} {name:?} is defined twice in tenant {tenant:?}")]
    DuplicateObject {
        tenant: String,
        kind: &'static str,
        name: String,
    },
    #[error("client ID {0} is used by two objects")]
    DuplicateClientId(Uuid),
    #[error(
        "{identity:?} would have {count} federated identity credentials; Entra allows at most {max}"
    )]
    TooManyFederatedCredentials {
        identity: String,
        count: usize,
        max: usize,
    },
    #[error("federated identity credential {name:?} on {identity:?}: {problem}")]
    InvalidFederatedCredential {
        identity: String,
        name: String,
        problem: String,
    },
    #[error("no tenant named {0:?}")]
    UnknownTenant(String),
    #[error("no app or managed identity named {identity:?} in tenant {tenant:?}")]
    UnknownIdentity { tenant: String, identity: String },
    #[error("generating a key failed: {0}")]
    Key(String),
}

/// A federated identity credential: trust tokens from `issuer` about `subject` for `audience`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    /// When it was created at run time (virtual time); `None` for credentials of the initial
    /// world, which count as long propagated.
    pub created_at: Option<Timestamp>,
}

impl FederatedCredential {
    /// A credential with the standard audience `api://AzureADTokenExchange`.
    pub fn new(name: &str, issuer: &str, subject: &str) -> Self {
        Self {
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audiences: vec![entra_rules::EXCHANGE_AUDIENCE.to_owned()],
            created_at: None,
        }
    }

    /// Whether Entra's replicas all know it at `now`, given the propagation delay.
    pub fn propagated(&self, now: Timestamp, delay: std::time::Duration) -> bool {
        match self.created_at {
            None => true,
            Some(t) => now.duration_since(t).as_secs() >= delay.as_secs() as i64,
        }
    }

    /// Replaces the audiences (Entra insists on exactly one; validation says so).
    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// The credential as Entra's rules see it.
    fn rules_view(&self) -> FederatedCredentialRef<'_> {
        FederatedCredentialRef {
            name: &self.name,
            issuer: &self.issuer,
            subject: &self.subject,
            audiences: &self.audiences,
        }
    }
}

/// A client secret.
#[derive(Clone, Debug)]
pub struct ClientSecret {
    /// The secret's ID (what people paste by mistake instead of the value).
    pub id: Uuid,
    pub value: Secret<String>,
    pub expires: Option<Timestamp>,
}

/// A certificate registered on an app, with its private key (so tests can act as the app).
#[derive(Clone, Debug)]
pub struct AppCertificate {
    pub key: RsaSigningKey,
}

impl AppCertificate {
    /// A fresh key and self-signed certificate.
    pub fn generate(subject: &str) -> Result<Self, DirectoryError> {
        let key = RsaSigningKey::generate(KidStyle::CertificateThumbprint {
            subject: subject.to_owned(),
        })
        .map_err(|e| DirectoryError::Key(e.to_string()))?;
        Ok(Self { key })
    }

    /// The certificate (DER).
    pub fn der(&self) -> &[u8] {
        self.key
            .certificate_der()
            .expect("app keys carry certificates")
    }

    /// base64url SHA-1 thumbprint (`x5t`).
    pub fn x5t(&self) -> String {
        use base64::Engine as _;
        use sha1::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(self.der()))
    }

    /// base64url SHA-256 thumbprint (`x5t#S256`).
    pub fn x5t_s256(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(self.der()))
    }

    /// The certificate and private key as one PEM (what `CertificateCredential` reads).
    pub fn pem_with_key(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.der());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).expect("ascii"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem.push_str(&self.key.private_key_pem().expect("key encodes"));
        pem
    }
}

/// What kind of principal an [`Identity`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// An app registration with its service principal.
    App { multi_tenant: bool },
    /// A user-assigned managed identity.
    UserAssigned,
    /// The system-assigned identity of a node or VM.
    SystemAssigned { node: String },
}

/// A principal that can get tokens: an app, a user-assigned or a system-assigned identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub display_name: String,
    pub kind: IdentityKind,
    /// The app ID / client ID.
    pub client_id: Uuid,
    /// The service principal's object ID (`oid` in tokens; a managed identity's principal ID).
    pub object_id: Uuid,
    /// ARM resource ID of a managed identity (`xms_mirid`).
    pub resource_id: Option<String>,
    pub secrets: Vec<ClientSecret>,
    pub certificates: Vec<AppCertificate>,
    pub federated: Vec<FederatedCredential>,
    pub disabled: bool,
    /// Secrets to mint at build time: (count, expiry).
    mint_secrets: Vec<Option<Timestamp>>,
    mint_certificate: bool,
    /// The object ID was given, not derived from the name.
    object_id_given: bool,
}

impl Identity {
    /// An app registration (single-tenant) named `name`.
    pub fn app(name: &str) -> Self {
        Self::new(
            name,
            IdentityKind::App {
                multi_tenant: false,
            },
        )
    }

    /// A user-assigned managed identity named `name`.
    pub fn user_assigned(name: &str) -> Self {
        Self::new(name, IdentityKind::UserAssigned)
    }

    /// The system-assigned identity of `node`.
    pub fn system_assigned(node: &str) -> Self {
        Self::new(
            node,
            IdentityKind::SystemAssigned {
                node: node.to_owned(),
            },
        )
    }

    fn new(name: &str, kind: IdentityKind) -> Self {
        Self {
            name: name.to_owned(),
            display_name: name.to_owned(),
            kind,
            client_id: Uuid::nil(),
            object_id: Uuid::nil(),
            resource_id: None,
            secrets: Vec::new(),
            certificates: Vec::new(),
            federated: Vec::new(),
            disabled: false,
            mint_secrets: Vec::new(),
            mint_certificate: false,
            object_id_given: false,
        }
    }

    /// Fixes the client ID instead of deriving it from the name.
    pub fn client_id(mut self, id: Uuid) -> Self {
        self.client_id = id;
        self
    }

    /// Fixes the object ID (a managed identity's principal ID) instead of deriving it.
    pub fn object_id(mut self, id: Uuid) -> Self {
        self.object_id = id;
        self.object_id_given = true;
        self
    }

    /// Marks an app multi-tenant.
    pub fn multi_tenant(mut self) -> Self {
        if let IdentityKind::App { multi_tenant } = &mut self.kind {
            *multi_tenant = true;
        }
        self
    }

    /// Adds a client secret minted (and registered) at build time, expiring at `expires`.
    pub fn minted_secret(mut self, expires: Option<Timestamp>) -> Self {
        self.mint_secrets.push(expires);
        self
    }

    /// Adds a certificate generated at build time.
    pub fn generated_certificate(mut self) -> Self {
        self.mint_certificate = true;
        self
    }

    /// Adds a federated identity credential.
    pub fn federated(mut self, fic: FederatedCredential) -> Self {
        self.federated.push(fic);
        self
    }

    /// Whether this is a managed identity (user- or system-assigned).
    pub fn is_managed(&self) -> bool {
        !matches!(self.kind, IdentityKind::App { .. })
    }

    /// Whether this is an app usable from other tenants.
    pub fn is_multi_tenant(&self) -> bool {
        matches!(self.kind, IdentityKind::App { multi_tenant: true })
    }

    /// Entra's creation-time rules over the identity's federated credentials (the limit first,
    /// then each credential in turn), answered as the fake always has.
    pub(crate) fn check_federated(&self) -> Result<(), DirectoryError> {
        let views: Vec<FederatedCredentialRef<'_>> = self
            .federated
            .iter()
            .map(FederatedCredential::rules_view)
            .collect();
        let Err(refused) = rules::validate_federated_credentials(&views) else {
            return Ok(());
        };
        // No credential is named only when the list is too long.
        Err(match refused.index.and_then(|i| self.federated.get(i)) {
            Some(fic) => DirectoryError::InvalidFederatedCredential {
                identity: self.name.clone(),
                name: fic.name.clone(),
                problem: refused.error.entra_message(),
            },
            None => DirectoryError::TooManyFederatedCredentials {
                identity: self.name.clone(),
                count: self.federated.len(),
                max: MAX_FEDERATED_CREDENTIALS,
            },
        })
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
    id_given: bool,
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

    /// The identity named `name`.
    pub fn identity_named(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name == name)
    }

    /// The identity with client ID `id`.
    pub fn identity_by_client_id(&self, id: &str) -> Option<&Identity> {
        let id = Uuid::parse_str(id).ok()?;
        self.identities.iter().find(|i| i.client_id == id)
    }

    /// The key that signs now.
    pub fn signing_key(&self) -> &RsaSigningKey {
        &self.keys[self.signing]
    }

    /// Fills in derived IDs, mints secrets and keys, validates.
    pub(crate) fn materialise(&mut self, secrets: &SecretRegistry) -> Result<(), DirectoryError> {
        if !self.id_given {
            self.id = guid::tenant_id(&self.name);
        }
        if self.keys.is_empty() {
            self.keys.push(new_tenant_key()?);
            self.signing = 0;
        }
        let tenant = self.name.clone();
        for i in 0..self.identities.len() {
            let identity = &mut self.identities[i];
            if identity.client_id.is_nil() {
                identity.client_id = default_client_id(&tenant, &identity.name);
            }
            if !identity.object_id_given {
                identity.object_id = guid::object_id(&tenant, &identity.name);
            }
            if identity.is_managed() && identity.resource_id.is_none() {
                let sub = guid::subscription_id(&tenant);
                identity.resource_id = Some(match &identity.kind {
                    IdentityKind::SystemAssigned { node } => format!(
                        "/subscriptions/{sub}/resourceGroups/credsim/providers/Microsoft.Compute/virtualMachines/{node}"
                    ),
                    _ => format!(
                        "/subscriptions/{sub}/resourceGroups/credsim/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
                        identity.name
                    ),
                });
            }
            for expires in std::mem::take(&mut identity.mint_secrets) {
                // Entra client secrets look like `abc8Q~` followed by 34 characters.
                let value = secrets.mint(
                    mock_kit::SecretKind::EntraClientSecret,
                    &format!("{tenant}/{}", identity.name),
                    "cs8Q~",
                    35,
                );
                identity.secrets.push(ClientSecret {
                    id: Uuid::new_v4(),
                    value,
                    expires,
                });
            }
            for secret in &identity.secrets {
                let _ = secrets.register(
                    mock_kit::SecretKind::EntraClientSecret,
                    &format!("{tenant}/{}", identity.name),
                    secret.value.expose().clone(),
                );
            }
            if std::mem::take(&mut identity.mint_certificate) {
                identity
                    .certificates
                    .push(AppCertificate::generate(&identity.name)?);
            }
            identity.check_federated()?;
        }
        for (i, a) in self.identities.iter().enumerate() {
            if self.identities[..i].iter().any(|b| b.name == a.name) {
                return Err(DirectoryError::DuplicateObject {
                    tenant: self.name.clone(),
                    kind: "identity",
                    name: a.name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A fresh Entra-style signing key (certificate thumbprint as `kid`).
pub(crate) fn new_tenant_key() -> Result<RsaSigningKey, DirectoryError> {
    RsaSigningKey::generate(KidStyle::CertificateThumbprint {
        subject: "accounts.accesscontrol.windows.net".into(),
    })
    .map_err(|e| DirectoryError::Key(e.to_string()))
}

/// Every tenant.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub tenants: Vec<Tenant>,
}

/// How a token-endpoint path segment resolved.
#[derive(Clone, Copy, Debug)]
pub enum TenantRef<'a> {
    Tenant(&'a Tenant),
    /// `common`, `organizations` or `consumers`.
    Alias(&'static str),
}

impl Directory {
    /// Validates the whole directory (cross-tenant rules).
    pub(crate) fn validate(&self) -> Result<(), DirectoryError> {
        for (i, t) in self.tenants.iter().enumerate() {
            if self.tenants[..i].iter().any(|o| o.name == t.name) {
                return Err(DirectoryError::DuplicateTenant(t.name.clone()));
            }
            for d in &t.domains {
                if let Some(other) = self.tenants[..i].iter().find(|o| o.domains.contains(d)) {
                    return Err(DirectoryError::DuplicateDomain {
                        domain: d.clone(),
                        first: other.name.clone(),
                        second: t.name.clone(),
                    });
                }
            }
        }
        let mut ids: Vec<Uuid> = Vec::new();
        for t in &self.tenants {
            for i in &t.identities {
                if ids.contains(&i.client_id) {
                    return Err(DirectoryError::DuplicateClientId(i.client_id));
                }
                ids.push(i.client_id);
            }
        }
        Ok(())
    }

    /// Resolves a path segment: GUID, verified domain, or `common`/`organizations`/`consumers`.
    pub fn resolve(&self, segment: &str) -> Option<TenantRef<'_>> {
        let lower = segment.to_ascii_lowercase();
        for alias in ["common", "organizations", "consumers"] {
            if lower == alias {
                return Some(TenantRef::Alias(alias));
            }
        }
        if let Ok(id) = Uuid::parse_str(segment) {
            return self
                .tenants
                .iter()
                .find(|t| t.id == id)
                .map(TenantRef::Tenant);
        }
        self.tenants
            .iter()
            .find(|t| t.domains.contains(&lower))
            .map(TenantRef::Tenant)
    }

    /// The tenant named `name`.
    pub fn tenant_named(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant named `name`, mutably.
    pub fn tenant_named_mut(&mut self, name: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.name == name)
    }

    /// The identity with this client ID in any tenant, with its tenant.
    pub fn find_client(&self, client_id: &str) -> Option<(&Tenant, &Identity)> {
        self.tenants
            .iter()
            .find_map(|t| t.identity_by_client_id(client_id).map(|i| (t, i)))
    }
}

/// Whether a tenant segment is at least a plausible DNS name or GUID (else AADSTS900023).
pub(crate) fn plausible_tenant_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 253
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

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
            mi.resource_id.as_deref().unwrap().ends_with(
                "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/project-a-mi"
            )
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
}
