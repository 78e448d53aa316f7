//! The Docker backend against the real daemon: `docker://` and `--image` targets on
//! the fixture images, readiness, cleanup on every exit path, `ispec clean`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::docker_util::{
    DEBIAN, ISPEC_LABEL, SCRATCH, Started, assert_none_left, case_label, have_image,
    ispec_containers,
};
use crate::util::{Specs, ispec, json_report, outcome};

fn spec_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs/docker")
        .join(name)
}

/// Runs `ispec run ARGS --format json`; returns the exit code, the report and stderr.
fn run_json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = ispec()
        .arg("run")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    json_report(&out)
}

fn run(args: &[&str]) -> Output {
    ispec().args(args).output().expect("ispec runs")
}

/// The distinct kinds in a report, and whether every result passed.
pub(crate) fn kinds_all_passed(doc: &serde_json::Value) -> (Vec<String>, bool) {
    let results = doc["results"].as_array().expect("results");
    let mut kinds: Vec<String> = results
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    (kinds, results.iter().all(|r| r["outcome"] == "pass"))
}

/// The core resource kinds, which every backend must serve.
pub(crate) const CORE_KINDS: [&str; 14] = [
    "addr",
    "command",
    "dns",
    "file",
    "group",
    "http",
    "interface",
    "kernel-param",
    "mount",
    "package",
    "port",
    "process",
    "service",
    "user",
];

#[test]
fn every_kind_passes_in_a_running_container() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&["--tmpfs", "/scratch"]);
    let spec = spec_file("debian-fixture.toml");
    let (code, doc, stderr) = run_json(&[spec.to_str().unwrap(), "-t", &started.target()]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    let (kinds, passed) = kinds_all_passed(&doc);
    assert!(passed, "{doc:#}");
    assert_eq!(kinds, CORE_KINDS, "every core kind is in the fixture spec");
    assert_eq!(doc["results"][0]["target"], started.target());
    // Gathered by the probe in one batch, services included: copy + exec.
    let stats = &doc["targets"][0];
    assert_eq!(stats["gather"], "probe", "{stats:#}");
    assert_eq!(stats["round_trips"], 2, "{stats:#}");

    // `--user` runs the checks as another user of the container, who may not look
    // into /root; files on a tmpfs (which the engine's archive endpoint does not
    // see) are found all the same.
    let wrote = Command::new("docker")
        .args(["exec", &started.id, "sh", "-c", "echo hi > /scratch/note"])
        .status()
        .unwrap();
    assert!(wrote.success());
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"id -un\"]\nstdout = \"app\"\n\n[file.\"/root/.bashrc\"]\nexists = true\n\n\
         [file.\"/scratch/note\"]\nexists = true\nowner = \"root\"\ncontent = \"hi\\n\"\n",
    )]);
    let spec = specs.path("spec.toml");
    let (code, doc, stderr) = run_json(&[
        spec.to_str().unwrap(),
        "-t",
        &started.target(),
        "--user",
        "app",
    ]);
    assert_eq!(code, 1, "{doc:#} {stderr}");
    for r in doc["results"].as_array().unwrap() {
        if r["id"] == "/root/.bashrc" {
            assert_eq!(r["outcome"], "error", "{r:#}");
            assert_eq!(
                r["message"],
                "permission denied: cannot stat `/root/.bashrc`"
            );
        } else {
            assert_eq!(r["outcome"], "pass", "{r:#}");
        }
    }
    // The probe is gone, whether it removed itself (root) or was removed (app).
    let listing = Command::new("docker")
        .args(["exec", &started.id, "ls", "-a", "/", "/tmp"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(!listing.contains("ispec-probe"), "{listing}");

    // An owner no account file names: the container's own `stat` is asked, which
    // knows no name either: an error, never a name made up.
    let made = Command::new("docker")
        .args([
            "exec",
            &started.id,
            "sh",
            "-c",
            "touch /tmp/o && chown 4242:4343 /tmp/o",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/tmp/o\"]\nuid = 4242\ngid = 4343\nowner = \"x\"\ngroup = \"x\"\n",
    )]);
    let (code, doc, stderr) = run_json(&[
        specs.path("spec.toml").to_str().unwrap(),
        "-t",
        &started.target(),
    ]);
    assert_eq!(code, 1, "{doc:#} {stderr}");
    let outcome = |prop| crate::util::result(&doc, "file", "/tmp/o", prop).clone();
    assert_eq!(outcome("uid")["outcome"], "pass");
    assert_eq!(outcome("gid")["outcome"], "pass");
    assert_eq!(
        outcome("owner")["message"],
        "user id 4242 has no name on the target (no entry in `/etc/passwd`)"
    );
    assert_eq!(
        outcome("group")["message"],
        "group id 4343 has no name on the target (no entry in `/etc/group`)"
    );
}

#[test]
fn every_kind_passes_in_a_throwaway_container_that_is_then_removed() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("throwaway");
    let spec = spec_file("debian-fixture.toml");
    let (code, doc, stderr) =
        run_json(&[spec.to_str().unwrap(), "--image", DEBIAN, "--label", &label]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    let (kinds, passed) = kinds_all_passed(&doc);
    assert!(passed, "{doc:#}");
    assert_eq!(kinds, CORE_KINDS);
    assert_eq!(doc["results"][0]["target"], format!("image:{DEBIAN}"));
    assert_none_left(&label);
}

#[test]
fn failures_and_errors_in_a_container_are_reported_and_the_container_removed() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("fail");
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/ispec-fixture\"]\nmode = \"0600\"\n\n\
         [command.\"no-such-tool --version\"]\nexit-status = 0\n\n\
         [command.\"printenv GREETING\"]\nstdout = \"hello\"\n\n\
         [command.\"id -un\"]\nstdout = \"root\"\n",
    )]);
    let spec = specs.path("spec.toml");
    let (code, doc, _) = run_json(&[
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
        "-e",
        "GREETING=hello",
    ]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(outcome(&doc, "file", "/etc/ispec-fixture", "mode"), "fail");
    let mode = crate::util::result(&doc, "file", "/etc/ispec-fixture", "mode");
    assert_eq!(mode["actual"], "\"0644\"");
    assert_eq!(
        outcome(&doc, "command", "no-such-tool --version", "exit-status"),
        "fail"
    );
    assert_eq!(
        outcome(&doc, "command", "printenv GREETING", "stdout"),
        "pass"
    );
    assert_eq!(outcome(&doc, "command", "id -un", "stdout"), "pass");
    assert_none_left(&label);
}

#[test]
fn a_shell_less_image_answers_what_it_can_and_errors_the_rest() {
    if !have_image(SCRATCH) {
        return;
    }
    let label = case_label("scratch");
    let spec = spec_file("scratch-fixture.toml");
    let (code, doc, stderr) = run_json(&[
        spec.to_str().unwrap(),
        "--image",
        SCRATCH,
        "--label",
        &label,
    ]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert!(kinds_all_passed(&doc).1, "{doc:#}");
    // Through the probe: copied in, run as the image's user (nobody), and removed by
    // a second exec as root, since nobody may not write in `/`.
    let stats = &doc["targets"][0];
    assert_eq!(stats["gather"], "probe", "{stats:#}");
    assert_eq!(stats["fallback"], serde_json::Value::Null, "{stats:#}");
    assert_eq!(stats["round_trips"], 3, "{stats:#}");

    // What needs a program in the image is an error naming it, never a pass or a crash.
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"true\"]\nexit-status = 0\n\n\
         [http.\"https://127.0.0.1:8080/\"]\nstatus = 200\n\n\
         [service.x]\nrunning = false\n",
    )]);
    let spec = specs.path("spec.toml");
    let (code, doc, _) = run_json(&[
        spec.to_str().unwrap(),
        "--image",
        SCRATCH,
        "--label",
        &label,
    ]);
    assert_eq!(code, 1, "{doc:#}");
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["outcome"], "error", "{r:#}");
    }
    let message = |kind, id, prop| {
        crate::util::result(&doc, kind, id, prop)["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(message("command", "true", "exit-status").contains("`/bin/sh` is not installed"));
    // `http://` is answered by the probe itself; `https://` needs the image's `curl`.
    assert!(
        message("http", "https://127.0.0.1:8080/", "status")
            .contains("https:// from inside a target needs `curl` there")
    );
    assert!(message("service", "x", "running").contains("no init system"));
    assert_none_left(&label);
}

#[test]
fn readiness_waits_for_a_port_a_log_line_or_the_healthcheck() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("ready");
    let specs = Specs::new(&[(
        "spec.toml",
        "[port.\"tcp:80\"]\nlistening = true\n\n[port.\"tcp:22\"]\nlistening = true\n",
    )]);
    let spec = specs.path("spec.toml");
    for wait in [
        &["--wait-port", "80"][..],
        &["--wait-log", "ispec-fixture: ready"],
        &["--wait-health"],
        &[],
    ] {
        let mut args = vec![spec.to_str().unwrap(), "--image", DEBIAN, "--label", &label];
        args.extend_from_slice(wait);
        let (code, doc, stderr) = run_json(&args);
        assert_eq!(code, 0, "{wait:?}: {doc:#} {stderr}");
    }
    assert_none_left(&label);
}

#[test]
fn a_container_that_never_gets_ready_is_exit_3_and_removed() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("never-ready");
    let specs = Specs::new(&[("spec.toml", "[port.\"tcp:80\"]\nlistening = true\n")]);
    let spec = specs.path("spec.toml");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
        "--wait-port",
        "81",
        "--wait-within",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach `image:{DEBIAN}`: not ready: waited 2s for port 81 to listen"
        )),
        "{err}"
    );
    assert!(
        err.contains("ispec-fixture: ready"),
        "the container's last output: {err}"
    );
    assert_none_left(&label);

    // With `--keep` it stays for a look at why, and `ispec clean` removes it.
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
        "--wait-port",
        "81",
        "--wait-within",
        "1s",
        "--keep",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let kept = ispec_containers(&format!("label={label}"));
    assert_eq!(kept.len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("kept container {}", kept[0])),
        "{err}"
    );
    let out = run(&["clean", "--label", &label]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "removed {}, kept with --keep (from {DEBIAN})\n1 container removed\n",
            kept[0]
        )
    );
    assert_none_left(&label);

    // A container whose command exits is not waited on for long.
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
        "--cmd",
        "sh -c 'echo bye; exit 4'",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the container stopped (exit code 4)"), "{err}");
    assert!(err.contains("bye"), "{err}");
    assert_none_left(&label);
}

#[test]
fn unreachable_engines_missing_images_and_containers_are_exit_3() {
    let specs = Specs::new(&[("spec.toml", "[file.\"/\"]\nexists = true\n")]);
    let spec = specs.path("spec.toml");
    let out = ispec()
        .env("DOCKER_HOST", "unix:///nonexistent/ispec-docker.sock")
        .args(["run", spec.to_str().unwrap(), "-t", "docker://web"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: cannot reach `unix:///nonexistent/ispec-docker.sock`: "),
        "{err}"
    );
    assert!(err.contains("DOCKER_HOST"), "{err}");

    if !have_image(DEBIAN) {
        return;
    }
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        "ispec-no-such-image:1",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the image is not on the engine"), "{err}");

    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "-t",
        "docker://ispec-no-such-container",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no container `ispec-no-such-container`"),
        "{err}"
    );

    let stopped = Started::run(DEBIAN, &["--entrypoint", "true"]);
    let _ = Command::new("docker").args(["wait", &stopped.id]).output();
    let out = run(&["run", spec.to_str().unwrap(), "-t", &stopped.target()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the container is not running (status exited)"),
        "{err}"
    );
}

#[test]
fn a_container_removed_mid_run_stops_within_retries_at_once() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&[]);
    // Never holds: retried for 30 s unless the target's going away ends it.
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/ispec-never\"]\nexists = true\nwithin = \"30s\"\n",
    )]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ispec"))
        .args(["run", specs.path("spec.toml").to_str().unwrap()])
        .args(["--target", &started.target(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ispec starts");
    std::thread::sleep(Duration::from_secs(2));
    let removed = Command::new("docker")
        .args(["rm", "-f", &started.id])
        .output()
        .expect("docker runs");
    assert!(removed.status.success());
    let gone = Instant::now();
    let mut out = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    // A hang guard: the run's 30 s would pass first otherwise.
    let reader = std::thread::spawn(move || {
        let mut stdout = stdout;
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let status = child.wait().expect("ispec exits");
    let out = reader.join().expect("read");
    assert!(
        gone.elapsed() < Duration::from_secs(10),
        "{:?}",
        gone.elapsed()
    );
    assert_eq!(status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let message = doc["results"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot reach"), "{doc:#}");
}

/// Starts `ispec run` on a check that takes a minute, in a throwaway container
/// labeled `label`, and returns once that check is running inside it.
#[expect(
    clippy::zombie_processes,
    reason = "the caller signals and waits for it"
)]
fn start_slow_run(label: &str) -> (Child, Specs) {
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/ispec-fixture\"]\nexists = true\n\n\
         [command.\"sleep 60\"]\nexit-status = 0\ntimeout = \"2m\"\n",
    )]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ispec"))
        .args(["run", specs.path("spec.toml").to_str().unwrap()])
        .args(["--image", DEBIAN, "--label", label, "--format", "tap"])
        .arg("--report")
        .arg(format!("junit:{}", specs.path("report.xml").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ispec starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let names = ispec_containers(&format!("label={label}"));
        let sleeping = names.first().is_some_and(|name| {
            Command::new("docker")
                .args(["top", name])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("sleep 60"))
        });
        if sleeping {
            return (child, specs);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the slow check never started");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn sigint_and_sigterm_mid_check_remove_the_container() {
    if !have_image(DEBIAN) {
        return;
    }
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let label = case_label(&format!("sig{name}"));
        let (child, specs) = start_slow_run(&label);
        assert_eq!(ispec_containers(&format!("label={label}")).len(), 1);
        signal(&child, name);
        let out = child.wait_with_output().expect("ispec exits");
        assert_eq!(out.status.code(), Some(code), "SIG{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("removed 1 container this run started"),
            "{err}"
        );
        assert_none_left(&label);
        // No report, and no unfinished one beside it.
        let mut files: Vec<String> = std::fs::read_dir(specs.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["spec.toml"], "SIG{name}");
    }
}

#[test]
fn sigkill_leftovers_and_kept_containers_go_with_ispec_clean() {
    if !have_image(DEBIAN) {
        return;
    }
    // A run killed outright cannot clean up: its container stays, labeled, until the
    // next run sweeps it (the owner is gone) or `ispec clean` removes it.
    let label = case_label("sigkill");
    let (mut child, _specs) = start_slow_run(&label);
    let left = ispec_containers(&format!("label={label}"));
    assert_eq!(left.len(), 1);
    signal(&child, "KILL");
    let _ = child.wait();

    // `--keep` leaves one on purpose and says how to get in; the run sweeps the
    // SIGKILLed run's leftover before it starts its own container.
    let kept_label = case_label("keep");
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
    )]);
    let out = run(&[
        "run",
        specs.path("spec.toml").to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &kept_label,
        "--keep",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_none_left(&label);
    let kept = ispec_containers(&format!("label={kept_label}"));
    assert_eq!(kept.len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("docker exec -it {} sh", kept[0])),
        "{err}"
    );

    // `ispec clean` removes kept containers and leftovers, never a live run's.
    let live = case_label("live");
    let (mut live_child, _live_specs) = start_slow_run(&live);
    for only in [&kept_label, &live] {
        let out = run(&["clean", "--label", only]);
        assert_eq!(out.status.code(), Some(0));
        let listing = String::from_utf8_lossy(&out.stdout);
        if only == &kept_label {
            assert!(
                listing.contains(&format!("removed {}, kept with --keep", kept[0])),
                "{listing}"
            );
        } else {
            assert_eq!(listing, "0 containers removed\n");
        }
    }
    assert_none_left(&kept_label);
    assert_eq!(ispec_containers(&format!("label={live}")).len(), 1);
    signal(&live_child, "TERM");
    let _ = live_child.wait();
    assert_none_left(&live);
    assert!(!ISPEC_LABEL.is_empty());
}

#[test]
fn a_suite_starts_image_targets_with_their_options() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("suite");
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("note.txt"), "from the host").unwrap();
    let (key, value) = label.split_once('=').unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let specs = Specs::new(&[
        (
            "ispec.toml",
            &format!(
                "[target.web]\nimage = \"{DEBIAN}\"\nenv = {{ GREETING = \"hi\" }}\n\
                 labels = {{ \"{key}\" = \"{value}\" }}\ntmpfs = [\"/scratch\"]\n\
                 volumes = [\"{}:/data:ro\"]\nports = [\"{port}:80\"]\n\
                 wait = {{ port = 80, within = \"30s\" }}\nspecs = [\"web.toml\"]\n\n\
                 [target.outside]\nlocal = true\nspecs = [\"outside.toml\"]\n",
                data.path().display()
            ),
        ),
        (
            "outside.toml",
            &format!("[http.\"http://127.0.0.1:{port}/\"]\nstatus = 200\n"),
        ),
        (
            "web.toml",
            "[command.\"printenv GREETING\"]\nstdout = \"hi\"\n\n\
             [mount.\"/scratch\"]\nfilesystem = \"tmpfs\"\n\n\
             [file.\"/data/note.txt\"]\ncontent = \"from the host\"\n\n\
             [port.\"tcp:80\"]\nlistening = true\n",
        ),
    ]);
    // One target at a time: the container is checked from outside after its own
    // checks are done, so it must stay until every target is.
    let out = ispec()
        .current_dir(specs.dir())
        .args(["run", "--format", "json", "--parallel", "1"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{doc:#} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["summary"]["passed"], 5);
    assert_none_left(&label);
}

#[test]
fn published_ports_answer_on_loopback() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("publish");
    let specs = Specs::new(&[("spec.toml", "[port.\"tcp:80\"]\nlistening = true\n")]);
    let out = run(&[
        "run",
        specs.path("spec.toml").to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
        "-p",
        "80",
        "--keep",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let name = ispec_containers(&format!("label={label}"))
        .pop()
        .expect("kept container");
    // Removed when the test ends, like the containers the tests start themselves.
    let kept = Started { id: name };
    let port = Command::new("docker")
        .args(["port", &kept.id, "80/tcp"])
        .output()
        .unwrap();
    let port = String::from_utf8_lossy(&port.stdout);
    assert!(
        port.starts_with("127.0.0.1:"),
        "published on loopback: {port}"
    );
    let mut stream = std::net::TcpStream::connect(port.trim()).expect("nginx answers");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    assert!(body.contains("Welcome to nginx"), "{body}");
}

#[test]
fn a_timed_out_check_leaves_nothing_running_in_the_container() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&[]);
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"sh -c 'sleep 307; echo'\"]\nexit-status = 0\ntimeout = \"1s\"\n",
    )]);
    let (code, doc, _) = run_json(&[
        specs.path("spec.toml").to_str().unwrap(),
        "-t",
        &started.target(),
    ]);
    assert_eq!(code, 1);
    let r = crate::util::result(&doc, "command", "sh -c 'sleep 307; echo'", "exit-status");
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["message"], "timed out after 1s");
    let top = Command::new("docker")
        .args(["top", &started.id])
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(
        !top.contains("sleep 307"),
        "the timed-out program still runs:\n{top}"
    );
}

/// Forwards TCP connections on 127.0.0.1 to the local engine's socket, so the engine
/// can be reached as `DOCKER_HOST=tcp://...` without reconfiguring it.
fn engine_over_tcp() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut c_in, mut e_out) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut e_out);
                let _ = e_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut e_in, mut c_out) = (engine, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut e_in, &mut c_out);
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    format!("tcp://{addr}")
}

#[test]
fn docker_host_over_tcp_reaches_the_engine() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("tcp");
    let spec = spec_file("debian-fixture.toml");
    let out = ispec()
        .env("DOCKER_HOST", engine_over_tcp())
        .args([
            "run",
            spec.to_str().unwrap(),
            "--image",
            DEBIAN,
            "--label",
            &label,
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let (code, doc, stderr) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert!(kinds_all_passed(&doc).1);
    assert_none_left(&label);
}

#[test]
fn a_container_that_stops_mid_run_ends_its_retries_with_why() {
    if !have_image(DEBIAN) {
        return;
    }
    let started = Started::debian_ready(&[]);
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"false\"]\nexit-status = 0\nwithin = \"60s\"\n",
    )]);
    let id = started.id.clone();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("docker")
            .args(["kill", &id])
            .output()
            .expect("docker runs")
    });
    let (code, doc, stderr) = run_json(&[
        specs.path("spec.toml").to_str().unwrap(),
        "-t",
        &started.target(),
    ]);
    assert!(killer.join().unwrap().status.success());
    assert_eq!(code, 1, "{doc:#} {stderr}");
    // No retry can bring the container back: the last attempt says so, and the
    // run does not go on asking until `within` ends.
    let r = crate::util::result(&doc, "command", "false", "exit-status");
    assert_eq!(r["outcome"], "error", "{r}");
    let why = r["message"].as_str().unwrap();
    assert!(why.contains("the container is gone"), "{r}");
}

#[test]
fn a_failing_containers_last_output_is_shown_with_its_results() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("tail");
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/ispec-never\"]\nexists = true\n\n[port.\"tcp:80\"]\nlistening = true\n",
    )]);
    let spec = specs.path("spec.toml");
    let human = |extra: &[&str]| {
        let mut args = vec![
            "run",
            spec.to_str().unwrap(),
            "--image",
            DEBIAN,
            "--wait-log",
            "ispec-fixture: ready",
            "--label",
            &label,
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // The fixture's entrypoint prints three lines; the last two are asked for, after
    // every result and before the summary.
    let shown = human(&["--tail", "2"]);
    let tail = format!(
        "\nOutput of image:{DEBIAN} (last 2 lines):\n    \
         Starting OpenBSD Secure Shell server: sshd.\n    ispec-fixture: ready\n\nFAIL "
    );
    assert!(shown.contains(&tail), "{shown}");
    assert!(
        !shown.contains("Starting nginx"),
        "only the last two: {shown}"
    );
    let none = human(&["--tail", "0"]);
    assert!(!none.contains("Output of"), "{none}");
    // A passing container shows nothing: its output is not news.
    let passing = Specs::new(&[("spec.toml", "[port.\"tcp:80\"]\nlistening = true\n")]);
    let (code, doc, stderr) = run_json(&[
        passing.path("spec.toml").to_str().unwrap(),
        "--image",
        DEBIAN,
        "--label",
        &label,
    ]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert!(doc["targets"][0]["output"].is_null(), "{doc:#}");
    assert_none_left(&label);
}

#[test]
fn the_library_hands_over_a_failing_containers_last_output() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("tail-lib");
    let specs = Specs::new(&[("spec.toml", "[file.\"/ispec-never\"]\nexists = true\n")]);
    let spec = ispec::backend::docker::ContainerSpec {
        image: DEBIAN.into(),
        wait: ispec::backend::docker::Wait {
            log: Some("ispec-fixture: ready".into()),
            ..ispec::backend::docker::Wait::default()
        },
        ..ispec::backend::docker::ContainerSpec::default()
    };
    let run = || {
        ispec::Run::new()
            .target(ispec::Target::image_with(spec.clone()))
            .spec_file(specs.path("spec.toml"))
            .label(&label)
    };
    let report = run().execute().expect("the run is made");
    assert!(!report.ok());
    let [(target, lines)] = report.output.as_slice() else {
        panic!("one target's output: {:?}", report.output)
    };
    assert_eq!(target, &format!("image:{DEBIAN}"));
    assert!(lines.len() >= 3, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ispec-fixture: ready")
    );
    let one = run().tail(1).execute().expect("the run is made");
    assert_eq!(
        one.output,
        [(target.clone(), vec!["ispec-fixture: ready".to_string()])]
    );
    assert!(run().tail(0).execute().unwrap().output.is_empty());
    assert_none_left(&label);
}
