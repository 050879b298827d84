//! `cache-partitioning`: a credential obtained for one (project, shard, registry) is never
//! returned for another.
//!
//! Threat: a cache keyed by registry only (Kargo's ACR cache today), so project B gets project A's
//! credential. Evidence: the returned secrets themselves, compared across requests with different
//! keys (only fingerprints appear in reports).

use std::collections::BTreeMap;

use mock_kit::Fingerprint;
use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::evidence::Evidence;

/// Whether `r` handed out a credential that an earlier request with another (shard, project,
/// registry) key got: this property's failure, which the broader properties leave to it.
pub(crate) fn blames(e: &Evidence<'_>, r: &crate::evidence::RequestRecord) -> bool {
    let Some(c) = r.credential() else {
        return false;
    };
    let same_secret = |p: &&crate::evidence::RequestRecord| {
        p.credential().is_some_and(|pc| pc.password == c.password)
    };
    let other_key = |p: &crate::evidence::RequestRecord| {
        p.shard != r.shard
            || p.request.project != r.request.project
            || !p.request.registry.eq_ignore_ascii_case(&r.request.registry)
    };
    if e.requests
        .iter()
        .take_while(|p| p.step < r.step)
        .filter(same_secret)
        .any(&other_key)
    {
        return true;
    }
    // In a `concurrently` step no request is earlier than another: the one that got the
    // credential by its own project's exchange owns it, and every other key it went to is this
    // property's failure.
    e.requests
        .iter()
        .filter(|p| p.step == r.step && !std::ptr::eq(*p, r))
        .filter(same_secret)
        .any(other_key)
        && !super::fail_closed::obtained_by_own_attempt(e, r)
}

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let mut by_secret: BTreeMap<String, Vec<&crate::evidence::RequestRecord>> = BTreeMap::new();
    let mut keys = std::collections::BTreeSet::new();
    for r in &e.requests {
        if let Some(c) = r.credential() {
            by_secret
                .entry(Fingerprint::of(&c.password).as_str().to_owned())
                .or_default()
                .push(r);
            keys.insert((
                r.shard.clone(),
                r.request.project.clone(),
                r.request.registry.to_ascii_lowercase(),
            ));
        }
    }
    if keys.len() < 2 {
        return PropertyResult::not_applicable(
            PropertyId::CachePartitioning,
            "credentials were returned for fewer than two distinct (shard, project, registry) keys",
        );
    }
    let mut result = PropertyResult::new(
        PropertyId::CachePartitioning,
        format!(
            "{} credential(s) for {} distinct (shard, project, registry) keys",
            by_secret.values().map(Vec::len).sum::<usize>(),
            keys.len()
        ),
    );
    for (fp, uses) in by_secret {
        let first = uses[0];
        for r in &uses[1..] {
            if r.shard != first.shard
                || r.request.project != first.request.project
                || !r
                    .request
                    .registry
                    .eq_ignore_ascii_case(&first.request.registry)
            {
                if super::credential_destination::presented_elsewhere(e, first)
                    || super::credential_destination::presented_elsewhere(e, r)
                {
                    continue;
                }
                result.fail_at(
                    r,
                    format!(
                        "the credential obtained for {} on {} for {} was returned for {} on {} for {}",
                        first.request.project,
                        first.shard,
                        first.request.registry,
                        r.request.project,
                        r.shard,
                        r.request.registry
                    ),
                    format!(
                        "secret {fp}: returned at {} for {}/{} ({}) and at {} for {}/{} ({})",
                        at(first),
                        first.shard,
                        first.request.project,
                        first.request.registry,
                        at(r),
                        r.shard,
                        r.request.project,
                        r.request.registry
                    ),
                );
            }
        }
    }
    result
}
