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
//!   outlives a scenario;
//! - `/run` private and captured too, which also hides the host's daemons' sockets (a name
//!   service cache, `systemd-resolved`, D-Bus) that could resolve or reach the outside;
//! - a network of its own ([`Network::Isolated`], made by the `netns` crate): a network namespace
//!   whose only interface is loopback and in which every IPv4 address is local. The harness binds,
//!   inside it, the proxy's port and each site's direct port on `127.0.0.1` (so `HTTPS_PROXY`
//!   and the kubeconfig work as outside), every address's `:443` and `:80`, and a resolver on
//!   `:53` that answers every name with `127.0.0.1` (`/etc/resolv.conf` and the `hosts:` line of
//!   `/etc/nsswitch.conf` point at it). A program that ignores the proxy and connects straight to
//!   `collector.example:443`, or to any address, reaches the front door, which tells the host by
//!   SNI (or `Host`), records the request with the secrets it carried as refused egress and
//!   refuses it; a client that never proxies `169.254.169.254` reaches IMDS. Other ports of any
//!   address refuse the connection, so nothing is sent; nothing leaves the machine.
//!
//! After the scenario, `Sandbox::captured_files` reads every file left in those writable places,
//! within a [`FileBudget`].
//!
//! bubblewrap works as root and, where the kernel allows user namespaces, as an unprivileged user.
//! Where it cannot run, [`Sandbox::detect`] says why, the implementation runs as before (only its
//! working directory is searched), and every report says which evidence is missing.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use credsim_world::error_chain;
use mock_kit::{Adopted, Gateway};

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
    ("/run", "run"),
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
/// implementation that the sandbox breaks), `CREDSIM_SANDBOX=files` in the sandbox but on the
/// host's network; anything else, or nothing, uses all of it where it works.
pub const SWITCH: &str = "CREDSIM_SANDBOX";

/// The first comment of `/etc/resolv.conf` in the sandbox's network.
pub const RESOLV_CONF_MARK: &str = "credsim's sandbox network";

/// The network a sandboxed implementation gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// Its own namespace, where every address leads to the front door.
    Isolated,
    /// The host's, and why: direct connections that ignore the proxy are not seen.
    Host(String),
}

/// The network sandboxed implementations get on this machine, probed once per process: a
/// namespace made as for a shard, running `true` under bubblewrap.
pub fn network() -> &'static Network {
    static DETECTED: OnceLock<Network> = OnceLock::new();
    DETECTED.get_or_init(|| {
        let bwrap = match Sandbox::detect() {
            Sandbox::Bubblewrap(bwrap) => bwrap,
            Sandbox::Unavailable(_) => return Network::Host("no sandbox".into()),
        };
        if std::env::var(SWITCH).is_ok_and(|v| v.eq_ignore_ascii_case("files")) {
            return Network::Host(format!("switched off by {SWITCH}=files"));
        }
        let mut cmd = std::process::Command::new(bwrap);
        cmd.args(BASE_ARGS)
            .arg("true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let plan = netns::Plan::new()
            .udp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53))
            .tcp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 443));
        let pending = match netns::prepare(&mut cmd, &plan) {
            Ok(p) => p,
            Err(e) => return Network::Host(error_chain(&e)),
        };
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Network::Host(error_chain(&pending.failed(e))),
        };
        let received = pending.receive();
        match (received, child.wait_with_output()) {
            (Ok(_), Ok(out)) if out.status.success() => Network::Isolated,
            (Err(e), _) => Network::Host(error_chain(&e)),
            (_, Ok(out)) => Network::Host(format!(
                "bubblewrap in a network namespace failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            (_, Err(e)) => Network::Host(format!("bubblewrap in a network namespace: {e}")),
        }
    })
}

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
            Sandbox::Bubblewrap(_) => {
                let files = "sandbox: bubblewrap; files written anywhere are evidence \
                     (working directory, /tmp, /var/tmp, /dev/shm, /run, XDG folders)";
                match network() {
                    Network::Isolated => format!(
                        "{files}; network: its own, where every address leads to the front door \
                         (connections that ignore the proxy are evidence)"
                    ),
                    Network::Host(why) => format!(
                        "{files}; network: the host's ({why}), connections that ignore the \
                         proxy are not seen"
                    ),
                }
            }
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
    /// The shard's own network, when the machine gives one ([`network`]).
    pub network: Option<ShardNetwork>,
}

/// What a shard's network namespace serves, and the files that point its resolver there.
#[derive(Clone, Debug)]
pub struct ShardNetwork {
    pub gateway: Gateway,
    /// The client label of requests made in it (`iut/<shard>`).
    pub label: String,
    /// (file on the host, path inside): `resolv.conf` and `nsswitch.conf`.
    etc: Vec<(PathBuf, PathBuf)>,
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
            network: None,
        })
    }

    /// Gives the shard a network of its own that `gateway` serves, requests in it labelled
    /// `label`, when this machine can ([`network`]); otherwise leaves it on the host's.
    pub fn with_network(mut self, gateway: Gateway, label: String) -> std::io::Result<Self> {
        if *network() != Network::Isolated {
            return Ok(self);
        }
        let dir = self.captured.join("etc");
        std::fs::create_dir_all(&dir)?;
        let mut etc = Vec::new();
        let resolv = dir.join("resolv.conf");
        std::fs::write(
            &resolv,
            format!(
                "# {RESOLV_CONF_MARK}: every name is at 127.0.0.1, where the front door is\n\
                 nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"
            ),
        )?;
        if let Some(inside) = mount_point("/etc/resolv.conf") {
            etc.push((resolv, inside));
        }
        if let Ok(host) = std::fs::read_to_string("/etc/nsswitch.conf") {
            // Host names from /etc/hosts and DNS only: no name service cache, mDNS or
            // systemd-resolved, which would resolve through the host.
            let mut text: String = host
                .lines()
                .filter(|l| !l.trim_start().starts_with("hosts:"))
                .map(|l| format!("{l}\n"))
                .collect();
            text.push_str("hosts: files dns\n");
            let file = dir.join("nsswitch.conf");
            std::fs::write(&file, text)?;
            if let Some(inside) = mount_point("/etc/nsswitch.conf") {
                etc.push((file, inside));
            }
        }
        self.network = Some(ShardNetwork {
            gateway,
            label,
            etc,
        });
        Ok(self)
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
        if let Some(net) = &self.network {
            for (host, inside) in &net.etc {
                a.extend(["--ro-bind".into(), s(host), s(inside)]);
            }
        }
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
    /// sandbox (`/tmp/cache.json`), read within `budget`.
    pub fn captured_files(&self, budget: &mut FileBudget) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (inside, name) in MASKED {
            for (rel, content) in read_tree(&self.captured.join(name), inside, budget) {
                out.push((format!("{inside}/{rel}"), content));
            }
        }
        out
    }
}

/// How much of what an implementation left behind is read for the leak search: at most
/// `per_file` bytes of a file, `total` bytes and `files` files in all. What did not fit is listed
/// in [`FileBudget::unread`]: a leak there would not be found, so the run is an error, never a
/// pass.
#[derive(Debug)]
pub struct FileBudget {
    pub per_file: usize,
    pub total: usize,
    pub files: usize,
    read: usize,
    seen: usize,
    /// What was not read (whole or in part), one line each.
    pub unread: Vec<String>,
}

impl FileBudget {
    pub fn new(per_file: usize, total: usize, files: usize) -> Self {
        Self {
            per_file,
            total,
            files,
            read: 0,
            seen: 0,
            unread: Vec::new(),
        }
    }
}

/// Every regular file below `dir` (recursively, links not followed), in path order: (relative
/// path, content as lossy UTF-8), within `budget`. `shown` names `dir` in what the budget lists
/// as unread.
pub fn read_tree(dir: &Path, shown: &str, budget: &mut FileBudget) -> Vec<(String, String)> {
    use std::io::Read as _;
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut too_many = false;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                if budget.seen >= budget.files {
                    too_many = true;
                    break;
                }
                budget.seen += 1;
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                paths.push((e.path(), size));
            }
        }
        if too_many {
            break;
        }
    }
    if too_many {
        budget.unread.push(format!(
            "{shown}: more than {} files in all; the rest were not read",
            budget.files
        ));
    }
    paths.sort();
    let mut out = Vec::new();
    for (p, size) in paths {
        let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
        let room = budget
            .per_file
            .min(budget.total.saturating_sub(budget.read));
        let mut bytes = Vec::new();
        if let Ok(f) = std::fs::File::open(&p) {
            let _ = f.take(room as u64).read_to_end(&mut bytes);
        }
        budget.read += bytes.len();
        if size > bytes.len() as u64 {
            budget.unread.push(format!(
                "{shown}/{rel}: {size} bytes, of which {} were read",
                bytes.len()
            ));
        }
        out.push((rel, String::from_utf8_lossy(&bytes).into_owned()));
    }
    out
}

/// Where to bind a replacement for the host file `path` inside the sandbox: the file a symbolic
/// link leads to (it may be under `/run`, which the sandbox masks), or the path itself. `None`
/// when the file does not exist (bubblewrap cannot make one in the read-only root; a resolver
/// without `resolv.conf` asks `127.0.0.1` anyway).
fn mount_point(path: &str) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// A sandboxed process's network: its sockets served by the front door, and its resolver, until
/// dropped.
#[derive(Debug)]
pub struct ProcessNetwork {
    _adoption: mock_kit::Adoption,
    resolver: tokio::task::JoinHandle<()>,
}

impl Drop for ProcessNetwork {
    fn drop(&mut self) {
        self.resolver.abort();
    }
}

/// Why a sandboxed program's network could not be made or served.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The namespace could not be prepared, or its sockets did not arrive.
    #[error(transparent)]
    Namespace(#[from] netns::Error),
    #[error("the namespace's sockets came in an unexpected order")]
    Order,
    #[error("the namespace's resolver socket did not arrive")]
    NoResolver,
    #[error("the resolver socket could not be made non-blocking")]
    Nonblocking(#[source] std::io::Error),
    #[error("the resolver socket could not be served")]
    Serve(#[source] std::io::Error),
    #[error("the front door could not serve the namespace")]
    Adopt(#[source] mock_kit::front_door::FrontDoorError),
}

/// A command prepared to start in the shard's network ([`ShardNetwork::prepare`]), waiting to
/// be spawned.
#[derive(Debug)]
pub struct PendingNetwork {
    pending: netns::Pending,
    /// What each socket of the plan is: `None` for the resolver's.
    roles: Vec<Option<Adopted>>,
    gateway: Gateway,
    label: String,
}

impl ShardNetwork {
    /// Makes `cmd` start in a network namespace of its own with the sockets the front door
    /// serves there: the resolver (UDP `:53`), every address's `:443` (TLS to any host) and `:80`
    /// (plain HTTP to any host), and the proxy's and each site's port on `127.0.0.1`.
    pub fn prepare(&self, cmd: &mut std::process::Command) -> Result<PendingNetwork, NetworkError> {
        let any = |port| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        let mut plan = netns::Plan::new().udp(any(53));
        let mut roles = vec![None];
        for (port, role) in [(443, Adopted::AnyTls), (80, Adopted::AnyPlain)] {
            plan = plan.tcp(any(port));
            roles.push(Some(role));
        }
        for (addr, what) in self.gateway.loopback() {
            if let std::net::SocketAddr::V4(a) = addr
                && ![53, 80, 443].contains(&a.port())
            {
                plan = plan.tcp(*a);
                roles.push(Some(what.clone()));
            }
        }
        let pending = netns::prepare(cmd, &plan)?;
        Ok(PendingNetwork {
            pending,
            roles,
            gateway: self.gateway.clone(),
            label: self.label.clone(),
        })
    }
}

impl PendingNetwork {
    /// Once the command has been spawned: receives its sockets and serves them (inside a Tokio
    /// runtime).
    pub fn attach(self) -> Result<ProcessNetwork, NetworkError> {
        let bound = self.pending.receive()?;
        let mut listeners = Vec::new();
        let mut resolver = None;
        for ((_, socket), role) in bound.into_iter().zip(self.roles) {
            match (socket, role) {
                (netns::Bound::Udp(u), None) => resolver = Some(u),
                (netns::Bound::Tcp(l), Some(role)) => listeners.push((l, role)),
                _ => return Err(NetworkError::Order),
            }
        }
        let u = resolver.ok_or(NetworkError::NoResolver)?;
        u.set_nonblocking(true).map_err(NetworkError::Nonblocking)?;
        let udp = tokio::net::UdpSocket::from_std(u).map_err(NetworkError::Serve)?;
        let adoption = self
            .gateway
            .adopt(listeners, Some(self.label))
            .map_err(NetworkError::Adopt)?;
        Ok(ProcessNetwork {
            _adoption: adoption,
            resolver: tokio::spawn(resolve(udp)),
        })
    }

    /// What went wrong when spawning the prepared command failed with `error`.
    pub fn failed(self, error: std::io::Error) -> netns::Error {
        self.pending.failed(error)
    }
}

/// Answers every query on `udp` ([`netns::dns::answer`]: every name is at `127.0.0.1`).
async fn resolve(udp: tokio::net::UdpSocket) {
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
            // A datagram socket's errors (an ICMP error for an earlier answer) are per packet.
            continue;
        };
        if let Some((response, question)) = netns::dns::answer(&buf[..n], Ipv4Addr::LOCALHOST) {
            if let Some(q) = question {
                tracing::debug!(name = %q.name, qtype = q.qtype, "sandbox resolver");
            }
            let _ = udp.send_to(&response, peer).await;
        }
    }
}
