//! The per-run certificate authority and the certificates the listeners present.
//!
//! Each run gets a fresh CA (ECDSA P-256, valid for a few days) that only that run's clients trust
//! (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, ...). Leaf certificates are issued on demand for any set
//! of host names and IP addresses, wildcards (`*.azurecr.io`) included, and cached.
//! [`CertResolver`] is the rustls hook: it picks the certificate for the SNI a client sent.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("generating a certificate for {names:?} failed")]
    Generate {
        names: Vec<String>,
        #[source]
        source: rcgen::Error,
    },
    #[error("loading a generated key into rustls failed")]
    Key(#[source] rustls::Error),
}

/// A certificate and its private key, ready for rustls.
#[derive(Clone)]
pub struct IssuedCert {
    /// The leaf, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    pub key_pkcs8_der: Vec<u8>,
    /// The leaf as PEM.
    pub pem: String,
    certified: Arc<CertifiedKey>,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl IssuedCert {
    /// The rustls form.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.certified.clone()
    }

    /// The leaf's private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for a server
    /// outside credsim that is to present this certificate.
    pub fn key_pem(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.key_pkcs8_der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }
}

/// The run's certificate authority. Cloning shares it (and its cache of issued certificates).
#[derive(Clone)]
pub struct CertificateAuthority {
    inner: Arc<CaInner>,
}

struct CaInner {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    cache: Mutex<HashMap<Vec<String>, IssuedCert>>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// How long the CA and its leaves are valid. Real time, not virtual: TLS stacks check the system
/// clock, and a run never lasts this long.
const VALIDITY_DAYS: i64 = 7;

impl CertificateAuthority {
    /// A fresh CA whose subject names `run_label` (e.g. `credsim run 2026-11-29`).
    pub fn new(run_label: &str) -> Result<Self, CaError> {
        let gen_err = |source| CaError::Generate {
            names: vec![run_label.to_owned()],
            source,
        };
        let key = KeyPair::generate().map_err(gen_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "credsim");
        dn.push(DnType::CommonName, format!("credsim CA ({run_label})"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let (not_before, not_after) = validity();
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&key).map_err(gen_err)?;
        let cert_pem = cert.pem();
        let cert_der = cert.der().clone();
        Ok(Self {
            inner: Arc::new(CaInner {
                issuer: Issuer::new(params, key),
                cert_der,
                cert_pem,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The CA certificate as PEM, for clients to trust.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert_der
    }

    /// A leaf certificate for `names` (DNS names, `*.` wildcards, IP addresses), cached by the
    /// exact list of names.
    pub fn issue(&self, names: &[&str]) -> Result<IssuedCert, CaError> {
        self.issue_valid(names, validity(), "")
    }

    /// A leaf for `names` that expired an hour ago (for certificate fault injection).
    pub fn issue_expired(&self, names: &[&str]) -> Result<IssuedCert, CaError> {
        let now = time::OffsetDateTime::now_utc();
        self.issue_valid(
            names,
            (
                now - time::Duration::days(2),
                now - time::Duration::hours(1),
            ),
            "expired",
        )
    }

    fn issue_valid(
        &self,
        names: &[&str],
        (not_before, not_after): (time::OffsetDateTime, time::OffsetDateTime),
        variant: &str,
    ) -> Result<IssuedCert, CaError> {
        let key: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let mut cache_key = key.clone();
        if !variant.is_empty() {
            cache_key.push(format!("\0{variant}"));
        }
        if let Some(hit) = self.inner.cache.lock().expect("ca cache").get(&cache_key) {
            return Ok(hit.clone());
        }
        let gen_err = |source| CaError::Generate {
            names: key.clone(),
            source,
        };
        let leaf_key = KeyPair::generate().map_err(gen_err)?;
        let mut params = CertificateParams::new(key.clone()).map_err(gen_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "credsim");
        dn.push(
            DnType::CommonName,
            key.first().cloned().unwrap_or_else(|| "credsim".into()),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params
            .signed_by(&leaf_key, &self.inner.issuer)
            .map_err(gen_err)?;
        let key_der = leaf_key.serialize_der();
        let chain = vec![cert.der().clone(), self.inner.cert_der.clone()];
        let signing = any_supported_type(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key_der.clone(),
        )))
        .map_err(CaError::Key)?;
        let issued = IssuedCert {
            certified: Arc::new(CertifiedKey::new(chain.clone(), signing)),
            chain,
            key_pkcs8_der: key_der,
            pem: cert.pem(),
        };
        self.inner
            .cache
            .lock()
            .expect("ca cache")
            .insert(cache_key, issued.clone());
        Ok(issued)
    }
}

fn validity() -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    (
        now - time::Duration::hours(1),
        now + time::Duration::days(VALIDITY_DAYS),
    )
}

/// Chooses the certificate names a listener presents for a given SNI.
pub trait CertNames: Send + Sync + 'static {
    /// The names to put in the certificate for a client that asked for `sni` (`None`: no SNI,
    /// e.g. a client connecting to `127.0.0.1`). `None` refuses the handshake.
    fn names_for(&self, sni: Option<&str>) -> Option<Vec<String>>;
}

/// The rustls hook that issues (or reuses) the certificate a client's SNI asks for.
pub struct CertResolver<N> {
    ca: CertificateAuthority,
    names: N,
}

impl<N> fmt::Debug for CertResolver<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver").finish_non_exhaustive()
    }
}

impl<N: CertNames> CertResolver<N> {
    /// A resolver issuing from `ca` with names chosen by `names`.
    pub fn new(ca: CertificateAuthority, names: N) -> Self {
        Self { ca, names }
    }
}

impl<N: CertNames> ResolvesServerCert for CertResolver<N> {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let names = self.names.names_for(hello.server_name())?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match self.ca.issue(&refs) {
            Ok(issued) => Some(issued.certified_key()),
            Err(error) => {
                tracing::warn!(%error, "could not issue a certificate");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn leaf_chains_to_the_ca_and_carries_the_requested_sans() {
        let ca = CertificateAuthority::new("test").unwrap();
        let leaf = ca
            .issue(&["login.microsoftonline.com", "*.azurecr.io", "127.0.0.1"])
            .unwrap();
        assert_eq!(leaf.chain.len(), 2);

        let (_, ca_cert) = X509Certificate::from_der(ca.cert_der()).unwrap();
        let (_, cert) = X509Certificate::from_der(&leaf.chain[0]).unwrap();
        // The leaf's signature verifies with the CA's public key, and names the CA as issuer.
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert_eq!(cert.issuer(), ca_cert.subject());
        assert!(ca_cert.is_ca());
        assert!(!cert.is_ca());
        // The CA is self-signed.
        ca_cert.verify_signature(None).unwrap();

        let san = cert.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|g| match g {
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("other:{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "dns:login.microsoftonline.com",
                "dns:*.azurecr.io",
                "ip:[127, 0, 0, 1]"
            ]
        );
        let eku = cert.extended_key_usage().unwrap().unwrap();
        assert!(eku.value.server_auth);
        assert!(cert.validity().is_valid());
    }

    #[test]
    fn webpki_accepts_wildcards_for_one_label_only() {
        crate::install_crypto_provider();
        let ca = CertificateAuthority::new("test").unwrap();
        let leaf = ca.issue(&["*.azurecr.io"]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        let check = |host: &str| {
            use rustls::client::danger::ServerCertVerifier as _;
            verifier.verify_server_cert(
                &leaf.chain[0],
                &leaf.chain[1..],
                &rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap(),
                &[],
                now,
            )
        };
        check("myreg.azurecr.io").unwrap();
        assert!(check("a.b.azurecr.io").is_err());
        assert!(check("azurecr.io").is_err());
        assert!(check("myreg.azurecr.io.attacker.example").is_err());
    }

    #[test]
    fn issued_certificates_are_cached_and_cas_are_distinct() {
        let ca = CertificateAuthority::new("a").unwrap();
        let one = ca.issue(&["x.example"]).unwrap();
        let two = ca.issue(&["X.example"]).unwrap();
        assert_eq!(one.chain[0], two.chain[0]);
        let other = CertificateAuthority::new("b").unwrap();
        assert_ne!(ca.cert_der(), other.cert_der());
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
