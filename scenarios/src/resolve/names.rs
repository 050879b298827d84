//! What names, URLs and GUIDs must look like: pure predicates, reported by their callers at the
//! field they check.

use uuid::Uuid;

use crate::located::Located;

/// An RFC 1123 label: what namespaces and these names must be.
pub(super) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 subdomain: what ServiceAccount names must be.
pub(super) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A repository name as the OCI distribution spec allows it.
pub(super) fn is_repository_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|component| {
            !component.is_empty()
                && component.split(['.', '_', '-']).all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

/// What a cluster's issuer must be at least (Kubernetes and Entra accept no other scheme).
pub(super) fn is_https_url(url: &str) -> bool {
    url.starts_with("https://") && url.len() > "https://".len()
}

/// A given GUID, when it parses; the name indexes fall back to the derived one (a malformed GUID
/// is reported where the object is resolved).
pub(super) fn parse_guid(g: Option<&Located<String>>) -> Option<Uuid> {
    g.and_then(|g| Uuid::try_parse(&g.value).ok())
}
