//! Making the namespace, between `fork` and `exec` of the program that will run in it.
//!
//! [`prepare`] installs a hook ([`CommandExt::pre_exec`]) that runs in the forked child, before
//! the program (bubblewrap, in credsim) is executed:
//! 1. `unshare(CLONE_NEWNET)`; when not root (or when root may not), `unshare(CLONE_NEWUSER |
//!    CLONE_NEWNET)` with the caller's own uid and gid mapped to themselves, which gives the
//!    child the capabilities to configure a network namespace it owns and nothing outside it;
//! 2. loopback up (`SIOCSIFFLAGS`) and the route `local 0.0.0.0/0 dev lo table local`
//!    (netlink `RTM_NEWROUTE`), so every IPv4 address is local;
//! 3. the [`Plan`]'s sockets bound (ports below 1024 too: the namespace is the child's) and, for
//!    TCP, listening;
//! 4. the sockets sent to the parent over a Unix socket pair (`SCM_RIGHTS`) and closed in the
//!    child when it executes the program (`SOCK_CLOEXEC`).
//!
//! A socket belongs to the namespace it was made in, wherever its descriptor goes: the parent
//! accepts, inside the child's namespace, connections made there. The namespace lives while the
//! program or any of those sockets does.
//!
//! The hook only makes system calls on memory prepared before `fork` (no allocation, no locks),
//! as a hook in the child of a multi-threaded process must. When a step fails it writes the
//! step's number to the socket pair, so that [`Pending::failed`] can say which.

#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// At most this many sockets per namespace (one `SCM_RIGHTS` message carries up to 253).
pub const MAX_SOCKETS: usize = 64;

/// The payload byte of a successful hand-over; failures send a [`Step`] number instead.
const HANDED_OVER: u8 = b'N';

/// One socket bound inside the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    Udp(SocketAddrV4),
    Tcp(SocketAddrV4),
}

/// The sockets a namespace gets, in the order [`Pending::receive`] returns them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    sockets: Vec<Socket>,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }

    /// A UDP socket bound to `addr`.
    pub fn udp(mut self, addr: SocketAddrV4) -> Self {
        self.sockets.push(Socket::Udp(addr));
        self
    }

    /// A TCP socket bound to `addr` and listening. An address already in the plan is not added
    /// twice.
    pub fn tcp(mut self, addr: SocketAddrV4) -> Self {
        if !self.sockets.contains(&Socket::Tcp(addr)) {
            self.sockets.push(Socket::Tcp(addr));
        }
        self
    }

    pub fn sockets(&self) -> &[Socket] {
        &self.sockets
    }
}

/// A step of making the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    Unshare = 1,
    UserMap = 2,
    LoopbackUp = 3,
    Route = 4,
    Bind = 5,
    HandOver = 6,
}

impl Step {
    fn from_byte(b: u8) -> Option<Self> {
        [
            Step::Unshare,
            Step::UserMap,
            Step::LoopbackUp,
            Step::Route,
            Step::Bind,
            Step::HandOver,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Unshare => "making the user and network namespaces (unshare)",
            Step::UserMap => "mapping the user and group into the user namespace",
            Step::LoopbackUp => "bringing the loopback interface up",
            Step::Route => "routing every IPv4 address to loopback",
            Step::Bind => "binding the harness's sockets",
            Step::HandOver => "handing the sockets to the harness",
        })
    }
}

/// Why a namespace could not be made or its sockets did not arrive. The I/O error behind it is
/// its `source()`, not part of its message: print the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a namespace takes at most {MAX_SOCKETS} sockets, not {0}")]
    TooManySockets(usize),
    #[error("the socket pair for the hand-over could not be made")]
    Channel(#[source] io::Error),
    #[error("the network namespace could not be made: {step} failed")]
    Setup {
        step: Step,
        #[source]
        source: io::Error,
    },
    #[error("the program did not start")]
    Spawn(#[source] io::Error),
    #[error("the namespace's sockets did not arrive")]
    Receive(#[source] io::Error),
}

/// A socket received from the namespace.
#[derive(Debug)]
pub enum Bound {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

/// A command prepared by [`prepare`], waiting for its sockets.
#[derive(Debug)]
pub struct Pending {
    parent: UnixStream,
    /// The child's end, open in this process until the command has been spawned.
    child: Option<UnixStream>,
    sockets: Vec<Socket>,
}

/// Makes `cmd` start in a network namespace of its own with the sockets of `plan` (see the
/// module's documentation). Spawn `cmd` once, then call [`Pending::receive`] (or, when spawning
/// failed, [`Pending::failed`]).
pub fn prepare(cmd: &mut Command, plan: &Plan) -> Result<Pending, Error> {
    let n = plan.sockets.len();
    if n > MAX_SOCKETS {
        return Err(Error::TooManySockets(n));
    }
    let (parent, child) = UnixStream::pair().map_err(Error::Channel)?;
    // SAFETY: getuid, getgid and geteuid cannot fail and touch no memory.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    let mut hook = Hook {
        child: child.as_raw_fd(),
        user_ns: euid != 0,
        uid_map: format!("{uid} {uid} 1\n").into_bytes(),
        gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        specs: plan
            .sockets
            .iter()
            .map(|s| match *s {
                Socket::Udp(a) => (true, sockaddr(a)),
                Socket::Tcp(a) => (false, sockaddr(a)),
            })
            .collect(),
        fds: [-1; MAX_SOCKETS],
        control: vec![0u64; control_words(MAX_SOCKETS)],
    };
    // SAFETY: the hook runs in the child between fork and exec. It makes only system calls
    // (async-signal-safe), on memory allocated here before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || hook.run());
    }
    Ok(Pending {
        parent,
        child: Some(child),
        sockets: plan.sockets.clone(),
    })
}

impl Pending {
    /// The sockets, in the plan's order, once the command has been spawned.
    pub fn receive(mut self) -> Result<Vec<(Socket, Bound)>, Error> {
        self.child = None;
        self.parent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(Error::Receive)?;
        let mut byte = [0u8; 1];
        let mut control = vec![0u64; control_words(MAX_SOCKETS)];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: msghdr is plain data; all-zero is a valid (empty) value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = (control.len() * 8) as _;
        // SAFETY: msg points at `iov` (one byte of `byte`) and `control`, which outlive the call
        // and are as long as msg says.
        let got =
            unsafe { libc::recvmsg(self.parent.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if got < 0 {
            return Err(Error::Receive(io::Error::last_os_error()));
        }
        let mut fds: Vec<OwnedFd> = Vec::new();
        // SAFETY: recvmsg filled msg's control part; CMSG_FIRSTHDR/NXTHDR walk it within
        // msg_controllen, and each SCM_RIGHTS header's data holds that many descriptors, now
        // owned by this process (read unaligned: the data need not be aligned for c_int).
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                    for i in 0..bytes / std::mem::size_of::<libc::c_int>() {
                        fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if got == 0 {
            return Err(Error::Receive(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the program ended before the hand-over",
            )));
        }
        if byte[0] != HANDED_OVER {
            let step = Step::from_byte(byte[0]).unwrap_or(Step::HandOver);
            return Err(Error::Setup {
                step,
                source: io::Error::other("the hook reported a failure"),
            });
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 || fds.len() != self.sockets.len() {
            return Err(Error::Receive(io::Error::other(format!(
                "{} of {} sockets arrived",
                fds.len(),
                self.sockets.len()
            ))));
        }
        Ok(self
            .sockets
            .iter()
            .zip(fds)
            .map(|(s, fd)| {
                let bound = match s {
                    Socket::Udp(_) => Bound::Udp(UdpSocket::from(fd)),
                    Socket::Tcp(_) => Bound::Tcp(TcpListener::from(fd)),
                };
                (*s, bound)
            })
            .collect())
    }

    /// What went wrong when spawning the prepared command failed with `error`: the namespace
    /// step that failed, or the spawn itself.
    pub fn failed(self, error: io::Error) -> Error {
        drop(self.child);
        let _ = self.parent.set_nonblocking(true);
        let mut byte = [0u8; 1];
        match (&self.parent).read_byte(&mut byte) {
            Some(b) if b != HANDED_OVER => match Step::from_byte(b) {
                Some(step) => Error::Setup {
                    step,
                    source: error,
                },
                None => Error::Spawn(error),
            },
            _ => Error::Spawn(error),
        }
    }
}

trait ReadByte {
    fn read_byte(self, buf: &mut [u8; 1]) -> Option<u8>;
}

impl ReadByte for &UnixStream {
    fn read_byte(self, buf: &mut [u8; 1]) -> Option<u8> {
        use std::io::Read as _;
        let mut s = self;
        matches!(s.read(buf), Ok(1)).then_some(buf[0])
    }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// 8-byte words for a control buffer carrying `n` descriptors (u64 keeps it aligned for
/// `cmsghdr`).
fn control_words(n: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let bytes =
        unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<libc::c_int>()) as u32) } as usize;
    bytes.div_ceil(8)
}

/// Everything the hook needs, made before the fork.
struct Hook {
    child: RawFd,
    user_ns: bool,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    specs: Vec<(bool, libc::sockaddr_in)>,
    fds: [RawFd; MAX_SOCKETS],
    control: Vec<u64>,
}

impl Hook {
    fn run(&mut self) -> io::Result<()> {
        self.unshare()?;
        let lo = self.loopback_up()?;
        self.route_everything_to(lo)?;
        self.bind()?;
        self.hand_over()
    }

    /// The error of the call that just failed, after telling the parent which step it was.
    fn fail(&self, step: Step) -> io::Error {
        let error = io::Error::last_os_error();
        let b = [step as u8];
        // SAFETY: writes one byte from a live stack buffer to a descriptor this process owns.
        unsafe { libc::write(self.child, b.as_ptr().cast(), 1) };
        error
    }

    fn unshare(&self) -> io::Result<()> {
        // SAFETY: unshare only changes this (single-threaded, forked) process's namespaces.
        let net_alone = !self.user_ns && unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
        if net_alone {
            return Ok(());
        }
        // SAFETY: as above.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
            return Err(self.fail(Step::Unshare));
        }
        // Without setgroups denied an unprivileged process may not write its gid_map; a kernel
        // too old to have the file does not need it.
        let _ = write_file(c"/proc/self/setgroups", b"deny");
        if !write_file(c"/proc/self/uid_map", &self.uid_map)
            || !write_file(c"/proc/self/gid_map", &self.gid_map)
        {
            return Err(self.fail(Step::UserMap));
        }
        Ok(())
    }

    /// Brings `lo` up; returns its interface index.
    fn loopback_up(&self) -> io::Result<libc::c_int> {
        // SAFETY: a plain socket call; the descriptor is closed below on every path.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if s < 0 {
            return Err(self.fail(Step::LoopbackUp));
        }
        // SAFETY: ifreq is plain data, all-zero valid; the ioctls read and write only `ifr`,
        // whose name is "lo" NUL-terminated, and the union member each of them uses.
        let result = unsafe {
            let mut ifr: libc::ifreq = std::mem::zeroed();
            ifr.ifr_name[0] = b'l' as libc::c_char;
            ifr.ifr_name[1] = b'o' as libc::c_char;
            let up = libc::ioctl(s, libc::SIOCGIFFLAGS as _, &mut ifr) == 0 && {
                ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                libc::ioctl(s, libc::SIOCSIFFLAGS as _, &ifr) == 0
            };
            if up && libc::ioctl(s, libc::SIOCGIFINDEX as _, &mut ifr) == 0 {
                Ok(ifr.ifr_ifru.ifru_ifindex)
            } else {
                Err(Step::LoopbackUp)
            }
        };
        let result = result.map_err(|step| self.fail(step));
        // SAFETY: closes the descriptor made above.
        unsafe { libc::close(s) };
        result
    }

    /// `ip route add local 0.0.0.0/0 dev lo table local`, by netlink, waiting for the kernel's
    /// acknowledgement.
    fn route_everything_to(&self, lo: libc::c_int) -> io::Result<()> {
        const LEN: usize = 16 + 12 + 8;
        let mut msg = [0u8; LEN];
        // nlmsghdr: length, type, flags, sequence, port (native byte order).
        msg[0..4].copy_from_slice(&(LEN as u32).to_ne_bytes());
        msg[4..6].copy_from_slice(&libc::RTM_NEWROUTE.to_ne_bytes());
        let flags = libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL;
        msg[6..8].copy_from_slice(&(flags as u16).to_ne_bytes());
        msg[8..12].copy_from_slice(&1u32.to_ne_bytes());
        // rtmsg: family, dst_len 0 (every address), src_len, tos, table, protocol, scope, type,
        // then four bytes of flags (zero).
        msg[16..24].copy_from_slice(&[
            libc::AF_INET as u8,
            0,
            0,
            0,
            libc::RT_TABLE_LOCAL,
            libc::RTPROT_BOOT,
            libc::RT_SCOPE_HOST,
            libc::RTN_LOCAL,
        ]);
        // rtattr RTA_OIF: the loopback interface.
        msg[28..30].copy_from_slice(&8u16.to_ne_bytes());
        msg[30..32].copy_from_slice(&libc::RTA_OIF.to_ne_bytes());
        msg[32..36].copy_from_slice(&(lo as u32).to_ne_bytes());

        // SAFETY: a plain socket call; closed below on every path.
        let s = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if s < 0 {
            return Err(self.fail(Step::Route));
        }
        let mut ack = [0u8; 512];
        // SAFETY: sockaddr_nl is plain data, all-zero valid (the kernel as destination);
        // sendto reads `msg` and recv writes at most `ack.len()` bytes into `ack`.
        let received = unsafe {
            let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
            kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            let sent = libc::sendto(
                s,
                msg.as_ptr().cast(),
                LEN,
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            );
            if sent < 0 {
                -1
            } else {
                libc::recv(s, ack.as_mut_ptr().cast(), ack.len(), 0)
            }
        };
        let result = if received < 0 {
            Err(self.fail(Step::Route))
        } else if received < 20 || u16::from_ne_bytes([ack[4], ack[5]]) != libc::NLMSG_ERROR as u16
        {
            Err(self.fail_with(Step::Route, libc::EPROTO))
        } else {
            let code = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
            if code == 0 {
                Ok(())
            } else {
                Err(self.fail_with(Step::Route, -code))
            }
        };
        // SAFETY: closes the descriptor made above.
        unsafe { libc::close(s) };
        result
    }

    fn fail_with(&self, step: Step, errno: i32) -> io::Error {
        let _ = self.fail(step);
        io::Error::from_raw_os_error(errno)
    }

    fn bind(&mut self) -> io::Result<()> {
        for (i, (udp, addr)) in self.specs.iter().enumerate() {
            let kind = if *udp {
                libc::SOCK_DGRAM
            } else {
                libc::SOCK_STREAM
            };
            // SAFETY: plain socket calls on a descriptor made here; `addr` and `one` are live
            // and the lengths passed are theirs. On failure the descriptors made so far are
            // closed by exec (SOCK_CLOEXEC) or by the child's exit.
            let ok = unsafe {
                let fd = libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0);
                self.fds[i] = fd;
                let one: libc::c_int = 1;
                fd >= 0
                    && libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_REUSEADDR,
                        (&one as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    ) == 0
                    && libc::bind(
                        fd,
                        (addr as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    ) == 0
                    && (*udp || libc::listen(fd, 1024) == 0)
            };
            if !ok {
                return Err(self.fail(Step::Bind));
            }
        }
        Ok(())
    }

    fn hand_over(&mut self) -> io::Result<()> {
        let n = self.specs.len();
        let data = (n * std::mem::size_of::<libc::c_int>()) as u32;
        let mut byte = [HANDED_OVER];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: msghdr is plain data (all-zero valid). It points at `iov` and at `control`,
        // made before the fork with room for MAX_SOCKETS descriptors (n ≤ MAX_SOCKETS, checked
        // in `prepare`) and aligned for cmsghdr; CMSG_FIRSTHDR is within it when
        // msg_controllen ≥ CMSG_SPACE(data), and CMSG_DATA has room for n descriptors.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if n > 0 {
                msg.msg_control = self.control.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(data) as _;
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(data) as _;
                std::ptr::copy_nonoverlapping(
                    self.fds.as_ptr(),
                    libc::CMSG_DATA(c).cast::<libc::c_int>(),
                    n,
                );
            }
            libc::sendmsg(self.child, &msg, libc::MSG_NOSIGNAL)
        };
        if sent < 0 {
            return Err(self.fail(Step::HandOver));
        }
        Ok(())
    }
}

/// Writes `data` to the file at `path` in one `write`, as `/proc/self/*_map` requires.
fn write_file(path: &std::ffi::CStr, data: &[u8]) -> bool {
    // SAFETY: open takes a NUL-terminated path; write reads `data` within its length; the
    // descriptor is closed on every path.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        written == data.len() as isize
    }
}
