//! Answering a batch on the target itself: files read and `lstat`ed with the standard
//! library, processes read from `/proc`, programs run (and connections, name lookups
//! and HTTP requests made, see [`crate::net`]) at most `jobs` at a time, each program
//! stopped with its whole process group when its time runs out.

use std::ffi::OsString;
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::{Batch, Query, REPLY_HEADER, Reply, Run};

/// The folders a program is looked for in besides the target's own `PATH`: checks
/// name tools such as `sysctl` and `nginx` that live in `sbin`.
const SBIN: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The probe's `main`: reads the batch from its own file's trailer (or, without one,
/// from standard input), removes its own file unless told `--keep`, answers on
/// standard output. `--unlink` only removes the file (for a target where the user
/// that ran the probe could not). Returns the exit status.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().collect();
    let me = args.first().cloned().unwrap_or_default();
    let flag = args.get(1).and_then(|a| a.to_str());
    if flag == Some("--unlink") {
        return match std::fs::remove_file(&me) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ispec-probe: cannot remove {}: {e}", me.to_string_lossy());
                1
            }
        };
    }
    let batch = match load_batch(Path::new(&me)) {
        Ok(batch) => batch,
        Err(e) => {
            eprintln!("ispec-probe: {e}");
            return 2;
        }
    };
    let unlinked = flag != Some("--keep") && std::fs::remove_file(&me).is_ok();
    let stdout = Mutex::new(io::BufWriter::with_capacity(1 << 16, io::stdout()));
    let written = (|| {
        stdout
            .lock()
            .expect("stdout")
            .write_all(REPLY_HEADER.as_bytes())?;
        serve(&batch, &stdout)?;
        let mut out = stdout.lock().expect("stdout");
        writeln!(out, "end {}", u8::from(unlinked))?;
        out.flush()
    })();
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ispec-probe: cannot write the reply: {e}");
            3
        }
    }
}

fn load_batch(me: &Path) -> Result<Batch, String> {
    let file = std::fs::read(me)
        .or_else(|_| std::fs::read("/proc/self/exe"))
        .map_err(|e| format!("cannot read my own file {}: {e}", me.display()))?;
    if let Some(batch) = Batch::from_trailer(&file).map_err(|e| e.to_string())? {
        return Ok(batch);
    }
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the batch from standard input: {e}"))?;
    Batch::decode(&input).map_err(|e| e.to_string())
}

/// Answers every query of `batch` to `out`, each answer written whole. Files and
/// processes are read first, so the listing never shows the programs the batch runs.
pub fn serve<W: Write + Send>(batch: &Batch, out: &Mutex<W>) -> io::Result<()> {
    let send = |index: usize, reply: &Reply| -> io::Result<()> {
        out.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .write_all(&reply.frame(index))
    };
    let mut runs = Vec::new();
    for (index, query) in batch.queries.iter().enumerate() {
        match query {
            Query::Read(path) => send(index, &read(path))?,
            Query::Lstat(path) => send(index, &lstat(path))?,
            Query::Processes => send(index, &processes())?,
            Query::Run(_) | Query::Connect(_) | Query::Resolve(_) | Query::Http(_) => {
                runs.push((index, query));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    thread::scope(|scope| {
        for _ in 0..(batch.jobs.max(1) as usize).min(runs.len()) {
            scope.spawn(|| {
                while let Some((index, query)) = runs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(e) = send(*index, &slow(query)) {
                        *failed.lock().expect("error slot") = Some(e);
                        return;
                    }
                }
            });
        }
    });
    failed.into_inner().expect("error slot").map_or(Ok(()), Err)
}

/// The answer to a query that waits on a program or the network.
fn slow(query: &Query) -> Reply {
    match query {
        Query::Run(r) => run(r),
        Query::Connect(c) => crate::net::connect(c),
        Query::Resolve(r) => crate::net::resolve_reply(r),
        Query::Http(h) => crate::http::request(h),
        Query::Read(_) | Query::Lstat(_) | Query::Processes => {
            Reply::Failed("not a slow query".into())
        }
    }
}

/// A whole file.
pub fn read(path: &str) -> Reply {
    match std::fs::read(path) {
        Ok(bytes) => Reply::Ok(vec![bytes]),
        Err(e) => match e.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => Reply::NotFound,
            ErrorKind::PermissionDenied => Reply::Denied(format!("cannot read `{path}`")),
            ErrorKind::IsADirectory => Reply::Failed(format!("`{path}` is a directory")),
            _ => Reply::Failed(format!("cannot read `{path}`: {e}")),
        },
    }
}

/// A path's metadata, not following a final symlink.
pub fn lstat(path: &str) -> Reply {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            return match e.kind() {
                ErrorKind::NotFound | ErrorKind::NotADirectory => Reply::NotFound,
                ErrorKind::PermissionDenied => Reply::Denied(format!("cannot stat `{path}`")),
                _ => Reply::Failed(format!("cannot stat `{path}`: {e}")),
            };
        }
    };
    let ty = meta.file_type();
    let kind = if ty.is_file() {
        "file"
    } else if ty.is_dir() {
        "directory"
    } else if ty.is_symlink() {
        "symlink"
    } else if ty.is_fifo() {
        "pipe"
    } else if ty.is_socket() {
        "socket"
    } else if ty.is_block_device() {
        "block-device"
    } else if ty.is_char_device() {
        "character-device"
    } else {
        "unknown"
    };
    let text = format!(
        "{kind} {:o} {} {} {} {}",
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid(),
        meta.size(),
        meta.mtime()
    );
    let mut fields = vec![text.into_bytes()];
    if ty.is_symlink() {
        match std::fs::read_link(path) {
            Ok(link) => fields.push(link.as_os_str().as_bytes().to_vec()),
            Err(e) => return Reply::Failed(format!("cannot read the link `{path}`: {e}")),
        }
    }
    Reply::Ok(fields)
}

/// Every process but the probe itself (and the shell that started it, which names
/// itself in `ISPEC_PROBE_SHELL`), in [`listing`]'s format.
pub fn processes() -> Reply {
    if std::fs::metadata("/proc/self/status").is_err() {
        return Reply::Failed(
            "`/proc` is not mounted on the target; process checks read it".into(),
        );
    }
    if std::fs::read("/proc/1/status").is_err() {
        return Reply::Denied(
            "`/proc` hides other users' processes (`hidepid`); check as root".into(),
        );
    }
    let own = std::process::id().to_string();
    let shell = std::env::var("ISPEC_PROBE_SHELL").unwrap_or_default();
    match listing(Path::new("/proc"), &[&own, &shell]) {
        Ok(listing) => Reply::Ok(vec![listing]),
        Err(e) => Reply::Failed(format!("cannot list `/proc`: {e}")),
    }
}

/// Every process under `proc` (a `/proc`, maybe seen from outside its namespace)
/// but the pids in `skip`, as `pid NUL euid NUL comm NUL cmdline NUL state NUL fds
/// NUL` (see [`Query::Processes`]), the command line's
/// own NULs made spaces. A process that exits while it is read is left out.
pub fn listing(proc: &Path, skip: &[&str]) -> io::Result<Vec<u8>> {
    let mut listing = Vec::new();
    for entry in std::fs::read_dir(proc)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if skip.contains(&name.as_str()) {
            continue;
        }
        let dir = entry.path();
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
        else {
            continue;
        };
        // `State:\tZ (zombie)`: the letter alone.
        let state = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("-");
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let mut args = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        for b in &mut args {
            if *b == 0 {
                *b = b' ';
            }
        }
        let fds = open_fds(&dir).map_or_else(|| "-".to_string(), |n| n.to_string());
        for field in [
            name.as_bytes(),
            euid.as_bytes(),
            comm.lines().next().unwrap_or("").as_bytes(),
            &args,
            state.as_bytes(),
            fds.as_bytes(),
        ] {
            listing.extend_from_slice(field);
            listing.push(0);
        }
    }
    Ok(listing)
}

/// How many descriptors the process at `dir` (`/proc/PID`) holds open: the entries of
/// its `fd` folder; `None` when this user may not read it (another user's process).
fn open_fds(dir: &Path) -> Option<usize> {
    Some(std::fs::read_dir(dir.join("fd")).ok()?.count())
}

/// `PATH` for the programs the probe runs: the target's own, with the `sbin` folders
/// added where missing.
fn search_path() -> String {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    let mut dirs: Vec<&str> = path.split(':').filter(|d| !d.is_empty()).collect();
    for sbin in SBIN {
        if !dirs.contains(&sbin) {
            dirs.push(sbin);
        }
    }
    dirs.join(":")
}

mod signal {
    // The one call the standard library lacks: a signal to a whole process group.
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }

    /// Sends SIGKILL to every process in group `group`.
    pub(super) fn kill_group(group: u32) {
        const SIGKILL: i32 = 9;
        if let Ok(group) = i32::try_from(group) {
            // SAFETY: kill(2) takes two integers and touches no memory of ours.
            unsafe {
                kill(-group, SIGKILL);
            }
        }
    }
}

/// Runs one program to completion or to its limit.
pub fn run(run: &Run) -> Reply {
    let Some((program, args)) = run.argv.split_first() else {
        return Reply::Failed("an empty command".into());
    };
    let mut child = match Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .env("PATH", search_path())
        .env_remove("ISPEC_PROBE_SHELL")
        .stdin(if run.input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout stops the programs it started too.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return match e.kind() {
                ErrorKind::NotFound => Reply::Missing(program.clone()),
                ErrorKind::PermissionDenied => Reply::Denied(format!("cannot run `{program}`")),
                _ => Reply::Failed(format!("cannot run `{program}`: {e}")),
            };
        }
    };
    let deadline = Instant::now() + Duration::from_millis(run.timeout_ms);
    if let (Some(input), Some(mut stdin)) = (run.input.clone(), child.stdin.take()) {
        // A program that exits without reading its input is not an error.
        thread::spawn(move || stdin.write_all(&input));
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let left = || deadline.saturating_duration_since(Instant::now());
    let status = match done_rx.recv_timeout(left()) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Reply::Failed(format!("waiting for `{program}`: {e}")),
        Err(_) => {
            signal::kill_group(pid);
            let _ = done_rx.recv_timeout(Duration::from_secs(1));
            return Reply::Timeout;
        }
    };
    // A program may leave a background process holding its output open; wait for
    // the output no longer than the limit.
    let (Ok(out), Ok(err)) = (stdout.recv_timeout(left()), stderr.recv_timeout(left())) else {
        signal::kill_group(pid);
        return Reply::Timeout;
    };
    let code = status
        .code()
        .map_or_else(|| "-".to_string(), |c| c.to_string());
    Reply::Ok(vec![code.into_bytes(), out, err])
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(bytes);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_replies;

    fn sh(script: &str, timeout_ms: u64) -> Run {
        Run {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            input: None,
            timeout_ms,
        }
    }

    #[test]
    fn files_and_links() {
        let dir = std::env::temp_dir().join(format!("ispec-probe-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "hello").unwrap();
        std::os::unix::fs::symlink("f", dir.join("l")).unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        assert_eq!(read(&path("f")), Reply::Ok(vec![b"hello".to_vec()]));
        assert_eq!(read(&path("none")), Reply::NotFound);
        assert_eq!(read(&format!("{}/x", path("f"))), Reply::NotFound);
        assert!(matches!(read(&path("")), Reply::Failed(m) if m.contains("directory")));
        let Reply::Ok(f) = lstat(&path("f")) else {
            panic!()
        };
        let text = String::from_utf8(f[0].clone()).unwrap();
        assert!(text.starts_with("file "), "{text}");
        assert!(text.contains(" 5 "), "{text}");
        let Reply::Ok(l) = lstat(&path("l")) else {
            panic!()
        };
        assert!(l[0].starts_with(b"symlink 777 "));
        assert_eq!(l[1], b"f");
        assert_eq!(lstat(&path("none")), Reply::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn programs_run_with_input_and_limits() {
        let mut cat = sh("cat; echo err >&2; exit 3", 5000);
        cat.input = Some(b"in".to_vec());
        assert_eq!(
            run(&cat),
            Reply::Ok(vec![b"3".to_vec(), b"in".to_vec(), b"err\n".to_vec()])
        );
        assert_eq!(
            run(&Run {
                argv: vec!["ispec-no-such-program".into()],
                input: None,
                timeout_ms: 1000,
            }),
            Reply::Missing("ispec-no-such-program".into())
        );
        // The child's own child is stopped too: otherwise its open stdout would hold
        // the reply until it ends, and it would run on.
        let pid_file = std::env::temp_dir().join(format!("ispec-probe-pid-{}", std::process::id()));
        let script = format!("sleep 30 & echo $! > {}; sleep 30", pid_file.display());
        assert_eq!(run(&sh(&script, 300)), Reply::Timeout);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::fs::remove_file(&pid_file).unwrap();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).map_or(true, |stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap()
                    .trim_start()
                    .starts_with('Z')
            })
        };
        // A kill is delivered, not waited for: give the grandchild a moment to end.
        assert!(
            (0..100).any(|_| gone() || {
                std::thread::sleep(Duration::from_millis(20));
                false
            }),
            "the background sleep {pid} outlived its program's time limit"
        );
        assert!(matches!(run(&sh("kill -9 $$", 5000)), Reply::Ok(f) if f[0] == b"-"));
        let Reply::Ok(path) = run(&sh("echo $PATH $LC_ALL", 5000)) else {
            panic!()
        };
        let path = String::from_utf8(path[1].clone()).unwrap();
        assert!(
            path.contains("/usr/sbin") && path.trim_end().ends_with(" C"),
            "{path}"
        );
    }

    #[test]
    fn a_batch_is_answered_whole_and_lists_no_program_it_runs() {
        // The three programs meet: each leaves a mark and waits for the other two, so
        // one run alone gives up (exit 9) and only three at once all answer.
        let dir = std::env::temp_dir().join(format!("ispec-probe-meet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let meet = |name: &str| {
            let d = dir.display();
            sh(
                &format!(
                    "touch {d}/{name}; n=0; \
                     until [ -e {d}/one ] && [ -e {d}/two ] && [ -e {d}/three ]; do \
                     n=$((n+1)); [ $n -gt 200 ] && exit 9; sleep 0.05; done; echo {name}"
                ),
                30_000,
            )
        };
        let batch = Batch {
            jobs: 3,
            queries: vec![
                Query::Run(meet("one")),
                Query::Processes,
                Query::Run(meet("two")),
                Query::Read("/nonexistent/ispec".into()),
                Query::Run(meet("three")),
            ],
        };
        let out = Mutex::new(REPLY_HEADER.as_bytes().to_vec());
        serve(&batch, &out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut out = out.into_inner().unwrap();
        out.extend_from_slice(b"end 0\n");
        let replies = parse_replies(&out, 5).unwrap();
        assert!(replies.complete);
        let Some(Reply::Ok(fields)) = &replies.replies[1] else {
            panic!("{:?}", replies.replies[1])
        };
        let records: Vec<&[u8]> = fields[0].split(|b| *b == 0).collect();
        let own = std::process::id().to_string();
        // Six fields a process: pid, euid, comm, cmdline, state, fds.
        let pids: Vec<&[u8]> = records.chunks(6).map(|r| r[0]).collect();
        assert!(pids.len() > 1 && !pids.contains(&own.as_bytes()));
        assert!(!String::from_utf8_lossy(&fields[0]).contains("echo three"));
        assert_eq!(replies.replies[3], Some(Reply::NotFound));
        for (at, name) in [(0, "one"), (2, "two"), (4, "three")] {
            assert_eq!(
                replies.replies[at],
                Some(Reply::Ok(vec![
                    b"0".to_vec(),
                    format!("{name}\n").into_bytes(),
                    vec![]
                ])),
                "{name} did not meet the others: the programs ran one after another"
            );
        }
    }
}
