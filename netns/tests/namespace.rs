//! The namespace as a program in it sees it: every address is local and leads to the sockets the
//! parent received, and the parent's own loopback is out of reach.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::process::{Command, Stdio};

use netns::{Bound, Plan, Socket};

fn bash(script: &str) -> Command {
    let mut c = Command::new("bash");
    c.args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn any(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)
}

fn tcp(bound: Vec<(Socket, Bound)>, i: usize) -> TcpListener {
    match bound.into_iter().nth(i) {
        Some((_, Bound::Tcp(l))) => l,
        other => panic!("expected a TCP listener at {i}, got {other:?}"),
    }
}

#[test]
fn a_connection_to_any_address_reaches_the_parent() {
    let plan = Plan::new().udp(any(53)).tcp(any(443));
    let mut cmd = bash("exec 3<>/dev/tcp/203.0.113.9/443 && printf 'token=abc' >&3 && exec 3>&-");
    let pending = netns::prepare(&mut cmd, &plan).expect("prepared");
    let child = cmd.spawn().expect("spawned");
    let bound = pending.receive().expect("sockets received");
    assert!(matches!(bound[0], (Socket::Udp(_), Bound::Udp(_))));
    let listener = tcp(bound, 1);
    let (mut conn, _) = listener.accept().expect("the program connected");
    let local = conn.local_addr().expect("local address");
    assert_eq!(
        local.to_string(),
        "203.0.113.9:443",
        "the address it dialled"
    );
    let mut got = String::new();
    conn.read_to_string(&mut got).expect("read");
    assert_eq!(got, "token=abc");
    let out = child.wait_with_output().expect("exit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_parents_loopback_is_out_of_reach() {
    let host = TcpListener::bind("127.0.0.1:0").expect("bind on the host");
    host.set_nonblocking(true).expect("nonblocking");
    let port = host.local_addr().expect("addr").port();
    let plan = Plan::new().tcp(any(443));
    let mut cmd = bash(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
    ));
    let pending = netns::prepare(&mut cmd, &plan).expect("prepared");
    let child = cmd.spawn().expect("spawned");
    let _bound = pending.receive().expect("sockets received");
    let out = child.wait_with_output().expect("exit");
    assert!(!out.status.success(), "connected to the host's port {port}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(host.accept().is_err(), "the host listener saw a connection");
}

#[test]
fn a_loopback_port_in_the_plan_is_served_by_the_parent() {
    let host = TcpListener::bind("127.0.0.1:0").expect("bind on the host");
    let port = host.local_addr().expect("addr").port();
    let plan = Plan::new().tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let mut cmd = bash(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf ping >&3 && read -r -u 3 reply && echo \"$reply\""
    ));
    let pending = netns::prepare(&mut cmd, &plan).expect("prepared");
    let child = cmd.spawn().expect("spawned");
    let listener = tcp(pending.receive().expect("sockets"), 0);
    let (mut conn, _) = listener.accept().expect("accepted in the namespace");
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    conn.write_all(b"pong\n").expect("write");
    let out = child.wait_with_output().expect("exit");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pong");
    drop(host);
}

#[test]
fn a_program_that_cannot_start_is_a_spawn_error() {
    let mut cmd = Command::new("/nonexistent/program");
    let pending = netns::prepare(&mut cmd, &Plan::new().tcp(any(443))).expect("prepared");
    let err = cmd.spawn().expect_err("no such program");
    let err = pending.failed(err);
    assert!(matches!(err, netns::Error::Spawn(_)), "{err}");
}

#[test]
fn a_port_taken_twice_fails_at_the_bind_step() {
    // A listener on every address's :443, then one on 127.0.0.1:443: the second bind fails in
    // the hook.
    let plan = Plan::new()
        .tcp(any(443))
        .tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 443));
    let mut cmd = bash("true");
    let pending = netns::prepare(&mut cmd, &plan).expect("prepared");
    let err = cmd.spawn().expect_err("the hook fails");
    let err = pending.failed(err);
    assert!(
        matches!(
            err,
            netns::Error::Setup {
                step: netns::Step::Bind,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("binding"), "{err}");
}
