//! Property: for random role-assignment sets, the repositories a principal can pull and list on a
//! registry are exactly those the role model says (an oracle written here, independently of the
//! fake's policy code), in legacy and ABAC mode; never more.

mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use mock_acr::AssignmentSpec;
use mock_acr::policy::{RepoCondition, Role};
use proptest::prelude::*;
use support::*;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The tests share one world and change its role assignments: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| runtime().block_on(World::new()))
}

const REPOS: [&str; 4] = [
    "charts/guestbook",
    "project-a/app",
    "project-b/app",
    "team/tools",
];

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::AcrPull),
        Just(Role::AcrPush),
        Just(Role::AcrDelete),
        Just(Role::Owner),
        Just(Role::Contributor),
        Just(Role::Reader),
        Just(Role::RepositoryReader),
        Just(Role::RepositoryWriter),
        Just(Role::RepositoryContributor),
        Just(Role::CatalogLister),
    ]
}

fn condition() -> impl Strategy<Value = Option<RepoCondition>> {
    prop_oneof![
        Just(None),
        prop::sample::select(REPOS.to_vec())
            .prop_map(|r| Some(RepoCondition::Name(r.to_uppercase()))),
        prop::sample::select(vec![
            "project-",
            "team/",
            "charts/",
            "project-a/",
            "nothing/"
        ])
        .prop_map(|p| Some(RepoCondition::Prefix(p.to_owned()))),
    ]
}

/// The oracle: which repositories `assignments` let the principal pull (and list) in a mode.
fn expected(abac: bool, assignments: &[(Role, Option<RepoCondition>)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for repo in REPOS {
        let ok = assignments.iter().any(|(role, cond)| {
            if abac {
                let reads = matches!(
                    role,
                    Role::RepositoryReader | Role::RepositoryWriter | Role::RepositoryContributor
                );
                let covers = match cond {
                    None => true,
                    Some(RepoCondition::Name(n)) => n.eq_ignore_ascii_case(repo),
                    Some(RepoCondition::Prefix(p)) => repo.starts_with(&p.to_lowercase()),
                };
                reads && covers
            } else {
                matches!(
                    role,
                    Role::AcrPull | Role::AcrPush | Role::Owner | Role::Contributor | Role::Reader
                )
            }
        });
        if ok {
            out.insert(repo.to_owned());
        }
    }
    out
}

/// What the fake actually lets project-a-mi do, probed through the front door.
async fn observed(w: &World, registry: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let aad = w.mi_token("contoso", "project-a-mi", ACR_AUD);
    let service = format!("{registry}.azurecr.io");
    let (s, body) = w
        .exchange(
            registry,
            &[
                ("grant_type", "access_token"),
                ("service", &service),
                ("access_token", &aad),
            ],
        )
        .await;
    if s != 200 {
        assert_eq!(s, 401, "{body:#}");
        return (BTreeSet::new(), BTreeSet::new());
    }
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let (mut pull, mut list) = (BTreeSet::new(), BTreeSet::new());
    for repo in REPOS {
        let (_, b) = w
            .access_for(
                registry,
                &rt,
                &[&format!("repository:{repo}:pull,metadata_read")],
            )
            .await;
        let at = b["access_token"].as_str().unwrap().to_owned();
        let tags = w
            .api(registry, &format!("/v2/{repo}/tags/list"), Some(&at))
            .await;
        if tags.status() == 200 {
            list.insert(repo.to_owned());
        }
        let first: serde_json::Value = if tags.status() == 200 {
            tags.json().await.unwrap()
        } else {
            serde_json::Value::Null
        };
        let tag = first["tags"][0].as_str().unwrap_or("1.0.0").to_owned();
        if w.api(registry, &format!("/v2/{repo}/manifests/{tag}"), Some(&at))
            .await
            .status()
            == 200
        {
            pull.insert(repo.to_owned());
        }
    }
    (pull, list)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn reachable_repositories_equal_the_role_model(
        abac in any::<bool>(),
        assignments in prop::collection::vec((role(), condition()), 0..4),
    ) {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let w = world();
        let registry = if abac { "abacacr" } else { "contosoacr" };
        w.acr.revoke(registry, "contoso", "project-a-mi").unwrap();
        for (role, condition) in &assignments {
            w.acr.assign(registry, AssignmentSpec {
                tenant: "contoso".into(),
                identity: "project-a-mi".into(),
                role: *role,
                condition: condition.clone(),
            }).unwrap();
        }
        let want = expected(abac, &assignments);
        let (pull, list) = runtime().block_on(observed(w, registry));
        prop_assert_eq!(&pull, &want, "pull, {:?} mode, {:?}", if abac { "ABAC" } else { "legacy" }, assignments);
        prop_assert_eq!(&list, &want, "list, {:?}", assignments);
    }
}

#[test]
fn the_oracle_is_not_trivial() {
    // The property above would pass vacuously if nothing were ever reachable: check both sides.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = world();
    w.acr.revoke("abacacr", "contoso", "project-a-mi").unwrap();
    w.acr
        .assign(
            "abacacr",
            AssignmentSpec {
                tenant: "contoso".into(),
                identity: "project-a-mi".into(),
                role: Role::RepositoryReader,
                condition: Some(RepoCondition::Prefix("project-".into())),
            },
        )
        .unwrap();
    let (pull, _) = runtime().block_on(observed(w, "abacacr"));
    assert_eq!(
        pull,
        BTreeSet::from(["project-a/app".to_owned(), "project-b/app".to_owned()])
    );
}
