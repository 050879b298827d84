//! Clusters with projects, namespaces and ServiceAccounts; controllers are added once the
//! identities and nodes they refer to exist.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

use super::{map, maybe, secs, text};

/// Clusters without controllers.
pub fn clusters(rng: &mut StdRng) -> Vec<Cluster> {
    let mut clusters: Vec<Cluster> = (0..rng.gen_range(0..3)).map(|c| cluster(rng, c)).collect();
    for c in &mut clusters {
        if c.backend == Backend::Kubeconfig {
            c.kubeconfig = Some(format!("{}.kubeconfig", c.name));
        }
    }
    clusters
}

/// A controller for most clusters.
pub fn add_controllers(
    rng: &mut StdRng,
    clusters: &mut [Cluster],
    identities: &[(IdentityRef, bool)],
    nodes: &[Node],
    apps_with_secrets: &[IdentityRef],
) {
    for c in clusters {
        if rng.gen_bool(0.7) {
            c.controller = Some(controller(rng, c, identities, nodes, apps_with_secrets));
        }
    }
}

fn cluster(rng: &mut StdRng, c: i32) -> Cluster {
    let name = format!("cluster-{c}");
    Cluster {
        issuer: if rng.gen_bool(0.7) {
            format!("https://oidc.{name}.credsim.test/")
        } else {
            format!("https://issuer-{c}.example/")
        },
        backend: *[Backend::Embedded, Backend::Kind, Backend::Kubeconfig]
            .choose(rng)
            .unwrap(),
        kubeconfig: None,
        max_token_expiration: secs(rng),
        projects: (0..rng.gen_range(0..3))
            .map(|p| namespace(rng, format!("project-{p}")))
            .collect(),
        namespaces: (0..rng.gen_range(0..2))
            .map(|p| namespace(rng, format!("other-{p}")))
            .collect(),
        controller: None,
        objects: if rng.gen_bool(0.3) {
            vec![serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "other-0"}, "stringData": {"k": text(rng)}})]
        } else {
            vec![]
        },
        name,
    }
}

fn namespace(rng: &mut StdRng, name: String) -> Namespace {
    Namespace {
        name,
        service_accounts: (0..rng.gen_range(0..3))
            .map(|s| ServiceAccount {
                name: format!("sa-{s}"),
                annotations: map(rng, "azure.workload.identity"),
                labels: map(rng, "example.com"),
            })
            .collect(),
        pod_service_account: if rng.gen_bool(0.5) {
            "default".into()
        } else {
            "runner".into()
        },
    }
}

fn controller(
    rng: &mut StdRng,
    c: &Cluster,
    identities: &[(IdentityRef, bool)],
    nodes: &[Node],
    apps_with_secrets: &[IdentityRef],
) -> Controller {
    // `scope: namespaces` may name only namespaces the cluster has (the controller's own
    // always exists).
    let existing: Vec<String> = c
        .all_namespaces()
        .map(|n| n.name.clone())
        .chain(["controller".to_owned()])
        .collect();
    let mut controller = Controller {
        namespace: "controller".into(),
        service_account: "controller".into(),
        rbac: ControllerRbac {
            token_request: grant(rng, &existing),
            read_service_accounts: grant(rng, &existing),
        },
        workload_identity: identities.choose(rng).map(|(i, _)| i.clone()),
        client_secret: None,
        node: nodes.choose(rng).map(|n| n.name.clone()),
        env: (0..rng.gen_range(0..3))
            .map(|i| (format!("SETTING_{i}"), text(rng)))
            .collect(),
        token_attributes: maybe(rng, |rng| TokenAttributes {
            audience: EXCHANGE_AUDIENCE.into(),
            required_annotation_keys: vec!["azure.workload.identity/client-id".into()],
            optional_annotation_keys: if rng.gen_bool(0.5) {
                vec!["azure.workload.identity/tenant-id".into()]
            } else {
                vec![]
            },
        }),
        token_file: TokenFile {
            expiration: Duration::from_secs(600 + rng.gen_range(0..100_000)),
            rotate: rng.gen_bool(0.7),
        },
    };
    // A token file exists only with a workload identity; without one, the controller
    // may be installed with an app's client secret.
    if controller.workload_identity.is_none() {
        controller.token_file = TokenFile::default();
        controller.client_secret = apps_with_secrets.choose(rng).cloned();
    }
    controller
}

/// A grant of one of the scopes; `existing` are the namespaces the cluster has.
fn grant(rng: &mut StdRng, existing: &[String]) -> Grant {
    match rng.gen_range(0..3) {
        0 => Grant::default(),
        1 => Grant {
            scope: TokenScope::Cluster,
            namespaces: vec![],
            service_accounts: vec!["credentials".into()],
        },
        _ => Grant {
            scope: TokenScope::Namespaces,
            namespaces: existing
                .iter()
                .filter(|_| rng.gen_bool(0.7))
                .cloned()
                .chain(["controller".to_owned()])
                .collect(),
            service_accounts: vec![],
        },
    }
}
