//! [`SecretKind`]: what kind of secret a fake minted, and where each kind belongs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of secret a fake minted. Closed: a new kind is a compile error in every `match` that
/// decides where a secret may go (the harness's `credential-destination`), until it is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// An Entra access token (v1 or v2), from the token endpoint or IMDS.
    EntraAccessToken,
    /// An app's client secret.
    EntraClientSecret,
    /// An ACR refresh token (the registry login's password), from `/oauth2/exchange`.
    AcrRefreshToken,
    /// An ACR access token, from `/oauth2/token`.
    AcrAccessToken,
    /// A registry's admin user password.
    AcrAdminPassword,
    /// A repository-scoped token's password (ACR tokens and scope maps).
    AcrTokenPassword,
    /// The signature of a blob storage SAS URL a registry redirects to.
    AcrBlobSas,
    /// A ServiceAccount token (TokenRequest, a projected volume).
    K8sServiceAccountToken,
    /// A cluster's administrator bearer token.
    K8sAdminToken,
    /// The App Service managed-identity endpoint's `X-IDENTITY-HEADER` value.
    ImdsIdentityHeader,
    /// A value a test or a user plants to see where it goes: allowed nowhere.
    Canary,
}

impl SecretKind {
    pub const ALL: [SecretKind; 11] = [
        SecretKind::EntraAccessToken,
        SecretKind::EntraClientSecret,
        SecretKind::AcrRefreshToken,
        SecretKind::AcrAccessToken,
        SecretKind::AcrAdminPassword,
        SecretKind::AcrTokenPassword,
        SecretKind::AcrBlobSas,
        SecretKind::K8sServiceAccountToken,
        SecretKind::K8sAdminToken,
        SecretKind::ImdsIdentityHeader,
        SecretKind::Canary,
    ];

    /// The kebab-case name evidence uses (`acr-refresh-token`).
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::EntraAccessToken => "entra-access-token",
            SecretKind::EntraClientSecret => "entra-client-secret",
            SecretKind::AcrRefreshToken => "acr-refresh-token",
            SecretKind::AcrAccessToken => "acr-access-token",
            SecretKind::AcrAdminPassword => "acr-admin-password",
            SecretKind::AcrTokenPassword => "acr-token-password",
            SecretKind::AcrBlobSas => "acr-blob-sas",
            SecretKind::K8sServiceAccountToken => "k8s-service-account-token",
            SecretKind::K8sAdminToken => "k8s-admin-token",
            SecretKind::ImdsIdentityHeader => "imds-identity-header",
            SecretKind::Canary => "canary",
        }
    }

    /// Secrets minted for a request (a token, a SAS signature), as opposed to the world's own
    /// (client secrets, passwords, admin tokens, canaries): the ones a bounded registry forgets,
    /// oldest first.
    pub fn is_per_request(self) -> bool {
        match self {
            SecretKind::EntraAccessToken
            | SecretKind::AcrRefreshToken
            | SecretKind::AcrAccessToken
            | SecretKind::AcrBlobSas
            | SecretKind::K8sServiceAccountToken => true,
            SecretKind::EntraClientSecret
            | SecretKind::AcrAdminPassword
            | SecretKind::AcrTokenPassword
            | SecretKind::K8sAdminToken
            | SecretKind::ImdsIdentityHeader
            | SecretKind::Canary => false,
        }
    }

    /// Secrets a registry mints, whose label starts with that registry's login server.
    pub fn is_registry_secret(self) -> bool {
        matches!(
            self,
            SecretKind::AcrRefreshToken
                | SecretKind::AcrAccessToken
                | SecretKind::AcrAdminPassword
                | SecretKind::AcrTokenPassword
                | SecretKind::AcrBlobSas
        )
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for SecretKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
