//! `credsim ctl save`: a live session as a scenario. The world as it started, the changes
//! `credsim ctl` applied, and the requests the fakes saw, as `request` steps with the outcomes
//! observed, in the order they happened.
//!
//! A scenario's request is a project's, on a shard, for a repository of a registry. The fakes see
//! HTTP, so a request is read back from the flow a workload-identity client leaves (the choice,
//! written down here because no reference settles it):
//!
//! - Entra issued a token to a principal for a federated assertion whose issuer is a shard's and
//!   whose subject is a ServiceAccount of one of its projects: that principal acts for that
//!   (shard, project) until another such token says otherwise.
//! - ACR's token endpoint asked for `repository:R:pull` by such a principal is a request for R:
//!   `granted` when the grant holds `pull`; `denied` when ACR answered 401/403, `unavailable`
//!   for 429 and 5xx. When ACR answered but the grant does not hold `pull` for R, the exchange
//!   gave the project a credential for the registry that does not unlock R: `granted` with
//!   `mustNotUnlock: [R]`, which is what an implementation that hands out the registry's
//!   credential (the reference, Kargo) must satisfy. One that checks each repository before
//!   answering answers `denied` there instead; edit the step for it.
//! - A refusal before that point (Entra refusing the assertion, ACR refusing the exchange, a fault
//!   answering) is a request too, for the repository the flow was after: the one the registry's
//!   last challenge named, or else the one the project asked for last; with neither it is left
//!   out (nothing says what it was for).
//! - A refusal while an earlier grant to the same project for the same repository is younger than
//!   the world's ACR refresh-token lifetime is written as the corpus's `revocation-while-cached`
//!   writes it: `granted` (a conforming implementation may still hand out the credential it
//!   cached) with `mustNotUnlock` for a denial, so that the credential handed out must no longer
//!   work, and no unlock claim for an outage. Past that lifetime it is the refusal observed. An
//!   implementation that caches nothing answers `denied` there instead; edit the step for it.
//! - The same request with the same outcome twice in a row, with no change between, is one step
//!   (a client asks for a token more than once per pull).
//!
//! Requests by principals no shard's project stands for (a client secret, IMDS) cannot be written
//! as a project's request and are left out; the saved file says how many.

use std::collections::HashMap;

use mock_acr::AcrEvent;
use mock_entra::journal::{EntraEvent, TokenEvent, TokenOutcome};
use scenarios::model::{
    self, Action, ArtifactKind, Expect, Outcome, RegistryTarget, RepositoryRef, Request, Scenario,
    Step,
};
use uuid::Uuid;

use super::events::{Happened, LiveEvent};

/// A recorded session.
#[derive(Clone, Debug)]
pub struct Recording {
    pub scenario: Scenario,
    /// Registry requests no project stands for (left out).
    pub left_out: usize,
}

/// The session as a scenario named `name`: `started` (the world as it started), the `applied`
/// changes (each with the number of its event), and the requests read from `events`.
pub fn record(
    started: &Scenario,
    events: &[LiveEvent],
    applied: &[(usize, Step)],
    name: &str,
) -> Recording {
    let mut r = Reader {
        world: started.world.clone(),
        acting: HashMap::new(),
        challenged: HashMap::new(),
        asked: HashMap::new(),
        steps: Vec::new(),
        last_request: None,
        left_out: 0,
        now: jiff::Timestamp::UNIX_EPOCH,
        granted_at: HashMap::new(),
    };
    let mut changes = applied.iter().peekable();
    for e in events {
        r.now = e.at;
        while let Some((_, step)) = changes.next_if(|(seq, _)| *seq <= e.seq) {
            r.change(step.clone());
        }
        match &e.happened {
            Happened::Entra(EntraEvent::Token(t)) => r.entra(t),
            Happened::Acr(a) => r.acr(a),
            _ => {}
        }
    }
    for (_, step) in changes {
        r.change(step.clone());
    }
    let mut scenario = started.clone();
    scenario.name = name.to_owned();
    scenario.description = Some(format!(
        "Recorded by `credsim ctl save` from a `credsim up` session of {}: the world as it started, the changes applied and the requests seen, with their outcomes.",
        started.name
    ));
    scenario.tags = vec!["recorded".into()];
    scenario.steps = r.steps;
    Recording {
        scenario,
        left_out: r.left_out,
    }
}

/// (shard, project).
type Acting = (String, String);

/// What the fakes showed of one request for a repository.
#[derive(Clone, Copy)]
enum Seen {
    /// ACR granted `pull` on it.
    Granted,
    /// ACR answered the registry token request, without `pull` on it.
    WithoutPull,
    /// Refused (by Entra, the exchange, the token endpoint or a fault) with this outcome.
    Refused(Outcome),
}

struct Reader {
    /// The world as the changes so far made it (a project a change added is one requests can
    /// stand for).
    world: model::World,
    /// Principal (object ID) → the shard and project it last federated for.
    acting: HashMap<Uuid, Acting>,
    /// Registry → the repository its last challenge (or API call) named.
    challenged: HashMap<String, String>,
    /// (shard, project) → (registry, repository) it asked for last.
    asked: HashMap<Acting, (String, String)>,
    steps: Vec<Step>,
    last_request: Option<Request>,
    left_out: usize,
    /// The time of the event being read.
    now: jiff::Timestamp,
    /// When each (shard, project, registry, repository) was last granted.
    granted_at: HashMap<(Acting, String, String), jiff::Timestamp>,
}

impl Reader {
    fn change(&mut self, step: Step) {
        self.world.add(&step.action);
        self.steps.push(step);
        self.last_request = None;
    }

    fn entra(&mut self, t: &TokenEvent) {
        let Some(acting) = t.assertion.as_ref().and_then(|a| {
            self.project_of(
                a.iss.as_deref().unwrap_or(""),
                a.sub.as_deref().unwrap_or(""),
            )
        }) else {
            return;
        };
        match &t.outcome {
            TokenOutcome::Issued { object_id, .. } => {
                self.acting.insert(*object_id, acting);
            }
            TokenOutcome::Error { .. } => {
                self.refused_before_registry(acting, Outcome::Denied, None)
            }
            TokenOutcome::Faulted { status } => {
                let outcome = if *status == 429 || *status >= 500 {
                    Outcome::Unavailable
                } else {
                    Outcome::Denied
                };
                self.refused_before_registry(acting, outcome, None);
            }
        }
    }

    fn acr(&mut self, a: &AcrEvent) {
        let Some(registry) = self.registry_name(&a.registry) else {
            return;
        };
        let acting = a
            .principal
            .as_deref()
            .and_then(|p| Uuid::parse_str(p).ok())
            .and_then(|p| self.acting.get(&p).cloned());
        match a.endpoint.as_str() {
            "api" => {
                if let Some(repo) = repository_of_path(&a.path) {
                    self.challenged.insert(registry, repo);
                }
            }
            "exchange" if a.status >= 400 => match acting {
                Some(acting) => {
                    let outcome = outcome_of_status(a.status);
                    self.refused_before_registry(acting, outcome, Some(&registry));
                }
                None => self.left_out += 1,
            },
            "token" => {
                let Some(acting) = acting else {
                    self.left_out += 1;
                    return;
                };
                for repo in pulls(&a.requested) {
                    let seen = if a.status >= 400 {
                        Seen::Refused(outcome_of_status(a.status))
                    } else if grants_pull(&a.granted, &repo) {
                        Seen::Granted
                    } else {
                        Seen::WithoutPull
                    };
                    self.request(acting.clone(), &registry, &repo, seen);
                }
            }
            _ => {}
        }
    }

    /// A refusal before the registry's token endpoint: a request for what the flow was after.
    fn refused_before_registry(
        &mut self,
        acting: Acting,
        outcome: Outcome,
        registry: Option<&str>,
    ) {
        let target = registry
            .and_then(|r| {
                self.challenged
                    .get(r)
                    .map(|repo| (r.to_owned(), repo.clone()))
            })
            .or_else(|| self.asked.get(&acting).cloned());
        match target {
            Some((registry, repo)) => {
                let seen = if outcome == Outcome::Granted {
                    Seen::Granted
                } else {
                    Seen::Refused(outcome)
                };
                self.request(acting, &registry, &repo, seen);
            }
            None => self.left_out += 1,
        }
    }

    fn request(&mut self, (shard, project): Acting, registry: &str, repo: &str, seen: Seen) {
        let Some(reg) = self.world.registry(registry) else {
            return;
        };
        self.asked.insert(
            (shard.clone(), project.clone()),
            (registry.to_owned(), repo.to_owned()),
        );
        let this = RepositoryRef {
            registry: registry.to_owned(),
            repository: repo.to_owned(),
        };
        let key = (
            (shard.clone(), project.clone()),
            registry.to_owned(),
            repo.to_owned(),
        );
        let lifetime = i64::try_from(self.world.options.acr_refresh_token_lifetime.as_secs())
            .unwrap_or(i64::MAX);
        let cached = self
            .granted_at
            .get(&key)
            .is_some_and(|t| self.now.as_second() - t.as_second() < lifetime);
        let (outcome, unlocks, must_not_unlock) = match seen {
            Seen::Granted => {
                self.granted_at.insert(key, self.now);
                (Outcome::Granted, vec![this], Vec::new())
            }
            Seen::WithoutPull | Seen::Refused(Outcome::Denied) if cached => {
                (Outcome::Granted, Vec::new(), vec![this])
            }
            Seen::WithoutPull => (Outcome::Granted, Vec::new(), vec![this]),
            Seen::Refused(_) if cached => (Outcome::Granted, Vec::new(), Vec::new()),
            Seen::Refused(other) => (other, Vec::new(), Vec::new()),
        };
        let request = Request {
            shard,
            project,
            target: RegistryTarget::Named {
                name: reg.name.clone(),
                login_server: reg.login_server.clone(),
            },
            repository: repo.to_owned(),
            artifact: artifact_of(reg, repo),
            expect: Expect {
                outcome,
                unlocks,
                must_not_unlock,
                error: None,
            },
        };
        if self.last_request.as_ref() == Some(&request) {
            return;
        }
        self.last_request = Some(request.clone());
        self.steps.push(Step {
            at: scenarios::located::Pos::new(1, 1),
            action: Action::Request(request),
        });
    }

    /// The shard and project a federated assertion stands for: the issuer is a shard's, the
    /// subject a ServiceAccount of one of its projects.
    fn project_of(&self, iss: &str, sub: &str) -> Option<Acting> {
        let (ns, _sa) = sub
            .strip_prefix("system:serviceaccount:")?
            .split_once(':')?;
        let cluster = self.world.clusters.iter().find(|c| {
            c.controller.is_some() && c.issuer.trim_end_matches('/') == iss.trim_end_matches('/')
        })?;
        cluster
            .project(ns)
            .map(|p| (cluster.name.clone(), p.name.clone()))
    }

    /// The world's registry an event names (by name or login server).
    fn registry_name(&self, r: &str) -> Option<String> {
        self.world
            .registries
            .iter()
            .find(|reg| reg.name == r || reg.login_server == r)
            .map(|reg| reg.name.clone())
    }
}

fn outcome_of_status(status: u16) -> Outcome {
    if status == 429 || status >= 500 {
        Outcome::Unavailable
    } else {
        Outcome::Denied
    }
}

/// The repository an API path names: the OCI API's `/v2/<repository>/manifests/<ref>` (or
/// `blobs`, `tags`), and ACR's own `/acr/v1/<repository>/_tags` (or `_manifests`), which the
/// Azure SDKs read.
fn repository_of_path(path: &str) -> Option<String> {
    let path = path.split('?').next()?;
    let (rest, seps): (&str, &[&str]) = if let Some(rest) = path.strip_prefix("/v2/") {
        (rest, &["/manifests/", "/blobs/", "/tags/"])
    } else {
        (path.strip_prefix("/acr/v1/")?, &["/_tags", "/_manifests"])
    };
    seps.iter()
        .find_map(|sep| rest.split_once(sep).map(|(repo, _)| repo.to_owned()))
        .filter(|r| !r.is_empty())
}

/// Whether an action reads a repository: `pull` (the OCI clients), `metadata_read` (the Azure
/// SDKs' manifest and tag reads), or every action. A scenario's request is a credential to read
/// the repository, so either counts as one.
fn reads(action: &str) -> bool {
    matches!(action, "pull" | "metadata_read" | "*")
}

/// The repositories `repository:<name>:<actions>` scopes ask to read.
fn pulls(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.iter().flat_map(|s| s.split(' ')) {
        if let Some((name, actions)) = s
            .strip_prefix("repository:")
            .and_then(|r| r.rsplit_once(':'))
            && actions.split(',').any(reads)
            && !out.iter().any(|o| o == name)
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// Whether the granted scopes let `repo` be read.
fn grants_pull(granted: &[String], repo: &str) -> bool {
    granted
        .iter()
        .flat_map(|s| s.split(' '))
        .filter_map(|s| s.strip_prefix("repository:"))
        .filter_map(|r| r.rsplit_once(':'))
        .any(|(name, actions)| name == repo && actions.split(',').any(reads))
}

/// A repository's artifact kind, from its first artifact (a request names what it pulls).
fn artifact_of(reg: &model::Registry, repo: &str) -> ArtifactKind {
    reg.repositories
        .iter()
        .find(|r| r.name == repo)
        .and_then(|r| r.artifacts.first())
        .map_or(ArtifactKind::default(), |a| a.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_scopes_name_repositories() {
        assert_eq!(
            repository_of_path("/v2/project-a/app/manifests/1.0.0"),
            Some("project-a/app".into())
        );
        assert_eq!(repository_of_path("/v2/"), None);
        assert_eq!(
            repository_of_path("/acr/v1/project-a/app/_tags/1.0.0"),
            Some("project-a/app".into())
        );
        assert_eq!(repository_of_path("/v2/_catalog"), None);
        assert_eq!(
            pulls(&[
                "repository:project-a/app:pull".into(),
                "registry:catalog:*".into()
            ]),
            vec!["project-a/app".to_owned()]
        );
        assert!(pulls(&["repository:project-a/app:push".into()]).is_empty());
        assert_eq!(
            pulls(&["repository:project-b/app:metadata_read".into()]),
            vec!["project-b/app".to_owned()]
        );
        assert!(grants_pull(
            &["repository:project-a/app:pull".into()],
            "project-a/app"
        ));
        assert!(!grants_pull(
            &["repository:project-a/app:pull".into()],
            "project-b/app"
        ));
        assert!(!grants_pull(&[], "project-a/app"));
    }
}
