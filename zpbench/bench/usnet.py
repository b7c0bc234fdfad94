# SPDX-License-Identifier: MIT
"""The `usnet` stage: redis-server and nginx on a user-space TCP/IP stack
(lwIP, applied through the hook library usnet/zphook-usnet.so), the zpoline
paper's macro setup (issue 20; usnet/README.md).

Each server runs under one mechanism with the usnet hook, so its socket
calls never reach the kernel; its load generator (redis-benchmark, wrk)
runs on the other end of the shared-memory link with usnet applied the
cheapest way, usnet-preload.so (libc wrappers, no mechanism), the same in
every configuration. `none` is the server with usnet-preload.so too: the
stack without a mechanism, the paper's baseline. The steps, records and
tables are the macro stage's (bench/macro.py), under stage "usnet".

Runs with --full or ZPB_USNET=1 (the default run leaves it out, saying so).
Mechanisms: every one that runs a hook library (`hook_libs` of
zpbench-run --list --json: the zpoline family, the lazypolines, sud and
seccomp); the others are listed as skipped with the runner's reason.
"""

import os
import shutil
import subprocess
import tempfile

from .. import proc, servers
from .common import log
from . import macro
from .macro import CASES, MacroStep

STAGE = "usnet"
SERVER_ADDR, CLIENT_ADDR = "10.91.0.1", "10.91.0.2"
# The paper's cases (redis GET/SET, pipelined or not) and one nginx file;
# samples as long as the default macro run's, so the stage fits a --full
# run (nginx-64k and SET -P16 add little: ZPB_USNET_CASES brings them).
DEFAULT_CASES = ["redis-get", "redis-set", "redis-get-P16", "nginx-small"]
TOOLS = {"redis": ["redis-server", "redis-benchmark", "redis-cli",
                   "taskset"],
         "nginx": ["nginx", "wrk", "curl", "taskset"]}
_lib = {}  # "hook", "preload": paths in the build directory


class _OnUsnet:
    """What makes a macro server a usnet one: it listens on lwIP at
    SERVER_ADDR, and only processes started with client_prefix (the other
    end of its link) reach it."""

    host = SERVER_ADDR

    def __init__(self, runner, mech, hook, **kw):
        super().__init__(runner, mech, _lib["hook"] if hook else None, **kw)
        self.link_dir = tempfile.mkdtemp(prefix="zpusnet-", dir="/dev/shm")

    def _end(self, addr):
        env = [f"USNET_LINK={os.path.join(self.link_dir, 'link')}",
               f"USNET_ADDR={addr}"]
        return ["env"] + env

    def server_prefix(self):
        pre = self._end(SERVER_ADDR)
        if self.mech == "none":
            pre.append(f"LD_PRELOAD={_lib['preload']}")
        return pre

    @property
    def client_prefix(self):
        return self._end(CLIENT_ADDR) + [f"LD_PRELOAD={_lib['preload']}"]

    def client(self, argv, timeout=20):
        """One client process on the other end of the link: stdout."""
        try:
            r = subprocess.run(list(self.client_prefix) + argv,
                               timeout=timeout, stdin=subprocess.DEVNULL,
                               capture_output=True,
                               preexec_fn=proc.die_with_parent)
        except subprocess.TimeoutExpired:
            raise OSError(f"{argv[0]} did not finish within {timeout} s")
        if r.returncode:
            raise OSError(f"{argv[0]} exited {r.returncode}: "
                          f"{r.stderr.decode(errors='replace').strip()}")
        return r.stdout

    def _stop(self):
        super()._stop()
        shutil.rmtree(self.link_dir, ignore_errors=True)


class UsnetRedis(_OnUsnet, servers.RedisServer):
    def prepare(self):
        return super().prepare() + ["--protected-mode", "no"]

    def ready(self):
        return self._cli("PING").strip() == "PONG"

    def commands_processed(self):
        for line in self._cli("INFO", "stats").splitlines():
            k, _, v = line.partition(":")
            if k == "total_commands_processed":
                return int(v)
        raise OSError("INFO stats without total_commands_processed")

    def _cli(self, *args):
        return self.client(["redis-cli", "-h", self.host, "-p",
                            str(self.port)] + list(args)).decode()


class UsnetNginx(_OnUsnet, servers.NginxServer):
    def _get(self, which):
        return self.client(["curl", "-sf", "--max-time", "10",
                            self.url(which)])

    def ready(self):
        return len(self._get("small")) == servers.SMALL_BYTES

    def check_files(self):
        for which, size in (("small", servers.SMALL_BYTES),
                            ("64k", servers.LARGE_BYTES)):
            try:
                got = len(self._get(which))
            except OSError as e:
                raise servers.ServerError(f"GET {which}: {e}")
            if got != size:
                raise servers.ServerError(f"GET {which}: {got} bytes "
                                          f"instead of {size}")


class UsnetStep(MacroStep):
    stage = STAGE
    server_classes = {"redis": UsnetRedis, "nginx": UsnetNginx}


def _hook_lib_refusal(rs, mech):
    """None if zpbench-run runs the usnet hook under mech, else its line."""
    env = dict(os.environ, USNET_LINK="/nonexistent", USNET_ADDR=SERVER_ADDR)
    r = subprocess.run([rs.runner, f"--mech={mech.run_as}",
                        f"--hook={_lib['hook']}", "--", "true"], env=env,
                       capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else \
        (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]


def plan(rs):
    rs.usnet = m = {"index": {}, "dead": {}, "requests": {}}
    steps, skipped = [], []
    flag = os.environ.get("ZPB_USNET", "").strip()
    if flag == "0" or (flag != "1" and not rs.full):
        log("bench: usnet stage not run (the default run leaves it out; "
            "--full or ZPB_USNET=1 runs it)")
        rs.results.doc["options"]["usnet"] = None
        return steps, skipped
    cases = macro._env_list("ZPB_USNET_CASES", list(CASES)) or DEFAULT_CASES

    def skip_all(reason, mech=None):
        for c in cases:
            skipped.append({"stage": STAGE, "case": c, "mechanism": mech,
                            "hook": "usnet", "reason": reason})

    _lib["hook"] = os.path.join(rs.build, "usnet", "zphook-usnet.so")
    _lib["preload"] = os.path.join(rs.build, "usnet", "usnet-preload.so")
    if not all(os.path.exists(p) for p in _lib.values()) or \
            rs.runner is None:
        skip_all("usnet is not built (needs liblwip-dev: scripts/deps)")
        rs.results.doc["options"]["usnet"] = None
        return steps, skipped
    profile = "quick" if rs.quick else "default"
    m["profile"] = dict(macro.PROFILES[profile])
    m["rounds"] = rounds = max(macro.MIN_ROUNDS, rs.rounds)
    m["server_cpu"] = rs.cpu
    others = [c for c in sorted(os.sched_getaffinity(0)) if c != rs.cpu]
    m["load_cpu"] = others[-1] if others else None
    m["ready_timeout"] = 30.0
    rs.results.doc["options"]["usnet"] = {
        "cases": cases, "rounds": rounds, "profile": profile,
        "wrk_s": m["profile"]["wrk_s"], "redis_s": m["profile"]["redis_s"],
        "server_addr": SERVER_ADDR, "client_addr": CLIENT_ADDR,
        "client": "usnet-preload.so (no mechanism), in every configuration",
        "server_cpu": m["server_cpu"], "load_cpu": m["load_cpu"]}
    groups = []
    for grp, srv in macro.GROUPS.items():
        scases = [c for c in cases if macro._group(c) == grp]
        missing = [t for t in TOOLS[srv] if shutil.which(t) is None]
        if scases and missing:
            for c in scases:
                skipped.append({"stage": STAGE, "case": c, "mechanism": None,
                                "hook": "usnet", "reason": f"{', '.join(missing)}"
                                " not installed (scripts/deps)"})
        elif scases:
            groups.append((grp, scases))
    mechs = []
    for mech in rs.mechs:
        if mech.micro_only:
            continue
        why = None if mech.name == "none" else _hook_lib_refusal(rs, mech)
        if why:
            skip_all(why, mech.name)
        else:
            mechs.append(mech)
    for rnd in range(1, rounds + 1):
        shift = (rnd - 1) * len(mechs) // rounds
        order = mechs[shift:] + mechs[:shift]
        for grp, scases in groups:
            for mech in order:
                steps.append(UsnetStep(grp, scases, mech,
                                       "none" if mech.name == "none"
                                       else "usnet", rnd, rounds))
    return steps, skipped


def finalize(records):
    macro.finalize(records, stage=STAGE)


def report(records):
    macro.report(records, stage=STAGE)
