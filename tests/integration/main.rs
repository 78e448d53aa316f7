//! End-to-end tests: the `ispec` binary against real targets (one test binary).

// Shared helpers: the binary, temporary spec folders.
mod util;
// Resource kinds `command` and `file` on the local machine.
mod kinds_core;
// The command line: subcommands, folders of specs, exit codes.
mod cli;
// Spec errors, one class per test, compared whole.
mod errors;
// TAP read by Perl's `prove`.
mod report_tap;
// JUnit XML read by Python's `junitparser`.
mod report_junit;
// The JSON report's field names and types.
mod report_json;
// `--report` files: atomic, refused early, several at once.
mod report_files;
// Colors: `--color`, NO_COLOR, terminals and pipes.
mod colors;
// The run: order whatever `--jobs`, `within`, timeouts.
mod engine;
