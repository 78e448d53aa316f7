//! Helpers for tests against a real sshd: the Debian fixture in a container with port
//! 22 published on 127.0.0.1, key pairs made for the test, and an `ispec` that sees
//! none of this machine's SSH setup (its own `HOME`, no agent, no `ISPEC_*` secrets).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::docker_util::{DEBIAN, Started, wait_ready};
use crate::util::ispec;

/// The user the fixture has for logins (uid 1000, shell bash).
pub(crate) const USER: &str = "app";

/// A temporary folder with the test's keys, its known hosts file and an empty `HOME`.
pub(crate) struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// A new folder with an Ed25519 key pair `id` / `id.pub` without a passphrase.
    pub(crate) fn new() -> Self {
        let keys = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir(keys.home()).expect("make HOME");
        keys.generate("id", "");
        keys
    }

    /// Makes an Ed25519 key pair `NAME` / `NAME.pub`, encrypted with `passphrase` unless
    /// it is empty; returns the private key's path.
    pub(crate) fn generate(&self, name: &str, passphrase: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-C", name, "-N", passphrase, "-f"])
            .arg(&path)
            .output()
            .expect("ssh-keygen runs");
        assert!(out.status.success(), "ssh-keygen: {out:?}");
        path
    }

    /// The private key `id`.
    pub(crate) fn key(&self) -> PathBuf {
        self.dir.path().join("id")
    }

    /// The public half of the private key at `private`.
    pub(crate) fn public(private: &Path) -> String {
        let mut path = private.as_os_str().to_owned();
        path.push(".pub");
        std::fs::read_to_string(path).expect("public key")
    }

    /// The known hosts file the tests pass with `--known-hosts` (not created here).
    pub(crate) fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The empty folder `ispec` gets as `HOME`.
    pub(crate) fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A file in the folder.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `ispec` without this machine's SSH setup: `HOME` is an empty folder (no
    /// `~/.ssh/config`, keys or known hosts), no agent, no password variables.
    pub(crate) fn ispec(&self) -> assert_cmd::Command {
        let mut cmd = ispec();
        cmd.env("HOME", self.home())
            .env("USER", "nobody-here")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("ISPEC_SSH_PASSWORD")
            .env_remove("ISPEC_SSH_PASSPHRASE")
            .env_remove("ISPEC_SUDO_PASSWORD");
        cmd
    }
}

/// A fixture container running sshd, its port 22 published on 127.0.0.1, with
/// `keys`' `id` authorized for `app` and password-less sudo for `app`.
pub(crate) struct Sshd {
    /// The container, removed on drop.
    pub(crate) container: Started,
    /// The published port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Sshd {
    /// Starts the fixture with port 22 published on 127.0.0.1 and `keys` set up.
    pub(crate) fn start(keys: &Keys) -> Self {
        Self::start_with(keys, &[])
    }

    /// Like [`Sshd::start`], with extra `docker run` arguments.
    pub(crate) fn start_with(keys: &Keys, args: &[&str]) -> Self {
        let mut all = vec!["-p", "127.0.0.1::22"];
        all.extend_from_slice(args);
        let container = Started::run(DEBIAN, &all);
        wait_ready(&container);
        let out = Command::new("docker")
            .args(["port", &container.id, "22/tcp"])
            .output()
            .expect("docker runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let port = text
            .lines()
            .find_map(|l| l.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port 22 on 127.0.0.1: {text}"));
        set_up(&container, keys);
        Self { container, port }
    }

    /// `ssh://app@127.0.0.1:PORT`.
    pub(crate) fn target(&self) -> String {
        format!("ssh://{USER}@127.0.0.1:{}", self.port)
    }

    /// How known hosts files name it: `[127.0.0.1]:PORT`.
    pub(crate) fn known_name(&self) -> String {
        format!("[127.0.0.1]:{}", self.port)
    }

    /// Runs a shell script in the container as root; panics if it fails.
    pub(crate) fn exec(&self, script: &str) -> String {
        exec(&self.container, script, None)
    }

    /// Makes sshd read its configuration again (SIGHUP) and waits until it answers
    /// with its banner on the published port.
    pub(crate) fn reload(&self) {
        self.exec("kill -HUP \"$(cat /run/sshd.pid)\"");
        for _ in 0..100 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
                continue;
            };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(1)));
            let mut banner = [0u8; 8];
            if std::io::Read::read_exact(&mut stream, &mut banner).is_ok()
                && banner.starts_with(b"SSH-2.0")
            {
                return;
            }
        }
        panic!(
            "sshd in {} did not come back after SIGHUP",
            self.container.id
        );
    }

    /// The public host key of type `kind` (`ed25519`, `ecdsa`, `rsa`) as `TYPE BASE64`.
    pub(crate) fn host_key(&self, kind: &str) -> String {
        let line = self.exec(&format!("cat /etc/ssh/ssh_host_{kind}_key.pub"));
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Authorizes `keys`' `id` for `app` and lets `app` run sudo without a password.
pub(crate) fn set_up(container: &Started, keys: &Keys) {
    authorize(container, &Keys::public(&keys.key()));
    exec(
        container,
        "echo 'app ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/app && chmod 0440 /etc/sudoers.d/app",
        None,
    );
}

/// Adds a public key to `app`'s authorized keys.
pub(crate) fn authorize(container: &Started, public_key: &str) {
    exec(
        container,
        "mkdir -p /home/app/.ssh && cat >> /home/app/.ssh/authorized_keys && \
         chown -R app:app /home/app/.ssh && chmod 700 /home/app/.ssh && \
         chmod 600 /home/app/.ssh/authorized_keys",
        Some(public_key),
    );
}

/// Runs a shell script in a container as root, with `input` on its standard input;
/// returns its standard output and panics if it fails.
pub(crate) fn exec(container: &Started, script: &str, input: Option<&str>) -> String {
    let mut child = Command::new("docker")
        .args(["exec", "-i", &container.id, "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("docker exec");
    assert!(
        out.status.success(),
        "`{script}` failed in {}: {}",
        container.id,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Docker network the test made, labeled, removed on drop (after the containers on
/// it, which must be dropped first).
pub(crate) struct Network {
    /// Its name.
    pub(crate) name: String,
}

impl Network {
    /// Creates a network named after `case` and this process, labeled `label`.
    pub(crate) fn create(case: &str, label: &str) -> Self {
        let name = format!("ispec-test-{case}-{}", std::process::id());
        let out = Command::new("docker")
            .args(["network", "create", "--label", label, &name])
            .output()
            .expect("docker runs");
        assert!(
            out.status.success(),
            "docker network create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { name }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.name])
            .output();
    }
}

/// The names of containers and networks labeled `label` (`KEY=VALUE`) that remain.
pub(crate) fn left_behind(label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    let mut left = Vec::new();
    for (what, format) in [
        (&["ps", "-a"][..], "{{.Names}}"),
        (&["network", "ls"], "{{.Name}}"),
    ] {
        let out = Command::new("docker")
            .args(what)
            .args(["--filter", &filter, "--format", format])
            .output()
            .expect("docker runs");
        left.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(String::from),
        );
    }
    left
}

/// An `ssh-agent` of the test's own, listening on a socket in a temp folder; killed
/// (by its pid) on drop.
pub(crate) struct Agent {
    /// The value for `SSH_AUTH_SOCK`.
    pub(crate) socket: PathBuf,
    pid: String,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts an agent and adds `key` to it.
    pub(crate) fn with_key(key: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("agent.sock");
        let out = Command::new("ssh-agent")
            .arg("-s")
            .arg("-a")
            .arg(&socket)
            .output()
            .expect("ssh-agent runs");
        assert!(out.status.success(), "ssh-agent: {out:?}");
        // `SSH_AGENT_PID=1234; export SSH_AGENT_PID;`
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split(';')
            .find_map(|part| part.trim().strip_prefix("SSH_AGENT_PID="))
            .unwrap_or_else(|| panic!("no SSH_AGENT_PID in {text}"))
            .to_string();
        let agent = Self {
            socket,
            pid,
            _dir: dir,
        };
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .expect("ssh-add runs");
        assert!(out.status.success(), "ssh-add: {out:?}");
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).output();
    }
}
