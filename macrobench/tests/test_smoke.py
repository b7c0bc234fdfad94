# SPDX-License-Identifier: MIT
"""redis-server and nginx start under none and zpoline, complete a small
bounded load with zero errors, and are stopped afterwards."""

import sys
import os

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.proc import group_members  # noqa: E402
from zpbench.testlib import fail, skip  # noqa: E402
from macrotest import macro_run, need_tools, supported  # noqa: E402


def check(mech, server, args, expect):
    rc, doc, err = macro_run(f"--mech={mech}", "--hook=pass",
                             f"--server={server}", *args)
    what = f"{server} under {mech}"
    if rc != 0 or not doc["ok"]:
        fail(f"{what}: exit {rc}: {doc.get('error')} {doc['results']} "
             f"{err[-500:]}")
    res = doc["results"]
    if sorted(res) != sorted(expect):
        fail(f"{what}: results for {sorted(res)}, expected {expect}")
    for name, r in res.items():
        if r["errors"] != 0 or not r["rps"] > 0:
            fail(f"{what} {name}: {r}")
        if server == "nginx" and r["socket_errors"] != dict.fromkeys(
                ("connect", "read", "write", "timeout"), 0):
            fail(f"{what} {name}: socket errors {r['socket_errors']}")
    if doc["stopped"] != "terminated":
        fail(f"{what}: stopped '{doc['stopped']}', not by SIGTERM")
    # the runner was the group leader: nothing of the group is left
    pid = int(err.split("(pid ")[1].split(",")[0])
    left = group_members(pid)
    if left:
        fail(f"{what}: processes {left} of the server's group still run")
    if os.path.exists(err.split(", dir ")[1].split(")")[0]):
        fail(f"{what}: temporary directory left behind")
    print(f"ok: {what}: " + ", ".join(
        f"{k} {v['rps']:.0f} req/s" for k, v in res.items()))


def main():
    need_tools()
    if not supported("zpoline"):
        skip("zpoline is not supported here")
    for mech in ("none", "zpoline"):
        check(mech, "redis", ["--requests", "2000"], ["GET", "SET"])
        check(mech, "redis", ["--requests", "16000", "--pipeline", "16"],
              ["GET", "SET"])
        check(mech, "nginx", ["--duration", "1"], ["small", "64k"])


if __name__ == "__main__":
    main()
