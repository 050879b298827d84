//! What a request's path addresses: the [`Route`], the scope it [`Need`]s, and the distribution
//! grammars of repository names, tags and digests, which the registry checks before it
//! authenticates anyone.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::responses::errors;

/// The parsed route.
#[derive(Clone, Debug)]
pub(super) enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
    AcrCatalog,
    AcrRepository(String),
    AcrTags(String),
    AcrTag(String, String),
    AcrManifests(String),
    AcrManifest(String, String),
}

impl Route {
    /// The repository the route names, if it names one.
    fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog | Route::AcrCatalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _)
            | Route::AcrRepository(n)
            | Route::AcrTags(n)
            | Route::AcrTag(n, _)
            | Route::AcrManifests(n)
            | Route::AcrManifest(n, _) => Some(n),
        }
    }
}

/// What an API request needs.
#[derive(Clone, Debug)]
pub(super) struct Need {
    pub(super) resource_type: &'static str,
    pub(super) name: String,
    pub(super) action: &'static str,
}

impl Need {
    pub(super) fn scope(&self) -> String {
        format!("{}:{}:{}", self.resource_type, self.name, self.action)
    }
}

/// The route of a (percent-decoded) path; `None` when it is no route of the API or names a
/// repository outside the name grammar.
pub(super) fn parse(path: &str) -> Option<Route> {
    let route = parse_route(path)?;
    match route.name() {
        Some(name) if !valid_name(name) => None,
        _ => Some(route),
    }
}

/// The scope a request needs; `None` for `/v2/`, which any authenticated caller may reach.
pub(super) fn need(route: &Route, method: &Method) -> Option<Need> {
    let repo = |name: &str, action: &'static str| Need {
        resource_type: "repository",
        name: name.to_owned(),
        action,
    };
    let write = matches!(*method, Method::PUT | Method::POST | Method::PATCH);
    Some(match route {
        Route::Base => return None,
        Route::Catalog | Route::AcrCatalog => Need {
            resource_type: "registry",
            name: "catalog".into(),
            action: "*",
        },
        Route::Tags(n)
        | Route::AcrRepository(n)
        | Route::AcrTags(n)
        | Route::AcrTag(n, _)
        | Route::AcrManifests(n)
        | Route::AcrManifest(n, _) => repo(n, "metadata_read"),
        Route::Manifest(n, _) if write => repo(n, "push"),
        Route::UploadStart(n) | Route::Upload(n, _) => repo(n, "push"),
        Route::Manifest(n, _) | Route::Blob(n, _) | Route::Referrers(n, _) => repo(n, "pull"),
    })
}

/// A reference in the path that is neither a digest nor a tag, in the registry's answer:
/// `400 DIGEST_INVALID` for what is shaped like a digest (`algorithm:encoded`) but is not a valid
/// one, `400 TAG_INVALID` for anything else outside the tag grammar. Checked, like the name,
/// before authentication (distribution matches its routes against these grammars first).
///
/// Distribution itself answers a reference outside both grammars with a bare `404`, because its
/// router does not match; ACR's answers to malformed references are not documented. We give the
/// distribution error codes defined for exactly these cases, in the registry's error body, so a
/// client sees which part of its request was wrong.
pub(super) fn reference_error(route: &Route) -> Option<Response> {
    let digest_error = |d: &str| {
        errors(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            Some(json!({"digest": d})),
        )
    };
    let tag_error = |t: &str| {
        errors(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "manifest tag did not match URI",
            Some(json!({"tag": t})),
        )
    };
    let reference = |r: &str| {
        if r.contains(':') {
            (!valid_digest(r)).then(|| digest_error(r))
        } else {
            (!valid_tag(r)).then(|| tag_error(r))
        }
    };
    match route {
        Route::Manifest(_, r) | Route::AcrManifest(_, r) => reference(r),
        Route::AcrTag(_, t) => (!valid_tag(t)).then(|| tag_error(t)),
        Route::Blob(_, d) | Route::Referrers(_, d) => (!valid_digest(d)).then(|| digest_error(d)),
        _ => None,
    }
}

fn parse_route(path: &str) -> Option<Route> {
    if path == "/v2" || path == "/v2/" {
        return Some(Route::Base);
    }
    if let Some(rest) = path.strip_prefix("/acr/v1/") {
        if rest == "_catalog" {
            return Some(Route::AcrCatalog);
        }
        for (marker, tags) in [("/_tags", true), ("/_manifests", false)] {
            if let Some(at) = rest.find(marker) {
                let name = rest[..at].to_owned();
                let tail = rest[at + marker.len()..].trim_start_matches('/');
                return Some(match (tags, tail.is_empty()) {
                    (true, true) => Route::AcrTags(name),
                    (true, false) => Route::AcrTag(name, tail.to_owned()),
                    (false, true) => Route::AcrManifests(name),
                    (false, false) => Route::AcrManifest(name, tail.to_owned()),
                });
            }
        }
        return Some(Route::AcrRepository(rest.trim_end_matches('/').to_owned()));
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_owned()));
    }
    for (marker, kind) in [
        ("/blobs/uploads", 0),
        ("/manifests/", 1),
        ("/blobs/", 2),
        ("/referrers/", 3),
    ] {
        if let Some(at) = rest.rfind(marker) {
            let name = rest[..at].to_owned();
            let tail = rest[at + marker.len()..].trim_start_matches('/').to_owned();
            return Some(match kind {
                0 if tail.is_empty() => Route::UploadStart(name),
                0 => Route::Upload(name, tail),
                1 => Route::Manifest(name, tail),
                2 => Route::Blob(name, tail),
                _ => Route::Referrers(name, tail),
            });
        }
    }
    None
}

/// The distribution grammar of a repository name, which ACR enforces: path components of
/// lower-case letters and digits separated by `.`, `_`, `__` or runs of `-`, joined by `/`, at most
/// 256 characters. A name outside it (upper case, a control character decoded from `%0A`, an
/// empty component) is `NAME_INVALID` before anything else looks at it.
fn valid_name(name: &str) -> bool {
    let component = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            // A separator: `.`, `_`, `__`, or one or more `-`, between alphanumerics.
            let start = i;
            match b[i] {
                b'.' => i += 1,
                b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
                b'-' => {
                    while b.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                _ => return false,
            }
            if i == start || !b.get(i).is_some_and(|x| alnum(*x)) {
                return false;
            }
        }
        true
    };
    !name.is_empty() && name.len() <= 256 && name.split('/').all(component)
}

/// The distribution grammar of a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let first = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && first(b[0])
        && b[1..].iter().all(|x| first(*x) || *x == b'.' || *x == b'-')
}

/// The OCI grammar of a digest, `algorithm:encoded`, for the algorithms a registry takes:
/// `sha256` (64 lower-case hex digits) and `sha512` (128).
fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let hex = |n: usize| {
        encoded.len() == n
            && encoded
                .bytes()
                .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x))
    };
    match algorithm {
        "sha256" => hex(64),
        "sha512" => hex(128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests_follow_their_grammars() {
        for ok in ["latest", "v1.0", "_x", "A-b_c.d", &"t".repeat(128)] {
            assert!(super::valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a b", "a/b", "a:b", "é", &"t".repeat(129)] {
            assert!(!super::valid_tag(bad), "{bad}");
        }
        let hex = "0123456789abcdef".repeat(4);
        assert!(super::valid_digest(&format!("sha256:{hex}")));
        assert!(super::valid_digest(&format!("sha512:{hex}{hex}")));
        for bad in [
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha512:{hex}"),
            format!("sha256{hex}"),
            format!("md5:{}", &hex[..32]),
            format!(":{hex}"),
        ] {
            assert!(!super::valid_digest(&bad), "{bad}");
        }
    }

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for ok in ["app", "project-a/app", "a.b_c__d--e/f0", "x/y/z", "a-----b"] {
            assert!(super::valid_name(ok), "{ok}");
        }
        for bad in [
            "", "App", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a\nb", "a\r\nb", "a\0b",
            "a b", "ä",
        ] {
            assert!(!super::valid_name(bad), "{bad:?}");
        }
        assert!(!super::valid_name(&"a".repeat(257)));
        assert!(super::parse("/v2/project-a%0Aapp/tags/list").is_none());
        assert!(super::parse("/v2/project-a\napp/tags/list").is_none());
    }

    #[test]
    fn routes_parse_names_with_slashes() {
        assert!(matches!(parse("/v2/"), Some(Route::Base)));
        assert!(matches!(parse("/v2/_catalog"), Some(Route::Catalog)));
        assert!(matches!(parse("/v2/a/b/tags/list"), Some(Route::Tags(n)) if n == "a/b"));
        assert!(
            matches!(parse("/v2/a/b/manifests/1.0"), Some(Route::Manifest(n, r)) if n == "a/b" && r == "1.0")
        );
        assert!(
            matches!(parse("/v2/a/blobs/sha256:00"), Some(Route::Blob(n, d)) if n == "a" && d == "sha256:00")
        );
        assert!(matches!(parse("/v2/a/blobs/uploads/"), Some(Route::UploadStart(n)) if n == "a"));
        assert!(
            matches!(parse("/v2/a/blobs/uploads/xyz"), Some(Route::Upload(n, i)) if n == "a" && i == "xyz")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x/_tags/1.0"), Some(Route::AcrTag(n, t)) if n == "charts/x" && t == "1.0")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x/_manifests"), Some(Route::AcrManifests(n)) if n == "charts/x")
        );
        assert!(
            matches!(parse("/acr/v1/charts/x"), Some(Route::AcrRepository(n)) if n == "charts/x")
        );
    }
}
