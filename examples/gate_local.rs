//! A `cargo test` harness for the machine the tests run on, with specs from a TOML
//! file and from Rust (`ispec::dsl`) side by side. In a project of your own, this
//! file is `tests/host.rs` with `[[test]] name = "host" harness = false`.
//!
//! ```sh
//! cargo run --example gate_local
//! cargo run --example gate_local -- --list
//! cargo run --example gate_local -- user::
//! ```

use std::process::ExitCode;

use ispec::Target;
use ispec::dsl::{self, Resource, contains, matches};
use ispec::harness::Harness;

fn main() -> ExitCode {
    Harness::from_args()
        .target(Target::local())
        .spec_file("specs/examples/localhost.toml")
        .resources([
            Resource::from(
                dsl::file("/")
                    .type_("directory")
                    .mode(matches("^0[0-7]55$")),
            ),
            dsl::user("root").uid(0).home("/root").into(),
            dsl::group("root").gid(0).into(),
            dsl::command("uname -s")
                .exit_status(0)
                .stdout(contains("Linux"))
                .into(),
        ])
        .run()
}
