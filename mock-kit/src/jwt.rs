//! RSA signing keys, JWKS rendering, JWT minting and verification.
//!
//! Real issuers name their keys differently, and clients look them up by that name, so the `kid`
//! is computed the way the key's owner computes it ([`KidStyle`]):
//! - Kubernetes: base64url (no padding) of the SHA-256 of the DER-encoded PKIX public key
//!   (`keyIDFromPublicKey` in kube-apiserver's `serviceaccount/jwt.go`).
//! - Entra ID: the certificate thumbprint, base64url of the SHA-1 of the DER certificate; the JWK
//!   carries the same value as `x5t` and the certificate as `x5c`.
//!
//! Verification here is only cryptographic (structure, algorithm, `kid`, signature). Claim checks
//! (issuer, audience, expiry against the virtual clock) belong to the fake that knows the rules.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// How a key's `kid` is derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KidStyle {
    /// Kubernetes service-account issuers: base64url(SHA-256(DER SPKI)).
    Kubernetes,
    /// Entra ID: the self-signed certificate's SHA-1 thumbprint, base64url; also `x5t`.
    CertificateThumbprint {
        /// Subject common name of the certificate (Entra uses `accounts.accesscontrol.windows.net`).
        subject: String,
    },
    /// A fixed `kid`, for tests of clients that must not care.
    Fixed(String),
}

/// JWS algorithms the helpers sign and verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    RS256,
    PS256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Algorithm::RS256),
            "PS256" => Some(Algorithm::PS256),
            _ => None,
        }
    }
}

pub use crate::keys::KeyError;

/// An RSA-2048 signing key with its `kid` (and certificate, for Entra-style keys).
#[derive(Clone)]
pub struct RsaSigningKey {
    private: Arc<KeyPair>,
    pkcs8_der: Arc<Vec<u8>>,
    kid: String,
    spki_der: Vec<u8>,
    cert_der: Option<Vec<u8>>,
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    /// A 2048-bit key no other world of this process, and no world of another process running
    /// now, has (see [`crate::keys`]: taken from the key store, generated only when the store has
    /// none ready), named as `style` says.
    pub fn generate(style: KidStyle) -> Result<Self, KeyError> {
        // A cached key that does not load (a damaged cache file) is passed over.
        for _ in 0..3 {
            match Self::from_pkcs8_der(&crate::keys::take()?, style.clone()) {
                Err(KeyError::Rejected(_)) => continue,
                other => return other,
            }
        }
        Self::generate_unpooled(style)
    }

    /// A fresh key generated here and now, never from the store (benchmarks time generation with
    /// it).
    pub fn generate_unpooled(style: KidStyle) -> Result<Self, KeyError> {
        Self::from_pkcs8_der(&crate::keys::generate()?, style)
    }

    /// Wraps an existing RSA-2048 key given as PKCS#8 DER (e.g. one loaded from a kind cluster's
    /// `sa.key`).
    pub fn from_pkcs8_der(der: &[u8], style: KidStyle) -> Result<Self, KeyError> {
        let private = KeyPair::from_pkcs8(der).map_err(|e| KeyError::Rejected(e.to_string()))?;
        if private.public_modulus_len() != 256 {
            return Err(KeyError::Rejected(format!(
                "{} bits, not 2048",
                private.public_modulus_len() * 8
            )));
        }
        let spki: PublicKeyX509Der<'static> = private
            .public_key()
            .as_der()
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let spki_der = spki.as_ref().to_vec();
        let (kid, cert_der) = match style {
            KidStyle::Kubernetes => (URL_SAFE_NO_PAD.encode(Sha256::digest(&spki_der)), None),
            KidStyle::Fixed(kid) => (kid, None),
            KidStyle::CertificateThumbprint { subject } => {
                let cert = self_signed_certificate(der, &subject)?;
                (URL_SAFE_NO_PAD.encode(Sha1::digest(&cert)), Some(cert))
            }
        };
        Ok(Self {
            private: Arc::new(private),
            pkcs8_der: Arc::new(der.to_vec()),
            kid,
            spki_der,
            cert_der,
        })
    }

    /// The key id clients look the key up by.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The DER-encoded public key (SubjectPublicKeyInfo).
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), e.g. for a kind cluster's `sa.pub`.
    pub fn public_key_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// The private key as PKCS#8 PEM, e.g. for a kind cluster's `sa.key`.
    pub fn private_key_pem(&self) -> Result<String, KeyError> {
        Ok(pem_encode("PRIVATE KEY", &self.pkcs8_der))
    }

    /// The key's certificate (DER), for Entra-style keys.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }

    /// The public JWK, as the key's owner publishes it.
    pub fn jwk(&self) -> Jwk {
        let public = self.private.public_key();
        Jwk {
            kty: "RSA".into(),
            use_: Some("sig".into()),
            alg: None,
            kid: self.kid.clone(),
            x5t: self
                .cert_der
                .as_ref()
                .map(|c| URL_SAFE_NO_PAD.encode(Sha1::digest(c))),
            n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            x5c: self.cert_der.as_ref().map(|c| vec![STANDARD.encode(c)]),
            extra: Map::new(),
        }
    }

    /// Signs `claims` as a compact JWS with header `{"alg","typ":"JWT","kid"}` plus `extra_header`
    /// (e.g. `x5t` for Entra v1 tokens).
    pub fn sign(
        &self,
        alg: Algorithm,
        extra_header: &Map<String, Value>,
        claims: &impl Serialize,
    ) -> Result<String, KeyError> {
        let mut header = Map::new();
        header.insert("alg".into(), alg.as_str().into());
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), self.kid.clone().into());
        for (k, v) in extra_header {
            header.insert(k.clone(), v.clone());
        }
        let header = serde_json::to_vec(&header).map_err(KeyError::Claims)?;
        let claims = serde_json::to_vec(claims).map_err(KeyError::Claims)?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let padding: &'static dyn signature::RsaEncoding = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        };
        let mut signature = vec![0; self.private.public_modulus_len()];
        self.private
            .sign(
                padding,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn self_signed_certificate(der: &[u8], subject: &str) -> Result<Vec<u8>, KeyError> {
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(der),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(KeyError::Certificate)?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, subject);
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now + time::Duration::days(5 * 365);
    let cert = params.self_signed(&key).map_err(KeyError::Certificate)?;
    Ok(cert.der().to_vec())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One JSON Web Key, with the fields Entra and Kubernetes publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    pub n: String,
    pub e: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// Owner-specific members (Entra's per-key `issuer`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Jwk {
    /// The key's modulus and exponent, big-endian. A key that is not RSA, or whose modulus is not
    /// 2048 to 8192 bits or exponent not odd and at least 3 (what the verifier accepts, as Entra
    /// and Kubernetes publish), is not usable.
    fn public_key(&self) -> Result<signature::RsaPublicKeyComponents<Vec<u8>>, JwtError> {
        let bad = || JwtError::BadKey(self.kid.clone());
        if self.kty != "RSA" {
            return Err(bad());
        }
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| bad());
        let strip = |v: Vec<u8>| {
            let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
            v[first..].to_vec()
        };
        let n = strip(decode(&self.n)?);
        let e = strip(decode(&self.e)?);
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        let e_ok = e.len() <= 8 && e.last().is_some_and(|b| b & 1 == 1) && e != [1];
        if !(2048..=8192).contains(&bits) || !e_ok {
            return Err(bad());
        }
        Ok(signature::RsaPublicKeyComponents { n, e })
    }
}

/// A JWK set, `{"keys":[...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The set of the public halves of `keys`, in order.
    pub fn of<'a>(keys: impl IntoIterator<Item = &'a RsaSigningKey>) -> Self {
        Self {
            keys: keys.into_iter().map(RsaSigningKey::jwk).collect(),
        }
    }

    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Why a token failed cryptographic verification.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a compact JWS: {0}")]
    Malformed(&'static str),
    #[error("the token's algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("the token's header has no kid")]
    MissingKid,
    #[error("no key with kid {0:?} is published")]
    UnknownKid(String),
    #[error("the published key {0:?} is not a usable RSA key")]
    BadKey(String),
    #[error("the token's signature does not verify")]
    BadSignature,
}

/// A token's header and claims, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl DecodedJwt {
    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A NumericDate or integer claim (`exp`, `iat`, `nbf`). RFC 7519 allows fractional seconds
    /// (azure-identity sends them); they are truncated.
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f.trunc() as i64))
    }

    /// A header member.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

/// Decodes a token's header and claims without checking its signature (for evidence only).
pub fn decode_unverified(token: &str) -> Result<DecodedJwt, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(_s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let object = |part: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed("a part is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JwtError::Malformed("a part is not a JSON object")),
        }
    };
    Ok(DecodedJwt {
        header: object(h)?,
        claims: object(c)?,
    })
}

/// Verifies a token's structure, algorithm (one of `accepted`), `kid` and signature against
/// `jwks`; returns its header and claims.
pub fn verify(token: &str, jwks: &Jwks, accepted: &[Algorithm]) -> Result<DecodedJwt, JwtError> {
    let decoded = decode_unverified(token)?;
    accepted_algorithm(&decoded, accepted)?;
    let kid = decoded.header_str("kid").ok_or(JwtError::MissingKid)?;
    let jwk = jwks
        .get(kid)
        .ok_or_else(|| JwtError::UnknownKid(kid.to_owned()))?;
    verify_with_key(token, jwk, accepted)
}

/// Verifies a token's structure, algorithm and signature against one known key, whatever `kid`
/// the token names (a certificate assertion is matched to its key by thumbprint instead).
pub fn verify_with_key(
    token: &str,
    jwk: &Jwk,
    accepted: &[Algorithm],
) -> Result<DecodedJwt, JwtError> {
    let decoded = decode_unverified(token)?;
    let alg = accepted_algorithm(&decoded, accepted)?;
    let public = jwk.public_key()?;
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("no signature"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    let params = match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
    };
    let ok = public
        .verify(params, signing_input.as_bytes(), &signature)
        .is_ok();
    if ok {
        Ok(decoded)
    } else {
        Err(JwtError::BadSignature)
    }
}

fn accepted_algorithm(decoded: &DecodedJwt, accepted: &[Algorithm]) -> Result<Algorithm, JwtError> {
    let alg_name = decoded.header_str("alg").unwrap_or_default();
    Algorithm::parse(alg_name)
        .filter(|a| accepted.contains(a))
        .ok_or_else(|| JwtError::UnsupportedAlgorithm(alg_name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::OnceLock;

    // RSA key generation costs tens of milliseconds; share keys between tests.
    fn k8s_key() -> &'static RsaSigningKey {
        static KEY: OnceLock<RsaSigningKey> = OnceLock::new();
        KEY.get_or_init(|| RsaSigningKey::generate(KidStyle::Kubernetes).unwrap())
    }
    fn entra_key() -> &'static RsaSigningKey {
        static KEY: OnceLock<RsaSigningKey> = OnceLock::new();
        KEY.get_or_init(|| {
            RsaSigningKey::generate(KidStyle::CertificateThumbprint {
                subject: "accounts.accesscontrol.windows.net".into(),
            })
            .unwrap()
        })
    }

    #[test]
    fn kubernetes_kid_is_base64url_sha256_of_the_spki() {
        let key = k8s_key();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(key.public_key_der()));
        assert_eq!(key.kid(), expected);
        assert_eq!(key.kid().len(), 43);
        let jwk = key.jwk();
        assert_eq!(jwk.kid, key.kid());
        assert_eq!(jwk.e, "AQAB");
        assert!(jwk.x5t.is_none() && jwk.x5c.is_none());
        assert!(
            key.public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        assert!(
            key.private_key_pem()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
    }

    #[test]
    fn entra_kid_is_the_certificate_thumbprint_and_x5c_carries_the_certificate() {
        let key = entra_key();
        let cert = key.certificate_der().unwrap();
        let thumb = URL_SAFE_NO_PAD.encode(Sha1::digest(cert));
        assert_eq!(key.kid(), thumb);
        assert_eq!(thumb.len(), 27);
        let jwk = key.jwk();
        assert_eq!(jwk.x5t.as_deref(), Some(thumb.as_str()));
        assert_eq!(jwk.x5c, Some(vec![STANDARD.encode(cert)]));
        // The certificate really holds the signing key.
        let (_, parsed) = x509_parser::parse_x509_certificate(cert).unwrap();
        assert_eq!(parsed.public_key().raw, key.public_key_der());
    }

    #[test]
    fn signed_tokens_verify_and_tampering_is_caught() {
        let key = k8s_key();
        let jwks = Jwks::of([key]);
        let claims =
            json!({"iss":"https://issuer.example","sub":"system:serviceaccount:a:b","exp":2});
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let token = key.sign(alg, &Map::new(), &claims).unwrap();
            let v = verify(&token, &jwks, &[Algorithm::RS256, Algorithm::PS256]).unwrap();
            assert_eq!(v.claim_str("sub"), Some("system:serviceaccount:a:b"));
            assert_eq!(v.header_str("alg"), Some(alg.as_str()));
            assert_eq!(v.header_str("kid"), Some(key.kid()));
            assert_eq!(v.header_str("typ"), Some("JWT"));

            // Swap the claims: the signature no longer matches.
            let forged_claims =
                URL_SAFE_NO_PAD.encode(br#"{"iss":"https://issuer.example","sub":"root"}"#);
            let mut parts: Vec<&str> = token.split('.').collect();
            parts[1] = &forged_claims;
            assert_eq!(
                verify(&parts.join("."), &jwks, &[alg]),
                Err(JwtError::BadSignature)
            );
        }
        let rs = key.sign(Algorithm::RS256, &Map::new(), &claims).unwrap();
        assert_eq!(
            verify(&rs, &jwks, &[Algorithm::PS256]),
            Err(JwtError::UnsupportedAlgorithm("RS256".into()))
        );
    }

    #[test]
    fn a_token_signed_by_another_key_with_the_same_kid_is_refused() {
        let real = k8s_key();
        let impostor = RsaSigningKey::generate(KidStyle::Fixed(real.kid().to_owned())).unwrap();
        let token = impostor
            .sign(Algorithm::RS256, &Map::new(), &json!({"sub":"x"}))
            .unwrap();
        assert_eq!(
            verify(&token, &Jwks::of([real]), &[Algorithm::RS256]),
            Err(JwtError::BadSignature)
        );
        assert_eq!(
            verify(&token, &Jwks::default(), &[Algorithm::RS256]),
            Err(JwtError::UnknownKid(real.kid().to_owned()))
        );
    }

    #[test]
    fn malformed_tokens_get_precise_errors() {
        let jwks = Jwks::of([k8s_key()]);
        assert_eq!(
            verify("a.b", &jwks, &[Algorithm::RS256]),
            Err(JwtError::Malformed("expected three dot-separated parts"))
        );
        assert_eq!(
            verify("!!.e30.x", &jwks, &[Algorithm::RS256]),
            Err(JwtError::Malformed("a part is not base64url"))
        );
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert_eq!(
            verify(&none_alg, &jwks, &[Algorithm::RS256]),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        let no_kid = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert_eq!(
            verify(&no_kid, &jwks, &[Algorithm::RS256]),
            Err(JwtError::MissingKid)
        );
    }

    #[test]
    fn unusable_published_keys_are_bad_keys_not_verified() {
        let token = k8s_key()
            .sign(Algorithm::RS256, &Map::new(), &json!({"sub": "x"}))
            .unwrap();
        let good = k8s_key().jwk();
        assert!(verify_with_key(&token, &good, &[Algorithm::RS256]).is_ok());
        let kid = good.kid.clone();
        let bad = |f: &dyn Fn(&mut Jwk)| {
            let mut k = good.clone();
            f(&mut k);
            verify_with_key(&token, &k, &[Algorithm::RS256])
        };
        // A 1024-bit modulus (the key's first half), an even exponent, an exponent of 1, an EC
        // key, a modulus that is not base64url.
        let n = URL_SAFE_NO_PAD.decode(&good.n).unwrap();
        let half = URL_SAFE_NO_PAD.encode(&n[..128]);
        for (what, result) in [
            ("1024-bit modulus", bad(&|k| k.n = half.clone())),
            (
                "even exponent",
                bad(&|k| k.e = URL_SAFE_NO_PAD.encode([1, 0, 0])),
            ),
            ("exponent 1", bad(&|k| k.e = URL_SAFE_NO_PAD.encode([1]))),
            ("not RSA", bad(&|k| k.kty = "EC".into())),
            ("modulus not base64url", bad(&|k| k.n = "!!".into())),
        ] {
            assert_eq!(result, Err(JwtError::BadKey(kid.clone())), "{what}");
        }
        // A usable key that is not the signer's: the signature gives it away.
        let other = entra_key().jwk();
        assert_eq!(
            verify_with_key(&token, &other, &[Algorithm::RS256]),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn numeric_dates_may_be_fractional() {
        let token = k8s_key()
            .sign(
                Algorithm::RS256,
                &Map::new(),
                &json!({"exp": 1_800_000_000.75, "iat": 5, "nbf": "soon"}),
            )
            .unwrap();
        let d = decode_unverified(&token).unwrap();
        assert_eq!(d.claim_i64("exp"), Some(1_800_000_000));
        assert_eq!(d.claim_i64("iat"), Some(5));
        assert_eq!(d.claim_i64("nbf"), None);
    }

    #[test]
    fn jwks_serialises_like_the_owners_publish_it() {
        let mut jwk = entra_key().jwk();
        jwk.extra.insert(
            "issuer".into(),
            "https://login.microsoftonline.com/t/v2.0".into(),
        );
        let v = serde_json::to_value(Jwks { keys: vec![jwk] }).unwrap();
        let key = &v["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], key["x5t"]);
        assert_eq!(key["issuer"], "https://login.microsoftonline.com/t/v2.0");
        assert!(key.get("alg").is_none());
        let back: Jwks = serde_json::from_value(v).unwrap();
        assert_eq!(back.keys[0].kid, entra_key().kid());
    }
}
