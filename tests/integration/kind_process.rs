//! `process` end to end: on the local machine, a process started here under a name
//! longer than the kernel keeps, processes that do not run and a zombie; in the
//! Debian fixture, zombies and a process holding many descriptors, checked through
//! every way of gathering and as a user who may not count root's descriptors.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::docker_util::{DEBIAN, SCRATCH, Started, have_image};
use crate::util::{Specs, ispec, json_report, outcome, result, run_json};

/// A copy of `sleep` running under another name; killed by its pid when dropped, so
/// a failing assertion does not leave it behind.
struct Sleeper {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sleeper {
    fn start(name: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join(name);
        std::fs::copy("/bin/sleep", &program).unwrap();
        Self {
            child: spawn(&program, args),
            _dir: dir,
        }
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        // `Child::kill` signals this child's pid, never a name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program`, retrying while the kernel reports it busy: a thread of this test
/// binary may fork while the copy is still open for writing (ETXTBSY).
fn spawn(program: &Path, args: &[&str]) -> Child {
    const ETXTBSY: i32 = 26;
    for _ in 0..100 {
        match Command::new(program).args(args).spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start {}: {e}", program.display()),
        }
    }
    panic!("{} stayed busy", program.display())
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn process_properties() {
    let name = format!("ispec-sleeper-{}-xyz", std::process::id());
    assert!(
        name.len() > 15,
        "the name must be longer than the kernel keeps"
    );
    let sleeper = Sleeper::start(&name, &["600", "0.0271828"]);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let spec = format!(
        r#"
[process."{name}"]
running = true
count = 1
users = {{ contains = "{user}" }}
args = {{ matches = "{name} 600 0\\.0271828$" }}

[process."ispec-no-such-process"]
running = false
count = 1

[process."ispec-no-such-process-either"]
running = true
users = ["root"]

[process."$(touch {m})"]
running = false
"#,
        user = current_user(),
        m = marker.display()
    );
    let (code, doc) = run_json(&spec);
    assert!(
        std::fs::read_to_string(format!("/proc/{}/comm", sleeper.child.id()))
            .unwrap()
            .starts_with("ispec-sleeper-"),
        "the sleeper stopped early"
    );
    drop(sleeper);
    assert_eq!(code, 1);
    for prop in ["running", "count", "users", "args"] {
        assert_eq!(outcome(&doc, "process", &name, prop), "pass", "{prop}");
    }
    let none = "ispec-no-such-process";
    assert_eq!(outcome(&doc, "process", none, "running"), "pass");
    let count = result(&doc, "process", none, "count");
    assert_eq!(count["outcome"], "fail");
    assert_eq!(count["actual"], "0");
    let none = "ispec-no-such-process-either";
    assert_eq!(outcome(&doc, "process", none, "running"), "fail");
    assert_eq!(outcome(&doc, "process", none, "users"), "skip");
    let nasty = format!("$(touch {})", marker.display());
    assert_eq!(outcome(&doc, "process", &nasty, "running"), "pass");
    assert!(!marker.exists(), "a process name was run as code");
}

#[test]
fn a_stopped_process_is_no_longer_running() {
    let name = format!("ispec-stopped-{}-xyz", std::process::id());
    let spec = format!("[process.\"{name}\"]\nrunning = true\n");
    let sleeper = Sleeper::start(&name, &["600"]);
    let (code, _) = run_json(&spec);
    assert_eq!(code, 0);
    drop(sleeper);
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    assert_eq!(outcome(&doc, "process", &name, "running"), "fail");
}

/// Waits until `pid` (a child of this test) has exited and is a zombie.
fn wait_zombie(pid: u32) {
    for _ in 0..200 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("pid {pid} never became a zombie");
}

#[test]
fn a_local_zombie_and_open_descriptors() {
    // A zombie has no command line left, so only its kernel name, at most 15
    // bytes, can match.
    let name = format!("ispec-z-{}", std::process::id());
    // It exits at once, and the test does not reap it until it is dropped.
    let zombie = Sleeper::start(&name, &["0"]);
    wait_zombie(zombie.child.id());
    let live = format!("ispec-f-{}", std::process::id());
    let sleeper = Sleeper::start(&live, &["600"]);
    let spec = format!(
        r#"
[process."{name}"]
running = true
zombies = 0

[process."{live}"]
zombies = 0
open-fds = {{ lt = 100 }}
total-open-fds = {{ lt = 100 }}

[process."*"]
zombies = {{ ge = 1 }}
open-fds = {{ ge = 3 }}
total-open-fds = {{ ge = 3 }}
"#
    );
    let (code, doc) = run_json(&spec);
    drop((zombie, sleeper));
    assert_eq!(code, 1, "{doc:#}");
    let zombies = result(&doc, "process", &name, "zombies");
    assert_eq!(zombies["outcome"], "fail", "{doc:#}");
    assert_eq!(zombies["actual"], "1");
    for prop in ["zombies", "open-fds", "total-open-fds"] {
        assert_eq!(outcome(&doc, "process", &live, prop), "pass", "{prop}");
        assert_eq!(outcome(&doc, "process", "*", prop), "pass", "{prop}");
    }
}

/// The Debian fixture's command for the hygiene checks: two `sleep`s that exit at
/// once and are never reaped (pid 1 becomes `sleep 1000`, which never waits), and
/// `fdhog`, a copy of `sleep` holding 1200 more descriptors than the usual three.
const HYGIENE_CMD: &str = r#"sleep 0.1 & sleep 0.1 &
cp /bin/sleep /tmp/fdhog
bash -c 'for i in $(seq 10 1209); do eval "exec $i</dev/null"; done; exec /tmp/fdhog 1000' &
exec sleep 1000"#;

/// Waits until the container shows two zombies and `fdhog` with its descriptors.
fn wait_hygiene(started: &Started) {
    for _ in 0..200 {
        let out = Command::new("docker")
            .args(["exec", &started.id, "ps", "-eo", "stat=,comm=,args="])
            .output()
            .expect("docker runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let zombies = text
            .lines()
            .filter(|l| l.trim_start().starts_with('Z'))
            .count();
        if zombies == 2 && text.contains("/tmp/fdhog 1000") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the container {} never had its zombies and fdhog",
        started.id
    );
}

const HYGIENE_SPEC: &str = r#"
[process.sleep]
count = 3
zombies = 0
open-fds = { lt = 1000 }

[process.fdhog]
zombies = 0
open-fds = { lt = 1000 }
total-open-fds = { ge = 1203 }

[process."*"]
count = 4
zombies = 0
open-fds = { lt = 1000 }
total-open-fds = { lt = 1000 }
"#;

/// `(id, property, outcome, actual)` of every result, sorted.
fn answers(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut all: Vec<_> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("id"), s("property"), s("outcome"), s("actual"))
        })
        .collect();
    all.sort();
    all
}

#[test]
fn zombies_and_open_descriptors_in_a_container_by_every_way_of_gathering() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::run_cmd(DEBIAN, &[], &["sh", "-c", HYGIENE_CMD]);
    wait_hygiene(&started);
    let specs = Specs::new(&[("spec.toml", HYGIENE_SPEC)]);
    let run = |extra: &[&str]| {
        let out = ispec()
            .arg("run")
            .arg(specs.path("spec.toml"))
            .args(["-t", &started.target(), "--format", "json", "--stats"])
            .args(extra)
            .output()
            .expect("ispec runs");
        let (code, doc, err) = json_report(&out);
        (code, doc, err)
    };
    let (code, doc, err) = run(&[]);
    assert_eq!(code, 1, "{doc:#} {err}");
    assert!(err.contains("gathered by probe"), "{err}");
    let fail = |id: &str, prop: &str, actual: &str| {
        let r = result(&doc, "process", id, prop);
        assert_eq!(
            (r["outcome"].as_str(), r["actual"].as_str()),
            (Some("fail"), Some(actual)),
            "{id} {prop}"
        );
    };
    fail("sleep", "zombies", "2");
    fail("fdhog", "open-fds", "1203");
    fail("*", "zombies", "2");
    fail("*", "open-fds", "1203");
    fail("*", "total-open-fds", "1206");
    // The zombies hold nothing open, pid 1 its three standard descriptors.
    for (id, prop) in [
        ("sleep", "count"),
        ("sleep", "open-fds"),
        ("fdhog", "zombies"),
        ("fdhog", "total-open-fds"),
        ("*", "count"),
    ] {
        assert_eq!(outcome(&doc, "process", id, prop), "pass", "{id} {prop}");
    }
    let by_probe = answers(&doc);
    for extra in [&["--no-probe"][..], &["--gather", "per-fact"]] {
        let (code, doc, err) = run(extra);
        assert_eq!(code, 1, "{extra:?}: {doc:#} {err}");
        let way = if extra[0] == "--no-probe" {
            "script"
        } else {
            "per-fact"
        };
        assert!(err.contains(&format!("gathered by {way}")), "{err}");
        assert_eq!(answers(&doc), by_probe, "{extra:?}");
    }
    // As `nobody`, root's descriptors cannot be counted: an error, never a pass.
    // Zombies are seen by anyone.
    for extra in [
        &["--user", "nobody"][..],
        &["--user", "nobody", "--no-probe"],
    ] {
        let (code, doc, err) = run(extra);
        assert_eq!(code, 1, "{extra:?}: {doc:#} {err}");
        let zombies = result(&doc, "process", "*", "zombies");
        assert_eq!(zombies["actual"], "2", "{extra:?}");
        for (id, prop, pids) in [
            ("sleep", "open-fds", "pids 1, "),
            ("fdhog", "open-fds", "pid "),
            ("fdhog", "total-open-fds", "pid "),
            ("*", "open-fds", "pids 1, "),
            ("*", "total-open-fds", "pids 1, "),
        ] {
            let r = result(&doc, "process", id, prop);
            assert_eq!(r["outcome"], "error", "{extra:?} {id} {prop}: {r:#}");
            let message = r["message"].as_str().unwrap_or("");
            assert!(message.contains(pids), "{message}");
            assert!(message.contains("`--sudo`, `--user root`"), "{message}");
        }
    }
}

#[test]
fn every_process_of_a_scratch_container_from_the_probe_and_from_outside() {
    if !have_image(SCRATCH) {
        return;
    }
    let started = Started::run(SCRATCH, &[]);
    let specs = Specs::new(&[(
        "spec.toml",
        "[process.\"*\"]\ncount = 1\nzombies = 0\nopen-fds = { all = [{ gt = 0 }, { lt = 1000 }] }\n",
    )]);
    let mut seen = Vec::new();
    for (extra, way) in [(&[][..], "probe"), (&["--gather", "per-fact"], "per-fact")] {
        let out = ispec()
            .arg("run")
            .arg(specs.path("spec.toml"))
            .args(["-t", &started.target(), "--format", "json", "--stats"])
            .args(extra)
            .output()
            .expect("ispec runs");
        let (code, doc, err) = json_report(&out);
        assert_eq!(code, 0, "{way}: {doc:#} {err}");
        assert!(err.contains(&format!("gathered by {way}")), "{err}");
        seen.push(answers(&doc));
    }
    assert_eq!(seen[0], seen[1]);
}
