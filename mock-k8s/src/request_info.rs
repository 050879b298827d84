//! What a request to an API server addresses, read from its method and path as apimachinery's
//! `RequestInfoFactory` reads it: the verb, the resource (with its subresource), the namespace
//! and the name. This is the vocabulary of both RBAC's verb and the audit log; the emulator's own
//! API and the harness's forwarding site for real API servers both take it from here, so their
//! audit journals agree.

use axum::http::Method;

/// A request's verb and what it addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// `unknown` for another method.
    pub verb: &'static str,
    /// The resource, with `/subresource` when the path names one (`serviceaccounts/token`);
    /// `None` for a path outside `/api/v1/…` and `/apis/<group>/<version>/…`.
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl RequestInfo {
    /// The request info of `method` on `path`; `watch` is whether the query asks to watch
    /// (`watch=true` or `watch=1`).
    pub fn of(method: &Method, path: &str, watch: bool) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest: &[&str] = match segments.as_slice() {
            ["api", _version, rest @ ..] => rest,
            ["apis", _group, _version, rest @ ..] => rest,
            _ => &[],
        };
        // `namespaces/<ns>` is a scope only when something follows it; alone it is the
        // Namespace object of that name.
        let (namespace, rest) = match rest {
            ["namespaces", ns, more @ ..] if !more.is_empty() => (Some((*ns).to_owned()), more),
            r => (None, r),
        };
        let (resource, name) = match rest {
            [] => (None, None),
            [resource] => (Some((*resource).to_owned()), None),
            [resource, name] => (Some((*resource).to_owned()), Some((*name).to_owned())),
            [resource, name, sub, ..] => {
                (Some(format!("{resource}/{sub}")), Some((*name).to_owned()))
            }
        };
        let verb = match *method {
            // A non-resource path's verb is its method, lowercased.
            _ if resource.is_none() => non_resource_verb(method),
            Method::GET | Method::HEAD if watch => "watch",
            Method::GET | Method::HEAD if name.is_none() => "list",
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if name.is_none() => "deletecollection",
            Method::DELETE => "delete",
            _ => "unknown",
        };
        Self {
            verb,
            resource,
            namespace,
            name,
        }
    }

    /// Whether the path is outside the resource APIs (`/version`, `/healthz`, discovery).
    pub fn is_non_resource(&self) -> bool {
        self.resource.is_none()
    }

    /// Whether a query string asks to watch.
    pub fn watch_query(query: Option<&str>) -> bool {
        query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"))
    }
}

/// The lowercased method, as RBAC's `nonResourceURLs` rules name verbs.
fn non_resource_verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::HEAD => "head",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods_read_as_apimachinery_reads_them() {
        let info = |m: Method, p: &str, w: bool| {
            let i = RequestInfo::of(&m, p, w);
            (i.verb, i.resource, i.namespace, i.name)
        };
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            info(
                Method::POST,
                "/api/v1/namespaces/p/serviceaccounts/sa/token",
                false
            ),
            ("create", s("serviceaccounts/token"), s("p"), s("sa"))
        );
        assert_eq!(
            info(Method::GET, "/api/v1/namespaces/p/serviceaccounts", false),
            ("list", s("serviceaccounts"), s("p"), None)
        );
        assert_eq!(
            info(Method::GET, "/api/v1/namespaces/p/serviceaccounts", true),
            ("watch", s("serviceaccounts"), s("p"), None)
        );
        assert_eq!(
            info(Method::GET, "/api/v1/namespaces/p", false),
            ("get", s("namespaces"), None, s("p"))
        );
        assert_eq!(
            info(
                Method::DELETE,
                "/apis/rbac.authorization.k8s.io/v1/namespaces/p/roles",
                false
            ),
            ("deletecollection", s("roles"), s("p"), None)
        );
        assert_eq!(
            info(
                Method::DELETE,
                "/apis/rbac.authorization.k8s.io/v1/namespaces/p/roles/r",
                false
            ),
            ("delete", s("roles"), s("p"), s("r"))
        );
        assert_eq!(
            info(Method::GET, "/version", false),
            ("get", None, None, None)
        );
        assert_eq!(
            info(Method::POST, "/api", false),
            ("post", None, None, None)
        );
        assert!(RequestInfo::watch_query(Some("a=b&watch=1")));
        assert!(!RequestInfo::watch_query(Some("watch=false")));
    }
}
