//! Requests: the shard and project asked, the registry asked about (one of the world's, or a
//! host as a user wrote it), and what must come of it (the outcome, error code, and the
//! repositories the credential must and must not unlock).

use crate::diagnostic::did_you_mean;
use crate::located::Located;
use crate::model;
use crate::v1alpha1 as doc;
use crate::vocab::Outcome;

use super::context::Cx;

/// Distribution and ACR error codes a registry answers with.
pub const ACR_ERROR_CODES: &[&str] = &[
    "UNAUTHORIZED",
    "DENIED",
    "NAME_UNKNOWN",
    "NAME_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_INVALID",
    "BLOB_UNKNOWN",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

impl Cx<'_> {
    /// A request at `path` (`steps[3].request`, `steps[4].concurrently[1]`).
    pub(super) fn request(
        &mut self,
        path: &str,
        r: &doc::Request,
        world: &model::World,
    ) -> Option<model::Request> {
        self.check_shard_and_project(path, r);
        let target = self.request_target(path, r);
        if r.repository.is_empty() {
            self.error(
                r.repository.at,
                format!("{path}.repository"),
                "the repository is empty",
            );
        }
        let expect = self.expect(&format!("{path}.expect"), &r.expect, world);
        let target = target?;
        Some(model::Request {
            shard: r.shard.value.clone(),
            project: r.project.value.clone(),
            target,
            repository: r.repository.value.clone(),
            artifact: r.artifact,
            expect,
        })
    }

    /// The shard is a cluster with a controller, and the project one of its projects.
    fn check_shard_and_project(&mut self, path: &str, r: &doc::Request) {
        let shard = self.clusters.iter().position(|c| c.name == r.shard.value);
        match shard {
            None => {
                let shards: Vec<&str> = self
                    .clusters
                    .iter()
                    .filter(|c| c.has_controller)
                    .map(|c| c.name.as_str())
                    .collect();
                let hint = did_you_mean(&r.shard.value, shards);
                self.error_hint(
                    r.shard.at,
                    format!("{path}.shard"),
                    format!("no shard named `{}`", r.shard.value),
                    hint,
                );
            }
            Some(ci) if !self.clusters[ci].has_controller => self.error(
                r.shard.at,
                format!("{path}.shard"),
                format!(
                    "cluster `{}` has no `controller`, so it is not a shard",
                    r.shard.value
                ),
            ),
            Some(ci) => {
                if !self.clusters[ci].projects.contains(&r.project.value) {
                    let hint = did_you_mean(
                        &r.project.value,
                        self.clusters[ci].projects.iter().map(String::as_str),
                    );
                    self.error_hint(
                        r.project.at,
                        format!("{path}.project"),
                        format!(
                            "shard `{}` has no project `{}`",
                            r.shard.value, r.project.value
                        ),
                        hint,
                    );
                }
            }
        }
    }

    /// The registry asked about: exactly one of `registry` and `host`.
    fn request_target(&mut self, path: &str, r: &doc::Request) -> Option<model::RegistryTarget> {
        match (&r.registry, &r.host) {
            (Some(reg), None) => self
                .registry_ref(reg, &format!("{path}.registry"))
                .map(|_| model::RegistryTarget::Named {
                    name: reg.value.clone(),
                    login_server: format!("{}.azurecr.io", reg.value.to_ascii_lowercase()),
                }),
            (None, Some(h)) => {
                if h.trim().is_empty() {
                    self.error(h.at, format!("{path}.host"), "the host is empty");
                }
                Some(model::RegistryTarget::Host(h.value.clone()))
            }
            (Some(_), Some(h)) => {
                self.error(
                    h.at,
                    format!("{path}.host"),
                    "give either `registry` or `host`, not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    r.shard.at,
                    path.to_owned(),
                    "a request needs `registry` (a registry of the world) or `host` (as a user wrote it)",
                );
                None
            }
        }
    }

    /// What must come of a request: `unlocks` and `mustNotUnlock` only when it is granted (and
    /// disjoint), `error` only when it is refused.
    fn expect(&mut self, path: &str, e: &doc::Expect, world: &model::World) -> model::Expect {
        let outcome = e.outcome.value;
        if outcome != Outcome::Granted
            && let Some(u) = e.unlocks.first().or(e.must_not_unlock.first())
        {
            self.error(
                u.at,
                path.to_owned(),
                format!(
                    "`unlocks` and `mustNotUnlock` apply only to `outcome: granted` (this is `{}`)",
                    outcome.as_str()
                ),
            );
        }
        if let Some(code) = &e.error {
            self.check_error_code(path, code, outcome);
        }
        let unlocks = self.repository_refs(path, "unlocks", &e.unlocks, world);
        let must_not_unlock =
            self.repository_refs(path, "mustNotUnlock", &e.must_not_unlock, world);
        if let Some(both) = unlocks.iter().find(|u| must_not_unlock.contains(u)) {
            self.error(
                e.outcome.at,
                path.to_owned(),
                format!("`{both}` is in both `unlocks` and `mustNotUnlock`"),
            );
        }
        model::Expect {
            outcome,
            unlocks,
            must_not_unlock,
            error: e.error.as_ref().map(|c| c.value.clone()),
        }
    }

    /// An expected error code: with a refusal, and an Entra or ACR code.
    fn check_error_code(&mut self, path: &str, code: &Located<String>, outcome: Outcome) {
        if !matches!(outcome, Outcome::Denied | Outcome::Unavailable) {
            self.error(
                code.at,
                format!("{path}.error"),
                format!(
                    "`error` applies only to `outcome: denied` or `unavailable` (this is `{}`)",
                    outcome.as_str()
                ),
            );
        }
        if !is_error_code(code) {
            let hint = did_you_mean(&code.value, ACR_ERROR_CODES.iter().copied());
            self.error_hint(
                code.at,
                format!("{path}.error"),
                format!(
                    "`{}` is neither an Entra code (`AADSTS` and digits) nor an ACR code ({})",
                    code.value,
                    ACR_ERROR_CODES
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                hint,
            );
        }
    }

    /// The repositories of `list` (the expectation's `field`), each `<registry>/<repository>` of
    /// a repository in the world.
    fn repository_refs(
        &mut self,
        path: &str,
        field: &str,
        list: &[Located<String>],
        world: &model::World,
    ) -> Vec<model::RepositoryRef> {
        let mut out = Vec::new();
        for (i, u) in list.iter().enumerate() {
            let found = u.split_once('/').and_then(|(reg, repo)| {
                world
                    .registry(reg)
                    .filter(|r| r.repositories.iter().any(|x| x.name == repo))
                    .map(|_| model::RepositoryRef {
                        registry: reg.to_owned(),
                        repository: repo.to_owned(),
                    })
            });
            match found {
                Some(r) => out.push(r),
                None => {
                    let all: Vec<String> = world
                        .registries
                        .iter()
                        .flat_map(|r| {
                            r.repositories
                                .iter()
                                .map(move |x| format!("{}/{}", r.name, x.name))
                        })
                        .collect();
                    let hint = did_you_mean(&u.value, all.iter().map(String::as_str));
                    self.error_hint(
                        u.at,
                        format!("{path}.{field}[{i}]"),
                        format!(
                            "`{}` is not `<registry>/<repository>` of a repository in the world",
                            u.value
                        ),
                        hint,
                    );
                }
            }
        }
        out
    }
}

fn is_error_code(code: &str) -> bool {
    code.strip_prefix("AADSTS")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        || ACR_ERROR_CODES.contains(&code)
}
