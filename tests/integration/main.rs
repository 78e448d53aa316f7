//! End-to-end tests: the `ispec` binary against real targets (one test binary).

// Shared helpers: the binary, temporary spec folders.
mod util;
// Resource kinds `command` and `file` on the local machine.
mod kinds_core;
// Resource kind `addr`: TCP and UDP ports on the loopback addresses.
mod kind_addr;
// Resource kind `dns`: `localhost` from /etc/hosts.
mod kind_dns;
// Resource kind `http`: a local HTTP server and a self-signed `openssl s_server`.
mod kind_http;
// The command line: subcommands, folders of specs, exit codes.
mod cli;
