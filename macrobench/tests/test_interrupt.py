# SPDX-License-Identifier: MIT
"""No server outlives its driver: Ctrl-C (SIGINT) and SIGTERM to macro-run
stop the server under load at once, and a SIGKILLed driver takes its
server down too (PR_SET_PDEATHSIG through the runner)."""

import sys
import os
import re
import shutil
import signal
import subprocess
import time

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.proc import group_members  # noqa: E402
from zpbench.testlib import fail, skip  # noqa: E402
from macrotest import BUILD, MACRO_RUN, need_tools, supported  # noqa: E402


def start(mech, server):
    env = dict(os.environ, BUILD=BUILD, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.Popen([MACRO_RUN, f"--mech={mech}", "--hook=pass",
                          f"--server={server}", "--duration", "30",
                          "--requests", "100000000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, start_new_session=True)
    line = p.stderr.readline()  # printed once the server answers
    m = re.search(r":(\d+) \(pid (\d+), dir (\S+)\)", line)
    if not m:
        p.kill()
        fail(f"{server} under {mech}: no start line: {line!r} "
             f"{p.communicate()}")
    time.sleep(0.5)  # the load is running
    return p, int(m.group(1)), int(m.group(2)), m.group(3)


def gone(pgid, bound=10.0):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        time.sleep(0.1)
    return False


def case(mech, server, sig):
    what = f"{server} under {mech}, {signal.Signals(sig).name} to the driver"
    p, port, pid, d = start(mech, server)
    t0 = time.monotonic()
    os.kill(p.pid, sig)
    try:
        p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        fail(f"{what}: the driver did not end within 20 s")
    took = time.monotonic() - t0
    if sig != signal.SIGKILL and p.returncode != 130:
        fail(f"{what}: exit {p.returncode}, expected 130")
    if not gone(pid):
        left = group_members(pid)
        for q in left:
            os.kill(q, signal.SIGKILL)
        fail(f"{what}: processes {left} still running")
    if sig != signal.SIGKILL and os.path.exists(d):
        fail(f"{what}: {d} left behind")
    shutil.rmtree(d, ignore_errors=True)  # a SIGKILLed driver cannot
    # the load generator (in a session of its own) went with the driver
    load = "redis-benchmark" if server == "redis" else "wrk"
    deadline = time.monotonic() + 10
    while True:
        r = subprocess.run(["pgrep", "-f", f"^{load} .*(-p {port} |:{port}/)"],
                           capture_output=True, text=True)
        if not r.stdout.strip():
            break
        if time.monotonic() > deadline:
            fail(f"{what}: {load} still running: {r.stdout}")
        time.sleep(0.1)
    print(f"ok: {what}: stopped in {took:.1f} s")


def main():
    need_tools()
    case("none", "redis", signal.SIGINT)
    case("none", "nginx", signal.SIGTERM)
    case("none", "nginx", signal.SIGKILL)
    if supported("zpoline"):
        case("zpoline", "nginx", signal.SIGINT)
    if supported("ptrace"):
        case("ptrace", "redis", signal.SIGINT)
        case("ptrace", "redis", signal.SIGKILL)
    else:
        skip("ptrace not supported: its case was not run")


if __name__ == "__main__":
    main()
