//! The first way of gathering: ispec's static probe, with the batch as its trailer,
//! put in the target (by the backend's own way, or else through a shell), run once,
//! and removed.

use std::io::Write as _;
use std::time::Duration;

use ispec_probe::wire::{self, Batch};

use super::{
    Fact, Failure, PROBE, PROBE_ARCH, PROBE_GZ, batch_limit, fill, have_probe, queries,
    unusable_or_transport,
};
use crate::backend::BackendError;
use crate::cmd::{Cmd, Output};
use crate::host::Host;

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

pub(super) fn by_probe(host: &Host, facts: &[Fact]) -> Result<(), Failure> {
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
