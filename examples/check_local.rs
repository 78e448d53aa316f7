//! The library without the harness: check this machine against a spec and read the
//! results as values.
//!
//! ```sh
//! cargo run --example check_local -- specs/examples/localhost.toml
//! ```

use std::process::ExitCode;

use ispec::{Run, Target};

fn main() -> ExitCode {
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "specs/examples/localhost.toml".into());
    let report = match Run::new()
        .target(Target::local())
        .spec_file(&spec)
        .execute()
    {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    for failed in report.failures() {
        println!(
            "{} {}: {} expected {}, got {} ({})",
            failed.kind,
            failed.id,
            failed.property,
            failed.expected,
            failed.actual.as_deref().unwrap_or("nothing"),
            failed.location.short()
        );
    }
    let s = &report.summary;
    println!(
        "{} passed, {} failed, {} errored, {} skipped",
        s.passed, s.failed, s.errored, s.skipped
    );
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
