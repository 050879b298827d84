//! Round trip: for random valid scenarios, `load(render(model)) == model`.
//!
//! Scenarios are generated from a seed (proptest draws the seeds) by `generator`, with every kind of world
//! object and step, references that resolve, and free text full of what YAML likes to
//! reinterpret (`null`, `true`, `1.0`, `#`, `: `, quotes, leading spaces, unicode). A failure
//! prints the seed and the rendered file.

mod generator;

use generator::scenario;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_then_load_is_the_identity(seed in any::<u64>()) {
        let model = scenario(seed);
        let yaml = scenarios::render::to_yaml(&model).expect("renders");
        let loaded = match scenarios::load_str("generated.yaml", &yaml) {
            Ok(l) => l.scenario,
            Err(e) => panic!("seed {seed}: the rendered file does not load:\n{e}\n---\n{yaml}"),
        };
        prop_assert_eq!(&loaded, &model, "seed {}:\n{}", seed, yaml);
    }
}

#[test]
fn the_generator_covers_every_step_kind_and_world_object() {
    // Guards the round trip against a generator that quietly stopped producing something.
    let mut kinds = std::collections::HashSet::new();
    let (mut faults, mut nodes, mut tokens, mut fics, mut conditions) = (0, 0, 0, 0, 0);
    for seed in 0..300 {
        let s = scenario(seed);
        for step in &s.steps {
            kinds.insert(std::mem::discriminant(&step.action));
        }
        faults += s.world.faults.len();
        nodes += s.world.nodes.len();
        tokens += s
            .world
            .registries
            .iter()
            .map(|r| r.tokens.len())
            .sum::<usize>();
        conditions += s
            .world
            .registries
            .iter()
            .flat_map(|r| &r.role_assignments)
            .filter(|a| a.condition.is_some())
            .count();
        fics += s
            .world
            .tenants
            .iter()
            .flat_map(|t| &t.managed_identities)
            .filter(|m| {
                m.federated_credentials
                    .iter()
                    .any(|f| f.service_account.is_some())
            })
            .count();
    }
    assert_eq!(kinds.len(), 13, "every step kind is generated");
    assert!(faults > 0 && nodes > 0 && tokens > 0 && fics > 0 && conditions > 0);
}
