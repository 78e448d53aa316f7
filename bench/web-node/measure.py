"""One timed run of one contender: wall time, peak RSS, exit status, checks made."""

import os
import signal
import subprocess
import tempfile
import threading
import time

TIMEOUT_S = 600


# GNU time reports the contender's own peak RSS. The rusage Python's wait4 gives
# would not: a process forked from Python starts with Python's RSS as its high-water
# mark (Linux keeps it across exec), about 18 MB under every contender. GNU time is
# small, so what it forks starts small. Without it, wait4's number is kept and flagged.
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_once(contender, size, timeout=TIMEOUT_S):
    """Runs the contender once at `size`; returns a dict of what was measured.

    Output goes to temporary files, not pipes, so reading it costs the contender
    nothing and cannot block it. The clock covers fork to exit, GNU time's own
    start (about a millisecond) included.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        argv = contender.argv(size)
        if GNU_TIME:
            argv = [GNU_TIME, "-f", "%M", "-o", rss.name, "--"] + argv
        stdin = open(contender.stdin(size), "rb") if contender.stdin else subprocess.DEVNULL
        try:
            wall, status, rusage = _timed(argv, contender.env, stdin, out, err, timeout)
        finally:
            if contender.stdin:
                stdin.close()
        if contender.after:
            contender.after()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        maxrss = _gnu_time_rss(rss) if GNU_TIME else rusage.ru_maxrss
    result = {"wall_s": round(wall, 4), "maxrss_kb": maxrss,
              "exit": os.waitstatus_to_exitcode(status)}
    if not GNU_TIME:
        result["maxrss_note"] = "wait4 ru_maxrss: includes the runner's RSS at fork"
    result.update(_judge(contender, size, result["exit"], stdout, stderr))
    return result


def _gnu_time_rss(f):
    # The last line is %M; a line before it may say the command failed.
    lines = f.read().split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def _timed(argv, env, stdin, out, err, timeout):
    start = time.perf_counter()
    # A process group of its own, so that stopping it stops its whole tree.
    proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=out, stderr=err, process_group=0)
    killer = threading.Timer(timeout, _signal_group, (proc, signal.SIGKILL))
    killer.start()
    try:
        _, status, rusage = _wait4(proc)
    except BaseException:
        # Ctrl-C reached only the runner (the run has its own process group): pass
        # it on, and give the run time to clean up after itself (ispec removes its
        # --image container), then make sure.
        _stop(proc)
        raise
    finally:
        killer.cancel()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return wall, status, rusage


def _wait4(proc):
    while True:
        try:
            return os.wait4(proc.pid, 0)
        except InterruptedError:
            continue


def _signal_group(proc, sig):
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def _stop(proc, grace=15):
    if proc.poll() is not None:
        return
    _signal_group(proc, signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _judge(contender, size, code, stdout, stderr):
    """Did the run make `size` checks, all passing? Anything else is a failed run."""
    try:
        checks, passed, extra = contender.count(stdout)
    except (ValueError, KeyError) as e:
        checks, passed, extra = 0, False, {"parse_error": str(e)}
    ok = code == 0 and passed and checks == size
    result = {"ok": ok, "checks": checks, **extra}
    if not ok:
        why = f"exit {code}, {checks} checks counted (want {size}, all passing)"
        tail = "\n".join((stdout + "\n" + stderr).strip().splitlines()[-15:])
        result["error"] = f"{why}\n{tail}"
    return result
