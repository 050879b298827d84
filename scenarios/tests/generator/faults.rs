//! Faults on every target, matching what the target can see, with every kind of answer.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use scenarios::model::*;

use super::{map, maybe, secs, text};

/// Faults on `world`, whose other objects they may match.
pub fn faults(rng: &mut StdRng, world: &World, identities: &[(IdentityRef, bool)]) -> Vec<Fault> {
    (0..rng.gen_range(0..3))
        .map(|f| fault(rng, f, world, identities))
        .collect()
}

fn fault(rng: &mut StdRng, f: i32, world: &World, identities: &[(IdentityRef, bool)]) -> Fault {
    let target = *[
        FaultTarget::Entra,
        FaultTarget::Imds,
        FaultTarget::Acr,
        FaultTarget::Cluster,
    ]
    .choose(rng)
    .unwrap();
    let mut matches = FaultMatch {
        method: maybe(rng, |_| "POST".to_owned()),
        path_prefix: maybe(rng, |_| "/oauth2".to_owned()),
        ..FaultMatch::default()
    };
    match target {
        FaultTarget::Entra => {
            matches.tenant = maybe(rng, |rng| world.tenants.choose(rng).unwrap().name.clone());
            matches.identity = identities.choose(rng).map(|(i, _)| i.clone());
            matches.endpoint = maybe(rng, |_| "token".to_owned());
        }
        FaultTarget::Imds => {
            matches.node = world.nodes.choose(rng).map(|n| n.name.clone());
            matches.endpoint = maybe(rng, |_| "instance".to_owned());
        }
        FaultTarget::Acr => matches.registry = world.registries.choose(rng).map(|r| r.name.clone()),
        FaultTarget::Cluster => {
            matches.cluster = world.clusters.choose(rng).map(|c| c.name.clone())
        }
    }
    Fault {
        name: format!("fault-{f}"),
        target,
        matches,
        answer: answer(rng),
        times: maybe(rng, |rng| rng.gen_range(1..10)),
        active: rng.gen_bool(0.5),
    }
}

fn answer(rng: &mut StdRng) -> Answer {
    match rng.gen_range(0..5) {
        0 => Answer::Throttle {
            retry_after: secs(rng),
        },
        1 => Answer::Unavailable {
            status: rng.gen_range(500..600),
        },
        2 => Answer::Respond {
            status: rng.gen_range(100..600),
            headers: map(rng, "x-header"),
            body: text(rng),
        },
        3 => Answer::Delay(secs(rng)),
        _ => Answer::Drop,
    }
}
