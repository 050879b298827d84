//! Apps and managed identities: the principals that get tokens, with the client secrets and
//! certificates an app proves itself with. (Their federated credentials are `federated`'s; what
//! building fills in is `build`'s.)

use jiff::Timestamp;
use mock_kit::secret::Secret;
use mock_kit::{KidStyle, RsaSigningKey};
use uuid::Uuid;

use super::{DirectoryError, FederatedCredential};

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
    pub(super) mint_secrets: Vec<Option<Timestamp>>,
    pub(super) mint_certificate: bool,
    /// The object ID was given, not derived from the name.
    pub(super) object_id_given: bool,
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
