//! The security properties of `design/properties.md`, judged from evidence.
//!
//! Each property lives in its own module whose doc comment states the claim, the threat and the
//! evidence. Each returns `pass`, `fail` with the evidence that shows it, or `not-applicable` with
//! the reason, and always says how much evidence it examined, so a pass is never vacuous.
//! Properties never look at what the implementation says about itself: only at what its
//! credentials unlocked when the harness used them, the fakes' journals, the front door's egress
//! record, and what it wrote.
//!
//! One returned credential can break several claims at once (project B gets project A's cached
//! credential: B unlocks what it was never granted). The most specific diagnosis judges it, so a
//! report names the cause and each broken implementation of the catalogue trips one property:
//! a long-lived secret handed out (an app's client secret, an admin password) is `short-lived`'s;
//! a credential returned for a registry whose host is not the one it was minted for (what the
//! OCI client will present it to) is `credential-destination`'s; a credential another (shard,
//! project, registry) got first is `cache-partitioning`'s; access
//! revoked since an earlier request is `revocation`'s; a credential handed out after the project's
//! own attempt failed or found no configuration is `fail-closed`'s (which passes it only when the
//! policy allows that fallback, broader by design); anything else a credential unlocks beyond the
//! project's grants is `project-isolation`'s.

use scenarios::model::PropertyId;
use serde::Serialize;

use crate::evidence::Evidence;

mod audience_bound;
mod cache_partitioning;
mod credential_destination;
mod dedicated_service_account;
mod fail_closed;
mod least_privilege;
mod no_secret_leak;
mod project_isolation;
mod revocation;
mod shard_isolation;
mod short_lived;
mod tenant_isolation;
mod tls_verification;

/// A property's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyVerdict {
    Pass,
    Fail,
    NotApplicable,
}

impl PropertyVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyVerdict::Pass => "pass",
            PropertyVerdict::Fail => "fail",
            PropertyVerdict::NotApplicable => "not-applicable",
        }
    }
}

/// A property's verdict with its grounds.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyResult {
    pub id: PropertyId,
    pub verdict: PropertyVerdict,
    /// Why it failed or does not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How much evidence was examined, e.g. "3 credentials probed against 8 repositories".
    pub examined: String,
    /// The evidence that shows a failure: journal entries, repositories, file lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The expectations file's reason, when this failure was expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// The scenario line of the first step that shows the failure, when a step does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// How long judging it took, in microseconds (for the corpus benchmark; not reported).
    #[serde(skip)]
    pub judged_us: u64,
}

impl PropertyResult {
    fn new(id: PropertyId, examined: impl Into<String>) -> Self {
        Self {
            id,
            verdict: PropertyVerdict::Pass,
            reason: None,
            examined: examined.into(),
            evidence: Vec::new(),
            expected_failure: None,
            line: None,
            judged_us: 0,
        }
    }

    fn not_applicable(id: PropertyId, reason: impl Into<String>) -> Self {
        Self {
            id,
            verdict: PropertyVerdict::NotApplicable,
            reason: Some(reason.into()),
            examined: "nothing that exercises it".into(),
            evidence: Vec::new(),
            expected_failure: None,
            line: None,
            judged_us: 0,
        }
    }

    /// [`PropertyResult::fail`], remembering the step's line for reports.
    fn fail_at(
        &mut self,
        r: &crate::evidence::RequestRecord,
        reason: impl Into<String>,
        evidence: impl Into<String>,
    ) {
        self.line.get_or_insert(r.line);
        self.fail(reason, evidence);
    }

    /// Adds one piece of failing evidence (the first sets the reason).
    fn fail(&mut self, reason: impl Into<String>, evidence: impl Into<String>) {
        if self.verdict != PropertyVerdict::Fail {
            self.verdict = PropertyVerdict::Fail;
            self.reason = Some(reason.into());
        }
        self.evidence.push(evidence.into());
    }
}

/// The claim of a property, for reports.
pub fn claim(id: PropertyId) -> &'static str {
    match id {
        PropertyId::ProjectIsolation => {
            "a credential handed out for project P unlocks nothing that P's own identity is not granted"
        }
        PropertyId::CachePartitioning => {
            "a credential obtained for one (project, shard, registry) is never returned for another"
        }
        PropertyId::TenantIsolation => {
            "tokens of tenant T are only presented to endpoints of tenant T"
        }
        PropertyId::ShardIsolation => {
            "a controller on shard X only uses shard X's cluster, issuer and client-ID mapping"
        }
        PropertyId::FailClosed => {
            "when configuration is missing or wrong, the implementation returns an error, not a credential from a broader identity"
        }
        PropertyId::DedicatedServiceAccount => {
            "TokenRequests are made only for the designated ServiceAccount, only in project namespaces"
        }
        PropertyId::AudienceBound => {
            "every ServiceAccount token requested is for the exchange audience only and no longer-lived than allowed"
        }
        PropertyId::LeastPrivilege => {
            "registry access tokens requested cover only the repository and actions needed"
        }
        PropertyId::ShortLived => {
            "returned credentials expire within the limit; no long-lived secret is handed out"
        }
        PropertyId::CredentialDestination => {
            "every secret is presented only to the host it was minted for, over TLS"
        }
        PropertyId::NoSecretLeak => {
            "no secret minted during the run appears in the implementation's output or files"
        }
        PropertyId::Revocation => {
            "after the world removes a grant, working credentials stop within the staleness bound"
        }
        PropertyId::TlsVerification => {
            "no secret is sent over, and no credential returned after, a connection whose certificate should have been refused"
        }
    }
}

/// Properties whose verdict depends on the implementation following the virtual clock.
const TIME_DEPENDENT: [PropertyId; 2] = [PropertyId::Revocation, PropertyId::ShortLived];

/// Judges every property the scenario asks for.
pub fn judge(e: &Evidence<'_>) -> Vec<PropertyResult> {
    let advances = e
        .scenario
        .steps
        .iter()
        .any(|s| matches!(s.action, scenarios::model::Action::Advance(_)));
    let deaf: Vec<&String> = e
        .follows_clock
        .iter()
        .filter(|(_, follows)| !**follows)
        .map(|(shard, _)| shard)
        .collect();
    e.scenario
        .judged_properties()
        .into_iter()
        .map(|id| {
            let t = std::time::Instant::now();
            let mut result = judge_one(e, id, advances, &deaf);
            result.judged_us = t.elapsed().as_micros() as u64;
            result
        })
        .collect()
}

fn judge_one(e: &Evidence<'_>, id: PropertyId, advances: bool, deaf: &[&String]) -> PropertyResult {
    match id {
        id if advances && !deaf.is_empty() && TIME_DEPENDENT.contains(&id) => {
            PropertyResult::not_applicable(
                id,
                format!(
                    "the scenario moves the clock and the implementation on {} cannot follow it (`clock/set` is not supported)",
                    deaf.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
        PropertyId::ProjectIsolation => project_isolation::judge(e),
        PropertyId::CachePartitioning => cache_partitioning::judge(e),
        PropertyId::TenantIsolation => tenant_isolation::judge(e),
        PropertyId::ShardIsolation => shard_isolation::judge(e),
        PropertyId::FailClosed => fail_closed::judge(e),
        PropertyId::DedicatedServiceAccount => dedicated_service_account::judge(e),
        PropertyId::AudienceBound => audience_bound::judge(e),
        PropertyId::LeastPrivilege => least_privilege::judge(e),
        PropertyId::ShortLived => short_lived::judge(e),
        PropertyId::CredentialDestination => credential_destination::judge(e),
        PropertyId::NoSecretLeak => no_secret_leak::judge(e),
        PropertyId::Revocation => revocation::judge(e),
        PropertyId::TlsVerification => tls_verification::judge(e),
    }
}

/// `step N (line L)` for evidence lines.
fn at(r: &crate::evidence::RequestRecord) -> String {
    format!("step {} (line {})", r.step + 1, r.line)
}

/// The controller TokenRequests of every shard: (shard, audit event).
fn controller_token_requests(e: &Evidence<'_>) -> Vec<(String, mock_k8s::AuditEvent)> {
    let mut out = Vec::new();
    for (cluster, ctl) in e.scenario.shards() {
        let user = format!(
            "system:serviceaccount:{}:{}",
            ctl.namespace, ctl.service_account
        );
        if let Some(k8s) = e.world.cloud.cluster(&cluster.name) {
            for ev in k8s
                .audit()
                .filter(|a| a.user == user && a.token_request.is_some())
            {
                out.push((cluster.name.clone(), ev));
            }
        }
    }
    out
}

/// Egress records of the implementations (labelled `iut/<shard>`), with the shard.
fn iut_egress(e: &Evidence<'_>) -> Vec<(String, mock_kit::EgressRecord)> {
    e.world
        .cloud
        .door
        .egress()
        .snapshot()
        .into_iter()
        .filter_map(|r| {
            let shard = r.client.label.as_deref()?.strip_prefix("iut/")?.to_owned();
            Some((shard, r))
        })
        .collect()
}
