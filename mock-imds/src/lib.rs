//! A fake Azure Instance Metadata Service: managed-identity tokens at
//! `http://169.254.169.254/metadata/identity/oauth2/token`, instance metadata, and the App Service
//! variant.
//!
//! Empty so far: nothing here serves requests yet. Its issue builds it on mock-kit and mock-entra.
