//! Every example of the cookbook (`scenarios/README.md`) loads, and the cookbook has a section
//! for every step kind and every expected outcome the format knows (read from the schema, so a
//! new one cannot be added without its entry).

use std::path::Path;

struct Block {
    line: usize,
    lang: String,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    line: i + 2,
                    lang: lang.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unclosed code block");
    out
}

fn cookbook() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn every_example_loads() {
    let md = cookbook();
    let yaml: Vec<Block> = blocks(&md)
        .into_iter()
        .filter(|b| b.lang == "yaml")
        .collect();
    assert!(yaml.len() >= 25, "only {} examples", yaml.len());
    let mut names = std::collections::HashSet::new();
    for b in &yaml {
        let file = format!("README.md:{}", b.line);
        let loaded = scenarios::load_str(&file, &b.text)
            .unwrap_or_else(|e| panic!("the example at {file} does not load:\n{e}"));
        assert!(
            names.insert(loaded.scenario.name.clone()),
            "{file}: example name {} used twice",
            loaded.scenario.name
        );
        let lint_example = loaded.scenario.name.starts_with("lint-");
        assert_eq!(
            !loaded.warnings.is_empty(),
            lint_example,
            "{file}: only the lint examples may warn: {:?}",
            loaded.warnings
        );
    }
}

#[test]
fn every_step_kind_and_outcome_has_a_section_with_an_example() {
    let md = cookbook();
    let schema = scenarios::schema();
    let steps: Vec<String> = schema["$defs"]["Step"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["required"][0].as_str().unwrap().to_owned())
        .collect();
    let outcomes: Vec<String> = schema["$defs"]["Outcome"]["oneOf"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["const"].as_str().unwrap().to_owned())
                .collect()
        })
        .or_else(|| {
            schema["$defs"]["Outcome"]["enum"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        })
        .unwrap();
    assert_eq!(steps.len(), 13);
    assert_eq!(outcomes.len(), 6);
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    for word in steps.iter().chain(&outcomes) {
        let heading = headings
            .iter()
            .find(|h| h.contains(&format!("`{word}`")))
            .unwrap_or_else(|| panic!("no cookbook section for `{word}`"));
        // The section has an example that uses the word.
        let start = md.find(*heading).unwrap();
        let section = &md[start + heading.len()..];
        let section = &section[..section.find("\n#").unwrap_or(section.len())];
        assert!(
            section.contains("```yaml") && section.contains(word.as_str()),
            "the section {heading} has no example using `{word}`"
        );
    }
}

#[test]
fn the_lint_shown_is_the_lint_printed() {
    let md = cookbook();
    let all = blocks(&md);
    let i = all
        .iter()
        .position(|b| b.text.contains("name: lint-shared-issuer"))
        .unwrap();
    let shown = all[i + 1]
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let loaded = scenarios::load_str("lint-shared-issuer.yaml", &all[i].text).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(shown, loaded.warnings[0].to_string());
}
