//! A project's own credential code, tested with credsim as an outside user would: this crate
//! depends on the `credsim` library only, and its tests use nothing but its public API.
//!
//! - [`launcher`]: the implementation under test, a tiny in-process one. It knows no identity
//!   yet, so it must refuse safely: a registry host that is not exactly an Azure registry's is
//!   `unsupported` (no credential goes near it), every other request is `not-configured`.
//! - `tests/scenarios.rs`: every file in `scenarios/` and two of credsim's corpus as one test
//!   each under `cargo test` and `cargo nextest`, with this implementation's expectations.
//! - `tests/results.rs`: results and evidence read programmatically, and the report directory.

use credsim::implementation::{Answer, RefusalKind};
use credsim::inprocess::{FnLauncher, from_fn};

/// The implementation under test.
pub fn launcher() -> FnLauncher {
    from_fn("example-provider 0.1.0", |_env, request| async move {
        if !is_azure_registry(&request.registry) {
            return Answer::Refused {
                kind: RefusalKind::Unsupported,
                message: format!("{} is not an Azure container registry", request.registry),
            };
        }
        Answer::Refused {
            kind: RefusalKind::NotConfigured,
            message: format!("project {} has no identity", request.project),
        }
    })
}

/// Whether a registry as the user wrote it names an Azure registry: the host alone decides
/// (anchored at both ends; a path or a longer host does not make it one).
pub fn is_azure_registry(registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or(registry);
    let Some(name) = host.strip_suffix(".azurecr.io") else {
        return false;
    };
    !name.is_empty()
        && !registry.contains('/')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::is_azure_registry;

    #[test]
    fn only_the_host_decides() {
        assert!(is_azure_registry("contosoacr.azurecr.io"));
        assert!(is_azure_registry("contosoacr.azurecr.io:443"));
        assert!(!is_azure_registry("attacker.example/contosoacr.azurecr.io"));
        assert!(!is_azure_registry("contosoacr.azurecr.io.attacker.example"));
        assert!(!is_azure_registry(".azurecr.io"));
        assert!(!is_azure_registry("a.b.azurecr.io"));
    }
}
