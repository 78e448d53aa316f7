"""Finding, and on request installing, the tools ispec is compared with.

serverspec 2.42 comes from Debian (ruby-serverspec); its Docker backend needs the
docker-api gem, which Debian packages as ruby-docker-api. pytest-testinfra 10.2.2
and paramiko come from PyPI into a venv under bench/.venv, so the machine's own
Python is left alone.
"""

import os
import shutil
import subprocess

TESTINFRA = "pytest-testinfra==10.2.2"
APT_PACKAGES = ["ruby-serverspec", "ruby-docker-api"]


def venv_dir(bench_dir):
    return os.path.join(bench_dir, ".venv")


def _ok(argv, **kw):
    try:
        return subprocess.run(argv, capture_output=True, text=True, **kw)
    except OSError:
        return None


def ruby_has(lib):
    out = _ok(["ruby", "-e", f"require '{lib}'"])
    return out is not None and out.returncode == 0


def serverspec_version():
    out = _ok(["ruby", "-e", "require 'serverspec'; require 'specinfra'; "
               "puts \"serverspec #{Serverspec::VERSION}, specinfra #{Specinfra::VERSION}\""])
    return out.stdout.strip() if out and out.returncode == 0 else None


def testinfra_version(bench_dir):
    py = os.path.join(venv_dir(bench_dir), "bin", "python")
    out = _ok([py, "-c", "from importlib.metadata import version as v; "
               "print('pytest-testinfra', v('pytest-testinfra'), 'pytest', v('pytest'), "
               "'paramiko', v('paramiko'))"])
    return out.stdout.strip() if out and out.returncode == 0 else None


def find(bench_dir):
    """What is installed: {contender name: (available, version or why not)}."""
    found = {}
    spec = serverspec_version() if shutil.which("rspec") else None
    why = "serverspec not installed (apt-get install ruby-serverspec, or --install-peers)"
    found["serverspec ssh"] = (bool(spec), spec or why)
    if spec and not ruby_has("docker"):
        found["serverspec docker"] = (False, "docker-api gem missing (apt-get install ruby-docker-api)")
    else:
        found["serverspec docker"] = (bool(spec), spec or why)
    infra = testinfra_version(bench_dir)
    why = f"no {TESTINFRA} in bench/.venv (run with --install-peers)"
    for backend in ("docker", "paramiko", "ssh"):
        found[f"testinfra {backend}"] = (bool(infra), infra or why)
    if not shutil.which("ssh"):
        for name in ("testinfra ssh", "floor ssh"):
            found[name] = (False, "no OpenSSH client (ssh) on this machine")
    return found


def install(bench_dir):
    """apt-get install serverspec and docker-api; pip install testinfra into bench/.venv."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    apt = sudo + ["apt-get", "install", "-y", "-q"] + APT_PACKAGES
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("installing peers:", " ".join(apt))
    if subprocess.run(apt, env=env).returncode != 0:
        # Stale package lists are the usual reason: refresh once and try again.
        subprocess.run(sudo + ["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(apt, env=env, check=True)
    venv = venv_dir(bench_dir)
    if not os.path.exists(os.path.join(venv, "bin", "pip")):
        subprocess.run(["python3", "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "pip"), "install", "-q", TESTINFRA, "paramiko"]
    print("installing peers:", " ".join(pip[1:]))
    subprocess.run(pip, check=True)
