//! Objects created while the cluster runs (a project added by `credsim ctl apply`): stored with
//! the metadata the API server completes, and refused as the API server refuses them.

use mock_k8s::{ClusterSpec, K8sError, MockK8s};
use serde_json::json;

fn cluster() -> MockK8s {
    MockK8s::builder(ClusterSpec::new("shard-a"))
        .build()
        .unwrap()
}

fn refusal(e: K8sError) -> String {
    match e {
        K8sError::Create {
            cluster, message, ..
        } => {
            assert_eq!(cluster, "shard-a");
            message
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_namespace_and_its_service_account_are_created_as_the_api_server_creates_them() {
    let k = cluster();
    let ns = k
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "project-c"}}))
        .unwrap();
    assert_eq!(ns["status"]["phase"], "Active");
    let sa = k
        .create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "credentials", "namespace": "project-c",
                "annotations": {"azure.workload.identity/client-id": "x"}}}))
        .unwrap();
    assert!(sa["metadata"]["uid"].is_string());
    assert!(sa["metadata"]["resourceVersion"].is_string());
    let got = k.get("ServiceAccount", "project-c", "credentials").unwrap();
    assert_eq!(
        got["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "x"
    );
    let rb = k
        .create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "r", "namespace": "project-c"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "x"},
            "subjects": []}))
        .unwrap();
    assert_eq!(rb["metadata"]["namespace"], "project-c");
}

#[test]
fn what_the_api_server_refuses_is_refused_and_not_stored() {
    let k = cluster();
    let default = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
    let m = refusal(k.create(default).unwrap_err());
    assert!(m.contains("already exists"), "{m}");
    let orphan = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "credentials", "namespace": "nowhere"}});
    let m = refusal(k.create(orphan).unwrap_err());
    assert!(m.contains("not found"), "{m}");
    assert!(k.get("ServiceAccount", "nowhere", "credentials").is_none());
    let m = refusal(
        k.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}))
            .unwrap_err(),
    );
    assert_eq!(m, "unsupported kind apps/v1/Deployment");
    let m = refusal(
        k.create(
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "Bad_Name"}}),
        )
        .unwrap_err(),
    );
    assert!(!m.is_empty());
    assert!(k.get("ServiceAccount", "default", "Bad_Name").is_none());
}
