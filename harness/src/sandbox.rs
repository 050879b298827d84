//! The sandbox an implementation under test runs in, so that everything it writes is evidence.
//!
//! An implementation that caches a token under `/tmp` or `$XDG_CACHE_HOME` would be invisible to a
//! leak search of its working directory alone. Each shard's program therefore runs under
//! [bubblewrap](https://github.com/containers/bubblewrap) (`bwrap`, Debian's `bubblewrap`), the
//! maintained sandbox Flatpak uses, in its own mount, PID and IPC namespaces:
//!
//! - the whole file system read-only (`--ro-bind / /`), with a fresh `/dev` and `/proc`;
//! - private, captured, writable `/tmp`, `/var/tmp` and `/dev/shm` (host folders of the shard);
//! - the working directory (also `HOME`, and where `XDG_CACHE_HOME`, `XDG_CONFIG_HOME`,
//!   `XDG_DATA_HOME` and `XDG_STATE_HOME` point) writable at its own path; `TMPDIR` is `/tmp` and
//!   `XDG_RUNTIME_DIR` a folder in it;
//! - the harness's files for the shard (CA bundle, kubeconfig, token file) read-only at their own
//!   paths; a file the command line names inside a masked folder (a script, a checkout or a venv
//!   under `/tmp`) comes with the top folder it stands in there, read-only, and so does the
//!   folder credsim was started in;
//! - every process it starts dies with it (`--die-with-parent`, its own PID namespace), so nothing
//!   outlives a scenario.
//!
//! After the scenario, [`captured_files`] reads every file left in those writable places. The
//! network is the host's (the front door is on loopback); an isolated network namespace is not
//! part of this sandbox yet.
//!
//! bubblewrap works as root and, where the kernel allows user namespaces, as an unprivileged user.
//! Where it cannot run, [`Sandbox::detect`] says why, the implementation runs as before (only its
//! working directory is searched), and every report says which evidence is missing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Whether implementations run sandboxed, and if not, why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sandbox {
    /// bubblewrap at this path works here.
    Bubblewrap(PathBuf),
    /// No sandbox: the reason (not installed, refused by the kernel, switched off).
    Unavailable(String),
}

/// The folders masked by private, captured ones: (path inside, name of the host folder).
const MASKED: &[(&str, &str)] = &[
    ("/tmp", "tmp"),
    ("/var/tmp", "var-tmp"),
    ("/dev/shm", "shm"),
];

/// The namespaces and mounts every sandbox starts from (and the probe tries): the host's file
/// system read-only, fresh `/dev` and `/proc`, own PID and IPC namespaces, gone with its parent.
const BASE_ARGS: [&str; 10] = [
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--unshare-pid",
    "--unshare-ipc",
    "--die-with-parent",
];

/// coreutils' `env`, which runs the program without the `PWD` bubblewrap sets.
const ENV: &str = "/usr/bin/env";

/// `CREDSIM_SANDBOX=off` runs implementations without a sandbox (for debugging an
/// implementation that the sandbox breaks); anything else, or nothing, uses it where it works.
pub const SWITCH: &str = "CREDSIM_SANDBOX";

impl Sandbox {
    /// The sandbox of this machine, probed once per process: bubblewrap on `PATH` that can run
    /// `true` in the namespaces the sandbox uses.
    pub fn detect() -> &'static Sandbox {
        static DETECTED: OnceLock<Sandbox> = OnceLock::new();
        DETECTED.get_or_init(|| {
            if std::env::var(SWITCH).is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
                return Sandbox::Unavailable(format!("switched off by {SWITCH}=off"));
            }
            let Some(bwrap) = find_in_path("bwrap") else {
                return Sandbox::Unavailable(
                    "bubblewrap (`bwrap`) is not installed; scripts/install-deps installs it"
                        .into(),
                );
            };
            let probe = std::process::Command::new(&bwrap)
                .args(BASE_ARGS)
                .arg("true")
                .output();
            match probe {
                Ok(out) if out.status.success() => Sandbox::Bubblewrap(bwrap),
                Ok(out) => Sandbox::Unavailable(format!(
                    "bubblewrap cannot make namespaces here ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => Sandbox::Unavailable(format!("bubblewrap did not start: {e}")),
            }
        })
    }

    pub fn is_available(&self) -> bool {
        matches!(self, Sandbox::Bubblewrap(_))
    }

    /// [`Sandbox::describe`] of the detected sandbox, made once.
    pub fn description(&'static self) -> &'static str {
        static TEXT: OnceLock<String> = OnceLock::new();
        TEXT.get_or_init(|| self.describe())
    }

    /// One line for a report: which evidence of what implementations write is there.
    pub fn describe(&self) -> String {
        match self {
            Sandbox::Bubblewrap(_) => "sandbox: bubblewrap; files written anywhere are evidence \
                 (working directory, /tmp, /var/tmp, /dev/shm, XDG folders)"
                .into(),
            Sandbox::Unavailable(why) => format!(
                "sandbox: none ({why}); only files in the working directory are evidence, \
                 writes to /tmp, /var/tmp and other paths are not seen"
            ),
        }
    }
}

/// For a path inside a masked folder, the folder directly below the masked one that holds it
/// (`/tmp/checkout/target/x` → `/tmp/checkout`).
fn masked_top(p: &Path) -> Option<PathBuf> {
    if !p.is_absolute() {
        return None;
    }
    MASKED.iter().find_map(|(m, _)| {
        let rest = p.strip_prefix(m).ok()?;
        let first = rest.components().next()?;
        Some(Path::new(m).join(first))
    })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// A shard's sandbox: where its captured folders are on the host.
#[derive(Clone, Debug)]
pub struct ShardSandbox {
    pub bwrap: PathBuf,
    /// The host folder holding the captured `tmp`, `var-tmp` and `shm`.
    pub captured: PathBuf,
    /// The working directory (also `HOME`), writable at its own path.
    pub workdir: PathBuf,
    /// Harness files the implementation reads, bound read-only at their own paths.
    pub read_only: Vec<PathBuf>,
}

impl ShardSandbox {
    /// Makes the captured folders under `captured` (which must not be inside a masked folder's
    /// replacement, i.e. any host path is fine).
    pub fn prepare(
        bwrap: PathBuf,
        captured: PathBuf,
        workdir: PathBuf,
        read_only: Vec<PathBuf>,
    ) -> std::io::Result<Self> {
        for (_, name) in MASKED {
            std::fs::create_dir_all(captured.join(name))?;
        }
        for d in [".cache", ".config", ".local/share", ".local/state"] {
            std::fs::create_dir_all(workdir.join(d))?;
        }
        Ok(Self {
            bwrap,
            captured,
            workdir,
            read_only,
        })
    }

    /// The environment the sandbox adds: `TMPDIR` and the XDG folders.
    pub fn env(&self) -> Vec<(String, String)> {
        let w = |p: &str| self.workdir.join(p).display().to_string();
        vec![
            ("TMPDIR".into(), "/tmp".into()),
            ("XDG_CACHE_HOME".into(), w(".cache")),
            ("XDG_CONFIG_HOME".into(), w(".config")),
            ("XDG_DATA_HOME".into(), w(".local/share")),
            ("XDG_STATE_HOME".into(), w(".local/state")),
            ("XDG_RUNTIME_DIR".into(), "/tmp/xdg-runtime".into()),
        ]
    }

    /// `bwrap` and its arguments, ending with `--`, to put before the program's command line
    /// `words` (already resolved to absolute paths where they name files).
    pub fn command_prefix(&self, words: &[String]) -> Vec<String> {
        let mut a: Vec<String> = BASE_ARGS.map(String::from).into();
        let s = |p: &Path| p.display().to_string();
        for (inside, name) in MASKED {
            a.extend([
                "--bind".into(),
                s(&self.captured.join(name)),
                (*inside).into(),
            ]);
        }
        a.extend(["--dir".into(), "/tmp/xdg-runtime".into()]);
        // Paths the harness and the command line need that a masked folder would hide, at their
        // own paths: read-only, except the working directory.
        let hidden = |p: &Path| MASKED.iter().any(|(m, _)| p.starts_with(m));
        for p in &self.read_only {
            if p.exists() && hidden(p) {
                a.extend(["--ro-bind".into(), s(p), s(p)]);
            }
        }
        // A program or file the command line names inside a masked folder (a checkout or a venv
        // under /tmp) comes with the whole top folder it stands in there, so that its siblings
        // (a venv's libraries, a script's modules) come too; and so does the folder credsim was
        // started in, which relative paths were resolved against.
        let mut tops: Vec<PathBuf> = Vec::new();
        let cwd = std::env::current_dir().ok();
        let named = words
            .iter()
            .map(|w| PathBuf::from(w.split_once('=').map_or(w.as_str(), |(_, v)| v)))
            .chain(cwd);
        for p in named {
            if let Some(top) = masked_top(&p)
                && p.exists()
                && !self.workdir.starts_with(&top)
                && !self.captured.starts_with(&top)
                && !tops.contains(&top)
            {
                a.extend(["--ro-bind".into(), s(&top), s(&top)]);
                tops.push(top);
            }
        }
        a.extend([
            "--bind".into(),
            s(&self.workdir),
            s(&self.workdir),
            "--chdir".into(),
            s(&self.workdir),
            "--".into(),
        ]);
        // bubblewrap sets `PWD`, which the protocol's environment does not have.
        if Path::new(ENV).is_file() {
            a.extend([ENV.into(), "-u".into(), "PWD".into()]);
        }
        a
    }

    /// Every file the implementation left in a captured folder, with the path it had inside the
    /// sandbox (`/tmp/cache.json`), read up to `limit` bytes each.
    pub fn captured_files(&self, limit: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (inside, name) in MASKED {
            for (rel, content) in read_tree(&self.captured.join(name), limit) {
                out.push((format!("{inside}/{rel}"), content));
            }
        }
        out
    }
}

/// Every regular file below `dir` (recursively, links not followed): (relative path, content as
/// lossy UTF-8, at most `limit` bytes).
pub fn read_tree(dir: &Path, limit: usize) -> Vec<(String, String)> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let mut bytes = Vec::new();
                if let Ok(f) = std::fs::File::open(&p) {
                    let _ = f.take(limit as u64).read_to_end(&mut bytes);
                }
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.push((rel, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out.sort();
    out
}
