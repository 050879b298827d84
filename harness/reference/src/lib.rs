//! credsim's reference implementation and its catalogue of deliberately broken variants. It
//! needs only the implementation trait and the protocol adapters of the `credsim` crate.
//!
//! Module map:
//! - [`reference`]: the reference implementation (per-project ServiceAccount, per-shard
//!   client-ID annotation, TokenRequest, Entra and ACR exchanges, a cache keyed by all of it),
//!   in-process and as `credsim reference`, and its deliberate flaws.
//! - [`catalogue`]: the flaws' verdict table (`flaws.yaml`), reviewed like code, and the
//!   mutation score (`credsim flaws`).

pub mod catalogue;
pub mod reference;
