//! The deliberate flaws: the reference with exactly one thing wrong each, to show that the
//! harness catches it (`credsim reference --flaw NAME`, `credsim flaws`).

/// One deliberate flaw: the reference with exactly one thing wrong, to show that the harness
/// catches it (`credsim reference --flaw <name>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// The cache is keyed by registry only (Kargo's ACR cache today): `cache-partitioning`.
    CacheByRegistry,
    /// Any failure of the project's own identity falls back to the controller's: `fail-closed`.
    FallbackOnAnyError,
    /// The Entra access token is logged on stderr: `no-secret-leak`.
    LogToken,
    /// A registry is anything containing `azurecr.io`, and the exchange goes to the host as
    /// written: `credential-destination`.
    HostContainsAzurecr,
    /// Without a mapping on the dedicated ServiceAccount, any annotated ServiceAccount of the
    /// project is used (the user-facing `kargo-admin`): `dedicated-service-account`.
    AnyAnnotatedServiceAccount,
    /// ServiceAccount tokens are requested for 48 hours: `audience-bound`.
    LongLivedToken,
    /// The pull check asks for `registry:catalog:*` and `push` as well: `least-privilege`.
    BroadRegistryScope,
    /// Entra is asked at `/organizations` instead of the configured tenant: `tenant-isolation`.
    OrganizationsTenant,
    /// The first `*.client-id` annotation is used, whatever its shard: `shard-isolation`.
    AnyShardMapping,
    /// A cached credential is handed out until it expires (hours), however long ago it was
    /// exchanged, so a revoked federation keeps working: `revocation`.
    StaleCache,
    /// When the controller is installed with a service principal's secret, that secret is the
    /// registry credential (ACR accepts it as a password): `short-lived`.
    ClientSecretAsPassword,
    /// The project → ServiceAccount → client ID lookup is cached by registry, so every later
    /// project acts as the first one that asked (its token, its identity): `project-isolation`.
    MappingCachedByRegistry,
    /// ServiceAccount tokens are requested for the API server's own audience, not the exchange
    /// audience: `audience-bound`.
    ApiServerAudience,
    /// With fallback configured for denials, an unavailable Entra (5xx, throttling) falls back to
    /// the controller's identity too: `fail-closed`.
    FallbackOnUnavailable,
    /// Every credential handed out is also written to a file in the working directory:
    /// `no-secret-leak`.
    TokenInWorkdir,
    /// The pull check sends the registry's refresh token over plain HTTP: `credential-destination`.
    PlainHttpPullCheck,
    /// The pull check follows whatever token realm the registry's challenge names, on any host:
    /// `credential-destination`.
    FollowForeignRealm,
    /// The registry is found by the first `<name>.azurecr.io` inside the host as written, and that
    /// registry's credential is returned for it: every request on the wire goes to the right
    /// host, but the OCI client presents the credential to `attacker.example`:
    /// `credential-destination` (the consumer's view).
    RegistryFoundInsideHost,
    /// Before the registry token, it also asks Entra for an Azure Resource Manager token with the
    /// project's identity ("to look the registry up"): `least-privilege`.
    ManagementToken,
    /// Logs the registry login it hands out as the HTTP header an OCI client sends
    /// (`Authorization: Basic <base64 of user:password>`): `no-secret-leak` (an encoded form).
    LogBasicAuth,
    /// Stores credentials the way `docker login` does, in `$HOME/.docker/config.json`
    /// (`auths.<host>.auth` is base64 of `user:password`): `no-secret-leak` (an encoded form).
    DockerConfig,
    /// Keeps a credential cache in the temporary folder (`$TMPDIR`, `/tmp`), outside its working
    /// directory: `no-secret-leak`, seen only because the sandbox captures `/tmp`.
    CacheInTmp,
    /// Certificates are not verified (`danger_accept_invalid_certs`): `tls-verification`.
    NoTlsVerification,
    /// Reports every credential it hands out to a telemetry collector (`collector.example`),
    /// connecting straight to it and ignoring the proxy: `credential-destination`, seen only
    /// because in the sandbox's network every address leads to the front door.
    TelemetryIgnoresProxy,
    /// On any failure, the last credential it handed out, to any project, is handed out again
    /// ("better something than nothing"): `project-isolation`, seen only when a failure follows
    /// another project's success on the same shard.
    LastCredentialOnError,
    /// Concurrent cache misses for one registry share one exchange, whichever project started
    /// it: a single-flight group keyed by the registry only (the cache itself is keyed right):
    /// `project-isolation`, seen only when two projects miss at the same time.
    SingleFlightByRegistry,
    /// The project being worked on is one field of the whole controller, set when a request
    /// starts and read again after an await (the project's ServiceAccount is looked up in
    /// between): a request that overlaps another project's is answered with a credential of that
    /// project's identity (cached under the asking project): `project-isolation`, seen only when
    /// requests overlap.
    GlobalCurrentProject,
}

impl Flaw {
    pub const ALL: [Flaw; 27] = [
        Flaw::CacheByRegistry,
        Flaw::FallbackOnAnyError,
        Flaw::LogToken,
        Flaw::HostContainsAzurecr,
        Flaw::AnyAnnotatedServiceAccount,
        Flaw::LongLivedToken,
        Flaw::BroadRegistryScope,
        Flaw::OrganizationsTenant,
        Flaw::AnyShardMapping,
        Flaw::StaleCache,
        Flaw::ClientSecretAsPassword,
        Flaw::MappingCachedByRegistry,
        Flaw::ApiServerAudience,
        Flaw::FallbackOnUnavailable,
        Flaw::TokenInWorkdir,
        Flaw::PlainHttpPullCheck,
        Flaw::FollowForeignRealm,
        Flaw::RegistryFoundInsideHost,
        Flaw::ManagementToken,
        Flaw::LogBasicAuth,
        Flaw::DockerConfig,
        Flaw::CacheInTmp,
        Flaw::NoTlsVerification,
        Flaw::TelemetryIgnoresProxy,
        Flaw::LastCredentialOnError,
        Flaw::SingleFlightByRegistry,
        Flaw::GlobalCurrentProject,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flaw::CacheByRegistry => "cache-by-registry",
            Flaw::FallbackOnAnyError => "fallback-on-any-error",
            Flaw::LogToken => "log-token",
            Flaw::HostContainsAzurecr => "host-contains-azurecr",
            Flaw::AnyAnnotatedServiceAccount => "any-annotated-service-account",
            Flaw::LongLivedToken => "long-lived-token",
            Flaw::BroadRegistryScope => "broad-registry-scope",
            Flaw::OrganizationsTenant => "organizations-tenant",
            Flaw::AnyShardMapping => "any-shard-mapping",
            Flaw::StaleCache => "stale-cache",
            Flaw::ClientSecretAsPassword => "client-secret-as-password",
            Flaw::MappingCachedByRegistry => "mapping-cached-by-registry",
            Flaw::ApiServerAudience => "api-server-audience",
            Flaw::FallbackOnUnavailable => "fallback-on-unavailable",
            Flaw::TokenInWorkdir => "token-in-workdir",
            Flaw::PlainHttpPullCheck => "plain-http-pull-check",
            Flaw::FollowForeignRealm => "follow-foreign-realm",
            Flaw::RegistryFoundInsideHost => "registry-found-inside-host",
            Flaw::ManagementToken => "management-token",
            Flaw::LogBasicAuth => "log-basic-auth",
            Flaw::DockerConfig => "docker-config",
            Flaw::CacheInTmp => "cache-in-tmp",
            Flaw::NoTlsVerification => "no-tls-verification",
            Flaw::TelemetryIgnoresProxy => "telemetry-ignores-proxy",
            Flaw::LastCredentialOnError => "last-credential-on-error",
            Flaw::SingleFlightByRegistry => "single-flight-by-registry",
            Flaw::GlobalCurrentProject => "global-current-project",
        }
    }
}

/// A name that is not one of [`Flaw::ALL`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown flaw {name:?}; known: {}", Flaw::ALL.map(Flaw::as_str).join(", "))]
pub struct UnknownFlaw {
    pub name: String,
}

impl std::str::FromStr for Flaw {
    type Err = UnknownFlaw;
    fn from_str(s: &str) -> Result<Self, UnknownFlaw> {
        Flaw::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFlaw { name: s.to_owned() })
    }
}

/// Where [`Flaw::TelemetryIgnoresProxy`] reports to: a made-up host no fake serves.
pub(crate) const TELEMETRY_HOST: &str = "collector.example";

/// Whether this process runs in credsim's sandbox network (its `resolv.conf` says so): only
/// there does the broken telemetry of [`Flaw::TelemetryIgnoresProxy`] run as a program, so that
/// even a deliberately broken credsim program sends nothing beyond the machine.
pub(crate) fn in_sandbox_network() -> bool {
    std::fs::read_to_string("/etc/resolv.conf")
        .is_ok_and(|t| t.contains(credsim::sandbox::RESOLV_CONF_MARK))
}
