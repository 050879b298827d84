//! rustls server configurations for the front door's listeners, and the names their certificates
//! carry: a site's own names on its direct listener, the owning site's pattern (or the exact name)
//! inside a tunnel, and the flawed certificates certificate faults ask for.

use std::sync::Arc;

use rustls::ServerConfig;

use super::{FrontDoorError, Shared};
use crate::ca::{CaError, CertNames, CertResolver, CertificateAuthority};
use crate::fault::CertificateFlaw;
use crate::site::{HostPattern, Site, SiteTable};

/// A server configuration whose certificates the run's CA issues on demand for `names`.
pub(super) fn server_config(
    ca: &CertificateAuthority,
    names: impl CertNames,
) -> Result<Arc<ServerConfig>, FrontDoorError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CertResolver::new(ca.clone(), names)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration presenting a certificate with `flaw` for the tunnel's target.
pub(super) fn flawed_config(
    shared: &Shared,
    names: &TunnelNames,
    flaw: CertificateFlaw,
) -> Result<Arc<ServerConfig>, FrontDoorError> {
    let right = names
        .names_for(None)
        .and_then(|n| n.into_iter().next())
        .unwrap_or_else(|| names.target.clone());
    let issued = match flaw {
        CertificateFlaw::UntrustedIssuer => rogue_ca(shared)?.issue(&[&right])?,
        CertificateFlaw::WrongHost => shared.ca.issue(&["wrong-host.credsim.invalid"])?,
        CertificateFlaw::Expired => shared.ca.issue_expired(&[&right])?,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(issued.key_pkcs8_der.clone().into());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(issued.chain.clone(), key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The CA no client trusts, made the first time a fault asks for it (most runs never do).
fn rogue_ca(shared: &Shared) -> Result<CertificateAuthority, CaError> {
    match shared.rogue_ca.get() {
        Some(ca) => Ok(ca.clone()),
        None => {
            let ca = CertificateAuthority::new("trusted by no client")?;
            let _ = shared.rogue_ca.set(ca.clone());
            Ok(ca)
        }
    }
}

/// Certificates inside a tunnel: the owning site's pattern (so `*.azurecr.io` is one cert), or
/// exactly the asked-for name when no site owns it (interception of unknown hosts).
pub(super) struct TunnelNames {
    pub(super) sites: SiteTable,
    pub(super) target: String,
}

impl CertNames for TunnelNames {
    fn names_for(&self, sni: Option<&str>) -> Option<Vec<String>> {
        let name = sni.unwrap_or(&self.target).to_ascii_lowercase();
        let pattern = self
            .sites
            .lookup(&name)
            .and_then(|site| site.pattern_for(&name).map(HostPattern::cert_name));
        Some(vec![pattern.unwrap_or(name)])
    }
}

/// Certificates on a site's direct listener: all its names plus `localhost` and `127.0.0.1`.
pub(super) struct DirectNames {
    names: Vec<String>,
}

impl DirectNames {
    pub(super) fn for_site(site: &Site) -> Self {
        let mut names: Vec<String> = site.hosts.iter().map(HostPattern::cert_name).collect();
        names.push("localhost".into());
        names.push("127.0.0.1".into());
        Self { names }
    }
}

impl CertNames for DirectNames {
    fn names_for(&self, _sni: Option<&str>) -> Option<Vec<String>> {
        Some(self.names.clone())
    }
}
