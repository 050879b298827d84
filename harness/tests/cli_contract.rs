//! `docs/cli.md` is the command line's normative contract: every subcommand has its section
//! (`## credsim NAME`, in the order `credsim --help` lists them), and each section's flag table
//! lists exactly the flags and arguments that `credsim NAME --help` shows. A flag added, renamed
//! or removed in the code without the document, or the other way round, fails here at its name.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn help(args: &[&str]) -> String {
    // clap's own `help` subcommand takes no `--help`; `credsim help help` is its help.
    let args: Vec<&str> = match args {
        ["help"] => vec!["help", "help"],
        _ => args.iter().copied().chain(["--help"]).collect(),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(&args)
        .output()
        .expect("credsim runs");
    assert!(out.status.success(), "credsim {args:?} --help failed");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The lines of a `--help` section (`Commands:`, `Options:`, `Arguments:`).
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

/// What `credsim ARGS --help` accepts: `--long` flags and `<ARG>` positionals.
fn accepted(args: &[&str]) -> BTreeSet<String> {
    let text = help(args);
    let mut set = BTreeSet::new();
    for line in section(&text, "Options:") {
        if let Some(flag) = line
            .split_whitespace()
            .map(|w| w.trim_end_matches(','))
            .find(|w| w.starts_with("--"))
        {
            set.insert(flag.to_owned());
        }
    }
    for line in section(&text, "Arguments:") {
        if let Some(arg) = line.split_whitespace().next() {
            let name = arg.trim_matches(|c| "[]<>.".contains(c));
            set.insert(format!("<{name}>"));
        }
    }
    set
}

/// The document's sections: (heading after `## `, or after `### ` for a subcommand's own
/// subcommand such as `credsim ctl apply`, flags and arguments of its table).
fn documented() -> Vec<(String, BTreeSet<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    let text = std::fs::read_to_string(&path).expect("docs/cli.md exists");
    let mut sections: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in text.lines() {
        let heading = line.strip_prefix("## ").or_else(|| {
            line.strip_prefix("### ")
                .filter(|h| h.starts_with("credsim ") && h.split_whitespace().count() == 3)
        });
        if let Some(h) = heading {
            sections.push((h.trim().to_owned(), BTreeSet::new()));
        } else if let Some(rest) = line.strip_prefix("| `")
            && let Some((first, _)) = rest.split_once('`')
            && (first.starts_with("--") || first.starts_with('<'))
            && let Some((_, flags)) = sections.last_mut()
        {
            flags.insert(first.to_owned());
        }
    }
    sections
}

#[test]
fn every_subcommand_and_flag_is_documented_and_nothing_else() {
    let top = help(&[]);
    let commands: Vec<String> = section(&top, "Commands:")
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(commands.len() >= 8, "{commands:?}");
    let doc = documented();
    let doc_commands: Vec<String> = doc
        .iter()
        .filter_map(|(h, _)| h.strip_prefix("credsim "))
        .filter(|h| !h.contains(' '))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        doc_commands, commands,
        "docs/cli.md's `## credsim NAME` sections, in order, against `credsim --help`"
    );
    // A subcommand with subcommands of its own (`credsim ctl`) documents each in a
    // `### credsim NAME SUB` section, in the order its help lists them.
    for command in &commands {
        let subs: Vec<String> = section(&help(&[command]), "Commands:")
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|s| *s != "help")
            .map(|s| format!("{command} {s}"))
            .collect();
        let documented_subs: Vec<String> = doc
            .iter()
            .filter_map(|(h, _)| h.strip_prefix("credsim "))
            .filter(|h| h.starts_with(&format!("{command} ")))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            documented_subs, subs,
            "docs/cli.md's `### credsim {command} SUB` sections against `credsim {command} --help`"
        );
    }
    let mut differences = Vec::new();
    let global = doc
        .iter()
        .find(|(h, _)| h == "global flags")
        .map(|(_, f)| f.clone())
        .expect("docs/cli.md has a `## global flags` section");
    if global != accepted(&[]) {
        differences.push(format!(
            "global flags: documented {global:?}, accepted {:?}",
            accepted(&[])
        ));
    }
    for (heading, flags) in &doc {
        let Some(name) = heading.strip_prefix("credsim ") else {
            continue;
        };
        let words: Vec<&str> = name.split_whitespace().collect();
        let real = accepted(&words);
        for f in real.difference(flags) {
            differences.push(format!(
                "credsim {name}: {f} is accepted but not documented"
            ));
        }
        for f in flags.difference(&real) {
            differences.push(format!(
                "credsim {name}: {f} is documented but not accepted"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn a_filter_or_partition_that_selects_nothing_exits_2_with_the_reason() {
    for (args, reason) in [
        (
            &["run", "--filter", "no-such-scenario-*"][..],
            "--filter \"no-such-scenario-*\" matches none",
        ),
        (
            &["run", "--filter", "happy-path", "--partition", "2/2"][..],
            "partition 2/2 of 1 scenario(s) is empty",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_credsim"))
            .args(args)
            .output()
            .expect("credsim runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} ran something");
    }
}

#[test]
fn a_run_shows_its_progress_on_stderr_in_plain_lines_off_a_terminal() {
    let out = Command::new(env!("CARGO_BIN_EXE_credsim"))
        .args(["run", "--filter", "*cache*", "--format", "json"])
        .output()
        .expect("credsim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let scenarios = stdout.lines().count() - 1;
    assert!(scenarios >= 2, "{stdout}");
    assert!(
        stderr.contains(&format!(
            "credsim run: {scenarios}/{scenarios} scenarios done, 0 failed"
        )),
        "{stderr}"
    );
    // Plain lines: no terminal escapes on stderr, and stdout carries only the results.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stdout.lines().all(|l| l.starts_with('{')), "{stdout}");
}
