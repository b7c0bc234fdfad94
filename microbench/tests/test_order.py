# SPDX-License-Identifier: MIT
"""Ordering sanity on getpid with the pass hook: ptrace > seccomp > zpoline,
each by a clear ratio (medians of one quick run; no absolute thresholds)."""

from benchtest import Run, fail, mechanisms, skip

RATIO = 1.5  # expected ~10x and ~4x; 1.5 leaves room for a noisy machine


def main():
    mechs = mechanisms()
    need = ["ptrace", "seccomp", "zpoline"]
    missing = [f"{m}: {mechs[m][1] if m in mechs else 'unknown'}"
               for m in need if not mechs.get(m, (False,))[0]]
    if missing:
        skip("mechanisms not available: " + "; ".join(missing))
    run = Run("--quick", "--min-ms", "20", "--cases", "getpid", "--mechs",
              ",".join(["none"] + need), "--hooks", "pass")
    if run.r.returncode != 0:
        fail(f"bench exited {run.r.returncode}")
    med = {r["mechanism"]: r["median"] for r in run.doc()["records"]}
    run.cleanup()
    for slow, fast in (("ptrace", "seccomp"), ("seccomp", "zpoline")):
        ratio = med[slow] / med[fast]
        print(f"{slow} {med[slow]:.0f} / {fast} {med[fast]:.0f} ns = "
              f"{ratio:.2f}")
        if ratio < RATIO:
            fail(f"{slow}/{fast} = {ratio:.2f} < {RATIO}")
    print("ok")


if __name__ == "__main__":
    main()
