//! A shard's implementation started: its folders, CA and kubeconfig, the environment of the
//! exec protocol, the sandbox, and the controller's token file kept fresh.

use std::path::PathBuf;
use std::time::Duration;

use scenarios::model::{self, Scenario};

use crate::evidence::shard_label;

use super::RunError;
use crate::implementation::{Implementation, Launcher, PodTokenError, ShardContext};
use credsim_world::world::RunningWorld;

pub(super) struct Shard {
    pub(super) name: String,
    pub(super) imp: Option<Box<dyn Implementation>>,
    /// Holds the working and secrets folders until the scenario ends (deleted on drop).
    pub(super) _dir: tempfile::TempDir,
    pub(super) workdir: PathBuf,
    pub(super) sandbox: Option<crate::sandbox::ShardSandbox>,
    pub(super) token_file: Option<TokenFile>,
    pub(super) max_token_expiration: Duration,
}

pub(super) async fn start_shard(
    s: &Scenario,
    world: &RunningWorld,
    cluster: &model::Cluster,
    ctl: &model::Controller,
    launcher: &dyn Launcher,
) -> Result<Shard, RunError> {
    let dir = tempfile::Builder::new()
        .prefix("credsim-shard-")
        .tempdir()
        .map_err(RunError::ShardFolder)?;
    let workdir = dir.path().join("work");
    let private = dir.path().join("harness");
    for d in [&workdir, &private] {
        std::fs::create_dir_all(d).map_err(|source| RunError::CreateDir {
            path: d.clone(),
            source,
        })?;
    }
    let ca = private.join("ca.pem");
    write(&ca, world.cloud.door.ca().cert_pem())?;
    let kubeconfig = private.join("kubeconfig");
    let kc = world.controller_kubeconfig(s, &cluster.name).await?;
    write(&kubeconfig, &kc)?;
    let mut env = world
        .cloud
        .door
        .client_env(Some(&shard_label(&cluster.name)), &ca);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    env.push(("CREDSIM_SHARD".into(), cluster.name.clone()));
    env.push(("CREDSIM_SCENARIO".into(), s.name.clone()));
    let token_file = controller_identity(s, world, ctl, &private, &mut env)?;
    for (k, v) in &ctl.env {
        env.push((k.clone(), v.clone()));
    }
    let sandbox = shard_sandbox(
        world,
        &cluster.name,
        dir.path(),
        &workdir,
        &private,
        &mut env,
    )?;
    let mut shard = Shard {
        name: cluster.name.clone(),
        imp: None,
        workdir: workdir.clone(),
        sandbox: sandbox.clone(),
        _dir: dir,
        token_file,
        max_token_expiration: cluster.max_token_expiration,
    };
    refresh_token_file(world, &mut shard, true).await?;
    // Projects that steps add are asked about once they exist.
    let grown = s.world_with_additions();
    let pod_tokens = pod_tokens(world, grown.cluster(&cluster.name).unwrap_or(cluster), ctl);
    let ctx = ShardContext {
        scenario: s.name.clone(),
        shard: cluster.name.clone(),
        env,
        workdir,
        pod_tokens,
        sandbox,
    };
    let imp = launcher
        .launch(&ctx)
        .await
        .map_err(|error| RunError::Implementation {
            shard: cluster.name.clone(),
            error,
        })?;
    shard.imp = Some(imp);
    Ok(shard)
}

/// Writes the controller's projected ServiceAccount token (audience `api://AzureADTokenExchange`,
/// the projected volume's expiration) as the kubelet would, and again after every clock advance
/// unless the scenario stops the rotation.
pub(super) async fn refresh_token_file(
    world: &RunningWorld,
    shard: &mut Shard,
    first: bool,
) -> Result<(), RunError> {
    let Some((file, sa, config)) = &shard.token_file else {
        return Ok(());
    };
    if !first && !config.rotate {
        return Ok(());
    }
    let k8s = world
        .cloud
        .cluster(&shard.name)
        .ok_or_else(|| RunError::NoCluster(shard.name.clone()))?;
    let token = k8s
        .service_account_token(
            &sa.namespace,
            &sa.name,
            &[model::EXCHANGE_AUDIENCE],
            // The kubelet asks through TokenRequest, which the API server caps.
            config.expiration.min(shard.max_token_expiration),
        )
        .await?;
    write(file, token.expose())
}

/// Writes a file of the shard's private folder.
fn write(path: &std::path::Path, text: &str) -> Result<(), RunError> {
    std::fs::write(path, text).map_err(|source| RunError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The controller's projected token file: where it is written, whose token, how it rotates.
pub(super) type TokenFile = (PathBuf, model::ServiceAccountRef, model::TokenFile);

/// The controller's own identity in its environment, as the cluster would install it: a
/// workload identity (the webhook's variables and the token file, returned to be kept fresh), an
/// app's client secret, the node's IMDS.
fn controller_identity(
    s: &Scenario,
    world: &RunningWorld,
    ctl: &model::Controller,
    private: &std::path::Path,
    env: &mut Vec<(String, String)>,
) -> Result<Option<TokenFile>, RunError> {
    let mut token_file = None;
    if let Some(wi) = &ctl.workload_identity {
        let tenant = s
            .world
            .tenant(&wi.tenant)
            .ok_or_else(|| RunError::NoTenant(wi.tenant.clone()))?;
        let file = private.join("azure-identity-token");
        env.push(("AZURE_CLIENT_ID".into(), wi.client_id.to_string()));
        env.push(("AZURE_TENANT_ID".into(), tenant.id.to_string()));
        env.push((
            "AZURE_FEDERATED_TOKEN_FILE".into(),
            file.display().to_string(),
        ));
        env.push((
            "AZURE_AUTHORITY_HOST".into(),
            "https://login.microsoftonline.com/".into(),
        ));
        token_file = Some((file, ctl.service_account_ref(), ctl.token_file.clone()));
    }
    if let Some(app) = &ctl.client_secret {
        // Install-time configuration from a Kubernetes Secret, as EnvironmentCredential reads it.
        let dir = world.cloud.entra.directory();
        let tenant = dir
            .tenant_named(&app.tenant)
            .ok_or_else(|| RunError::NoTenant(app.tenant.clone()))?;
        let secret = tenant
            .identities
            .iter()
            .find(|i| i.name == app.name)
            .and_then(|i| i.secrets.first())
            .ok_or_else(|| RunError::NoSecret {
                tenant: app.tenant.clone(),
                app: app.name.clone(),
            })?;
        env.push(("AZURE_CLIENT_ID".into(), app.client_id.to_string()));
        env.push(("AZURE_TENANT_ID".into(), tenant.id.to_string()));
        env.push(("AZURE_CLIENT_SECRET".into(), secret.value.expose().clone()));
    }
    if let Some(node) = &ctl.node
        && let Some(url) = world.cloud.node_imds_url(node)
    {
        env.push(("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), url));
    }
    Ok(token_file)
}

/// The shard's sandbox when bubblewrap is there (its variables added to `env`), else `None`.
fn shard_sandbox(
    world: &RunningWorld,
    shard: &str,
    dir: &std::path::Path,
    workdir: &std::path::Path,
    private: &std::path::Path,
    env: &mut Vec<(String, String)>,
) -> Result<Option<crate::sandbox::ShardSandbox>, RunError> {
    Ok(match crate::sandbox::Sandbox::detect() {
        crate::sandbox::Sandbox::Bubblewrap(bwrap) => {
            let sb = crate::sandbox::ShardSandbox::prepare(
                bwrap.clone(),
                dir.join("sandbox"),
                workdir.to_path_buf(),
                vec![private.to_path_buf()],
            )
            .and_then(|sb| sb.with_network(world.cloud.door.gateway(), shard_label(shard)))
            .map_err(RunError::SandboxFolders)?;
            env.extend(sb.env());
            Some(sb)
        }
        crate::sandbox::Sandbox::Unavailable(_) => None,
    })
}

/// For kubelet credential providers with `tokenAttributes`: tokens of a project's pod
/// ServiceAccount, minted when the provider is asked, as the kubelet passes them.
fn pod_tokens(
    world: &RunningWorld,
    cluster: &model::Cluster,
    ctl: &model::Controller,
) -> Option<crate::implementation::PodTokens> {
    ctl.token_attributes.as_ref().and_then(|ta| {
        let k8s = world.cloud.cluster(&cluster.name)?;
        let projects: Vec<(String, String)> = cluster
            .projects
            .iter()
            .map(|p| (p.name.clone(), p.pod_service_account.clone()))
            .collect();
        let audience = ta.audience.clone();
        let aud = audience.clone();
        Some(crate::implementation::PodTokens {
            audience,
            required_annotation_keys: ta.required_annotation_keys.clone(),
            optional_annotation_keys: ta.optional_annotation_keys.clone(),
            mint: std::sync::Arc::new(move |project: &str| {
                let k8s = k8s.clone();
                let aud = aud.clone();
                let found = projects.iter().find(|(p, _)| p == project).cloned();
                let project = project.to_owned();
                Box::pin(async move {
                    let (_, sa) = found.ok_or_else(|| PodTokenError::NoProject(project.clone()))?;
                    let annotations = k8s.service_account_annotations(&project, &sa).await?;
                    let token = k8s
                        .service_account_token(
                            &project,
                            &sa,
                            &[aud.as_str()],
                            Duration::from_secs(3600),
                        )
                        .await?;
                    Ok((token.expose().clone(), annotations))
                })
            }),
        })
    })
}
