//! A fake Azure Container Registry: the challenge, `/oauth2/exchange`, `/oauth2/token`, the OCI
//! read API, and the legacy and ABAC authorization models.
//!
//! Empty so far: nothing here serves requests yet. Its issue builds it on mock-kit and mock-entra.
