//! kind cluster configurations whose API server signs ServiceAccount tokens with a key and issuer
//! URL the harness provides, so mock-entra can federate with real clusters.
//!
//! Empty so far: its issue writes the configs and the cluster backend.
