//! A Kubernetes API-server emulator for what credential flows touch: ServiceAccounts,
//! TokenRequest, RBAC, and service-account issuer discovery, each cluster with its own issuer.
//!
//! Empty so far: nothing here serves requests yet. Its issue builds it on mock-kit.
