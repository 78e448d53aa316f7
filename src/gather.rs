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
use std::io::Write as _;
use std::time::Duration;

use ispec_probe::wire::{self, Batch, Query, Reply};

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
    if light && host.mode() == Mode::Probe {
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
            Mode::Probe => by_probe(host, facts),
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
    let runs = facts.iter().filter(|f| matches!(f, Fact::Run(_))).count();
    let waves = u32::try_from(runs.div_ceil(host.jobs().max(1)).max(1)).unwrap_or(u32::MAX);
    host.timeout().saturating_mul(waves) + Duration::from_secs(10)
}

/// Puts the probe (with the batch as its trailer) in the target through the
/// backend's own way, or else through a shell; runs it; removes it.
///
/// In a shell (`$1`: the probe's CPU; `$2`: `gzip` when standard input is gzipped),
/// the probe goes to a private temporary file; the shell that runs it names itself
/// in `ISPEC_PROBE_SHELL` so the process listing leaves it out. A host without
/// `gzip` says [`NO_GZIP`] and is sent the probe as it is.
const PROBE_SHELL: &str = r#"if m=$(uname -m 2>/dev/null) && [ "$m" != "$1" ]; then
  cat >/dev/null; echo "the probe is built for $1, this host is $m" >&2; exit 126
fi
if [ "$2" = gzip ] && ! command -v gzip >/dev/null 2>&1; then
  cat >/dev/null; echo 'ispec: no gzip here' >&2; exit 125
fi
umask 077
d=${TMPDIR:-/tmp}
f=$(mktemp "$d/.ispec-probe.XXXXXX" 2>/dev/null) || { f=$d/.ispec-probe.$$; set -C; : >"$f" || exit 125; set +C; }
if [ "$2" = gzip ]; then gzip -dc; else cat; fi >"$f" || { rm -f "$f"; exit 125; }
chmod 700 "$f"
ISPEC_PROBE_SHELL=$$ "$f"
s=$?
rm -f "$f"
exit $s
"#;

fn by_probe(host: &Host, facts: &[Fact]) -> Result<(), Failure> {
    if !have_probe() {
        return Err(Failure::Unusable(
            "this ispec was built without its probe".into(),
        ));
    }
    let limit = batch_limit(host, facts);
    let batch = Batch {
        jobs: u32::try_from(host.jobs()).unwrap_or(u32::MAX),
        queries: queries(facts, host.timeout()),
    };
    let backend = host.backend();
    let payload = batch.appended_to(PROBE);
    let (out, put) = if let Some(put) = backend.put_executable(&payload, PROBE_ARCH, limit) {
        host.count(1, if put.is_ok() { payload.len() } else { 0 }, 0);
        let path = put.map_err(|e| match e {
            // Nowhere to put it (a read-only root): the script needs no file.
            BackendError::Denied(why) | BackendError::Failed(why) => Failure::Unusable(why),
            other => Failure::Transport(other),
        })?;
        let out = host
            .exec_counted(&Cmd::new(path.clone()), limit)
            .map_err(|e| unusable_or_transport(e, "the probe"))?;
        (out, Some(path))
    } else {
        let through_sh = |input: Vec<u8>, form: &str| {
            let cmd = Cmd::shell(PROBE_SHELL)
                .arg(PROBE_ARCH)
                .arg(form)
                .stdin(input);
            host.exec_counted(&cmd, limit)
                .map_err(|e| unusable_or_transport(e, "sh"))
        };
        if host.gzip_works() {
            let out = through_sh(gzipped(&batch), "gzip")?;
            if !(out.status == Some(125) && out.stderr_text().contains(NO_GZIP)) {
                return finish(host, facts, &out, None);
            }
            host.no_gzip();
        }
        (through_sh(payload, "plain")?, None)
    };
    finish(host, facts, &out, put.as_deref())
}

/// What a host without `gzip` says when sent the gzipped probe.
const NO_GZIP: &str = "ispec: no gzip here";

/// The probe and its batch as two gzip members, which `gzip -dc` writes out as one
/// file: the probe compressed at build time, the trailer now.
fn gzipped(batch: &Batch) -> Vec<u8> {
    let mut out = PROBE_GZ.to_vec();
    let mut trailer = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
    // Writing to memory cannot fail.
    let _ = trailer.write_all(&batch.appended_to(&[]));
    let _ = trailer.finish();
    out
}

/// Reads the probe's reply into the memo, or says why the probe did not run (and
/// removes a probe that was put in the target and could not remove itself).
fn finish(host: &Host, facts: &[Fact], out: &Output, put: Option<&str>) -> Result<(), Failure> {
    let replies = match wire::parse_replies(&out.stdout, facts.len()) {
        Ok(replies) => replies,
        Err(e) => {
            let why = if out.stderr.is_empty() {
                e.to_string()
            } else {
                out.stderr_text().trim().to_string()
            };
            if let Some(path) = put {
                // It did not run, so it cannot remove itself.
                remove_put(host, &Cmd::new("rm").arg("-f").arg("--").arg(path), path);
            }
            return Err(Failure::Unusable(format!(
                "the probe did not run (exit status {}): {why}",
                out.status.map_or_else(|| "none".into(), |s| s.to_string())
            )));
        }
    };
    if let Some(path) = put {
        if !replies.unlinked {
            remove_put(host, &Cmd::new(path).arg("--unlink"), path);
        }
    }
    fill(host, facts, replies.replies);
    Ok(())
}

/// Removes, as root, a probe that did not remove itself: with `remove`, which is the
/// probe itself (`--unlink`: a non-root container user may not write in `/`) or `rm`
/// (the probe could not run). Says so when that fails too.
fn remove_put(host: &Host, remove: &Cmd, path: &str) {
    let Some(done) = host.backend().exec_as_root(remove, Duration::from_secs(30)) else {
        return;
    };
    host.count(1, 0, 0);
    let why = match done {
        Ok(out) if out.success() => return,
        Ok(out) => out.stderr_text().trim().to_string(),
        Err(e) => e.to_string(),
    };
    eprintln!(
        "warning: could not remove ispec's probe `{path}` from {} ({why}); remove it by hand",
        host.target()
    );
}

fn unusable_or_transport(e: BackendError, program: &str) -> Failure {
    match e {
        BackendError::ToolMissing(_) => Failure::Unusable(format!("no `{program}` on the target")),
        BackendError::Denied(why) => Failure::Unusable(why),
        other => Failure::Transport(other),
    }
}

fn by_script(host: &Host, facts: &[Fact]) -> Result<(), Failure> {
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
