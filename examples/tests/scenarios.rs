//! This crate's scenarios, one test each: `cargo test -p credsim-example --test scenarios`
//! (add `-- --list` to list them, or a name to run some).

use credsim::harness::Harness;

fn main() {
    let dir = env!("CARGO_MANIFEST_DIR");
    Harness::paths([format!("{dir}/scenarios")])
        .implementation(credsim_example::launcher())
        .expectations(format!("{dir}/expectations.yaml"))
        .report_dir(format!("{}/report", env!("CARGO_TARGET_TMPDIR")))
        .prefix("example")
        .main()
}
