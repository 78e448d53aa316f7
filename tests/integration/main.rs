//! End-to-end tests: the `ispec` binary against real targets (one test binary).

// Shared helpers: the binary, temporary spec folders.
mod util;
// Shared helpers for the Docker daemon and the fixture images.
mod docker_util;
// Shared helpers for a fixture sshd, test keys, agents and networks.
mod ssh_util;
// Resource kinds `command` and `file` on the local machine.
mod kinds_core;
// Resource kind `package` on this Debian machine.
mod kind_package;
// Resource kind `service` on a target without an init system.
mod kind_service;
// Resource kind `addr`: TCP and UDP ports on the loopback addresses.
mod kind_addr;
// Resource kind `dns`: `localhost` from /etc/hosts.
mod kind_dns;
// Resource kind `http`: a local HTTP server and a self-signed `openssl s_server`.
mod kind_http;
// Ids with shell syntax reach the target as data, for every kind.
mod injection;
// Conditions (`when`) and variables (`${VAR}`): skips, errors, precedence.
mod when_vars;
// The command line: subcommands, folders of specs, exit codes.
mod cli;
// Resource kind `interface` on the local machine.
mod kind_interface;
// Resource kind `kernel-param` on the local machine.
mod kind_kernel_param;
// Resource kind `mount` on the local machine.
mod kind_mount;
// Resource kind `group` on the local machine.
mod kind_group;
// Resource kind `port` on the local machine: IPv4, dual-stack and IPv6-only sockets.
mod kind_port;
// Resource kind `process` on the local machine, with a process started by the test.
mod kind_process;
// Resource kind `user` on the local machine.
mod kind_user;
// Resource kind `image`: the fixture images through `--image` and `docker://`.
mod kind_image;
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
// The book's example specs run here; every kind has its example and its page.
mod examples;
// The Docker backend: `docker://` and `--image` on the fixture images, cleanup.
mod docker;
// `addr`, `dns` and `http` from inside containers on a private Docker network.
mod net_inside;
// Several targets: checked and connected at once, reported in target order; roles.
mod many_hosts;
// The SSH backend: `ssh://` against the fixture's sshd, logins, host keys, jump hosts.
mod ssh;
// The Docker backend against Podman's Docker-compatible service.
mod podman;
// Gathering in bulk: round trips of the web-node benchmark spec on Docker and SSH.
mod round_trips;
// The library as a user's project uses it: the example harness and API, run as
// processes.
mod harness;
// Suites: services on a private network that reach each other, start order, readiness.
mod suite;
