# SPDX-License-Identifier: MIT
"""The macro stage of scripts/bench: records in the results schema
(results/README.md, "Macro records") for every case x mechanism x hook,
>= 3 samples each, zero errors, throughput relative to none, syscalls per
request under the count hook, and the table."""

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import check, skip  # noqa: E402
from macrotest import BUILD, HERE, need_tools, supported  # noqa: E402

BENCH = os.path.join(HERE, "..", "..", "scripts", "bench")
CASES = ["redis-get", "nginx-small"]
NUM = (int, float)


def check_record(r, w, hooks_of):
    for k, t in (("stage", str), ("case", str), ("args", dict),
                 ("mechanism", str), ("family", str), ("hook", str),
                 ("unit", str), ("samples", list), ("repetitions", int),
                 ("rounds", int), ("requests", list), ("errors", list),
                 ("latency_ms", dict), ("median", NUM), ("mean", NUM),
                 ("stdev", NUM), ("cv", NUM), ("spread", dict),
                 ("server_cpu", int), ("command", list),
                 ("load_command", list), ("env", dict), ("start_s", list)):
        check(isinstance(r.get(k), t) and not isinstance(r.get(k), bool),
              f"{w}: '{k}' = {r.get(k)!r} is not {t}")
    check(r["unit"] == "req/s", f"{w}.unit")
    s = r["samples"]
    check(len(s) == r["repetitions"] == r["rounds"] >= 3, f"{w}: {len(s)} "
          f"samples, {r['repetitions']} repetitions, {r['rounds']} rounds")
    check(all(isinstance(x, NUM) and x > 0 for x in s), f"{w}.samples {s}")
    check(abs(r["median"] - statistics.median(s)) < 1e-6, f"{w}.median")
    sp = r["spread"]
    check(sp["min"] == min(s) and sp["max"] == max(s) and
          sp["min"] <= sp["q1"] <= r["median"] <= sp["q3"] <= sp["max"],
          f"{w}.spread {sp}")
    check(r["errors"] == [0] * len(s), f"{w}.errors {r['errors']}")
    check(all(isinstance(n, int) and n > 0 for n in r["requests"]),
          f"{w}.requests {r['requests']}")
    for p in ("p50", "p99"):
        lat = r["latency_ms"][p]
        check(len(lat) == len(s) and all(x > 0 for x in lat),
              f"{w}.latency_ms.{p} {lat}")
        check(isinstance(r[f"{p}_ms"], NUM) and r[f"{p}_ms"] > 0,
              f"{w}.{p}_ms")
    check(r["p50_ms"] <= r["p99_ms"], f"{w}: p50 > p99")
    mech, hook = r["mechanism"], r["hook"]
    check(hook == "none" if mech == "none" else hook in hooks_of,
          f"{w}.hook {hook}")
    vs = r.get("vs_none")
    if mech == "none":
        check(vs is None, f"{w}.vs_none for none")
    else:
        check(isinstance(vs, dict) and isinstance(vs["ratio"], NUM) and
              isinstance(vs["change_pct"], NUM), f"{w}.vs_none {vs}")
    sc = r.get("server_syscalls")
    if hook == "count":
        check(isinstance(sc, list) and len(sc) == len(s), f"{w}: {sc}")
        for x in sc:
            check(x["total"] > 0 and x["per_request"] and
                  x["per_request"] > 1 and x["counts"], f"{w}: {x}")
    else:
        check(sc is None, f"{w}.server_syscalls {sc} without count")
    check("zpbench-run" in " ".join(r["command"]), f"{w}.command")
    # issue 16: CPU per request, the load generator's utilisation
    cpu = r.get("cpu_us_per_request")
    check(isinstance(cpu, list) and len(cpu) == len(s) and
          all(isinstance(x, NUM) and x >= 0 for x in cpu),
          f"{w}.cpu_us_per_request {cpu}")
    tr = r.get("tracer_us_per_request")
    check(isinstance(tr, list) and len(tr) == len(s), f"{w}.tracer_us {tr}")
    c = r.get("cpu_us")
    check(isinstance(c, dict) and abs(c["median"] - statistics.median(cpu))
          < 1e-9, f"{w}.cpu_us {c}")
    util = r.get("load_utilisation")
    cb = r.get("client_bound")
    check(isinstance(util, list) and len(util) == len(s) and
          all(isinstance(u, NUM) and 0 <= u <= 1.5 for u in util),
          f"{w}.load_utilisation {util}")
    check(cb == [u >= 0.95 for u in util] and
          r.get("client_bound_samples") == sum(cb), f"{w}.client_bound {cb}")
    check(isinstance(r.get("median_ci95"), dict), f"{w}.median_ci95")
    if mech != "none":
        check(isinstance(vs.get("ratio_ci95"), dict),
              f"{w}.vs_none.ratio_ci95 {vs}")


def main():
    need_tools()
    if not supported("zpoline"):
        skip("zpoline is not supported here")
    out = tempfile.mkdtemp(prefix="zpmacro-test-")
    env = dict(os.environ, BUILD=BUILD, PYTHONDONTWRITEBYTECODE="1",
               ZPB_MACRO="1", ZPB_MACRO_CASES=",".join(CASES))
    env.pop("ZPB_MACRO_HOOKS", None)
    try:
        r = subprocess.run([BENCH, "--quick", "--cases", "getpid", "--mechs",
                            "none,zpoline", "--hooks", "pass,count",
                            "--out", out], capture_output=True, text=True,
                           timeout=170, env=env)
        print(r.stdout)
        print(r.stderr, file=sys.stderr)
        check(r.returncode == 0, f"bench exited {r.returncode}")
        files = glob.glob(os.path.join(out, "*.json"))
        check(len(files) == 1, f"results files {files}")
        with open(files[0]) as f:
            doc = json.load(f)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    check(doc["complete"] and not doc["failures"], f"{doc['failures']}")
    mo = doc["options"].get("macro")
    check(isinstance(mo, dict) and mo["cases"] == CASES and
          mo["hooks"] == ["pass", "count"] and mo["rounds"] >= 3 and
          mo["profile"] == "quick", f"options.macro {mo}")
    recs = [x for x in doc["records"] if x["stage"] == "macro"]
    want = {(c, m, h) for c in CASES for m, h in
            (("none", "none"), ("zpoline", "pass"), ("zpoline", "count"))}
    got = {(x["case"], x["mechanism"], x["hook"]) for x in recs}
    check(got == want, f"macro records {sorted(got)}, expected {sorted(want)}")
    for i, x in enumerate(recs):
        check_record(x, f"macro record {x['case']}/{x['mechanism']}/"
                     f"{x['hook']}", mo["hooks"])
    check("throughput relative to none" in r.stdout, "no macro table")
    check("macro stage:" in r.stdout, "no macro duration line")
    print("ok: macro stage records and table")


if __name__ == "__main__":
    main()
