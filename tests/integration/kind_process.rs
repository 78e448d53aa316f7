//! `process` end to end on the local machine: a process started here under a name
//! longer than the kernel keeps, and processes that do not run.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::util::{outcome, result, run_json};

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
