# SPDX-License-Identifier: MIT
"""The count hook under zpoline sees the servers' own system calls: the
JSON it writes holds the event loop (epoll_wait/epoll_pwait) and at least
one receive and one send per request. Under ptrace the counts survive the
server's stop."""

import sys
import os
import shutil

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import fail, skip  # noqa: E402
from macrotest import macro_run, need_tools, supported  # noqa: E402

EPOLL = {"232", "281", "441"}           # epoll_wait, epoll_pwait, epoll_pwait2
RECV = {"0", "17", "19", "45", "47"}     # read pread64 readv recvfrom recvmsg
SEND = {"1", "18", "20", "40", "44", "46"}  # write pwrite64 writev sendfile
#                                          sendto sendmsg


def check(server, args, requests_of, server_exe):
    rc, doc, err = macro_run("--mech=zpoline", "--hook=count",
                             f"--server={server}", *args)
    if rc != 0 or not doc["ok"]:
        fail(f"{server}: exit {rc}: {doc.get('error')} {err[-500:]}")
    st = doc.get("count")
    if not st:
        fail(f"{server}: no count JSON")
    exes = {os.path.realpath(p["exe"]) for p in st["processes"]}
    if os.path.realpath(server_exe) not in exes:
        fail(f"{server}: count lines are for {exes}, not {server_exe}")
    if any(p["mechanism"] != "zpoline" for p in st["processes"]):
        fail(f"{server}: {st['processes']}")
    c = {nr: n for nr, n in st["counts"].items()}
    req = requests_of(doc["results"])
    epoll = sum(c.get(n, 0) for n in EPOLL)
    recv = sum(c.get(n, 0) for n in RECV)
    send = sum(c.get(n, 0) for n in SEND)
    print(f"{server}: {req} requests, {st['total']} syscalls: epoll {epoll}, "
          f"receive {recv}, send {send}; {st['bypassed']} bypassed")
    if epoll < 10:
        fail(f"{server}: {epoll} epoll_wait/epoll_pwait calls: {c}")
    if recv < req or send < req:
        fail(f"{server}: fewer receives ({recv}) or sends ({send}) than "
             f"requests ({req}) with pipeline 1: {c}")


def main():
    need_tools()
    if not supported("zpoline"):
        skip("zpoline is not supported here")
    redis = os.path.realpath(shutil.which("redis-server"))
    nginx = os.path.realpath(shutil.which("nginx"))
    check("redis", ["--requests", "3000"],
          lambda r: sum(x["requests"] for x in r.values()), redis)
    check("nginx", ["--duration", "1"],
          lambda r: sum(x["requests"] for x in r.values()), nginx)
    # a tracer that is stopped with its server still writes the counts (the
    # SIGTERM goes to the server, not to the tracer, which would die first)
    if supported("ptrace"):
        rc, doc, err = macro_run("--mech=ptrace", "--hook=count",
                                 "--server=redis", "--requests", "1000")
        st = doc.get("count")
        if rc != 0 or not st or st["processes"][0]["mechanism"] != "ptrace" \
                or st["counts"].get("0", 0) < 2000:
            fail(f"redis under ptrace/count: exit {rc}, counts {st}, "
                 f"{doc.get('error')}")
        print(f"redis under ptrace: {st['total']} syscalls counted")


if __name__ == "__main__":
    main()
