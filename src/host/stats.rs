//! What one target's run cost: `--stats`, the JSON report's `targets`, the library's
//! `Report::targets`.

use std::time::Duration;

/// Where the time of one target's run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reaching the target: the engine, the SSH handshake and login.
    Connect,
    /// Starting a throwaway container and waiting until it is ready.
    Setup,
    /// Fetching the facts of every check in bulk.
    Gather,
    /// Observing each resource (facts not gathered in bulk are fetched here) and
    /// judging its checks.
    Judge,
    /// Removing what the run started.
    Teardown,
}

/// What one target's run cost: `--stats` and the JSON report show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// How facts were gathered: `probe`, `script`, `per-fact` or `local`.
    pub mode: String,
    /// Why a faster way was not used, if one was not.
    pub fallback: Option<String>,
    /// Requests to the target: each exec, file read, file copy or engine call.
    pub round_trips: u64,
    /// Bytes sent to the target (programs copied in, standard input).
    pub bytes_sent: u64,
    /// Bytes received (output, file contents).
    pub bytes_received: u64,
    /// Time per phase, in the order of [`Phase`].
    pub phases: [Duration; 5],
    /// The facts fetched alone, each in a round trip of its own (the first 50).
    pub alone: Vec<String>,
}
