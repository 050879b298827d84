//! The runner: one scenario, replayed against an implementation, with evidence collected.
//!
//! [`run_scenario`] starts the world, launches one implementation per shard with the exec
//! protocol's environment, replays the steps in order (requests, clock advances with `clock/set`,
//! world changes, fault toggles), **uses** every returned credential against every repository of
//! every registry, checks each request's expectation, shuts the implementations down, and hands
//! the [`Evidence`] to the properties ([`crate::properties`]). A harness-level problem (the
//! implementation broke the protocol, the world did not start) makes the scenario's verdict
//! `error`, never a pass.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use credsim_world::error_chain;
use credsim_world::world::role;
use jiff::Timestamp;
use mock_acr::policy::{Action as AcrAction, AuthMode, Grants, RepoCondition};
use scenarios::model::{self, Action, RepositoryRef, Scenario};

pub use crate::evidence::{Evidence, RequestRecord, shard_label};
pub use crate::result::{
    ExpectationFailure, FlowEvent, Observed, ScenarioResult, Timings, Verdict, outcome_of,
};

use crate::exec::files_written;
use crate::implementation::{
    Answer, CredentialRequest, Implementation, Launcher, Output, ShardContext,
};
use crate::probe::probe_credential;
use crate::properties;
use credsim_world::world::World;

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

/// Runs `scenario` against implementations started by `launcher`.
pub async fn run_scenario(scenario: &Scenario, launcher: &dyn Launcher) -> ScenarioResult {
    if let Err(why) = launcher.applies_to(scenario) {
        return ScenarioResult::skipped(
            scenario,
            &launcher.describe(),
            &format!("not applicable to this protocol: {why}"),
        );
    }
    let started = Instant::now();
    let mut result = ScenarioResult {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        verdict: Verdict::Error,
        duration_ms: 0,
        implementation: launcher.describe(),
        properties: Vec::new(),
        expectations: Vec::new(),
        error: None,
        expected_failure: None,
        transcript: Vec::new(),
        flow: Vec::new(),
        timings: Timings::default(),
        observed: Vec::new(),
    };
    match run_inner(scenario, launcher, &mut result).await {
        Ok(()) => result.verdict = result.recompute_verdict(),
        Err(e) => {
            result.verdict = Verdict::Error;
            result.error = Some(e);
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

struct Shard {
    name: String,
    imp: Option<Box<dyn Implementation>>,
    /// Holds the working and secrets folders until the scenario ends (deleted on drop).
    _dir: tempfile::TempDir,
    workdir: PathBuf,
    sandbox: Option<crate::sandbox::ShardSandbox>,
    token_file: Option<(PathBuf, model::ServiceAccountRef, model::TokenFile)>,
    max_token_expiration: Duration,
}

async fn run_inner(
    s: &Scenario,
    launcher: &dyn Launcher,
    result: &mut ScenarioResult,
) -> Result<(), String> {
    let t = Instant::now();
    let world = World::start(s, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| error_chain(&e))?;
    result.timings.world_us = micros(t);
    let outcome = replay(s, launcher, &world, result).await;
    let t = Instant::now();
    world.shutdown().await;
    result.timings.teardown_us = micros(t);
    outcome
}

async fn replay(
    s: &Scenario,
    launcher: &dyn Launcher,
    world: &World,
    result: &mut ScenarioResult,
) -> Result<(), String> {
    for l in &s.world.leniency {
        result.transcript.push(format!(
            "leniency: {}",
            serde_json::to_string(l).unwrap_or_default()
        ));
    }
    let mut shards = Vec::new();
    for (cluster, ctl) in s.shards() {
        let t = Instant::now();
        shards.push(start_shard(s, world, cluster, ctl, launcher).await?);
        result.timings.launch_us += micros(t);
    }
    for sh in &shards {
        result.transcript.push(format!(
            "{}: started {}",
            sh.name,
            sh.imp.as_ref().map(|i| i.identity()).unwrap_or_default()
        ));
    }
    let mut follows_clock: BTreeMap<String, bool> = BTreeMap::new();
    let mut mirror = Mirror::new(s);
    let mut requests = Vec::new();
    let mut revocations = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        match &step.action {
            Action::Request(r) => {
                let rec =
                    request(s, world, &mut shards, &mirror, i, step.at.line, r, result).await?;
                settle(world, rec, &mut requests, result);
            }
            Action::Concurrently(rs) => {
                let recs =
                    concurrently(s, world, &mut shards, &mirror, i, step.at.line, rs, result)
                        .await?;
                for rec in recs {
                    settle(world, rec, &mut requests, result);
                }
            }
            action => {
                let t = Instant::now();
                let note = world.apply(action).await.map_err(|e| error_chain(&e))?;
                result
                    .transcript
                    .push(format!("step {} (line {}): {note}", i + 1, step.at.line));
                mirror.apply(action);
                if matches!(
                    action,
                    Action::RemoveRoleAssignment { .. }
                        | Action::DeleteFederatedCredential { .. }
                        | Action::Annotate { .. }
                ) {
                    revocations.push((i, world.cloud.clock.now()));
                }
                if let Action::Advance(_) = action {
                    let now = world.cloud.clock.now();
                    for sh in &mut shards {
                        refresh_token_file(world, sh, false).await?;
                        if let Some(imp) = sh.imp.as_mut() {
                            let ok = imp
                                .set_clock(now)
                                .await
                                .map_err(|e| redact(world, &format!("{}: {e}", sh.name)))?;
                            follows_clock.insert(sh.name.clone(), ok);
                        }
                    }
                }
                result.timings.changes_us += micros(t);
            }
        }
    }
    let mut outputs = BTreeMap::new();
    let mut files = BTreeMap::new();
    let mut unread = Vec::new();
    for sh in &mut shards {
        if let Some(imp) = sh.imp.take() {
            let t = Instant::now();
            outputs.insert(sh.name.clone(), imp.shutdown().await);
            result.timings.shutdown_us += micros(t);
        }
        let mut budget = crate::exec::file_budget();
        let mut written = files_written(&sh.workdir, &mut budget);
        if let Some(sb) = &sh.sandbox {
            written.extend(sb.captured_files(&mut budget));
        }
        files.insert(sh.name.clone(), written);
        unread.extend(budget.unread.iter().map(|u| format!("{}: {u}", sh.name)));
    }
    for sh in &shards {
        follows_clock.entry(sh.name.clone()).or_insert(true);
    }
    transcribe_outputs(world, &outputs, &files, &mut result.transcript);
    let evidence = Evidence {
        scenario: s,
        world,
        requests,
        outputs,
        files,
        follows_clock,
        revocations,
    };
    let t = Instant::now();
    result.properties = properties::judge(&evidence);
    result.timings.judge_us = micros(t);
    if !unread.is_empty() {
        let more = if unread.len() > 5 {
            format!(" (and {} more)", unread.len() - 5)
        } else {
            String::new()
        };
        // File names are the implementation's: redacted like everything else it wrote.
        return Err(redact(
            world,
            &format!(
                "the implementation left more files than the leak search reads ({} MiB a file, {} MiB \
             and {} files a shard): {}{more}; a leak in what was not read would not be found, so \
             the scenario cannot be judged",
                crate::exec::FILE_READ_LIMIT >> 20,
                crate::exec::FILES_READ_LIMIT.0 >> 20,
                crate::exec::FILES_READ_LIMIT.1,
                unread[..unread.len().min(5)].join("; ")
            ),
        ));
    }
    let dropped = world.cloud.evidence_dropped();
    if !dropped.is_empty() {
        let what: Vec<String> = dropped
            .iter()
            .map(|(record, n)| format!("{record} dropped its {n} oldest entries"))
            .collect();
        return Err(format!(
            "the evidence was cut at its capacity ({}): the scenario cannot be judged",
            what.join("; ")
        ));
    }
    // A fake that failed internally answered something no real service would: nothing the
    // scenario saw after it can be trusted, whatever the properties say.
    if let Some(rec) = world
        .cloud
        .door
        .egress()
        .snapshot()
        .into_iter()
        .find(|r| matches!(r.outcome, mock_kit::egress::Outcome::InternalError { .. }))
    {
        let site = match &rec.outcome {
            mock_kit::egress::Outcome::InternalError { site } => site.clone(),
            _ => String::new(),
        };
        return Err(format!(
            "credsim's {site} failed internally on {} {}://{}{} (answered {}): a bug in credsim, \
             not in the implementation; the scenario cannot be judged",
            rec.method,
            rec.scheme.as_str(),
            rec.host,
            redact(world, &rec.path),
            rec.status
        ));
    }
    Ok(())
}

async fn start_shard(
    s: &Scenario,
    world: &World,
    cluster: &model::Cluster,
    ctl: &model::Controller,
    launcher: &dyn Launcher,
) -> Result<Shard, String> {
    let dir = tempfile::Builder::new()
        .prefix("credsim-shard-")
        .tempdir()
        .map_err(|e| format!("making the shard's folder failed: {e}"))?;
    let workdir = dir.path().join("work");
    let private = dir.path().join("harness");
    for d in [&workdir, &private] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let ca = private.join("ca.pem");
    std::fs::write(&ca, world.cloud.door.ca().cert_pem()).map_err(|e| e.to_string())?;
    let kubeconfig = private.join("kubeconfig");
    let kc = world
        .controller_kubeconfig(s, &cluster.name)
        .await
        .map_err(|e| error_chain(&e))?;
    std::fs::write(&kubeconfig, kc).map_err(|e| e.to_string())?;
    let mut env = world
        .cloud
        .door
        .client_env(Some(&shard_label(&cluster.name)), &ca);
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
    env.push(("CREDSIM_SHARD".into(), cluster.name.clone()));
    env.push(("CREDSIM_SCENARIO".into(), s.name.clone()));
    let mut token_file = None;
    if let Some(wi) = &ctl.workload_identity {
        let tenant = s
            .world
            .tenant(&wi.tenant)
            .ok_or_else(|| format!("no tenant {}", wi.tenant))?;
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
            .ok_or_else(|| format!("no tenant {}", app.tenant))?;
        let secret = tenant
            .identities
            .iter()
            .find(|i| i.name == app.name)
            .and_then(|i| i.secrets.first())
            .ok_or_else(|| format!("the app {}/{} has no secret", app.tenant, app.name))?;
        env.push(("AZURE_CLIENT_ID".into(), app.client_id.to_string()));
        env.push(("AZURE_TENANT_ID".into(), tenant.id.to_string()));
        env.push(("AZURE_CLIENT_SECRET".into(), secret.value.expose().clone()));
    }
    if let Some(node) = &ctl.node
        && let Some(url) = world.cloud.node_imds_url(node)
    {
        env.push(("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), url));
    }
    for (k, v) in &ctl.env {
        env.push((k.clone(), v.clone()));
    }
    let sandbox = match crate::sandbox::Sandbox::detect() {
        crate::sandbox::Sandbox::Bubblewrap(bwrap) => {
            let sb = crate::sandbox::ShardSandbox::prepare(
                bwrap.clone(),
                dir.path().join("sandbox"),
                workdir.clone(),
                vec![private.clone()],
            )
            .and_then(|sb| sb.with_network(world.cloud.door.gateway(), shard_label(&cluster.name)))
            .map_err(|e| format!("making the shard's sandbox folders failed: {e}"))?;
            env.extend(sb.env());
            Some(sb)
        }
        crate::sandbox::Sandbox::Unavailable(_) => None,
    };
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
    let pod_tokens = ctl.token_attributes.as_ref().and_then(|ta| {
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
                    let (_, sa) = found.ok_or_else(|| format!("no project {project}"))?;
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
    });
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
        .map_err(|e| redact(world, &format!("{}: {e}", cluster.name)))?;
    shard.imp = Some(imp);
    Ok(shard)
}

/// Writes the controller's projected ServiceAccount token (audience `api://AzureADTokenExchange`,
/// the projected volume's expiration) as the kubelet would, and again after every clock advance
/// unless the scenario stops the rotation.
async fn refresh_token_file(world: &World, shard: &mut Shard, first: bool) -> Result<(), String> {
    let Some((file, sa, config)) = &shard.token_file else {
        return Ok(());
    };
    if !first && !config.rotate {
        return Ok(());
    }
    let k8s = world
        .cloud
        .cluster(&shard.name)
        .ok_or_else(|| format!("no cluster {}", shard.name))?;
    let token = k8s
        .service_account_token(
            &sa.namespace,
            &sa.name,
            &[model::EXCHANGE_AUDIENCE],
            // The kubelet asks through TokenRequest, which the API server caps.
            config.expiration.min(shard.max_token_expiration),
        )
        .await?;
    std::fs::write(file, token.expose()).map_err(|e| format!("writing {}: {e}", file.display()))
}

#[allow(clippy::too_many_arguments)]
async fn request(
    s: &Scenario,
    world: &World,
    shards: &mut [Shard],
    mirror: &Mirror,
    step: usize,
    line: u32,
    r: &model::Request,
    result: &mut ScenarioResult,
) -> Result<RequestRecord, String> {
    let cloud = &world.cloud;
    let shard = shards
        .iter_mut()
        .find(|sh| sh.name == r.shard)
        .ok_or_else(|| format!("no shard {}", r.shard))?;
    let req = credential_request(r);
    let before = Seqs::of(cloud);
    let at = cloud.clock.now();
    let imp = shard.imp.as_mut().ok_or("the implementation is gone")?;
    let t = Instant::now();
    let answer = imp.get(&req).await.map_err(|e| {
        redact(
            world,
            &format!("step {} (line {line}): {}: {e}", step + 1, r.shard),
        )
    })?;
    let after = Seqs::of(cloud);
    result.timings.implementation_us += micros(t);
    let window = Window {
        step,
        line,
        at,
        before,
        after,
        concurrent: Vec::new(),
    };
    record(s, world, mirror, r, req, answer, window, result).await
}

/// Finishes a request's record: the grants revoked since an earlier request of the same shard
/// and project, its expectation checked, what it came to noted; then keeps it.
fn settle(
    world: &World,
    mut rec: RequestRecord,
    requests: &mut Vec<RequestRecord>,
    result: &mut ScenarioResult,
) {
    rec.revoked_access = requests
        .iter()
        .filter(|p| p.shard == rec.shard && p.request.project == rec.request.project)
        .flat_map(|p| p.own_access.iter().cloned())
        .filter(|u| !rec.own_access.contains(u))
        .collect();
    check_expectation(world, &rec, &mut result.expectations);
    result.observed.push(Observed {
        step: rec.step,
        outcome: outcome_of(&rec.answer),
        unlocked: rec.unlocked(),
    });
    requests.push(rec);
}

/// The journals' lengths at one moment.
struct Seqs {
    entra: usize,
    acr: usize,
    audit: Vec<(String, usize)>,
    egress: usize,
}

impl Seqs {
    fn of(cloud: &credsim_world::cloud::Cloud) -> Self {
        Self {
            entra: cloud.entra.journal().len(),
            acr: cloud.acr.as_ref().map_or(0, |a| a.journal().len()),
            audit: cloud
                .all_clusters()
                .iter()
                .map(|c| (c.name().to_owned(), c.audit().len()))
                .collect(),
            egress: cloud.door.egress().len(),
        }
    }
}

/// When and where a request (or a `concurrently` step) ran.
struct Window {
    step: usize,
    line: u32,
    at: Timestamp,
    before: Seqs,
    after: Seqs,
    concurrent: Vec<(String, CredentialRequest)>,
}

/// `credentials/get`'s parameters for a request step.
fn credential_request(r: &model::Request) -> CredentialRequest {
    CredentialRequest {
        project: r.project.clone(),
        registry: r.target.host().to_owned(),
        repository: r.repository.clone(),
        artifact: match r.artifact {
            model::ArtifactKind::Helm => "helm".into(),
            _ => "image".into(),
        },
    }
}

/// A `concurrently` step: each shard's requests sent to its implementation at once (all shards
/// at the same time), then every answer probed and recorded like a request on its own, each with
/// the whole step's journal window.
#[allow(clippy::too_many_arguments)]
async fn concurrently(
    s: &Scenario,
    world: &World,
    shards: &mut [Shard],
    mirror: &Mirror,
    step: usize,
    line: u32,
    rs: &[model::Request],
    result: &mut ScenarioResult,
) -> Result<Vec<RequestRecord>, String> {
    let cloud = &world.cloud;
    for r in rs {
        if !shards.iter().any(|sh| sh.name == r.shard) {
            return Err(format!("no shard {}", r.shard));
        }
    }
    let before = Seqs::of(cloud);
    let at = cloud.clock.now();
    let t = Instant::now();
    let mut asks = Vec::new();
    for sh in shards.iter_mut() {
        let idx: Vec<usize> = (0..rs.len()).filter(|&i| rs[i].shard == sh.name).collect();
        if idx.is_empty() {
            continue;
        }
        let reqs: Vec<CredentialRequest> =
            idx.iter().map(|&i| credential_request(&rs[i])).collect();
        let name = sh.name.clone();
        let imp = sh.imp.as_mut().ok_or("the implementation is gone")?;
        asks.push(async move {
            let answered = imp.get_concurrently(&reqs).await;
            (name, idx, answered)
        });
    }
    let answered = futures::future::join_all(asks).await;
    let after = Seqs::of(cloud);
    result.timings.implementation_us += micros(t);
    let mut answers: Vec<Option<Answer>> = vec![None; rs.len()];
    for (shard, idx, outcome) in answered {
        let batch = outcome.map_err(|e| {
            redact(
                world,
                &format!("step {} (line {line}): {shard}: {e}", step + 1),
            )
        })?;
        if !batch.overlapped && idx.len() > 1 {
            result.transcript.push(format!(
                "step {} (line {line}): {shard}: its implementation's protocol cannot overlap requests; the {} requests were sent one after another",
                step + 1,
                idx.len()
            ));
        }
        if batch.answers.len() != idx.len() {
            return Err(format!(
                "step {} (line {line}): {shard}: {} answers to {} requests",
                step + 1,
                batch.answers.len(),
                idx.len()
            ));
        }
        for (i, a) in idx.into_iter().zip(batch.answers) {
            answers[i] = Some(a);
        }
    }
    let mut out = Vec::new();
    for (i, (r, answer)) in rs.iter().zip(answers).enumerate() {
        let Some(answer) = answer else {
            return Err(format!("step {} (line {line}): no answer", step + 1));
        };
        let window = Window {
            step,
            line,
            at,
            before: clone_seqs(&before),
            after: clone_seqs(&after),
            concurrent: rs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| (o.shard.clone(), credential_request(o)))
                .collect(),
        };
        out.push(
            record(
                s,
                world,
                mirror,
                r,
                credential_request(r),
                answer,
                window,
                result,
            )
            .await?,
        );
    }
    Ok(out)
}

fn clone_seqs(s: &Seqs) -> Seqs {
    Seqs {
        entra: s.entra,
        acr: s.acr,
        audit: s.audit.clone(),
        egress: s.egress,
    }
}

/// Probes a request's answer and records it with its window.
#[allow(clippy::too_many_arguments)]
async fn record(
    s: &Scenario,
    world: &World,
    mirror: &Mirror,
    r: &model::Request,
    req: CredentialRequest,
    answer: Answer,
    w: Window,
    result: &mut ScenarioResult,
) -> Result<RequestRecord, String> {
    let cloud = &world.cloud;
    let Window {
        step,
        line,
        at,
        before,
        after,
        concurrent,
    } = w;
    let t = Instant::now();
    let probes = match &answer {
        Answer::Credential(c) => probe_credential(cloud, &c.username, &c.password)
            .await
            .map_err(|e| error_chain(&e))?,
        _ => Vec::new(),
    };
    result.timings.probes_us += micros(t);
    let issuer = s
        .world
        .cluster(&r.shard)
        .map(|c| c.issuer.clone())
        .unwrap_or_default();
    let own_access = mirror.project_access(&issuer, &r.project);
    let own_client_ids = mirror.project_client_ids(&issuer, &r.project);
    let anonymous_access = mirror.anonymous_access();
    let registry = match &r.target {
        model::RegistryTarget::Named { name, .. } => Some(name.clone()),
        model::RegistryTarget::Host(_) => None,
    };
    let rec = RequestRecord {
        step,
        line,
        shard: r.shard.clone(),
        request: req,
        expect: r.expect.clone(),
        registry,
        at,
        answer,
        probes,
        own_access,
        anonymous_access,
        revoked_access: BTreeSet::new(),
        own_client_ids,
        concurrent,
        entra_seq: (before.entra, after.entra),
        acr_seq: (before.acr, after.acr),
        audit_seq: before
            .audit
            .iter()
            .zip(&after.audit)
            .map(|((n, b), (_, a))| (n.clone(), *b, *a))
            .collect(),
        egress_seq: (before.egress, after.egress),
    };
    result.transcript.push(describe_request(world, &rec));
    result.flow.extend(flow(world, &rec));
    Ok(rec)
}

/// The arrows of one request, from the journals of its window (virtual time stands still during
/// a request, so the order is the flow's own: cluster, Entra, registry).
fn flow(world: &World, rec: &RequestRecord) -> Vec<FlowEvent> {
    let step = rec.step;
    let mut out = vec![FlowEvent {
        step,
        from: "harness",
        to: "implementation",
        label: format!(
            "credentials/get {} {}/{}",
            rec.request.project, rec.request.registry, rec.request.repository
        ),
        ok: true,
    }];
    for (cluster, from, to) in &rec.audit_seq {
        let Some(k8s) = world.cloud.cluster(cluster) else {
            continue;
        };
        for a in k8s.audit().since(*from).into_iter().take(to - from) {
            out.push(FlowEvent {
                step,
                from: "implementation",
                to: "cluster",
                label: format!(
                    "{cluster}: {} {} → {}",
                    a.verb,
                    a.resource.as_deref().map_or(a.path.clone(), |r| format!(
                        "{r} {}/{}",
                        a.namespace.clone().unwrap_or_default(),
                        a.name.clone().unwrap_or_default()
                    )),
                    a.status
                ),
                ok: a.status < 400,
            });
        }
    }
    for t in rec.entra_events(world) {
        let (outcome, ok) = match &t.outcome {
            mock_entra::journal::TokenOutcome::Issued { .. } => ("token issued".to_owned(), true),
            mock_entra::journal::TokenOutcome::Error { code, .. } => {
                (format!("AADSTS{code}"), false)
            }
            mock_entra::journal::TokenOutcome::Faulted { status } => {
                (format!("fault {status}"), false)
            }
        };
        out.push(FlowEvent {
            step,
            from: "implementation",
            to: "entra",
            label: format!(
                "token for {} ({}) → {outcome}",
                t.identity
                    .clone()
                    .or(t.client_id.clone())
                    .unwrap_or_default(),
                t.assertion
                    .as_ref()
                    .and_then(|a| a.sub.clone())
                    .unwrap_or_else(|| "no assertion".into())
            ),
            ok,
        });
    }
    for a in rec.acr_events(world) {
        out.push(FlowEvent {
            step,
            from: "implementation",
            to: "registry",
            label: format!(
                "{} {} {} → {}",
                a.registry,
                a.endpoint,
                a.requested.join(" "),
                a.status
            ),
            ok: a.status < 400,
        });
    }
    let (label, ok) = match &rec.answer {
        Answer::Credential(_) => ("credential".to_owned(), true),
        Answer::Anonymous => ("null (anonymous)".to_owned(), true),
        Answer::Refused { kind, .. } => (kind.as_str().to_owned(), false),
    };
    out.push(FlowEvent {
        step,
        from: "implementation",
        to: "harness",
        label,
        ok,
    });
    if rec.credential().is_some() {
        let unlocked: Vec<String> = rec.unlocked().iter().map(ToString::to_string).collect();
        out.push(FlowEvent {
            step,
            from: "harness",
            to: "registry",
            label: format!(
                "probe {} repositories: unlocked [{}]",
                rec.probes.len(),
                unlocked.join(", ")
            ),
            ok: true,
        });
    }
    for e in &mut out {
        e.label = redact(world, &e.label);
    }
    out
}

/// How many lines of an implementation's output a transcript keeps per channel.
const TRANSCRIPT_OUTPUT_LINES: usize = 200;

/// What the implementations wrote and where they tried to go, redacted, for the transcript.
fn transcribe_outputs(
    world: &World,
    outputs: &BTreeMap<String, Output>,
    files: &BTreeMap<String, Vec<(String, String)>>,
    transcript: &mut Vec<String>,
) {
    for (shard, out) in outputs {
        for (channel, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let lines: Vec<&str> = text.lines().collect();
            for line in lines.iter().take(TRANSCRIPT_OUTPUT_LINES) {
                transcript.push(format!("{shard} {channel}: {}", redact(world, line)));
            }
            if lines.len() > TRANSCRIPT_OUTPUT_LINES {
                transcript.push(format!(
                    "{shard} {channel}: ... {} more lines",
                    lines.len() - TRANSCRIPT_OUTPUT_LINES
                ));
                // What credsim says about what it kept always shows.
                if let Some(note) = lines.last().filter(|l| l.starts_with("[credsim: ")) {
                    transcript.push(format!("{shard} {channel}: {note}"));
                }
            }
        }
    }
    for (shard, list) in files {
        for (path, content) in list {
            transcript.push(format!("{shard} wrote {path} ({} bytes)", content.len()));
        }
    }
    for rec in world.cloud.door.egress().snapshot() {
        let Some(shard) = rec
            .client
            .label
            .as_deref()
            .and_then(|l| l.strip_prefix("iut/"))
        else {
            continue;
        };
        if let mock_kit::egress::Outcome::Refused { reason } = &rec.outcome {
            let carried: Vec<&str> = rec.secrets.iter().map(|s| s.kind.as_str()).collect();
            transcript.push(format!(
                "{shard} tried {} {}{}: refused by the front door ({}), carrying [{}]",
                rec.method,
                rec.host,
                rec.path,
                reason.as_str(),
                carried.join(", ")
            ));
        }
    }
}

/// A transcript line for a request, with the credential shown by kind and fingerprint only.
fn describe_request(world: &World, rec: &RequestRecord) -> String {
    let answer = match &rec.answer {
        Answer::Credential(c) => {
            let what = world.cloud.secrets.identify(&c.password).map_or_else(
                || "an unregistered secret".to_owned(),
                |i| format!("{} {}", i.kind, i.fingerprint.as_str()),
            );
            let unlocked: Vec<String> = rec.unlocked().iter().map(ToString::to_string).collect();
            format!("credential ({what}) unlocking [{}]", unlocked.join(", "))
        }
        Answer::Anonymous => "null (anonymous)".into(),
        Answer::Refused { kind, message } => {
            format!("{}: {}", kind.as_str(), redact(world, message))
        }
    };
    format!(
        "step {} (line {}): {} asks for {}/{} on behalf of {}: {answer}",
        rec.step + 1,
        rec.line,
        rec.shard,
        rec.request.registry,
        rec.request.repository,
        rec.request.project
    )
}

/// `text` with every registered secret, raw or encoded, replaced by `<kind fingerprint>` (an
/// encoded one with the whole encoded text that holds it).
pub fn redact(world: &World, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in world.cloud.secrets.search(text.as_bytes()) {
        let span = h.span();
        // Overlapping hits were merged by the search; a later one inside a replaced span is gone.
        if span.start < at || !text.is_char_boundary(span.start) || !text.is_char_boundary(span.end)
        {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(&format!(
            "<{} {}>",
            h.secret.kind,
            h.secret.fingerprint.as_str()
        ));
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

fn check_expectation(world: &World, rec: &RequestRecord, failures: &mut Vec<ExpectationFailure>) {
    let mut fail = |message: String| {
        failures.push(ExpectationFailure {
            step: rec.step,
            line: rec.line,
            message,
            expected: None,
        })
    };
    let expected = rec.expect.outcome;
    let got = outcome_of(&rec.answer);
    let got_text = match (&rec.answer, got) {
        (Answer::Refused { message, .. }, Some(o)) => {
            format!("{} ({})", o.as_str(), redact(world, message))
        }
        (Answer::Refused { message, .. }, None) => format!("internal ({})", redact(world, message)),
        (_, Some(o)) => o.as_str().to_owned(),
        (_, None) => "internal".to_owned(),
    };
    if got != Some(expected) {
        fail(format!("expected `{}`, got {got_text}", expected.as_str()));
        return;
    }
    let unlocked = rec.unlocked();
    for u in &rec.expect.unlocks {
        if !unlocked.contains(u) {
            fail(format!("the credential does not unlock {u}"));
        }
    }
    for u in &rec.expect.must_not_unlock {
        if unlocked.contains(u) {
            fail(format!("the credential unlocks {u}, which it must not"));
        }
    }
    if let Some(code) = &rec.expect.error {
        let entra = world
            .cloud
            .entra
            .journal()
            .since(rec.entra_seq.0)
            .into_iter()
            .take(rec.entra_seq.1 - rec.entra_seq.0)
            .filter_map(|e| e.as_token().and_then(|t| t.error_code()))
            .map(|c| format!("AADSTS{c}"))
            .collect::<Vec<_>>();
        let acr = world
            .cloud
            .acr
            .as_ref()
            .map(|a| {
                a.journal()
                    .since(rec.acr_seq.0)
                    .into_iter()
                    .take(rec.acr_seq.1 - rec.acr_seq.0)
                    .filter_map(|e| e.error)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !entra.iter().chain(&acr).any(|c| c.contains(code.as_str())) {
            fail(format!(
                "the cloud never answered {code} during the request (Entra said [{}], ACR said [{}])",
                entra.join(", "),
                acr.join(", ")
            ));
        }
    }
}

/// The world's grants and federated credentials as the steps change them: the oracle for what a
/// project's own identities may pull, computed with mock-acr's own permission rules.
struct Mirror {
    world: model::World,
}

impl Mirror {
    fn new(s: &Scenario) -> Self {
        Self {
            world: s.world.clone(),
        }
    }

    fn apply(&mut self, action: &Action) {
        match action {
            Action::AddRoleAssignment {
                registry,
                assignment,
            } => {
                if let Some(r) = self
                    .world
                    .registries
                    .iter_mut()
                    .find(|r| &r.name == registry)
                {
                    r.role_assignments.push(assignment.clone());
                }
            }
            Action::RemoveRoleAssignment {
                registry,
                principal,
                role,
            } => {
                if let Some(r) = self
                    .world
                    .registries
                    .iter_mut()
                    .find(|r| &r.name == registry)
                {
                    r.role_assignments.retain(|a| {
                        !(a.principal.tenant == principal.tenant
                            && a.principal.name == principal.name
                            && role.is_none_or(|x| x == a.role))
                    });
                }
            }
            Action::AddFederatedCredential {
                identity,
                credential,
            } => {
                if let Some(f) = self.fics_mut(identity) {
                    f.push(credential.clone());
                }
            }
            Action::DeleteFederatedCredential { identity, name } => {
                if let Some(f) = self.fics_mut(identity) {
                    f.retain(|c| &c.name != name);
                }
            }
            _ => {}
        }
    }

    fn fics_mut(
        &mut self,
        who: &model::IdentityRef,
    ) -> Option<&mut Vec<model::FederatedCredential>> {
        let t = self
            .world
            .tenants
            .iter_mut()
            .find(|t| t.name == who.tenant)?;
        if let Some(a) = t.apps.iter_mut().find(|a| a.name == who.name) {
            return Some(&mut a.federated_credentials);
        }
        t.managed_identities
            .iter_mut()
            .find(|m| m.name == who.name)
            .map(|m| &mut m.federated_credentials)
    }

    /// Identities federated to a ServiceAccount of `project` under `issuer`.
    fn project_identities(&self, issuer: &str, project: &str) -> Vec<(String, String, bool)> {
        let prefix = format!("system:serviceaccount:{project}:");
        let mut out = Vec::new();
        for t in &self.world.tenants {
            for (name, fics, multi) in t
                .apps
                .iter()
                .map(|a| (&a.name, &a.federated_credentials, a.multi_tenant))
                .chain(
                    t.managed_identities
                        .iter()
                        .map(|m| (&m.name, &m.federated_credentials, false)),
                )
            {
                if fics
                    .iter()
                    .any(|f| f.issuer == issuer && f.subject.starts_with(&prefix))
                {
                    out.push((t.name.clone(), name.clone(), multi));
                }
            }
        }
        out
    }

    fn project_client_ids(&self, issuer: &str, project: &str) -> Vec<String> {
        let who = self.project_identities(issuer, project);
        self.world
            .tenants
            .iter()
            .flat_map(|t| {
                t.apps
                    .iter()
                    .map(move |a| (&t.name, &a.name, a.client_id))
                    .chain(
                        t.managed_identities
                            .iter()
                            .map(move |m| (&t.name, &m.name, m.client_id)),
                    )
            })
            .filter(|(t, n, _)| who.iter().any(|(wt, wn, _)| wt == *t && wn == *n))
            .map(|(_, _, id)| id.to_string())
            .collect()
    }

    fn project_access(&self, issuer: &str, project: &str) -> BTreeSet<RepositoryRef> {
        let who = self.project_identities(issuer, project);
        let mut out = BTreeSet::new();
        for r in &self.world.registries {
            let mode = match r.auth_mode {
                model::AuthMode::Abac => AuthMode::Abac,
                model::AuthMode::Legacy => AuthMode::Legacy,
            };
            let mut grants = Grants::default();
            for a in &r.role_assignments {
                let ours = who.iter().any(|(t, n, multi)| {
                    *t == a.principal.tenant && *n == a.principal.name && (*t == r.tenant || *multi)
                });
                if ours {
                    let cond = a.condition.as_ref().map(|c| match c {
                        model::RepoCondition::Name(n) => RepoCondition::Name(n.clone()),
                        model::RepoCondition::Prefix(p) => RepoCondition::Prefix(p.clone()),
                    });
                    grants.add_role(mode, role(a.role), cond.as_ref());
                }
            }
            for repo in &r.repositories {
                if grants.allows(&repo.name, AcrAction::Pull) || r.anonymous_pull {
                    out.insert(RepositoryRef {
                        registry: r.name.clone(),
                        repository: repo.name.clone(),
                    });
                }
            }
        }
        out
    }

    fn anonymous_access(&self) -> BTreeSet<RepositoryRef> {
        self.world
            .registries
            .iter()
            .filter(|r| r.anonymous_pull)
            .flat_map(|r| {
                r.repositories.iter().map(move |x| RepositoryRef {
                    registry: r.name.clone(),
                    repository: x.name.clone(),
                })
            })
            .collect()
    }
}
