//! The lists of the API, paged as ACR pages them: the catalog of repositories (`/v2/_catalog` and
//! `/acr/v1/_catalog`) and a repository's tags (`/v2/<name>/tags/list`).

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::json;

use super::param;
use crate::RegistryState;
use crate::responses::{json_ok, name_unknown};

/// ACR caps list pages at 1000 whatever `n` says.
const PAGE_CAP: usize = 1000;

/// The registry's repositories, one page of them; `path` is the catalog's own, for the `Link`.
pub(super) fn catalog(reg: &RegistryState, q: &[(String, String)], path: &str) -> Response {
    let names: Vec<String> = reg
        .content
        .read()
        .expect("content")
        .keys()
        .cloned()
        .collect();
    let (slice, link) = page(&names, q, path);
    with_link(json_ok(json!({"repositories": slice})), link)
}

/// A repository's tags, one page of them.
pub(super) fn tags(reg: &RegistryState, name: &str, q: &[(String, String)]) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let tags: Vec<String> = repo.tags.keys().cloned().collect();
    let (slice, link) = page(&tags, q, &format!("/v2/{name}/tags/list"));
    with_link(json_ok(json!({"name": name, "tags": slice})), link)
}

/// One page of a sorted list: `n` (capped at 1000), strictly after `last`, and the relative
/// `Link` ACR sends (with its empty `orderby`).
pub(super) fn page(
    items: &[String],
    q: &[(String, String)],
    path: &str,
) -> (Vec<String>, Option<String>) {
    let n = param(q, "n")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(PAGE_CAP)
        .min(PAGE_CAP);
    let start = match param(q, "last") {
        Some(last) => items
            .iter()
            .position(|i| i.as_str() > last)
            .unwrap_or(items.len()),
        None => 0,
    };
    let slice: Vec<String> = items[start..].iter().take(n).cloned().collect();
    let more = n > 0 && start + slice.len() < items.len();
    let link = more.then(|| {
        let last = slice.last().cloned().unwrap_or_default();
        let enc: String = url_encode(&last);
        format!("<{path}?last={enc}&n={n}&orderby=>; rel=\"next\"")
    });
    (slice, link)
}

/// The answer with the next page's `Link`, when there is one.
pub(super) fn with_link(mut resp: Response, link: Option<String>) -> Response {
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    resp
}

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .unwrap_or_default()
        .trim_start_matches("x=")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query_params;

    #[test]
    fn pages_follow_n_last_and_the_cap() {
        let items: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
        let q = |s: &str| query_params(s);
        let (p, link) = page(&items, &q("n=2"), "/v2/x/tags/list");
        assert_eq!(p, vec!["t0", "t1"]);
        assert_eq!(
            link.unwrap(),
            "</v2/x/tags/list?last=t1&n=2&orderby=>; rel=\"next\""
        );
        let (p, link) = page(&items, &q("n=2&last=t3"), "/p");
        assert_eq!(p, vec!["t4"]);
        assert!(link.is_none());
        let (p, link) = page(&items, &q("n=0"), "/p");
        assert!(p.is_empty() && link.is_none());
        let many: Vec<String> = (0..1500).map(|i| format!("t{i:04}")).collect();
        let (p, link) = page(&many, &q("n=5000"), "/p");
        assert_eq!(p.len(), 1000);
        assert!(link.unwrap().contains("last=t0999&n=1000"));
    }
}
