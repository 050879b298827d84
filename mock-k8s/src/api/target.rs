//! What a request addresses: the [`Target`] of its path, and the attributes RBAC decides on (the
//! verb is [`crate::request_info`]'s).

use crate::rbac::Attributes;
use crate::store::{ResourceType, TYPES, lookup};

/// What a path addresses.
#[derive(Clone, Debug)]
pub(super) enum Target {
    NonResource,
    Collection {
        t: &'static ResourceType,
        namespace: Option<String>,
    },
    Object {
        t: &'static ResourceType,
        namespace: String,
        name: String,
    },
    Token {
        namespace: String,
        name: String,
    },
    AccessReview,
    Unknown,
}

/// The target of a path; anything outside `/api/v1/…` and `/apis/<group>/<version>/…` is a
/// non-resource path.
pub(super) fn parse(path: &str) -> Target {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Target::NonResource,
    };
    if group == "authorization.k8s.io" && rest == ["selfsubjectaccessreviews"] {
        return Target::AccessReview;
    }
    let find = |plural: &str| lookup(group, version, plural);
    match rest {
        [plural] => match find(plural) {
            Some(t) => Target::Collection { t, namespace: None },
            None => Target::Unknown,
        },
        ["namespaces", ns, plural] => match find(plural) {
            Some(t) if t.namespaced => Target::Collection {
                t,
                namespace: Some((*ns).to_owned()),
            },
            _ => Target::Unknown,
        },
        ["namespaces", ns, "serviceaccounts", name, "token"] if group.is_empty() => Target::Token {
            namespace: (*ns).to_owned(),
            name: (*name).to_owned(),
        },
        ["namespaces", ns, plural, name] => match find(plural) {
            Some(t) if t.namespaced => Target::Object {
                t,
                namespace: (*ns).to_owned(),
                name: (*name).to_owned(),
            },
            _ => Target::Unknown,
        },
        [plural, name] => match find(plural) {
            Some(t) if !t.namespaced => Target::Object {
                t,
                namespace: String::new(),
                name: (*name).to_owned(),
            },
            _ => Target::Unknown,
        },
        _ => Target::Unknown,
    }
}

/// What RBAC decides on: the resource (and subresource) with its namespace and name, or the
/// non-resource path.
pub(super) fn attributes(verb: &str, target: &Target, path: &str) -> Attributes {
    let res = |t: &ResourceType, sub: &str, ns: &str, name: &str| Attributes::Resource {
        verb: verb.into(),
        group: t.group.into(),
        resource: t.plural.into(),
        subresource: sub.into(),
        namespace: ns.into(),
        name: name.into(),
    };
    match target {
        Target::Collection { t, namespace } => res(t, "", namespace.as_deref().unwrap_or(""), ""),
        Target::Object { t, namespace, name } => {
            // A namespace object is addressed by name at the cluster scope; RBAC sees its name.
            res(t, "", namespace, name)
        }
        Target::Token { namespace, name } => res(&TYPES[1], "token", namespace, name),
        Target::AccessReview => Attributes::Resource {
            verb: verb.into(),
            group: "authorization.k8s.io".into(),
            resource: "selfsubjectaccessreviews".into(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        },
        Target::NonResource | Target::Unknown => Attributes::NonResource {
            verb: verb.into(),
            path: path.into(),
        },
    }
}
