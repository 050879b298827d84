//! The layout ARCHITECTURE.md promises, checked: the workspace's crates depend on each other only
//! as its dependency rules say; inside every crate, no top-level module imports another in a
//! circle; no Rust file is over 800 lines; no `too_many_arguments` allowance is left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness is in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, skipping build output and the fuzz targets.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | ".git" | "fuzz" | "clients" | "node_modules"
            ) {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The workspace's crates: (package name, folder), read from each member's Cargo.toml.
fn crates() -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let members = text
        .split("members = [")
        .nth(1)
        .and_then(|t| t.split(']').next())
        .expect("a members list");
    members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(|m| {
            let dir = root().join(m);
            let manifest =
                std::fs::read_to_string(dir.join("Cargo.toml")).expect("member manifest");
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = "))
                .expect("a package name")
                .trim_matches('"')
                .to_owned();
            (name, dir)
        })
        .collect()
}

/// A line of code without its comment (string contents are kept; a `//` inside a string is
/// rare enough here that the checks below would only be stricter for it).
fn code(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("//") {
        return "";
    }
    line.split(" //").next().unwrap_or(line)
}

#[test]
fn no_file_is_over_800_lines() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > 800).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    long.sort();
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
}

#[test]
fn no_too_many_arguments_allowance_is_left() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    let allowance = ["clippy::", "too_many_arguments"].concat();
    let found: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .is_ok_and(|t| t.lines().any(|l| code(l).contains(&allowance)))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        found.is_empty(),
        "a struct of parameters reads better: {found:?}"
    );
}

/// The top-level modules of a crate (`src/NAME.rs` or `src/NAME/mod.rs`, with the files below
/// them) and, for each, the other top-level modules its code names as `crate::NAME`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(src).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if matches!(name.as_str(), "lib" | "main") {
            continue;
        }
        let mut files = Vec::new();
        if p.is_dir() {
            rust_files(&p, &mut files);
        }
        let file = src.join(format!("{name}.rs"));
        if file.is_file() {
            files.push(file);
        }
        modules.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, files)| {
            let mut deps = BTreeSet::new();
            for f in files {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                // Unit tests may reach anywhere in their crate.
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                for line in text.lines().map(code) {
                    for other in &names {
                        if other == m {
                            continue;
                        }
                        let direct = format!("crate::{other}");
                        let braced = line.contains("crate::{")
                            && line.split("crate::{").nth(1).is_some_and(|rest| {
                                rest.split([',', '}', ' ']).any(|w| w == other)
                            });
                        let named = line.match_indices(&direct).any(|(i, _)| {
                            !line[i + direct.len()..]
                                .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        });
                        if named || braced {
                            deps.insert(other.clone());
                        }
                    }
                }
            }
            (m.clone(), deps)
        })
        .collect()
}

/// A circle in `graph`, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m.to_owned());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for d in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(c) = visit(m, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_imports_another_in_a_circle() {
    let mut checked = 0;
    for (name, dir) in crates() {
        let graph = module_graph(&dir.join("src"));
        checked += graph.len();
        if let Some(circle) = find_circle(&graph) {
            panic!(
                "crate {name}: modules import each other in a circle: {}",
                circle.join(" → ")
            );
        }
    }
    assert!(checked > 50, "only {checked} modules found");
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("run", vec!["properties"]),
        ("properties", vec!["evidence", "run"]),
        ("evidence", vec![]),
    ]
    .into_iter()
    .map(|(m, d)| (m.to_owned(), d.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        find_circle(&graph),
        Some(vec!["properties".into(), "run".into(), "properties".into()])
    );
}

/// Which workspace crates a crate may depend on (ARCHITECTURE.md, "Dependency rules").
fn allowed(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "entra-rules" | "mock-kit" | "netns" | "kind-config" => &[],
        "scenarios" => &["entra-rules"],
        "mock-entra" => &["mock-kit", "entra-rules"],
        "mock-imds" => &["mock-kit", "mock-entra"],
        "mock-acr" => &["mock-kit", "mock-entra"],
        "mock-k8s" => &["mock-kit"],
        "credsim-world" => &[
            "mock-kit",
            "mock-entra",
            "mock-imds",
            "mock-acr",
            "mock-k8s",
            "kind-config",
            "scenarios",
        ],
        "credsim" => &[
            "credsim-world",
            "mock-kit",
            "mock-entra",
            "mock-imds",
            "mock-acr",
            "mock-k8s",
            "netns",
            "scenarios",
        ],
        "credsim-reference" => &["credsim", "mock-kit", "scenarios"],
        "credsim-cli" => &[
            "credsim",
            "credsim-world",
            "credsim-reference",
            "mock-kit",
            "scenarios",
        ],
        "credsim-example" => &["credsim"],
        _ => return None,
    })
}

#[test]
fn crates_depend_on_each_other_only_as_the_rules_say() {
    let all = crates();
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let mut wrong = Vec::new();
    for (name, dir) in &all {
        let Some(may) = allowed(name) else {
            wrong.push(format!(
                "{name}: not in ARCHITECTURE.md's rules (add it there and here)"
            ));
            continue;
        };
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        // Only [dependencies]: a test may use what it likes.
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .map(|t| t.split("\n[").next().unwrap_or_default())
            .unwrap_or_default();
        for line in deps.lines() {
            let dep = line.split(['.', ' ', '=']).next().unwrap_or_default();
            if names.contains(dep) && !may.contains(&dep) {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
