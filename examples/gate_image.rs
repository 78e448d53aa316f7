//! A `cargo test` gate for a machine image: a throwaway container from the image,
//! every check of the spec a test. In a project of your own, this file is
//! `tests/image.rs` with `[[test]] name = "image" harness = false` in `Cargo.toml`.
//!
//! ```sh
//! fixtures/images/build debian          # the image it gates (no registry needed)
//! cargo run --example gate_image                   # every check
//! cargo run --example gate_image -- --list         # the checks, one per line
//! cargo run --example gate_image -- port::         # only the port checks
//! GATE_SPEC=my.toml cargo run --example gate_image # another spec
//! ```

use std::process::ExitCode;

use ispec::Target;
use ispec::harness::Harness;

fn main() -> ExitCode {
    let image =
        std::env::var("GATE_IMAGE").unwrap_or_else(|_| "ispec-fixture/debian:bookworm".into());
    let spec =
        std::env::var("GATE_SPEC").unwrap_or_else(|_| "specs/docker/debian-fixture.toml".into());
    let mut target = Target::image(image).wait_port(80);
    // CI can tell this run's containers apart, e.g. GATE_LABEL=ci.job=1234.
    if let Ok(label) = std::env::var("GATE_LABEL") {
        target = target.label(label);
    }
    Harness::from_args().target(target).spec_file(spec).run()
}
