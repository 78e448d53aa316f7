//! Gathering in bulk: before any check is judged, the facts every planned check names
//! ([`Resource::facts`](crate::resource::Resource::facts)) are fetched from the target
//! in as few round trips as possible and stored in the host's memo, where the checks'
//! probes then find them.
//!
//! Three ways, tried in this order for a target:
//!
//! 1. **probe**: ispec's static probe (built from `probe/`, embedded in ispec) goes
//!    into the target with the batch appended to it, runs once, answers every query
//!    in one reply and removes itself. Docker: copied by the archive endpoint and
//!    started by one exec, so no shell is needed. SSH and others: one command that
//!    receives it on standard input, runs it and removes it.
//! 2. **script**: when the probe cannot run there (another architecture, no place to
//!    put it that allows running programs), one POSIX shell script answers the same
//!    batch with the target's own `cat`, `stat` and `readlink`.
//! 3. **per fact**: with `--no-probe` and no shell, or when both failed: every fact
//!    is fetched when a check asks for it, one round trip each.
//!
//! A fact no check named in advance is fetched the third way when asked for, so a
//! wrong guess costs time, never a wrong result.

use std::fmt;
use std::time::Duration;

use ispec_probe::wire::{self, Query, Reply};

use crate::backend::{BackendError, FileMeta};
use crate::cmd::{Cmd, Output};
use crate::host::{Host, ProbeError};
use crate::os::OsInfo;

/// The probe built for this machine's architecture; empty if the build could not
/// make it (see `build.rs`).
static PROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ispec-probe"));
/// The same, gzipped (by `build.rs`), for targets reached through a shell.
static PROBE_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ispec-probe.gz"));

/// The CPU the embedded probe runs on, as `uname -m` names it.
pub const PROBE_ARCH: &str = std::env::consts::ARCH;

/// One fact a check needs, named before it is gathered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fact {
    /// A file's content, or that it does not exist ([`Host::read_opt`]).
    Read(String),
    /// A path's metadata ([`Host::lstat`]).
    Lstat(String),
    /// A program's output ([`Host::run_memo`]).
    Run(Cmd),
    /// Every process ([`Host::processes`]).
    Processes,
    /// A connection, a name's addresses or an `http://` response from inside the
    /// target ([`Host::gathered_net`]); see [`net`].
    Net(net::Net),
}

impl Fact {
    /// The fact as the gathering script can answer it: a network fact becomes its
    /// fallback program (or nothing, when it has none).
    fn for_script(&self) -> Option<Self> {
        match self {
            Self::Net(n) => n.fallback.clone().map(Self::Run),
            other => Some(other.clone()),
        }
    }
}

/// What a kind may know when it names its facts.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The target's OS, once it has been read; `None` in the first round.
    pub os: Option<&'a OsInfo>,
    /// The time limit the check's probe will run with.
    pub timeout: Duration,
    /// After the first round: the target as gathered so far, for facts that depend
    /// on other facts. Ask it only for facts the first round named (it fetches the
    /// others one by one).
    pub host: Option<&'a Host>,
}

/// How a target's facts are gathered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// This machine: every fact is read or run here when a check asks for it.
    Local,
    /// The static probe.
    Probe,
    /// One shell script per batch.
    Script,
    /// One round trip per fact.
    PerFact,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Probe => "probe",
            Self::Script => "script",
            Self::PerFact => "per-fact",
        })
    }
}

/// Returns true if this ispec carries a probe.
pub fn have_probe() -> bool {
    !PROBE.is_empty()
}

/// Why a way of gathering cannot be used on a target (the next is tried).
#[derive(Debug)]
pub(crate) enum Failure {
    /// This way does not work on this target, and why; try the next.
    Unusable(String),
    /// The round trip failed; its facts are left to be fetched one by one.
    Transport(BackendError),
}

/// Fetches `facts` in one batch the host's current way and fills its memo. A way that
/// turns out unusable is dropped for the rest of the run, with the reason kept for
/// `--stats`.
///
/// A `light` batch (a `within` retry of one resource: a few facts, maybe many times)
/// carries no probe: it goes by the script where the target has a shell, else fact by
/// fact, and changes nothing for the other batches.
pub(crate) fn batch(host: &Host, facts: &[Fact], light: bool) {
    if facts.is_empty() {
        return;
    }
    // Network facts are answered natively by the probe only: a retry of one goes
    // with the probe too, or a target without `curl` would fail where it passed.
    let native = facts.iter().any(|f| matches!(f, Fact::Net(_)));
    if light && !native && host.mode() == Mode::Probe {
        if host.script_works() {
            if let Err(Failure::Unusable(_)) = by_script(host, facts) {
                host.script_failed();
            }
        }
        return;
    }
    loop {
        let mode = host.mode();
        let done = match mode {
            Mode::Probe => probe::by_probe(host, facts),
            Mode::Script => by_script(host, facts),
            Mode::Local | Mode::PerFact => return,
        };
        match done {
            Ok(()) => return,
            Err(Failure::Transport(e)) => {
                // The way still works; this batch's facts are asked for one by one.
                host.downgrade(
                    mode,
                    mode,
                    format!("a batch failed ({e}); its facts were fetched one by one"),
                );
                return;
            }
            Err(Failure::Unusable(why)) => {
                let next = if mode == Mode::Probe {
                    Mode::Script
                } else {
                    host.script_failed();
                    Mode::PerFact
                };
                host.downgrade(mode, next, why);
            }
        }
    }
}

fn queries(facts: &[Fact], timeout: Duration) -> Vec<Query> {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    facts
        .iter()
        .map(|fact| match fact {
            Fact::Read(path) => Query::Read(path.clone()),
            Fact::Lstat(path) => Query::Lstat(path.clone()),
            Fact::Processes => Query::Processes,
            Fact::Net(n) => n.query.wire(),
            Fact::Run(cmd) => Query::Run(wire::Run {
                argv: cmd.argv(),
                input: cmd.input().map(<[u8]>::to_vec),
                timeout_ms: ms,
            }),
        })
        .collect()
}

/// The limit for a whole batch: each program has the check's limit, and some run
/// after others when there are more than `jobs`.
fn batch_limit(host: &Host, facts: &[Fact]) -> Duration {
    let runs = facts
        .iter()
        .filter(|f| matches!(f, Fact::Run(_) | Fact::Net(_)))
        .count();
    let waves = u32::try_from(runs.div_ceil(host.jobs().max(1)).max(1)).unwrap_or(u32::MAX);
    // A network fact carries its own limit, which may be longer than the host's.
    let longest = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Net(n) => Some(n.query.limit()),
            _ => None,
        })
        .fold(host.timeout(), Duration::max);
    longest.saturating_mul(waves) + Duration::from_secs(10)
}

fn unusable_or_transport(e: BackendError, program: &str) -> Failure {
    match e {
        BackendError::ToolMissing(_) => Failure::Unusable(format!("no `{program}` on the target")),
        BackendError::Denied(why) => Failure::Unusable(why),
        other => Failure::Transport(other),
    }
}

fn by_script(host: &Host, facts: &[Fact]) -> Result<(), Failure> {
    let facts: Vec<Fact> = facts.iter().filter_map(Fact::for_script).collect();
    let facts = &facts[..];
    if facts.is_empty() {
        return Ok(());
    }
    let limit = batch_limit(host, facts);
    let script = script::build(&queries(facts, host.timeout()));
    let out = host
        .exec_counted(&Cmd::shell(script), limit)
        .map_err(|e| unusable_or_transport(e, "sh"))?;
    let replies = wire::parse_replies(&out.stdout, facts.len()).map_err(|e| {
        Failure::Unusable(format!(
            "the gathering script failed (exit status {}): {}",
            out.status.map_or_else(|| "none".into(), |s| s.to_string()),
            if out.stderr.is_empty() {
                e.to_string()
            } else {
                out.stderr_text().trim().to_string()
            }
        ))
    })?;
    fill(host, facts, replies.replies);
    Ok(())
}

/// Stores each answer in the host's memo; a fact with no answer is left to be asked
/// for alone.
fn fill(host: &Host, facts: &[Fact], replies: Vec<Option<Reply>>) {
    for (fact, reply) in facts.iter().zip(replies) {
        let Some(reply) = reply else { continue };
        match fact {
            Fact::Read(path) => host.remember_read(path, read_answer(reply)),
            Fact::Lstat(path) => host.remember_lstat(path, lstat_answer(path, reply)),
            Fact::Run(cmd) => host.remember_run(cmd, run_answer(cmd, reply, host.timeout())),
            Fact::Processes => host.remember_processes(match reply {
                Reply::Ok(mut fields) if !fields.is_empty() => Ok(fields.swap_remove(0)),
                other => Err(error(other, "the process listing")),
            }),
            Fact::Net(n) => host.remember_net(&n.query, n.query.answer(reply)),
        }
    }
}

fn error(reply: Reply, what: &str) -> ProbeError {
    match reply {
        Reply::Missing(program) => ProbeError::ToolMissing(program),
        Reply::Denied(why) => ProbeError::Denied(why),
        Reply::Failed(why) => ProbeError::Failed(why),
        Reply::NotFound => ProbeError::Failed(format!("{what} does not exist")),
        Reply::Timeout => ProbeError::Failed(format!("{what} timed out")),
        Reply::Ok(_) => ProbeError::Failed(format!("{what}: an answer ispec cannot read")),
    }
}

fn read_answer(reply: Reply) -> Result<Option<Vec<u8>>, ProbeError> {
    match reply {
        Reply::Ok(mut fields) if fields.len() == 1 => Ok(Some(fields.swap_remove(0))),
        Reply::NotFound => Ok(None),
        other => Err(error(other, "the file")),
    }
}

fn lstat_answer(path: &str, reply: Reply) -> Result<Option<FileMeta>, ProbeError> {
    let fields = match reply {
        Reply::Ok(fields) => fields,
        Reply::NotFound => return Ok(None),
        other => return Err(error(other, &format!("`{path}`"))),
    };
    let bad = || ProbeError::Failed(format!("unexpected metadata for `{path}`: {fields:?}"));
    let text = String::from_utf8_lossy(fields.first().ok_or_else(bad)?).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    let [kind, mode, uid, gid, size, mtime] = words[..] else {
        return Err(bad());
    };
    let kind = match kind {
        "file" => "file",
        "directory" => "directory",
        "symlink" => "symlink",
        "pipe" => "pipe",
        "socket" => "socket",
        "block-device" => "block-device",
        "character-device" => "character-device",
        _ => "unknown",
    };
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    Ok(Some(FileMeta {
        kind,
        mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
        uid: num(uid)?,
        gid: num(gid)?,
        size: num(size)?,
        mtime: num(mtime)?,
        link: (kind == "symlink")
            .then(|| {
                fields
                    .get(1)
                    .map(|l| String::from_utf8_lossy(l).into_owned())
            })
            .flatten(),
    }))
}

fn run_answer(cmd: &Cmd, reply: Reply, timeout: Duration) -> Result<Output, ProbeError> {
    match reply {
        Reply::Ok(mut fields) if fields.len() == 3 => {
            let stderr = fields.pop().unwrap_or_default();
            let stdout = fields.pop().unwrap_or_default();
            let status = String::from_utf8_lossy(&fields[0]).trim().parse().ok();
            Ok(Output {
                status,
                stdout,
                stderr,
            })
        }
        Reply::Timeout => Err(ProbeError::Timeout(timeout)),
        other => Err(error(other, &format!("`{cmd}`"))),
    }
}

pub mod net;
mod probe;
mod script;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_runs_are_read() {
        let meta = lstat_answer(
            "/l",
            Reply::Ok(vec![
                b"symlink 777 0 0 4 1700000000".to_vec(),
                b"/x".to_vec(),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (meta.kind, meta.mode, meta.link.as_deref()),
            ("symlink", 0o777, Some("/x"))
        );
        assert!(lstat_answer("/l", Reply::Ok(vec![b"file 644".to_vec()])).is_err());
        assert_eq!(lstat_answer("/l", Reply::NotFound).unwrap(), None);
        let cmd = Cmd::new("true");
        let out = run_answer(
            &cmd,
            Reply::Ok(vec![b"-".to_vec(), b"o".to_vec(), b"e".to_vec()]),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!((out.status, &out.stdout[..]), (None, &b"o"[..]));
        assert_eq!(
            run_answer(&cmd, Reply::Missing("true".into()), Duration::ZERO).unwrap_err(),
            ProbeError::ToolMissing("true".into())
        );
    }
}
