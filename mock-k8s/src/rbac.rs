//! RBAC: who may do what, evaluated from the Roles, ClusterRoles and bindings in the store, as
//! the API server's authorizer does (rules union; no deny). `system:masters` may do anything.
//! Built-in bindings every cluster has: `system:discovery` and `system:public-info-viewer` (API
//! discovery, `/version`, `/healthz`) for authenticated users (and the latter for unauthenticated
//! ones), and `system:service-account-issuer-discovery` (the issuer documents) for
//! `system:serviceaccounts` only.

use serde_json::Value;

use crate::store::{Store, TYPES};

/// An authenticated (or anonymous) user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The cluster admin of the admin kubeconfig.
    pub fn admin() -> Self {
        Self {
            name: "kubernetes-admin".into(),
            groups: vec![
                "kubeadm:cluster-admins".into(),
                "system:masters".into(),
                "system:authenticated".into(),
            ],
        }
    }

    /// A ServiceAccount.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    /// An unauthenticated request.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

/// What a request wants to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        namespace: String,
        name: String,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

impl Attributes {
    /// The API server's forbidden message for this user.
    pub fn forbidden_message(&self, user: &UserInfo) -> String {
        match self {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
            } => {
                let full = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                let subject = if group.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}.{group}")
                };
                let what = if name.is_empty() {
                    subject
                } else {
                    format!("{subject} \"{name}\"")
                };
                let scope = if namespace.is_empty() {
                    "at the cluster scope".to_owned()
                } else {
                    format!("in the namespace \"{namespace}\"")
                };
                format!(
                    "{what} is forbidden: User \"{}\" cannot {verb} resource \"{full}\" in API group \"{group}\" {scope}",
                    user.name
                )
            }
            Attributes::NonResource { verb, path } => {
                format!(
                    "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
                    user.name
                )
            }
        }
    }
}

fn matches_any(list: &Value, value: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v == "*" || v.as_str() == Some(value)))
}

fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    match attrs {
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            let full = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let resources_ok = rule["resources"].as_array().is_some_and(|rs| {
                rs.iter().any(|r| {
                    r == "*"
                        || r.as_str() == Some(full.as_str())
                        || (subresource.is_empty() && r.as_str() == Some(resource.as_str()))
                        || r.as_str() == Some(&format!("*/{subresource}"))
                })
            });
            let names_ok = match rule["resourceNames"].as_array() {
                Some(names) if !names.is_empty() => {
                    names.iter().any(|n| n.as_str() == Some(name.as_str()))
                }
                _ => true,
            };
            matches_any(&rule["verbs"], verb)
                && matches_any(&rule["apiGroups"], group)
                && resources_ok
                && names_ok
        }
        Attributes::NonResource { verb, path } => {
            let urls_ok = rule["nonResourceURLs"].as_array().is_some_and(|us| {
                us.iter().filter_map(Value::as_str).any(|u| {
                    u == "*"
                        || u == path
                        || u.strip_suffix('*')
                            .is_some_and(|prefix| path.starts_with(prefix))
                })
            });
            matches_any(&rule["verbs"], verb) && urls_ok
        }
    }
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"].as_str().unwrap_or(binding_namespace);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// The built-in cluster roles and who they are bound to.
fn builtin_rules(user: &UserInfo) -> Vec<Value> {
    let mut rules = Vec::new();
    let in_group = |g: &str| user.groups.iter().any(|x| x == g);
    if in_group("system:authenticated") || in_group("system:unauthenticated") {
        rules.push(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]}));
    }
    if in_group("system:authenticated") {
        rules.push(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"]}));
        rules.push(serde_json::json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}));
        rules.push(serde_json::json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}));
    }
    if in_group("system:serviceaccounts") {
        rules.push(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"]}));
    }
    rules
}

/// Whether `user` may do `attrs`, and the reason the API server would give.
pub fn authorize(store: &Store, user: &UserInfo, attrs: &Attributes) -> (bool, String) {
    if user.groups.iter().any(|g| g == "system:masters") {
        return (true, "system:masters".into());
    }
    if builtin_rules(user).iter().any(|r| rule_allows(r, attrs)) {
        return (true, "built-in discovery role".into());
    }
    let role_type = |kind: &str| TYPES.iter().find(|t| t.kind == kind).expect("RBAC type");
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.clone(),
        Attributes::NonResource { .. } => String::new(),
    };
    let rules_of = |role_ref: &Value, binding_ns: &str| -> Vec<Value> {
        let kind = role_ref["kind"].as_str().unwrap_or_default();
        let name = role_ref["name"].as_str().unwrap_or_default();
        let found = match kind {
            "ClusterRole" => store.get(role_type("ClusterRole"), "", name),
            "Role" => store.get(role_type("Role"), binding_ns, name),
            _ => return Vec::new(),
        };
        found
            .ok()
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    for crb in store
        .list(role_type("ClusterRoleBinding"), None, None)
        .unwrap_or_default()
    {
        let bound = crb["subjects"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| subject_matches(s, user, "")));
        if bound
            && rules_of(&crb["roleRef"], "")
                .iter()
                .any(|r| rule_allows(r, attrs))
        {
            let name = crb["metadata"]["name"].as_str().unwrap_or_default();
            return (
                true,
                format!("RBAC: allowed by ClusterRoleBinding \"{name}\""),
            );
        }
    }
    if !namespace.is_empty() && matches!(attrs, Attributes::Resource { .. }) {
        for rb in store
            .list(role_type("RoleBinding"), Some(&namespace), None)
            .unwrap_or_default()
        {
            let bound = rb["subjects"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| subject_matches(s, user, &namespace)));
            if bound
                && rules_of(&rb["roleRef"], &namespace)
                    .iter()
                    .any(|r| rule_allows(r, attrs))
            {
                let name = rb["metadata"]["name"].as_str().unwrap_or_default();
                return (
                    true,
                    format!("RBAC: allowed by RoleBinding \"{name}/{namespace}\""),
                );
            }
        }
    }
    (false, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::by_kind;
    use serde_json::json;

    fn store() -> Store {
        let mut s = Store::default();
        let now = "2026-11-29T18:00:00Z".parse().unwrap();
        let t = |k: &str| {
            by_kind(
                if k.starts_with("Role") || k.starts_with("Cluster") {
                    "rbac.authorization.k8s.io"
                } else {
                    ""
                },
                k,
            )
            .unwrap()
        };
        for ns in ["kargo", "project-a", "project-b"] {
            s.create(t("Namespace"), "", json!({"metadata": {"name": ns}}), now)
                .unwrap();
        }
        s.create(t("ClusterRole"), "", json!({"metadata": {"name": "token-minter"},
            "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"], "resourceNames": ["credentials"]}]}), now).unwrap();
        s.create(t("RoleBinding"), "project-a", json!({"metadata": {"name": "controller-mints"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "token-minter"},
            "subjects": [{"kind": "ServiceAccount", "name": "controller", "namespace": "kargo"}]}), now).unwrap();
        s.create(t("Role"), "project-b", json!({"metadata": {"name": "sa-reader"},
            "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]}]}), now).unwrap();
        s.create(t("RoleBinding"), "project-b", json!({"metadata": {"name": "controller-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sa-reader"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:kargo"}]}), now).unwrap();
        s
    }

    fn res(verb: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn role_bindings_scope_cluster_roles_to_a_namespace_and_resource_names() {
        let s = store();
        let controller = UserInfo::service_account("kargo", "controller");
        assert!(
            authorize(
                &s,
                &controller,
                &res(
                    "create",
                    "serviceaccounts",
                    "token",
                    "project-a",
                    "credentials"
                )
            )
            .0
        );
        assert!(
            !authorize(
                &s,
                &controller,
                &res(
                    "create",
                    "serviceaccounts",
                    "token",
                    "project-a",
                    "kargo-admin"
                )
            )
            .0,
            "resourceNames"
        );
        assert!(
            !authorize(
                &s,
                &controller,
                &res(
                    "create",
                    "serviceaccounts",
                    "token",
                    "project-b",
                    "credentials"
                )
            )
            .0,
            "namespace"
        );
        assert!(
            !authorize(
                &s,
                &controller,
                &res("get", "serviceaccounts", "", "project-a", "credentials")
            )
            .0,
            "subresource is not the resource"
        );
        assert!(
            authorize(
                &s,
                &controller,
                &res("list", "serviceaccounts", "", "project-b", "")
            )
            .0,
            "group subject"
        );
        assert!(
            authorize(
                &s,
                &UserInfo::admin(),
                &res("delete", "namespaces", "", "", "kargo")
            )
            .0
        );
    }

    #[test]
    fn built_in_discovery_and_issuer_rules() {
        let s = store();
        let nr = |p: &str| Attributes::NonResource {
            verb: "get".into(),
            path: p.into(),
        };
        let sa = UserInfo::service_account("project-a", "x");
        assert!(authorize(&s, &sa, &nr("/apis/rbac.authorization.k8s.io/v1")).0);
        assert!(authorize(&s, &sa, &nr("/openid/v1/jwks")).0);
        assert!(
            !authorize(&s, &UserInfo::anonymous(), &nr("/openid/v1/jwks")).0,
            "anonymous JWKS is forbidden by default"
        );
        assert!(authorize(&s, &UserInfo::anonymous(), &nr("/version")).0);
    }

    #[test]
    fn forbidden_messages_match_the_api_server() {
        let u = UserInfo::service_account("kargo", "controller");
        assert_eq!(
            res(
                "create",
                "serviceaccounts",
                "token",
                "project-b",
                "credentials"
            )
            .forbidden_message(&u),
            "serviceaccounts \"credentials\" is forbidden: User \"system:serviceaccount:kargo:controller\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"project-b\""
        );
        let list = Attributes::Resource {
            verb: "list".into(),
            group: "rbac.authorization.k8s.io".into(),
            resource: "clusterroles".into(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        };
        assert_eq!(
            list.forbidden_message(&u),
            "clusterroles.rbac.authorization.k8s.io is forbidden: User \"system:serviceaccount:kargo:controller\" cannot list resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"
        );
    }
}
