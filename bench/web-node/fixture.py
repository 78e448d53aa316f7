"""The one fixture container every contender checks, and the SSH setup to reach it.

Everything made here is the benchmark's own: the container carries the label
io.ispec.bench=1 (and the run's id), sshd is published on 127.0.0.1 only, and the
key, known_hosts and SSH config live in a temporary folder that is removed at the
end. ~/.ssh is never read or written: SSH contenders run with HOME set to an empty
folder in there.
"""

import os
import shutil
import subprocess
import tempfile
import time

IMAGE = "ispec-fixture/debian:bookworm"
LABEL = "io.ispec.bench"


def sh(*argv, stdin=None, check=True):
    """Runs a short helper command; returns its stdout (text)."""
    out = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def ensure_image(repo):
    """Builds the fixture image with the repository's own script if it is missing."""
    probe = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    if probe.returncode == 0:
        return
    print(f"{IMAGE} is missing: building it (fixtures/images/build debian, about 2 minutes)")
    subprocess.run([os.path.join(repo, "fixtures/images/build"), "debian"], check=True)


class Fixture:
    """A running fixture container with sshd reachable as root and as `app` (sudo)."""

    def __init__(self, run_id):
        self.run_id = run_id
        # A short path: OpenSSH's ControlPath socket must fit in 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="ispec-bench-", dir="/tmp")
        self.home = os.path.join(self.dir, "home")
        self.key = os.path.join(self.dir, "id")
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        self.ssh_config = os.path.join(self.dir, "ssh_config")
        self.id = None
        self.port = None

    # -- setup

    def start(self):
        os.mkdir(self.home, 0o700)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ispec-bench", "-f", self.key)
        # --no-healthcheck: the image's HEALTHCHECK runs curl every second, which
        # would be noise under every measurement.
        self.id = sh(
            "docker", "run", "-d", "--no-healthcheck",
            "--label", f"{LABEL}=1", "--label", f"{LABEL}.run={self.run_id}",
            "-p", "127.0.0.1::22", IMAGE,
        ).strip()
        self._wait_ready()
        self.port = self._published_port()
        self._authorize()
        self._write_known_hosts()
        self._write_ssh_config()
        self._wait_ssh()

    def _wait_ready(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if "ispec-fixture: ready" in sh("docker", "logs", self.id, check=False):
                return
            time.sleep(0.1)
        raise RuntimeError(f"fixture container {self.id[:12]} never became ready")

    def _published_port(self):
        for line in sh("docker", "port", self.id, "22/tcp").splitlines():
            if line.startswith("127.0.0.1:"):
                return int(line.split(":")[1])
        raise RuntimeError("sshd's port is not published on 127.0.0.1")

    def exec(self, script, stdin=None):
        return sh("docker", "exec", "-i", self.id, "sh", "-c", script, stdin=stdin)

    def _authorize(self):
        """The key for root (every SSH contender) and for app (ispec's --sudo mode)."""
        with open(self.key + ".pub") as f:
            public = f.read()
        self.exec(
            "set -e; for h in /root /home/app; do mkdir -p $h/.ssh; done;"
            " cat > /root/.ssh/authorized_keys;"
            " cp /root/.ssh/authorized_keys /home/app/.ssh/authorized_keys;"
            " chown -R app:app /home/app/.ssh; chmod 700 /root/.ssh /home/app/.ssh;"
            " chmod 600 /root/.ssh/authorized_keys /home/app/.ssh/authorized_keys;"
            " echo 'app ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/app;"
            " chmod 0440 /etc/sudoers.d/app",
            stdin=public,
        )

    def _write_known_hosts(self):
        # The host key is read from the container itself, not scanned off the wire.
        key = self.exec("cat /etc/ssh/ssh_host_ed25519_key.pub").split()
        with open(self.known_hosts, "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {key[0]} {key[1]}\n")

    def _write_ssh_config(self):
        """OpenSSH config for the `bench` host: root, the bench key, strict host keys.

        ControlPath is set so testinfra's ssh backend (which passes ControlMaster=auto)
        can multiplex; the floor's ssh turns it off for a fresh connection each run.
        """
        with open(self.ssh_config, "w") as f:
            f.write(
                "Host bench\n"
                "  HostName 127.0.0.1\n"
                f"  Port {self.port}\n"
                "  User root\n"
                f"  IdentityFile {self.key}\n"
                "  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {self.known_hosts}\n"
                "  GlobalKnownHostsFile /dev/null\n"
                "  StrictHostKeyChecking yes\n"
                "  BatchMode yes\n"
                f"  ControlPath {self.dir}/cm-%C\n"
            )

    def _wait_ssh(self, seconds=30):
        deadline = time.monotonic() + seconds
        while True:
            ok = subprocess.run(
                ["ssh", "-F", self.ssh_config, "-o", "ControlPath=none", "bench", "true"],
                capture_output=True, env=self.ssh_env(),
            ).returncode == 0
            if ok:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("cannot log in to the fixture's sshd")
            time.sleep(0.2)

    # -- use

    def ssh_env(self):
        """The environment of SSH contenders: an empty HOME, no agent."""
        env = dict(os.environ, HOME=self.home)
        env.pop("SSH_AUTH_SOCK", None)
        return env

    def stop_control_master(self):
        """Ends the OpenSSH master testinfra's ssh backend left behind (ControlPersist)."""
        subprocess.run(["ssh", "-F", self.ssh_config, "-O", "exit", "bench"],
                       capture_output=True, env=self.ssh_env())

    # -- teardown

    def remove(self):
        """Removes this run's containers (the fixture and any `--image` leftovers)."""
        if self.port is not None:
            self.stop_control_master()
        ids = set(sh("docker", "ps", "-aq", "--no-trunc", "--filter",
                     f"label={LABEL}.run={self.run_id}", check=False).split())
        if self.id:
            ids.add(self.id)
        if ids:
            sh("docker", "rm", "-f", "-v", *sorted(ids), check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
