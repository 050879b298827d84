//! A world's kind and kubeconfig clusters: what they cannot do, refused before anything starts,
//! and joining them to a running world (see [`crate::external`]).

use mock_kit::Clock;
use scenarios::model::{self, Action, KeyOwner, Scenario};

use super::WorldError;
use super::cluster::cluster;
use crate::cloud::Cloud;
use crate::external::ExternalCluster;

/// Refuses what a kind or kubeconfig cluster cannot do, with the reason (see
/// [`crate::external`]): its API server's clock is the wall clock, credsim does not hold its
/// signing key, and its issuer documents come from its own API server.
pub(super) fn check_external(s: &Scenario) -> Result<(), WorldError> {
    let w = &s.world;
    let external: Vec<&model::Cluster> = w
        .clusters
        .iter()
        .filter(|c| c.backend != model::Backend::Embedded)
        .collect();
    let Some(first) = external.first() else {
        return Ok(());
    };
    let refuse = |what: String| {
        Err(WorldError::Unsupported(format!(
            "cluster {} runs on the {} backend, whose API server keeps the wall clock and its own keys: {what}",
            first.name,
            backend_name(first.backend)
        )))
    };
    if w.options.start_time.is_some() {
        return refuse("the world cannot start at a fixed `startTime`".into());
    }
    for step in &s.steps {
        match &step.action {
            Action::Advance(_) => {
                return refuse(format!(
                    "the `advance` step at line {} cannot move its clock",
                    step.at.line
                ));
            }
            Action::RotateKeys(KeyOwner::Cluster(c)) if external.iter().any(|e| &e.name == c) => {
                return refuse(format!(
                    "the `rotateKeys` step at line {} cannot rotate the keys of cluster {c}",
                    step.at.line
                ));
            }
            _ => {}
        }
    }
    for e in &external {
        if let Some(other) = w
            .clusters
            .iter()
            .find(|c| c.name != e.name && c.issuer == e.issuer)
        {
            return Err(WorldError::Unsupported(format!(
                "clusters {} and {} share the issuer {}; a {} cluster publishes its own issuer documents, so it cannot share them",
                e.name,
                other.name,
                e.issuer,
                backend_name(e.backend)
            )));
        }
    }
    Ok(())
}

/// Connects the world's kind and kubeconfig clusters, publishes their issuers, puts their API
/// servers behind the front door and provisions their objects (see [`crate::external`]).
pub(super) async fn join_external(
    s: &Scenario,
    cloud: &mut Cloud,
    clock: Clock,
) -> Result<(), WorldError> {
    for c in &s.world.clusters {
        let ext = match c.backend {
            model::Backend::Embedded => continue,
            model::Backend::Kubeconfig => {
                let file = c.kubeconfig.as_deref().ok_or_else(|| {
                    WorldError::Missing(format!("the kubeconfig of cluster {}", c.name))
                })?;
                ExternalCluster::from_kubeconfig(
                    &c.name,
                    &c.issuer,
                    &ExternalCluster::kubeconfig_path(&s.file, file),
                    cloud.secrets.clone(),
                    clock.clone(),
                )
                .await?
            }
            model::Backend::Kind => {
                ExternalCluster::create_kind(
                    &c.name,
                    &c.issuer,
                    cloud.secrets.clone(),
                    clock.clone(),
                )
                .await?
            }
        };
        // Pushed first, so a failure below still tears down what was provisioned.
        cloud.external.push(ext.clone());
        ext.join(&cloud.door).await?;
        ext.provision(&cluster(c).objects).await?;
    }
    Ok(())
}

/// The backend's name as scenarios spell it.
fn backend_name(b: model::Backend) -> &'static str {
    match b {
        model::Backend::Embedded => "embedded",
        model::Backend::Kind => "kind",
        model::Backend::Kubeconfig => "kubeconfig",
    }
}
