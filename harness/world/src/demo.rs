//! The built-in demo world that `credsim up` serves without `--world`: `demo.yaml`, an ordinary
//! scenario with no steps (so `credsim ctl apply` changes it with the format's steps, and
//! `credsim ctl save` writes it back as a scenario).
//!
//! The CLI contract's demo world: two tenants; in the first, an app with a client secret, a
//! registry (`contosoacr`, ABAC mode) with one repository per project, and one user-assigned
//! managed identity per project federated to that project's dedicated ServiceAccount
//! (`credentials`) on `shard-a` and granted pull on that project's repository only; a second
//! registry (`fabrikamacr`) in the second tenant; two embedded clusters (`shard-a`, `shard-b`)
//! with distinct issuers, each running a Kargo-like controller (`kargo/kargo-controller`) that may
//! mint tokens only for the dedicated `credentials` ServiceAccount of the project namespaces on
//! its shard; a node on `shard-a` with a managed identity (for IMDS); and three faults, off until
//! switched on (`entra-throttled`, `acr-unavailable`, `imds-unavailable`).

/// The file name diagnostics and saved scenarios give the demo world.
pub const FILE: &str = "demo.yaml";

/// The demo world's scenario file.
pub const TEXT: &str = include_str!("demo.yaml");

/// The issuer URL of a demo shard.
pub fn issuer_url(shard: &str) -> String {
    format!("https://oidc.{shard}.credsim.test/")
}

/// The demo world's scenario.
pub fn scenario() -> scenarios::Scenario {
    // The file is part of this crate and its test loads it: it cannot fail to load at run time.
    scenarios::load_str(FILE, TEXT)
        .expect("the built-in demo world loads")
        .scenario
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_world_loads_without_warnings() {
        let loaded = scenarios::load_str(FILE, TEXT).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let s = loaded.scenario;
        assert_eq!(s.world.tenants.len(), 2);
        assert_eq!(s.shards().count(), 2);
        assert_eq!(s.world.faults.iter().filter(|f| f.active).count(), 0);
        let a = s.world.cluster("shard-a").unwrap();
        assert_eq!(a.issuer, issuer_url("shard-a"));
        // The annotations name the identities' derived client IDs.
        let mi = &s.world.tenants[0].managed_identities[0];
        let sa = &a.project("project-a").unwrap().service_accounts[0];
        assert_eq!(
            sa.annotations["azure.workload.identity/client-id"],
            mi.client_id.to_string()
        );
        assert_eq!(
            mi.client_id,
            scenarios::model::guid::client_id("contoso", "project-a-mi")
        );
    }
}
