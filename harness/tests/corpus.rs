//! Every corpus scenario as a test of its own, run against the reference implementation
//! in-process through the public harness (`credsim::harness`): `cargo test -p credsim-cli --test
//! corpus -- happy` runs the ones whose name matches, `--list` lists them (nextest uses that). A
//! failing scenario prints the human report: the step, the property's claim and the evidence.

fn main() {
    credsim::harness::Harness::corpus()
        .implementation(credsim_reference::ReferenceLauncher)
        .prefix("corpus")
        .main()
}
