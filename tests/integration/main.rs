//! End-to-end tests: the `ispec` binary against real targets (one test binary).

// Shared helpers: the binary, temporary spec folders.
mod util;
// Resource kinds `command` and `file` on the local machine.
mod kinds_core;
// The command line: subcommands, folders of specs, exit codes.
mod cli;
// Resource kind `group` on the local machine.
mod kind_group;
// Resource kind `port` on the local machine: IPv4, dual-stack and IPv6-only sockets.
mod kind_port;
// Resource kind `process` on the local machine, with a process started by the test.
mod kind_process;
// Resource kind `user` on the local machine.
mod kind_user;
