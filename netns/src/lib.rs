//! The network an implementation under test gets in credsim's sandbox: a network namespace of
//! its own in which every address leads to the harness.
//!
//! A program that ignores `HTTPS_PROXY` and connects straight to `collector.example:443` must
//! not be able to send a secret without a trace, and nothing it does may leave the machine. So
//! the program starts in a fresh network namespace (Linux, `unshare(CLONE_NEWNET)`, inside a
//! user namespace of its own when credsim does not run as root) whose only interface is
//! loopback, where every IPv4 address is local (`local 0.0.0.0/0 dev lo`, the "AnyIP" route),
//! and where the sockets the harness serves were bound before the program ran and handed to the
//! harness over a Unix socket. A connection to any address therefore reaches a harness socket;
//! names resolve, through the resolver in [`dns`], to `127.0.0.1`.
//!
//! Modules:
//! - [`namespace`]: [`namespace::prepare`] puts the namespace's making between `fork` and `exec`
//!   of a [`std::process::Command`] (the one place in credsim with `unsafe` code); the
//!   [`namespace::Plan`] says which sockets to bind, [`namespace::Pending::receive`] hands them
//!   over.
//! - [`dns`]: a DNS responder that answers every name's `A` query with one address.

pub mod dns;
pub mod namespace;

pub use namespace::{Bound, Error, Pending, Plan, Socket, Step, prepare};
