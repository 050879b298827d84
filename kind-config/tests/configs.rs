//! The generated configs, snapshotted for review, and the files written next to them. Creating a
//! real kind cluster needs Docker and kind, which this machine does not have.

use std::path::Path;

use kind_config::{KindCluster, k3s_server_args, kind_create_command, kind_delete_command};

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nTEST\n-----END PRIVATE KEY-----\n";
const PUB: &str = "-----BEGIN PUBLIC KEY-----\nTEST\n-----END PUBLIC KEY-----\n";

#[test]
fn kind_config_snapshot() {
    let c = KindCluster::new("shard-a", "https://oidc.shard-a.credsim.test/", KEY, PUB).unwrap();
    insta::assert_snapshot!("kind_shard_a", c.render(Path::new("/keys/shard-a")));
}

#[test]
fn k3s_args_snapshot() {
    insta::assert_debug_snapshot!(
        "k3s_args",
        k3s_server_args("https://oidc.shard-b.credsim.test/", "/var/lib/credsim")
    );
}

#[test]
fn write_places_keys_and_config_together() {
    let dir = tempfile::tempdir().unwrap();
    let c = KindCluster::new("shard-a", "https://oidc.shard-a.credsim.test/", KEY, PUB).unwrap();
    let config = c.write(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sa.key")).unwrap(),
        KEY
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sa.pub")).unwrap(),
        PUB
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("hostPath: {}/sa.key", dir.path().display())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("sa.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let create = kind_create_command("shard-a", &config, &dir.path().join("kubeconfig"));
    assert_eq!(
        &create[..5],
        ["kind", "create", "cluster", "--name", "shard-a"]
    );
    assert_eq!(
        kind_delete_command("shard-a"),
        ["kind", "delete", "cluster", "--name", "shard-a"]
    );
}

#[test]
fn bad_issuers_and_names_are_refused() {
    assert!(KindCluster::new("x", "http://plain.example/", KEY, PUB).is_err());
    assert!(KindCluster::new("Shard_A", "https://x.example/", KEY, PUB).is_err());
}

#[test]
#[ignore = "needs docker and kind"]
fn a_real_kind_cluster_signs_with_the_provided_key() {
    // Creates the cluster from a written config, then checks the API server's JWKS carries the
    // provided key: `kubectl get --raw /openid/v1/jwks` against the kind kubeconfig.
    let dir = tempfile::tempdir().unwrap();
    let c = KindCluster::new(
        "credsim-it",
        "https://oidc.credsim-it.credsim.test/",
        KEY,
        PUB,
    )
    .unwrap();
    let config = c.write(dir.path()).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let create = kind_create_command("credsim-it", &config, &kubeconfig);
    let status = std::process::Command::new(&create[0])
        .args(&create[1..])
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("kubectl")
        .args(["get", "--raw", "/.well-known/openid-configuration"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let delete = kind_delete_command("credsim-it");
    let _ = std::process::Command::new(&delete[0])
        .args(&delete[1..])
        .status();
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://oidc.credsim-it.credsim.test/"));
}
