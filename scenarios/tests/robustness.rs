//! Bad input gets a clear error and never a panic: every fixture, mutated at random (bytes
//! replaced, lines dropped, duplicated, swapped or re-indented, the file cut short), either loads
//! or is refused with diagnostics that each carry a position. The cargo fuzz target
//! (`fuzz/fuzz_targets/load.rs`) explores further; this bounded version runs in every `cargo test`.

use proptest::prelude::*;

fn fixtures() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[derive(Clone, Debug)]
enum Mutation {
    ReplaceByte(usize, u8),
    DropLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            any::<usize>(),
            prop::sample::select(b" :-[]{}#&*!|>'\"\t\n,?0".to_vec())
        )
            .prop_map(|(i, b)| Mutation::ReplaceByte(i, b)),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0usize..6).prop_map(|(a, n)| Mutation::Indent(a, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::ReplaceByte(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = i % bytes.len();
                bytes[i] = b;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DropLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
        Mutation::Indent(i, k) if !lines.is_empty() => {
            lines[i % n] = format!("{}{}", " ".repeat(k), lines[i % n]);
        }
        Mutation::Truncate(i) => {
            let cut = i % (text.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|c| text.is_char_boundary(*c))
                .unwrap_or(0);
            return text[..cut].to_owned();
        }
        _ => {}
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_fixtures_never_panic_and_errors_say_where(
        which in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let all = fixtures();
        let mut text = all[which % all.len()].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        match scenarios::load_str("mutated.yaml", &text) {
            Ok(loaded) => {
                let yaml = scenarios::render::to_yaml(&loaded.scenario).unwrap();
                let again = scenarios::load_str("mutated.yaml", &yaml).unwrap();
                prop_assert_eq!(again.scenario, loaded.scenario);
            }
            Err(e) => {
                let diags = e.diagnostics();
                prop_assert!(!diags.is_empty());
                for d in &diags {
                    prop_assert!(d.at.is_known() || text.trim().is_empty(), "{} in\n{}", d, text);
                }
            }
        }
    }
}
