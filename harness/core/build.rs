//! Embeds the scenario corpus (`scenarios/corpus/**/*.yaml`) in the binary, so `credsim run` works
//! anywhere.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("the crate lives in harness/ of the workspace")
        .to_path_buf();
    let corpus = root.join("scenarios/corpus");
    println!("cargo::rerun-if-changed={}", corpus.display());
    let mut files = Vec::new();
    walk(&corpus, &mut files);
    let mut code = String::from(
        "/// The embedded corpus: (path relative to the workspace, contents).\npub static CORPUS: &[(&str, &str)] = &[\n",
    );
    for f in files {
        let rel = f.strip_prefix(&root).expect("inside the workspace");
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.display().to_string(),
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("corpus.rs");
    std::fs::write(out, code).expect("writing the corpus index");
}
