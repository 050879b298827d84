//! Requests replayed: one at a time or a `concurrently` step, every answer probed and recorded
//! with the journals' window it ran in, then settled (expectation checked, outcome noted).

use std::collections::BTreeSet;
use std::time::Instant;

use jiff::Timestamp;
use scenarios::model::{self, Scenario};

use crate::evidence::RequestRecord;
use crate::result::{Observed, ScenarioResult, outcome_of};

use crate::implementation::{Answer, CredentialRequest};
use crate::probe::probe_credential;
use credsim_world::world::RunningWorld;

use super::RunError;
use super::expectation::check_expectation;
use super::micros;
use super::mirror::Mirror;
use super::shards::Shard;
use super::transcript::{describe_request, flow};

/// What every request of one replay reads: the scenario, its running world, and the mirror of
/// what each project may pull as the steps so far left it.
pub(super) struct Stage<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) world: &'a RunningWorld,
    pub(super) mirror: &'a Mirror,
}

/// Where a step is: its index among the steps and its line in the scenario file.
#[derive(Clone, Copy)]
pub(super) struct At {
    pub(super) step: usize,
    pub(super) line: u32,
}

/// A request on its own, asked of its shard's implementation and recorded.
pub(super) async fn request(
    stage: &Stage<'_>,
    shards: &mut [Shard],
    At { step, line }: At,
    r: &model::Request,
    result: &mut ScenarioResult,
) -> Result<RequestRecord, RunError> {
    let world = stage.world;
    let cloud = &world.cloud;
    let shard = shards
        .iter_mut()
        .find(|sh| sh.name == r.shard)
        .ok_or_else(|| RunError::NoShard(r.shard.clone()))?;
    let req = credential_request(r);
    let before = Seqs::of(cloud);
    let at = cloud.clock.now();
    let imp = shard.imp.as_mut().ok_or(RunError::ImplementationGone)?;
    let t = Instant::now();
    let answer = imp.get(&req).await.map_err(|error| RunError::Request {
        step,
        line,
        shard: r.shard.clone(),
        error,
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
    record(stage, r, req, answer, window, result).await
}

/// Finishes a request's record: the grants revoked since an earlier request of the same shard
/// and project, its expectation checked, what it came to noted; then keeps it.
pub(super) fn settle(
    world: &RunningWorld,
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
pub(super) struct Seqs {
    pub(super) entra: usize,
    pub(super) acr: usize,
    pub(super) audit: Vec<(String, usize)>,
    pub(super) egress: usize,
}

impl Seqs {
    pub(super) fn of(cloud: &credsim_world::cloud::Cloud) -> Self {
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
pub(super) struct Window {
    pub(super) step: usize,
    pub(super) line: u32,
    pub(super) at: Timestamp,
    pub(super) before: Seqs,
    pub(super) after: Seqs,
    pub(super) concurrent: Vec<(String, CredentialRequest)>,
}

/// `credentials/get`'s parameters for a request step.
pub(super) fn credential_request(r: &model::Request) -> CredentialRequest {
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
pub(super) async fn concurrently(
    stage: &Stage<'_>,
    shards: &mut [Shard],
    At { step, line }: At,
    rs: &[model::Request],
    result: &mut ScenarioResult,
) -> Result<Vec<RequestRecord>, RunError> {
    let world = stage.world;
    let cloud = &world.cloud;
    for r in rs {
        if !shards.iter().any(|sh| sh.name == r.shard) {
            return Err(RunError::NoShard(r.shard.clone()));
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
        let imp = sh.imp.as_mut().ok_or(RunError::ImplementationGone)?;
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
        let batch = outcome.map_err(|error| RunError::Request {
            step,
            line,
            shard: shard.clone(),
            error,
        })?;
        if !batch.overlapped && idx.len() > 1 {
            result.transcript.push(format!(
                "step {} (line {line}): {shard}: its implementation's protocol cannot overlap requests; the {} requests were sent one after another",
                step + 1,
                idx.len()
            ));
        }
        if batch.answers.len() != idx.len() {
            return Err(RunError::AnswerCount {
                step,
                line,
                shard,
                answers: batch.answers.len(),
                requests: idx.len(),
            });
        }
        for (i, a) in idx.into_iter().zip(batch.answers) {
            answers[i] = Some(a);
        }
    }
    let mut out = Vec::new();
    for (i, (r, answer)) in rs.iter().zip(answers).enumerate() {
        let Some(answer) = answer else {
            return Err(RunError::NoAnswer { step, line });
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
        out.push(record(stage, r, credential_request(r), answer, window, result).await?);
    }
    Ok(out)
}

pub(super) fn clone_seqs(s: &Seqs) -> Seqs {
    Seqs {
        entra: s.entra,
        acr: s.acr,
        audit: s.audit.clone(),
        egress: s.egress,
    }
}

/// Probes a request's answer and records it with its window.
pub(super) async fn record(
    stage: &Stage<'_>,
    r: &model::Request,
    req: CredentialRequest,
    answer: Answer,
    w: Window,
    result: &mut ScenarioResult,
) -> Result<RequestRecord, RunError> {
    let Stage {
        scenario: s,
        world,
        mirror,
    } = *stage;
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
        Answer::Credential(c) => probe_credential(cloud, &c.username, &c.password).await?,
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
