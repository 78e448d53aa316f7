//! Helpers for tests against the real Docker daemon and the fixture images built by
//! `fixtures/images/build`. Under `CI=true` a missing daemon or image fails the test
//! loudly; elsewhere the test says why it did not run and returns.

use std::process::Command;

/// The Debian fixture: nginx, sshd, procps, curl; see `fixtures/images/README.md`.
pub(crate) const DEBIAN: &str = "ispec-fixture/debian:bookworm";
/// The `FROM scratch` fixture: one static HTTP server on port 8080, nothing else.
pub(crate) const SCRATCH: &str = "ispec-fixture/scratch:latest";
/// The label every container ispec starts carries.
pub(crate) const ISPEC_LABEL: &str = "io.ispec.managed";
/// The label the tests put on containers they start themselves.
const TEST_LABEL: &str = "io.ispec.test";

/// A label unique to one test, for `--label` and [`ispec_containers`].
pub(crate) fn case_label(case: &str) -> String {
    format!("io.ispec.test-case={case}-{}", std::process::id())
}

/// Returns true if `image` can be used; panics under `CI=true` when it cannot.
pub(crate) fn have_image(image: &str) -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = format!(
            "Docker or the fixture image `{image}` is missing; run `fixtures/images/build`"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
    }
    ok
}

/// A container the test started itself with `docker run -d`, removed on drop.
pub(crate) struct Started {
    /// Its id.
    pub(crate) id: String,
}

impl Started {
    /// Starts `image` with extra `docker run` arguments.
    pub(crate) fn run(image: &str, args: &[&str]) -> Self {
        Self::run_cmd(image, args, &[])
    }

    /// Starts `image` with extra `docker run` arguments and a command.
    pub(crate) fn run_cmd(image: &str, args: &[&str], cmd: &[&str]) -> Self {
        let out = Command::new("docker")
            .args(["run", "-d", "--label", TEST_LABEL])
            .args(args)
            .arg(image)
            .args(cmd)
            .output()
            .expect("docker runs");
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            id: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }

    /// Starts the Debian fixture with extra `docker run` arguments, and waits until
    /// its services are up.
    pub(crate) fn debian_ready(args: &[&str]) -> Self {
        let started = Self::run(DEBIAN, args);
        wait_ready(&started);
        started
    }

    /// The `docker://` target naming it.
    pub(crate) fn target(&self) -> String {
        format!("docker://{}", self.id)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.id])
            .output();
    }
}

/// The names of ispec's containers that also match the docker `filter` (e.g.
/// `label=case=sigint-1`): what a run left behind. Each test gives its runs a
/// `--label` of its own so tests running at once do not see each other's containers.
pub(crate) fn ispec_containers(filter: &str) -> Vec<String> {
    ispec_objects(&["ps", "-a"], filter, "{{.Names}}")
}

/// The names of ispec's networks (a suite's) that carry the test's `label`
/// (`KEY=VALUE`): what a run left behind.
pub(crate) fn ispec_networks(label: &str) -> Vec<String> {
    ispec_objects(&["network", "ls"], &format!("label={label}"), "{{.Name}}")
}

/// `docker LIST --filter label=io.ispec.managed --filter FILTER --format FORMAT`, by line.
fn ispec_objects(list: &[&str], filter: &str, format: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(list)
        .args([
            "--filter",
            &format!("label={ISPEC_LABEL}"),
            "--filter",
            filter,
            "--format",
            format,
        ])
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Asserts that no container of ispec's carries the test's `label` (`KEY=VALUE`).
pub(crate) fn assert_none_left(label: &str) {
    let left = ispec_containers(&format!("label={label}"));
    assert!(
        left.is_empty(),
        "ispec left containers labeled {label}: {left:?}"
    );
}

/// Polls until the Debian fixture in `started` printed its ready line.
pub(crate) fn wait_ready(started: &Started) {
    for _ in 0..200 {
        let out = Command::new("docker")
            .args(["logs", &started.id])
            .output()
            .expect("docker runs");
        if String::from_utf8_lossy(&out.stdout).contains("ispec-fixture: ready") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the fixture container {} never became ready", started.id);
}
