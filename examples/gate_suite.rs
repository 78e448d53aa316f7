//! A `cargo test` gate for services that must work together: the suite in
//! `specs/interact/` (three throwaway containers on a private network), every check
//! a test. The whole suite is started when the first selected test runs, and
//! removed when the harness ends.
//!
//! ```sh
//! fixtures/images/build                            # the images it starts
//! cargo run --example gate_suite                   # every check
//! cargo run --example gate_suite -- --list         # the checks, `TARGET::KIND::ID::PROPERTY`
//! cargo run --example gate_suite -- client::       # the client's checks (all three start)
//! GATE_SUITE=ispec.toml cargo run --example gate_suite
//! ```

use std::process::ExitCode;

use ispec::harness::Harness;

fn main() -> ExitCode {
    let suite = std::env::var("GATE_SUITE").unwrap_or_else(|_| "specs/interact/ispec.toml".into());
    let mut harness = Harness::from_args().suite(suite);
    // CI can tell this run's containers apart, e.g. GATE_LABEL=ci.job=1234.
    if let Ok(label) = std::env::var("GATE_LABEL") {
        harness = harness.label(label);
    }
    harness.run()
}
