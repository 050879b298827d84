//! The round trip's generator: a random valid scenario from a seed, with every kind of world
//! object and step, references that resolve, and free text full of what YAML likes to
//! reinterpret.
//!
//! Everything is drawn from one seeded RNG in a fixed order, so a seed (the one a failure
//! prints, or one in `roundtrip.proptest-regressions`) always gives the same scenario; changing
//! the order of the draws, or the type of one (counts and indexes are drawn as `i32`), changes
//! every seed's scenario.
//!
//! - `world`: the world, assembled in dependency order.
//! - `clusters`: clusters and their namespaces, and (last) their controllers.
//! - `tenants`: tenants, apps, managed identities and their federated credentials.
//! - `registries`: registries, repositories, role assignments and tokens.
//! - `faults`: faults on each target.
//! - `steps`: steps of every kind, some requests joined into `concurrently` steps.

mod clusters;
mod faults;
mod registries;
mod steps;
mod tenants;
mod world;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scenarios::model::*;
use uuid::Uuid;

/// A random valid scenario.
pub fn scenario(seed: u64) -> Scenario {
    let rng = &mut StdRng::seed_from_u64(seed);
    let world = world::world(rng);
    let identities = tenants::identities(&world.tenants);
    let steps = steps::steps(rng, &world, &identities);
    let allowed = rng.gen_bool(0.5);
    Scenario {
        name: format!("generated-{seed}"),
        name_at: scenarios::located::Pos::UNKNOWN,
        description: maybe(rng, text),
        tags: (0..rng.gen_range(0..3)).map(|_| text(rng)).collect(),
        references: (0..rng.gen_range(0..2)).map(|_| text(rng)).collect(),
        file: "generated.yaml".into(),
        steps,
        properties: maybe(rng, |rng| {
            let mut p: Vec<PropertyId> = PropertyId::ALL
                .into_iter()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
            p.shuffle(rng);
            p
        }),
        policy: policy(rng, allowed, &identities),
        world,
    }
}

/// The policy; whether a fallback is `allowed` is drawn before the metadata.
fn policy(rng: &mut StdRng, allowed: bool, identities: &[(IdentityRef, bool)]) -> Policy {
    let outcomes = [
        Outcome::Denied,
        Outcome::NotConfigured,
        Outcome::Unavailable,
    ];
    Policy {
        service_account: maybe(rng, |_| "credentials".to_owned()),
        fallback: Fallback {
            allowed,
            triggers: if allowed {
                vec![*outcomes.choose(rng).unwrap()]
            } else {
                vec![]
            },
        },
        max_credential_lifetime: secs(rng),
        max_service_account_token_lifetime: secs(rng),
        revocation_staleness: Duration::from_secs(rng.gen_range(0..600)),
        token_resources: identities
            .iter()
            .filter(|_| rng.gen_bool(0.3))
            .map(|(id, _)| {
                (
                    id.name.clone(),
                    vec!["https://management.azure.com".to_owned()],
                )
            })
            .collect(),
    }
}

const TRICKY: &[&str] = &[
    "plain",
    "null",
    "~",
    "true",
    "no",
    "1.0",
    "0x1F",
    "  leading and trailing  ",
    "a: b",
    "# not a comment",
    "quote \" and ' both",
    "multi\nline\ntext",
    "tab\there",
    "ünïcödé ✓",
    "",
    "- dash",
    "[brackets]",
    "{braces}",
    "*alias",
    "&anchor",
    "!tag",
    "%percent",
    "@at",
    "`backtick`",
    "2026-11-29T20:00:00Z",
];

fn text(rng: &mut StdRng) -> String {
    TRICKY.choose(rng).unwrap().to_string()
}

fn maybe<T>(rng: &mut StdRng, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    rng.gen_bool(0.5).then(|| f(rng))
}

fn secs(rng: &mut StdRng) -> Duration {
    // Whole seconds, sometimes whole units, never zero.
    let unit = [1, 60, 3600, 86_400].choose(rng).copied().unwrap();
    Duration::from_secs(rng.gen_range(1..100) * unit + rng.gen_range(0..3))
}

fn guid_or_derived(rng: &mut StdRng, derived: Uuid) -> Uuid {
    if rng.gen_bool(0.3) {
        Uuid::from_u128(rng.r#gen())
    } else {
        derived
    }
}

fn map(rng: &mut StdRng, prefix: &str) -> BTreeMap<String, String> {
    (0..rng.gen_range(0..3))
        .map(|i| (format!("{prefix}/k{i}"), text(rng)))
        .collect()
}
