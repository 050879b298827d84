//! The scenario format (`apiVersion: credsim.dev/v1alpha1`): schema, loader with `file:line:col`
//! errors, semantic validation, JSON Schema. Depends on no other workspace crate.
//!
//! Empty so far: its issue defines the format.
