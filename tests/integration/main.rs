//! End-to-end tests: the `ispec` binary against real targets (one test binary).

// Shared helpers: the binary, temporary spec folders.
mod util;
// Resource kinds `command` and `file` on the local machine.
mod kinds_core;
// The command line: subcommands, folders of specs, exit codes.
mod cli;
// The book's example specs run here; every kind has its example and its page.
mod examples;
