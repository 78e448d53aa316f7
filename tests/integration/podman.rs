//! The Docker backend against Podman's Docker-compatible service (`DOCKER_HOST`),
//! which this test starts on a socket of its own and stops by pid afterwards.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker_util::{DEBIAN, SCRATCH, case_label, have_image};
use crate::util::{ispec, json_report, result};

/// A `podman system service` on a temporary socket, stopped when dropped.
struct Service {
    child: Child,
    dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service, or returns `None` (panicking under `CI=true`) without
    /// podman.
    fn start() -> Option<Self> {
        if Command::new("podman").arg("--version").output().is_err() {
            let why = "podman is not installed (scripts/test installs it)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // Podman raises the open-files limit of its containers by default, which a
        // machine with a lower hard limit refuses; keep the machine's own.
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n",
        )
        .unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman starts");
        let service = Self { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !service.socket().exists() {
            assert!(Instant::now() < deadline, "podman's socket never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(service)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a fixture image from Docker into Podman's store unless the same one is
/// there.
fn load(image: &str) {
    let id = |tool: &str, name: &str| {
        Command::new(tool)
            .args(["image", "inspect", "--format", "{{.Id}}", name])
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .trim_start_matches("sha256:")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let docker = id("docker", image);
    if !docker.is_empty() && id("podman", &format!("localhost/{image}")) == docker {
        return;
    }
    let mut save = Command::new("docker")
        .args(["save", image])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save runs");
    let loaded = Command::new("podman")
        .arg("load")
        .stdin(save.stdout.take().expect("piped"))
        .output()
        .expect("podman load runs");
    let saved = save.wait().expect("docker save ends");
    assert!(saved.success(), "docker save {image} failed");
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
}

/// Podman's containers labeled `label` (what a run left behind).
fn left(label: &str) -> Vec<String> {
    let out = Command::new("podman")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("podman runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn podman_serves_throwaway_containers_through_docker_host() {
    if !have_image(DEBIAN) || !have_image(SCRATCH) {
        return;
    }
    let Some(service) = Service::start() else {
        return;
    };
    load(DEBIAN);
    load(SCRATCH);
    let label = case_label("podman");
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |spec: &str, image: &str, extra: &[&str]| {
        let out = ispec()
            .env("DOCKER_HOST", service.docker_host())
            .args([
                "run",
                &format!("{root}/specs/docker/{spec}"),
                "--image",
                image,
            ])
            .args(["--label", &label, "--format", "json"])
            .args(extra)
            .output()
            .expect("ispec runs");
        json_report(&out)
    };

    // Every core kind in the Debian fixture (Podman runs no HEALTHCHECK without
    // systemd: wait for the port).
    let (code, doc, err) = run("debian-fixture.toml", DEBIAN, &["--wait-port", "80"]);
    assert_eq!(code, 0, "{doc:#} {err}");
    assert_eq!(doc["summary"]["passed"], 44);

    // Podman's archive endpoint follows symlinks and says every file is the
    // container user's, so file metadata comes from `stat` in the container: in a
    // shell-less image that is an error, never a wrong answer.
    let (code, doc, _) = run("scratch-fixture.toml", SCRATCH, &[]);
    assert_eq!(code, 1, "{doc:#}");
    let exists = result(&doc, "file", "/ispec-scratch-server", "exists");
    assert_eq!(exists["outcome"], "error");
    assert_eq!(exists["message"], "`stat` is not installed on the target");
    assert_eq!(
        result(&doc, "port", "tcp:8080", "listening")["outcome"],
        "pass"
    );
    assert_eq!(
        result(&doc, "process", "ispec-scratch-server", "running")["outcome"],
        "pass"
    );

    assert_eq!(
        left(&label),
        Vec::<String>::new(),
        "ispec left containers in Podman"
    );
}
