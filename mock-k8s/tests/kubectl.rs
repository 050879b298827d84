//! The `kubectl` on the machine, unmodified, against the embedded cluster.

mod support;

use std::process::Command;

use support::*;

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", kubeconfig.parent().unwrap())
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl is on the machine");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_create_apply_as_admin() {
    let w = World::new().await;
    let k = |args: &[&str]| tokio::task::block_in_place(|| kubectl(&w.admin_kubeconfig, args));
    let (ok, out, err) = k(&["get", "namespaces"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    for ns in ["default", "kargo", "project-a", "project-b"] {
        assert!(out.contains(ns), "{out}");
    }
    let (ok, out, err) = k(&["get", "sa", "-n", "project-a", "-o", "name"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "serviceaccount/credentials\nserviceaccount/kargo-admin\n"
    );
    let (ok, out, err) = k(&[
        "get",
        "sa",
        "credentials",
        "-n",
        "project-a",
        "-o",
        "jsonpath={.metadata.annotations.azure\\.workload\\.identity/client-id}",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "00000000-0000-0000-0000-00000000000a");

    let (ok, _, err) = k(&["create", "namespace", "project-c"]);
    assert!(ok, "{err}");
    let (ok, _, err) = k(&["create", "namespace", "project-c"]);
    assert!(!ok);
    assert!(
        err.contains("namespaces \"project-c\" already exists"),
        "{err}"
    );

    let manifest = w.dir.path().join("sa.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: credentials\n  namespace: project-c\n  annotations:\n    azure.workload.identity/client-id: first\n").unwrap();
    let (ok, out, err) = k(&["apply", "-f", manifest.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "serviceaccount/credentials created");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: credentials\n  namespace: project-c\n  annotations:\n    azure.workload.identity/client-id: second\n").unwrap();
    let (ok, out, err) = k(&["apply", "-f", manifest.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "serviceaccount/credentials configured");
    // Typed commands post protobuf; their data must survive.
    let (ok, _, err) = k(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "project-c",
        "--from-literal=tenant=contoso",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = k(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "project-c",
        "--from-literal=password=s3cr3t-value",
    ]);
    assert!(ok, "{err}");
    let cm = w.a.get("ConfigMap", "project-c", "settings").unwrap();
    assert_eq!(cm["data"]["tenant"], "contoso");
    let secret = w.a.get("Secret", "project-c", "creds").unwrap();
    assert_eq!(secret["data"]["password"], "czNjcjN0LXZhbHVl");
    assert_eq!(secret["type"], "Opaque");
    let (ok, out, _) = k(&[
        "get",
        "configmap",
        "settings",
        "-n",
        "project-c",
        "-o",
        "jsonpath={.data.tenant}",
    ]);
    assert!(ok);
    assert_eq!(out, "contoso");

    let sa =
        w.a.get("ServiceAccount", "project-c", "credentials")
            .unwrap();
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "second"
    );
    assert!(
        sa["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_create_token_and_rbac_denials_as_the_controller() {
    let w = World::new().await;
    let k = |args: &[&str]| tokio::task::block_in_place(|| kubectl(&w.controller_kubeconfig, args));
    let can_i = |ns: &str, name: &str| {
        let target = format!("serviceaccounts/{name}");
        k(&[
            "auth",
            "can-i",
            "create",
            &target,
            "--subresource=token",
            "-n",
            ns,
        ])
    };
    let (ok, out, err) = can_i("project-a", "credentials");
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "yes");
    let (ok, out, _) = can_i("project-b", "credentials");
    assert!(!ok);
    assert_eq!(out.trim(), "no");
    // resourceNames limit the rule to the dedicated account, so it grants nothing without a name.
    let (ok, out, _) = k(&[
        "auth",
        "can-i",
        "create",
        "serviceaccounts/token",
        "-n",
        "project-a",
    ]);
    assert!(!ok);
    assert_eq!(out.trim(), "no");

    let (ok, token, err) = k(&[
        "create",
        "token",
        "credentials",
        "-n",
        "project-a",
        "--audience",
        EXCHANGE,
        "--duration",
        "1h",
    ]);
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    let claims = mock_kit::jwt::decode_unverified(&token).unwrap();
    assert_eq!(
        claims.claim_str("sub"),
        Some("system:serviceaccount:project-a:credentials")
    );
    assert_eq!(claims.claims["aud"], serde_json::json!([EXCHANGE]));
    assert_eq!(
        claims.claim_i64("exp").unwrap() - claims.claim_i64("iat").unwrap(),
        3600
    );
    let audit = w
        .a
        .audit()
        .find(|e| e.token_request.is_some() && e.user == "system:serviceaccount:kargo:controller")
        .unwrap();
    assert_eq!(audit.status, 201);
    assert_eq!(audit.token_request.unwrap().audiences, vec![EXCHANGE]);

    // The dedicated account only: kargo-admin is not covered by resourceNames.
    let (ok, _, err) = k(&[
        "create",
        "token",
        "kargo-admin",
        "-n",
        "project-a",
        "--audience",
        EXCHANGE,
    ]);
    assert!(!ok);
    assert!(err.contains("serviceaccounts \"kargo-admin\" is forbidden: User \"system:serviceaccount:kargo:controller\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"project-a\""), "{err}");
    let (ok, _, err) = k(&[
        "create",
        "token",
        "credentials",
        "-n",
        "project-b",
        "--audience",
        EXCHANGE,
    ]);
    assert!(!ok);
    assert!(err.contains("in the namespace \"project-b\""), "{err}");
    let (ok, _, err) = k(&["get", "clusterroles"]);
    assert!(!ok);
    assert!(err.contains("cannot list resource \"clusterroles\" in API group \"rbac.authorization.k8s.io\" at the cluster scope"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_as_impersonates_only_with_the_impersonate_verb() {
    let w = World::new().await;
    let admin = |args: &[&str]| tokio::task::block_in_place(|| kubectl(&w.admin_kubeconfig, args));
    let as_controller = [
        "--as=system:serviceaccount:kargo:controller",
        "-n",
        "project-a",
    ];
    // The admin may impersonate; the answer is then the controller's, not the admin's.
    let can = |name: &str| {
        let target = format!("serviceaccounts/{name}");
        let mut args = vec![
            "auth",
            "can-i",
            "create",
            target.as_str(),
            "--subresource=token",
        ];
        args.extend(as_controller);
        admin(&args).1.trim().to_owned()
    };
    assert_eq!(can("credentials"), "yes");
    assert_eq!(can("kargo-admin"), "no");
    let (ok, _, err) = admin(&[
        "get",
        "secrets",
        "-n",
        "project-a",
        "--as=system:serviceaccount:kargo:controller",
    ]);
    assert!(!ok);
    assert!(
        err.contains(
            "User \"system:serviceaccount:kargo:controller\" cannot list resource \"secrets\""
        ),
        "{err}"
    );
    let audit = w
        .a
        .audit()
        .find(|e| e.impersonated_user.as_deref() == Some("system:serviceaccount:kargo:controller"))
        .expect("impersonated requests are audited with both users");
    assert_eq!(audit.user, "kubernetes-admin");
    // The controller has no `impersonate` verb: it cannot become the admin.
    let (ok, _, err) = tokio::task::block_in_place(|| {
        kubectl(
            &w.controller_kubeconfig,
            &["get", "namespaces", "--as=kubernetes-admin"],
        )
    });
    assert!(!ok);
    assert!(
        err.contains(
            "cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
        "{err}"
    );
}
