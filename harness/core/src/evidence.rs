//! The evidence of one scenario's run, as the properties read it: every request with what its
//! answer unlocked and where the fakes' journals stood, and what each implementation wrote.
//! The runner ([`crate::run`]) gathers it; the properties ([`crate::properties`]) judge it.

use std::collections::{BTreeMap, BTreeSet};

use credsim_world::world::RunningWorld;
use jiff::Timestamp;
use scenarios::model::{self, RepositoryRef, Scenario};

use crate::implementation::{Answer, CredentialRequest, Output};
use crate::probe::RepositoryProbe;

impl RequestRecord {
    /// Whether an event whose client presented the proxy label `client` may be this request's:
    /// always for a request on its own; in a `concurrently` step, only this shard's (or an
    /// event without a label).
    fn may_be_mine(&self, client: Option<&str>) -> bool {
        self.concurrent.is_empty() || client.is_none_or(|c| c == shard_label(&self.shard))
    }

    /// The Entra token events during the request.
    pub fn entra_events(&self, world: &RunningWorld) -> Vec<mock_entra::journal::TokenEvent> {
        world
            .cloud
            .entra
            .journal()
            .since(self.entra_seq.0)
            .into_iter()
            .take(self.entra_seq.1 - self.entra_seq.0)
            .filter_map(|e| e.as_token().cloned())
            .filter(|t| self.may_be_mine(t.client.as_deref()))
            .collect()
    }

    /// The projects of this shard that were asked for at the same time (a `concurrently` step),
    /// besides this request's own.
    pub fn concurrent_projects(&self) -> impl Iterator<Item = &str> {
        self.concurrent_on_shard().map(|r| r.project.as_str())
    }

    /// The other requests of its `concurrently` step to the same shard.
    pub fn concurrent_on_shard(&self) -> impl Iterator<Item = &CredentialRequest> {
        self.concurrent
            .iter()
            .filter(|(shard, _)| *shard == self.shard)
            .map(|(_, r)| r)
    }

    /// The ACR events during the request.
    pub fn acr_events(&self, world: &RunningWorld) -> Vec<mock_acr::AcrEvent> {
        world
            .cloud
            .acr
            .as_ref()
            .map(|a| {
                a.journal()
                    .since(self.acr_seq.0)
                    .into_iter()
                    .take(self.acr_seq.1 - self.acr_seq.0)
                    .filter(|e| self.may_be_mine(e.client.as_deref()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One request and everything known about it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub step: usize,
    pub line: u32,
    pub shard: String,
    pub request: CredentialRequest,
    pub expect: model::Expect,
    /// The registry of the world the request named, if it named one.
    pub registry: Option<String>,
    /// Virtual time when it was asked.
    pub at: Timestamp,
    pub answer: Answer,
    /// What the returned credential unlocked (empty when none was returned).
    pub probes: Vec<RepositoryProbe>,
    /// What the project's own identities (those federated to its ServiceAccounts on this shard's
    /// issuer) may pull at that moment, and what anyone may pull.
    pub own_access: BTreeSet<RepositoryRef>,
    pub anonymous_access: BTreeSet<RepositoryRef>,
    /// What the project's own identities could pull at an earlier request of the same shard and
    /// project but no longer may: grants the world revoked since. A credential unlocking these
    /// is judged by `revocation` (stale), not by `project-isolation` or `fail-closed` (never
    /// granted), so each flaw trips one property.
    pub revoked_access: BTreeSet<RepositoryRef>,
    /// Client IDs of the project's own identities on this shard.
    pub own_client_ids: Vec<String>,
    /// The other requests of its `concurrently` step, with their shards; empty for a request
    /// on its own. The journals' windows are then the whole step's: the events of one shard are
    /// told apart by the proxy label its implementation used.
    pub concurrent: Vec<(String, CredentialRequest)>,
    /// Sequence numbers of the journals when the request started and ended.
    pub entra_seq: (usize, usize),
    pub acr_seq: (usize, usize),
    pub audit_seq: Vec<(String, usize, usize)>,
    pub egress_seq: (usize, usize),
}

impl RequestRecord {
    /// The repositories the returned credential unlocked.
    pub fn unlocked(&self) -> BTreeSet<RepositoryRef> {
        self.probes
            .iter()
            .filter(|p| p.unlocked())
            .map(|p| RepositoryRef {
                registry: p.registry.clone(),
                repository: p.repository.clone(),
            })
            .collect()
    }

    pub fn credential(&self) -> Option<&crate::implementation::Credential> {
        match &self.answer {
            Answer::Credential(c) => Some(c),
            _ => None,
        }
    }
}

/// Everything a property may look at.
#[derive(Debug)]
pub struct Evidence<'a> {
    pub scenario: &'a Scenario,
    pub world: &'a RunningWorld,
    pub requests: Vec<RequestRecord>,
    /// Per shard: what the implementation wrote, and the files it left in its working directory.
    pub outputs: BTreeMap<String, Output>,
    pub files: BTreeMap<String, Vec<(String, String)>>,
    /// Per shard: whether the implementation follows `clock/set`.
    pub follows_clock: BTreeMap<String, bool>,
    /// Steps that removed a grant: (step index, virtual time).
    pub revocations: Vec<(usize, Timestamp)>,
}

/// The proxy label of a shard's implementation in the egress record.
pub fn shard_label(shard: &str) -> String {
    format!("iut/{shard}")
}
