//! Who may do what: ACR's authorization models, the scope grammar, and the intersection rule.
//!
//! Legacy mode ("RBAC Registry"): `AcrPull` (pull, tag listing, catalog), `AcrPush` (+ push),
//! `AcrDelete` (delete), Owner/Contributor (everything), Reader (pull); the repository roles are
//! not honoured. ABAC mode ("RBAC Registry + ABAC Repository"): only the
//! `Container Registry Repository *` roles count, optionally conditioned on a repository name or
//! prefix (case-insensitive, as `StringEqualsIgnoreCase`/`StringStartsWithIgnoreCase`); catalog
//! listing needs the unscopable Catalog Lister role; legacy roles and Owner/Contributor/Reader give
//! no data-plane access. Reference `acr-oci-k8s.md` §1.9.
//!
//! The token endpoint grants the intersection of the requested and the permitted actions
//! (distribution token spec); an empty grant is not an error there.
//!
//! One inference, written down because the reference does not settle it: a granted `pull` also
//! carries `metadata_read` when the principal is permitted it (RBAC roles, the admin user,
//! anonymous pull, a scope map with `metadata/read`). Tag listing still challenges for
//! `metadata_read`, and a scope map with only `content/read` (`_repositories_pull`) still cannot
//! list tags (Azure/acr #600, #690; argocd-image-updater #1502), while tools that ask for `pull`
//! with Entra or admin credentials (skopeo, crane) list tags on ACR as users report.

use serde::{Deserialize, Serialize};

/// A data-plane action on a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Pull,
    Push,
    Delete,
    MetadataRead,
    MetadataWrite,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Pull,
        Action::Push,
        Action::Delete,
        Action::MetadataRead,
        Action::MetadataWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::MetadataRead => "metadata_read",
            Action::MetadataWrite => "metadata_write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An Azure role that may be assigned on a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    AcrPull,
    AcrPush,
    AcrDelete,
    Owner,
    Contributor,
    Reader,
    /// Container Registry Repository Reader.
    RepositoryReader,
    /// Container Registry Repository Writer.
    RepositoryWriter,
    /// Container Registry Repository Contributor.
    RepositoryContributor,
    /// Container Registry Repository Catalog Lister.
    CatalogLister,
}

impl Role {
    /// The role's display name in Azure.
    pub fn display_name(self) -> &'static str {
        match self {
            Role::AcrPull => "AcrPull",
            Role::AcrPush => "AcrPush",
            Role::AcrDelete => "AcrDelete",
            Role::Owner => "Owner",
            Role::Contributor => "Contributor",
            Role::Reader => "Reader",
            Role::RepositoryReader => "Container Registry Repository Reader",
            Role::RepositoryWriter => "Container Registry Repository Writer",
            Role::RepositoryContributor => "Container Registry Repository Contributor",
            Role::CatalogLister => "Container Registry Repository Catalog Lister",
        }
    }
}

/// The registry's role-assignment permission mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMode {
    #[default]
    Legacy,
    Abac,
}

/// An ABAC condition on the repository name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepoCondition {
    /// `StringEqualsIgnoreCase '<repo>'`
    Name(String),
    /// `StringStartsWithIgnoreCase '<prefix>'`
    Prefix(String),
}

/// Which repositories a grant covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoMatch {
    All,
    Condition(RepoCondition),
}

impl RepoMatch {
    fn covers(&self, repo: &str) -> bool {
        match self {
            RepoMatch::All => true,
            RepoMatch::Condition(RepoCondition::Name(n)) => repo.eq_ignore_ascii_case(n),
            RepoMatch::Condition(RepoCondition::Prefix(p)) => repo
                .to_ascii_lowercase()
                .starts_with(&p.to_ascii_lowercase()),
        }
    }
}

/// Everything a principal may do on a registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    pub catalog: bool,
    pub repos: Vec<(RepoMatch, Vec<Action>)>,
}

impl Grants {
    /// Everything (admin user).
    pub fn all() -> Self {
        Self {
            catalog: true,
            repos: vec![(RepoMatch::All, Action::ALL.to_vec())],
        }
    }

    /// Anonymous pull: pull and tag listing everywhere, no catalog.
    pub fn anonymous() -> Self {
        Self {
            catalog: false,
            repos: vec![(RepoMatch::All, vec![Action::Pull, Action::MetadataRead])],
        }
    }

    /// Whether nothing at all is permitted.
    pub fn is_empty(&self) -> bool {
        !self.catalog && self.repos.iter().all(|(_, a)| a.is_empty())
    }

    /// Whether `action` on `repo` is permitted.
    pub fn allows(&self, repo: &str, action: Action) -> bool {
        self.repos
            .iter()
            .any(|(m, actions)| m.covers(repo) && actions.contains(&action))
    }

    /// Adds what `role` (with `condition`) permits in `mode`.
    pub fn add_role(&mut self, mode: AuthMode, role: Role, condition: Option<&RepoCondition>) {
        use Action::*;
        let scope = || match condition {
            Some(c) => RepoMatch::Condition(c.clone()),
            None => RepoMatch::All,
        };
        let (catalog, actions): (bool, Vec<Action>) = match (mode, role) {
            (AuthMode::Legacy, Role::AcrPull) => (true, vec![Pull, MetadataRead]),
            (AuthMode::Legacy, Role::AcrPush) => {
                (true, vec![Pull, Push, MetadataRead, MetadataWrite])
            }
            (AuthMode::Legacy, Role::AcrDelete) => (false, vec![Delete]),
            (AuthMode::Legacy, Role::Owner | Role::Contributor) => (true, Action::ALL.to_vec()),
            (AuthMode::Legacy, Role::Reader) => (true, vec![Pull, MetadataRead]),
            (AuthMode::Legacy, _) => (false, vec![]),
            (AuthMode::Abac, Role::RepositoryReader) => (false, vec![Pull, MetadataRead]),
            (AuthMode::Abac, Role::RepositoryWriter) => {
                (false, vec![Pull, Push, MetadataRead, MetadataWrite])
            }
            (AuthMode::Abac, Role::RepositoryContributor) => (false, Action::ALL.to_vec()),
            // The catalog lister cannot be scoped by a condition.
            (AuthMode::Abac, Role::CatalogLister) => (true, vec![]),
            (AuthMode::Abac, _) => (false, vec![]),
        };
        self.catalog |= catalog;
        if !actions.is_empty() {
            // Conditions only mean something in ABAC mode.
            let m = if mode == AuthMode::Abac {
                scope()
            } else {
                RepoMatch::All
            };
            self.repos.push((m, actions));
        }
    }

    /// A scope-map action list (`repositories/<repo|*>/content/read`, ...).
    pub fn add_scope_map(&mut self, repo: &str, actions: &[Action]) {
        let m = if repo == "*" {
            RepoMatch::All
        } else {
            RepoMatch::Condition(RepoCondition::Name(repo.to_owned()))
        };
        self.repos.push((m, actions.to_vec()));
    }
}

/// One requested resource scope: `type[(class)]:name:action[,action...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceScope {
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// Why a scope string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed scope {0:?}: expected type:name:action[,action]")]
pub struct ScopeError(pub String);

impl ResourceScope {
    /// Parses one resource scope; the name may hold a `:` (a host port), so actions follow the
    /// last colon.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let bad = || ScopeError(s.to_owned());
        let (head, actions) = s.rsplit_once(':').ok_or_else(bad)?;
        let (typ, name) = head.split_once(':').ok_or_else(bad)?;
        let typ = typ.split('(').next().unwrap_or(typ);
        if typ.is_empty() || name.is_empty() || actions.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            resource_type: typ.to_owned(),
            name: name.to_owned(),
            actions: actions.split(',').map(str::to_owned).collect(),
        })
    }

    /// Parses every scope in the request: repeated parameters, each possibly space-joined.
    pub fn parse_all<'a>(
        params: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Self>, ScopeError> {
        params
            .into_iter()
            .flat_map(str::split_whitespace)
            .map(Self::parse)
            .collect()
    }

    /// `type:name:a,b` again.
    pub fn render(&self) -> String {
        format!(
            "{}:{}:{}",
            self.resource_type,
            self.name,
            self.actions.join(",")
        )
    }
}

/// An entry of an access token's `access` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The intersection of what was requested and what is permitted.
pub fn grant(requested: &[ResourceScope], permitted: &Grants) -> Vec<AccessEntry> {
    let mut out: Vec<AccessEntry> = Vec::new();
    for r in requested {
        let actions: Vec<String> = match r.resource_type.as_str() {
            "registry" if r.name == "catalog" => {
                if permitted.catalog && r.actions.iter().any(|a| a == "*") {
                    vec!["*".into()]
                } else {
                    vec![]
                }
            }
            "repository" => {
                let wanted: Vec<Action> = if r.actions.iter().any(|a| a == "*") {
                    Action::ALL.to_vec()
                } else {
                    r.actions.iter().filter_map(|a| Action::parse(a)).collect()
                };
                let mut granted: Vec<Action> = wanted
                    .into_iter()
                    .filter(|a| permitted.allows(&r.name, *a))
                    .collect();
                if granted.contains(&Action::Pull)
                    && !granted.contains(&Action::MetadataRead)
                    && permitted.allows(&r.name, Action::MetadataRead)
                {
                    granted.push(Action::MetadataRead);
                }
                granted.into_iter().map(|a| a.as_str().to_owned()).collect()
            }
            _ => vec![],
        };
        if actions.is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|e| e.resource_type == r.resource_type && e.name == r.name)
        {
            Some(e) => {
                for a in actions {
                    if !e.actions.contains(&a) {
                        e.actions.push(a);
                    }
                }
            }
            None => out.push(AccessEntry {
                resource_type: r.resource_type.clone(),
                name: r.name.clone(),
                actions,
            }),
        }
    }
    out
}

/// Whether an access list permits `action` on `resource_type:name`.
pub fn access_allows(
    access: &[AccessEntry],
    resource_type: &str,
    name: &str,
    action: &str,
) -> bool {
    access.iter().any(|e| {
        e.resource_type == resource_type
            && e.name == name
            && e.actions.iter().any(|a| a == action || a == "*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_with_ports_classes_and_multiple_forms() {
        let s = ResourceScope::parse("repository:project-a/app:pull,push").unwrap();
        assert_eq!(s.resource_type, "repository");
        assert_eq!(s.name, "project-a/app");
        assert_eq!(s.actions, vec!["pull", "push"]);
        let p = ResourceScope::parse("repository(plugin):host:5000/x:pull").unwrap();
        assert_eq!(p.resource_type, "repository");
        assert_eq!(p.name, "host:5000/x");
        let all = ResourceScope::parse_all([
            "registry:catalog:* repository:a:pull",
            "repository:b:metadata_read",
        ])
        .unwrap();
        assert_eq!(all.len(), 3);
        assert!(ResourceScope::parse("repository:pull").is_err());
        assert!(ResourceScope::parse("nonsense").is_err());
        assert!(ResourceScope::parse("repository::pull").is_err());
    }

    #[test]
    fn legacy_roles_and_abac_roles_differ() {
        let mut legacy = Grants::default();
        legacy.add_role(AuthMode::Legacy, Role::AcrPull, None);
        assert!(legacy.allows("any/repo", Action::Pull));
        assert!(legacy.allows("any/repo", Action::MetadataRead));
        assert!(!legacy.allows("any/repo", Action::Push));
        assert!(legacy.catalog);

        let mut abac = Grants::default();
        abac.add_role(AuthMode::Abac, Role::AcrPull, None);
        abac.add_role(AuthMode::Abac, Role::Owner, None);
        assert!(
            abac.is_empty(),
            "legacy roles are not honoured in ABAC mode"
        );
        abac.add_role(
            AuthMode::Abac,
            Role::RepositoryReader,
            Some(&RepoCondition::Name("Project-A/App".into())),
        );
        assert!(abac.allows("project-a/app", Action::Pull));
        assert!(!abac.allows("project-b/app", Action::Pull));
        assert!(!abac.catalog);
        abac.add_role(
            AuthMode::Abac,
            Role::RepositoryWriter,
            Some(&RepoCondition::Prefix("team/".into())),
        );
        assert!(abac.allows("team/x", Action::Push));
        assert!(!abac.allows("teamx", Action::Push));
        abac.add_role(
            AuthMode::Abac,
            Role::CatalogLister,
            Some(&RepoCondition::Name("ignored".into())),
        );
        assert!(abac.catalog);

        let mut repo_roles_in_legacy = Grants::default();
        repo_roles_in_legacy.add_role(AuthMode::Legacy, Role::RepositoryContributor, None);
        assert!(repo_roles_in_legacy.is_empty());
    }

    #[test]
    fn grants_are_the_intersection_of_requested_and_permitted() {
        let mut g = Grants::default();
        g.add_role(
            AuthMode::Abac,
            Role::RepositoryReader,
            Some(&RepoCondition::Name("a".into())),
        );
        let req = ResourceScope::parse_all([
            "repository:a:pull,push repository:b:pull registry:catalog:*",
        ])
        .unwrap();
        let access = grant(&req, &g);
        assert_eq!(
            access,
            vec![AccessEntry {
                resource_type: "repository".into(),
                name: "a".into(),
                actions: vec!["pull".into(), "metadata_read".into()]
            }]
        );
        // A scope map with content/read only does not get metadata_read with pull.
        let mut pull_only = Grants::default();
        pull_only.add_scope_map("*", &[Action::Pull]);
        let a = grant(
            &ResourceScope::parse_all(["repository:a:pull,metadata_read"]).unwrap(),
            &pull_only,
        );
        assert_eq!(a[0].actions, vec!["pull"]);
        assert!(access_allows(&access, "repository", "a", "pull"));
        assert!(!access_allows(&access, "repository", "a", "push"));
        assert!(!access_allows(&access, "repository", "b", "pull"));
        let star = grant(&ResourceScope::parse_all(["repository:a:*"]).unwrap(), &g);
        assert_eq!(star[0].actions, vec!["pull", "metadata_read"]);
        assert!(grant(&[], &g).is_empty());
    }
}
