# SPDX-License-Identifier: MIT
"""The usnet stage of scripts/bench (ZPB_USNET=1, quick profile, redis-get):
records under stage "usnet" for none (lwIP without a mechanism), zpoline
and sud (hook "usnet"), >= 3 samples each with zero errors and throughput
relative to none; ptrace listed as skipped with the runner's reason (it
cannot run a hook library); the table. Exit 0 pass, 1 fail, 77 skip."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import SRCDIR as SRC, fail, skip  # noqa: E402

BUILD = os.path.abspath(os.environ.get("BUILD") or os.path.join(SRC, "build"))

if not os.path.exists(os.path.join(BUILD, "usnet", "zphook-usnet.so")):
    skip("usnet was built without lwIP (liblwip-dev)")
for t in ("redis-server", "redis-benchmark", "redis-cli", "taskset"):
    if shutil.which(t) is None:
        skip(f"{t} is not installed (scripts/deps)")
runner = os.path.join(BUILD, "mechanisms", "zpbench-run")
listing = subprocess.run([runner, "--list"], capture_output=True, text=True)
for mech in ("zpoline", "sud", "ptrace"):
    line = [ln for ln in listing.stdout.splitlines()
            if ln.split()[:1] == [mech]]
    if not line or line[0].split()[1] != "yes":
        skip(f"{mech} is not usable here: {line}")

out = tempfile.mkdtemp(prefix="zpusnet-stage-")
try:
    env = dict(os.environ, BUILD=BUILD, ZPB_USNET="1", ZPB_MACRO="0",
               ZPB_USNET_CASES="redis-get")
    r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "bench"),
                        "--quick", "--cases", "getpid", "--hooks", "pass",
                        "--mechs", "none,zpoline,sud,ptrace", "--out", out],
                       env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        fail(f"bench exited {r.returncode}: {r.stderr[-2000:]}")
    if "usnet: requests/s" not in r.stderr + r.stdout:
        fail("no usnet table in the output")
    doc = json.load(open(glob.glob(os.path.join(out, "bench-*.json"))[0]))
    recs = {(x["mechanism"], x["hook"]): x for x in doc["records"]
            if x["stage"] == "usnet"}
    if set(recs) != {("none", "none"), ("zpoline", "usnet"), ("sud", "usnet")}:
        fail(f"usnet records: {sorted(recs)}")
    for (mech, hook), x in recs.items():
        w = f"{mech}/{hook}"
        if x["case"] != "redis-get" or x["unit"] != "req/s":
            fail(f"{w}: case {x['case']}, unit {x['unit']}")
        if len(x["samples"]) < 3 or not all(s > 0 for s in x["samples"]):
            fail(f"{w}: samples {x['samples']}")
        if x["errors"] != [0] * len(x["samples"]):
            fail(f"{w}: errors {x['errors']}")
        if "LD_PRELOAD=" not in " ".join(x["load_command"]):
            fail(f"{w}: load generator not on lwIP: {x['load_command']}")
    for mech in ("zpoline", "sud"):
        vs = recs[(mech, "usnet")]["vs_none"]
        if not vs or not vs["ratio"] > 0:
            fail(f"{mech} vs_none {vs}")
    sk = [s for s in doc["skipped"] if s["stage"] == "usnet" and
          s["mechanism"] == "ptrace"]
    if not sk or "built-in hooks" not in sk[0]["reason"]:
        fail(f"ptrace not skipped with the runner's reason: {sk}")
finally:
    shutil.rmtree(out, ignore_errors=True)
print("ok: usnet stage")
