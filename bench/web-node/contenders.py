"""Every contender: how it is started for a size, and how its output is counted.

A contender is one whole process per run (its start-up is part of its cost). Each
one's output is read back to check that it really made N checks and that all of
them passed: a run that exits 0 having made fewer checks is a failure too.
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional

from fixture import IMAGE, LABEL


@dataclass
class Contender:
    name: str
    family: str  # "ispec", "serverspec", "testinfra" or "floor"
    argv: Callable[[int], list]
    count: Callable[[str], tuple]  # stdout -> (checks made, all passed, extra facts)
    env: Optional[dict] = None
    stdin: Optional[Callable[[int], str]] = None  # size -> file fed on standard input
    after: Optional[Callable[[], None]] = None  # untimed clean-up after each run
    note: str = ""


# -- counting what a run made

def count_ispec(stdout):
    """ispec --format json: summary.total and summary.ok, and what the run cost when
    the report says it (newer builds: a `targets` array with `round_trips`, bytes and
    phase times, also printed by --stats; a `stats` key is read the same way)."""
    report = json.loads(stdout)
    summary = report["summary"]
    extra = {}
    for key in ("stats", "targets"):
        if report.get(key):
            extra[key] = report[key]
            trips = round_trips(report[key])
            if trips is not None:
                extra["round_trips"] = trips
    return summary["total"], bool(summary["ok"]), extra


def round_trips(stats):
    """The round-trip count in a `stats` object whose exact shape is not fixed yet:
    an integer under a key that names round trips (summed over targets if nested)."""
    if isinstance(stats, list):
        found = [round_trips(s) for s in stats]
        found = [f for f in found if f is not None]
        return sum(found) if found else None
    if not isinstance(stats, dict):
        return None
    for key, value in stats.items():
        if "round" in key.lower() and isinstance(value, int):
            return value
    nested = [round_trips(v) for v in stats.values() if isinstance(v, (dict, list))]
    nested = [n for n in nested if n is not None]
    return sum(nested) if nested else None


def count_rspec(stdout):
    m = re.search(r"(\d+) examples?, (\d+) failures?", stdout)
    if not m:
        return 0, False, {}
    return int(m.group(1)), m.group(2) == "0", {}


def count_pytest(stdout):
    passed = re.search(r"(\d+) passed", stdout)
    bad = re.search(r"\d+ (failed|error)", stdout)
    n = int(passed.group(1)) if passed else 0
    return n + (1 if bad else 0), n > 0 and not bad, {}


def count_floor(stdout):
    m = re.search(r"(\d+) passed, (\d+) failed", stdout)
    if not m:
        return 0, False, {}
    return int(m.group(1)) + int(m.group(2)), m.group(2) == "0", {}


# -- the contenders

def _ispec_argv(ispec, spec_of, args):
    return lambda n: [ispec, "run", spec_of("ispec", n)] + args


def ispec_contenders(ispec, spec_of, fx, features):
    """ispec against the shared container (docker, ssh as root, ssh as app with
    --sudo) and against a throwaway container it starts itself (--image); each
    also with --no-probe when this build of ispec has that flag."""
    base = ["--format", "json"] + (["--stats"] if features.get("stats") else [])
    ssh = ["-i", fx.key, "--known-hosts", fx.known_hosts]
    modes = [
        ("docker", ["-t", f"docker://{fx.id}"], None),
        ("ssh", ["-t", f"ssh://root@127.0.0.1:{fx.port}"] + ssh, fx.ssh_env()),
        ("ssh-sudo", ["-t", f"ssh://app@127.0.0.1:{fx.port}", "--sudo"] + ssh, fx.ssh_env()),
        ("image", ["--image", IMAGE, "--wait-port", "80", "--label", f"{LABEL}=1",
                   "--label", f"{LABEL}.run={fx.run_id}"], None),
    ]
    variants = [("", [])]
    if features.get("no_probe"):
        variants.append((" --no-probe", ["--no-probe"]))
    out = []
    for suffix, flags in variants:
        for mode, args, env in modes:
            argv = _ispec_argv(ispec, spec_of, args + base + flags)
            out.append(Contender(f"ispec {mode}{suffix}", "ispec", argv, count_ispec, env=env))
    return out


def serverspec_contenders(spec_of, fx, helper_dir):
    env_docker = dict(os.environ, BENCH_BACKEND="docker", BENCH_CONTAINER=fx.id)
    env_ssh = dict(fx.ssh_env(), BENCH_BACKEND="ssh", BENCH_SSH_PORT=str(fx.port),
                   BENCH_SSH_KEY=fx.key, BENCH_KNOWN_HOSTS=fx.known_hosts)
    argv = lambda n: ["rspec", "-I", helper_dir, spec_of("serverspec", n)]  # noqa: E731
    return [
        Contender("serverspec docker", "serverspec", argv, count_rspec, env=env_docker,
                  note="specinfra Docker backend (docker-api gem): one Engine API exec per command"),
        Contender("serverspec ssh", "serverspec", argv, count_rspec, env=env_ssh,
                  note="specinfra SSH backend (net-ssh): one connection, one channel per command"),
    ]


def testinfra_contenders(spec_of, fx, bench_dir):
    pytest = os.path.join(bench_dir, ".venv", "bin", "py.test")
    common = ["-q", "-p", "no:cacheprovider", f"--ssh-config={fx.ssh_config}"]
    make = lambda host: lambda n: [pytest] + common + [f"--hosts={host}", spec_of("testinfra", n)]  # noqa: E731
    return [
        Contender("testinfra docker", "testinfra", make(f"docker://{fx.id}"), count_pytest,
                  note="one `docker exec` CLI process per command"),
        Contender("testinfra paramiko", "testinfra", make("paramiko://bench"), count_pytest,
                  env=fx.ssh_env(), note="paramiko: one connection; it does not check host keys"),
        Contender("testinfra ssh", "testinfra", make("ssh://bench"), count_pytest,
                  env=fx.ssh_env(), after=fx.stop_control_master,
                  note="one `ssh` process per command through an OpenSSH ControlMaster"),
    ]


def floor_contenders(spec_of, fx):
    script = lambda n: spec_of("floor", n)  # noqa: E731
    return [
        Contender("floor docker exec", "floor", lambda n: ["docker", "exec", "-i", fx.id, "sh"],
                  count_floor, stdin=script, note="the whole script in one `docker exec`"),
        Contender("floor ssh", "floor",
                  lambda n: ["ssh", "-F", fx.ssh_config, "-o", "ControlMaster=no",
                             "-o", "ControlPath=none", "bench", "sh"],
                  count_floor, env=fx.ssh_env(), stdin=script,
                  note="the whole script over one fresh ssh connection"),
    ]
