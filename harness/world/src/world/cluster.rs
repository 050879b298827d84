//! mock-k8s's builder input for a cluster: its namespaces and ServiceAccounts, the controller's
//! ServiceAccount and RBAC, and the scenario's raw objects. External clusters are provisioned
//! with the same objects through the Kubernetes API, so both backends hold the same world.

use mock_k8s::ClusterSpec;
use scenarios::model;
use serde_json::{Value, json};

/// The name of the ClusterRole that lets a controller create TokenRequests.
pub const TOKEN_REQUEST_ROLE: &str = "credsim-controller-token-request";
/// The name of the ClusterRole that lets a controller read ServiceAccounts.
pub const READ_SERVICE_ACCOUNTS_ROLE: &str = "credsim-controller-read-serviceaccounts";

/// mock-k8s's builder input for a cluster: its namespaces, ServiceAccounts, the controller's
/// ServiceAccount and RBAC, and raw objects (external clusters are provisioned with the same
/// objects through the Kubernetes API).
pub fn cluster(c: &model::Cluster) -> ClusterSpec {
    let mut spec = ClusterSpec::new(&c.name).issuer(&c.issuer);
    spec.max_token_expiration = Some(c.max_token_expiration);
    for ns in namespaces(c) {
        spec = spec.namespace(ns);
    }
    for sa in service_accounts(c) {
        spec = spec.object(sa);
    }
    if let Some(ctl) = &c.controller {
        for o in controller_objects(c, ctl) {
            spec = spec.object(o);
        }
    }
    for o in &c.objects {
        spec = spec.object(o.clone());
    }
    spec
}

/// The namespaces to create: the world's and the controller's, less the two every cluster has.
fn namespaces(c: &model::Cluster) -> Vec<&str> {
    let mut namespaces: Vec<&str> = c.all_namespaces().map(|n| n.name.as_str()).collect();
    if let Some(ctl) = &c.controller
        && !namespaces.contains(&ctl.namespace.as_str())
    {
        namespaces.push(&ctl.namespace);
    }
    namespaces.retain(|ns| !matches!(*ns, "default" | "kube-system"));
    namespaces
}

/// The world's ServiceAccounts, with their annotations and labels.
fn service_accounts(c: &model::Cluster) -> Vec<Value> {
    c.all_namespaces()
        .flat_map(namespace_service_accounts)
        .collect()
}

/// A namespace's ServiceAccounts, with their annotations and labels.
fn namespace_service_accounts(ns: &model::Namespace) -> impl Iterator<Item = Value> + '_ {
    ns.service_accounts.iter().map(|sa| {
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": sa.name, "namespace": ns.name,
            "annotations": sa.annotations, "labels": sa.labels}})
    })
}

/// What a project added to cluster `c` at run time is made of, in the order to create it: its
/// namespace, its ServiceAccounts, and the controller's RoleBindings in it for each grant given
/// per project (`scope: projects`), exactly as a project of the world gets them.
pub fn project_objects(c: &model::Cluster, project: &model::Namespace) -> Vec<Value> {
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": project.name}})];
    objects.extend(namespace_service_accounts(project));
    if let Some(ctl) = &c.controller {
        let subject = json!([{"kind": "ServiceAccount", "name": ctl.service_account, "namespace": ctl.namespace}]);
        for (role_name, grant) in [
            (TOKEN_REQUEST_ROLE, &ctl.rbac.token_request),
            (READ_SERVICE_ACCOUNTS_ROLE, &ctl.rbac.read_service_accounts),
        ] {
            if grant.scope == model::TokenScope::Projects {
                objects.push(role_binding(role_name, &project.name, &subject));
            }
        }
    }
    objects
}

/// A RoleBinding of the ClusterRole `role_name` to `subject` in `namespace`.
fn role_binding(role_name: &str, namespace: &str, subject: &Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding", "metadata": {"name": role_name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": subject})
}

/// The controller's ServiceAccount (unless the world lists it) and its two grants: creating
/// TokenRequests and reading ServiceAccounts, each as a ClusterRole bound where the scenario says.
fn controller_objects(c: &model::Cluster, ctl: &model::Controller) -> Vec<Value> {
    let mut objects = Vec::new();
    let listed = c.all_namespaces().any(|n| {
        n.name == ctl.namespace
            && n.service_accounts
                .iter()
                .any(|s| s.name == ctl.service_account)
    });
    if !listed {
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": ctl.service_account, "namespace": ctl.namespace}}));
    }
    let subject = json!([{"kind": "ServiceAccount", "name": ctl.service_account, "namespace": ctl.namespace}]);
    let projects: Vec<String> = c.projects.iter().map(|p| p.name.clone()).collect();
    for (role_name, resource, verbs, grant) in [
        (
            TOKEN_REQUEST_ROLE,
            "serviceaccounts/token",
            json!(["create"]),
            &ctl.rbac.token_request,
        ),
        (
            READ_SERVICE_ACCOUNTS_ROLE,
            "serviceaccounts",
            json!(["get", "list", "watch"]),
            &ctl.rbac.read_service_accounts,
        ),
    ] {
        objects.extend(controller_role(
            role_name, resource, verbs, grant, &subject, &projects,
        ));
    }
    objects
}

/// One of the controller's ClusterRoles (limited to the grant's ServiceAccounts, if it names
/// any) and its bindings: one ClusterRoleBinding for a cluster-wide grant, else a RoleBinding in
/// each of the grant's namespaces (the projects' or the listed ones).
fn controller_role(
    role_name: &str,
    resource: &str,
    verbs: Value,
    grant: &model::Grant,
    subject: &Value,
    projects: &[String],
) -> Vec<Value> {
    let mut rule = json!({"apiGroups": [""], "resources": [resource], "verbs": verbs});
    if !grant.service_accounts.is_empty() {
        rule["resourceNames"] = json!(grant.service_accounts);
    }
    let mut objects = vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role_name}, "rules": [rule]}),
    ];
    let role_ref =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name});
    let in_namespaces: Vec<String> = match grant.scope {
        model::TokenScope::Cluster => {
            objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding", "metadata": {"name": role_name},
                "roleRef": role_ref, "subjects": subject}));
            Vec::new()
        }
        model::TokenScope::Projects => projects.to_vec(),
        model::TokenScope::Namespaces => grant.namespaces.clone(),
    };
    for ns in in_namespaces {
        objects.push(role_binding(role_name, &ns, subject));
    }
    objects
}
