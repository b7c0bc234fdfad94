# SPDX-License-Identifier: MIT
"""Data files for the gnuplot scripts. gnuplot cannot read JSON, so for
each figure this writes NAME.dat (the same rows the matplotlib script
draws, from zpbench/results.py) and NAME.vars (gnuplot assignments: data file,
output base, caption, counts), then the script runs as

    gnuplot -c plots/NAME.gp OUT/NAME.vars     -> OUT/NAME.png, OUT/NAME.svg

Missing values are written as "-" (the scripts set `datafile missing`).
"""

import math
import os

from .. import results

MISSING = "-"


def _q(s):
    """A gnuplot double-quoted string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    return f"{v:.6g}"


def _gpnum(v):
    """A number for a .vars file (NaN when absent)."""
    return float("nan") if v is None else float(v)


def _gpval(val):
    if isinstance(val, str):
        return _q(val)
    if isinstance(val, float):
        return "NaN" if math.isnan(val) else f"{val:.6g}"
    return str(val)


def _colors(mechs):
    return " ".join(results.mech_color(m) for m in mechs)


def _word(s):
    """A data-file field: quoted so that spaces stay in one column."""
    return _q(s)


class NoData(Exception):
    pass


def _write(out, name, lines, variables, rs, extra):
    os.makedirs(out, exist_ok=True)
    dat = os.path.join(out, f"{name}.dat")
    with open(dat, "w") as f:
        f.write("\n".join(lines) + "\n")
    v = {"dat": dat, "out": os.path.join(out, name),
         "caption": results.caption(rs.context(), extra)}
    v.update(variables)
    path = os.path.join(out, f"{name}.vars")
    with open(path, "w") as f:
        for k, val in v.items():
            f.write(f"{k} = {_gpval(val)}\n")
    return path


def fig1(rs, out):
    """Two index blocks (raw syscall, glibc getpid); rows: mechanism,
    null median/min/max, pass median/min/max."""
    lines, nones, lows, has = [], [], [], []
    any_rows = False
    tools = rs.tools()
    first_tool = [-1, -1]  # per panel: the row where the tools begin
    for k, case in enumerate(("getpid", "getpid-libc")):
        rows = results.getpid_rows(rs, case)
        none = dict(rows).get("none", {}).get("none")
        nones.append(none[0] if none else None)
        lines.append(f"# {case}: mechanism, null med lo hi, pass med lo hi")
        lines.append('"mechanism" "null hook" lo hi "pass hook" lo hi note')
        n = 0
        for m, hooks in rows:
            if m == "none":
                continue
            cells = []
            for h in ("null", "pass"):
                med, lo, hi, _ = hooks.get(h, (None, None, None, None))
                cells += [_num(med), _num(lo), _num(hi)]
                lows.append(lo)
            if m in tools and first_tool[k] < 0:
                first_tool[k] = n
            unseen = hooks.get("null", (0, 0, 0, None))[3] is False
            cells.append(_word("not hooked" if unseen else ""))
            lines.append(" ".join([_word(m)] + cells))
            n += 1
        if n == 0:
            lines.append(_word("(no data)") + (" " + MISSING) * 6 + ' ""')
        has.append(int(n > 0))
        any_rows |= n > 0
        lines += ["", ""]
    if not any_rows:
        raise NoData("no micro records of case getpid or getpid-libc")
    return _write(out, "fig1-getpid", lines,
                  {"none_raw": _gpnum(nones[0]), "none_libc": _gpnum(nones[1]),
                   "floor": results.log_floor(lows),
                   "tools_raw": first_tool[0], "tools_libc": first_tool[1],
                   "has_raw": has[0], "has_libc": has[1]},
                  rs, "bars: median, whiskers: min-max of the repetitions")


def fig2(rs, out):
    cases, mechs, data = results.io_rows(rs, "pass")
    if not cases:
        raise NoData("no micro records of the I/O cases")
    lines = [" ".join([_word("case")] + [f"{_word(m)} lo hi" for m in mechs])]
    for c in cases:
        cells = [_word(c)]
        for m in mechs:
            med, lo, hi = data.get((c, m), (None, None, None))
            cells += [_num(med), _num(lo), _num(hi)]
        lines.append(" ".join(cells))
    return _write(out, "fig2-io", lines,
                  {"nmech": len(mechs), "colors": _colors(mechs),
                   "floor": results.log_floor(v[1] for v in data.values())},
                  rs,
                  "pass hook; bars: median, whiskers: min-max")


def fig3(rs, out):
    series, hook = results.sled_rows(rs)
    if not series:
        raise NoData("no micro records of case sled under zpoline or "
                     "zpoline-nop")
    lines = []
    for label, pts in series.items():
        lines.append(f"{_word(label)} median q1 q3")
        for nr, med, q1, q3 in pts:
            lines.append(f"{nr} {_num(med)} {_num(q1)} {_num(q3)}")
        lines += ["", ""]
    return _write(out, "fig3-sled", lines,
                  {"nseries": len(series), "hook": hook}, rs,
                  f"{hook} hook; points: median, whiskers: quartiles")


def fig4(rs, out):
    cases, mechs, data, hooks = results.macro_rows(rs)
    # the usnet stage (the servers on lwIP) as one more panel: its hook
    # is "usnet"; cases or mechanisms only one side has are left empty
    ucases, umechs, udata, uhooks = results.macro_rows(rs, "usnet")
    cases += [c for c in ucases if c not in cases]
    mechs += [m for m in umechs if m not in mechs]
    data = {**data, **udata}
    hooks += uhooks
    if not cases:
        raise NoData("no macro records with a throughput unit and a `none` "
                     "baseline")
    lines = []
    tools = rs.tools()
    # the tools (issue 18) named as a group of their own in the key
    label = {m: (f"{m} [tool]" if m in tools else m) for m in mechs}
    for h in hooks:
        lines.append(" ".join([_word("case")] +
                              [f"{_word(label[m])} lo hi" for m in mechs]))
        for c in cases:
            cells = [_word(c)]
            for m in mechs:
                v, lo, hi = data.get((c, m, h), (None, None, None))
                cells += [_num(v), _num(lo), _num(hi)]
            lines.append(" ".join(cells))
        lines += ["", ""]
    # the CPU panel (files with cpu_us only): one more block, last index
    ccases, cmechs, cdata = results.macro_cpu_rows(rs)
    if ccases:
        lines.append(" ".join([_word("case")] +
                              [f"{_word(m)} lo hi cb" for m in cmechs]))
        for c in ccases:
            cells = [_word(c)]
            for m in cmechs:
                v = cdata.get((c, m), (None, None, None, None))
                cells += [_num(v[0]), _num(v[1]), _num(v[2]),
                          _num(v[3]) if v[3] else MISSING]
            lines.append(" ".join(cells))
        lines += ["", ""]
    return _write(out, "fig4-macro", lines,
                  {"nmech": len(mechs), "nhooks": len(hooks),
                   "colors": _colors(mechs),
                   "hooks": " ".join(hooks),
                   "ncpumech": len(cmechs) if ccases else 0,
                   # where the log-scale CPU bars start
                   "cpufloor": results.log_floor(
                       [v[0] for v in cdata.values()]) if ccases else 1.0,
                   "cpucolors": _colors(cmechs)}, rs,
                  "bars: median, whiskers: bootstrap 95 % interval "
                  "(min-max without one); 100 % = none; C = client-bound")


def fig6(rs, out):
    cases, configs, data, runner = results.startup_rows(rs)
    if not cases:
        raise NoData("no startup records with a `none` baseline")
    lines = []
    for c in cases:
        for k in configs:
            v = data.get((c, k), (None, None, None))
            lines.append(" ".join([_word(k), _num(v[0]), _num(v[1]),
                                   _num(v[2])]))
        lines += ["", ""]
    extra = "whiskers: bootstrap 95 % interval"
    if runner:
        extra += "; the runner itself adds " + ", ".join(
            f"{c} {r[0]:+.2f} ms" for c, r in runner.items())
    titles = ["/bin/true" if c == "true" else "python3 -c pass"
              if c == "python3" else c for c in cases]
    return _write(out, "fig6-startup", lines,
                  {"ncases": len(cases), "titles": "|".join(titles)}, rs,
                  extra)


def fig5(rs, out):
    progs, mechs, data = results.coverage_rows(rs, after_startup=True)
    if not progs:
        raise NoData("no coverage records (stage \"coverage\")")
    # separate-runs truth (the ptrace mechanisms cannot run under a second
    # tracer) is marked *, as in the matplotlib figure
    method = {r["mechanism"]: r.get("method", "separate-runs")
              for r in rs.records("coverage") if r.get("mechanism")}
    # gnuplot `matrix rowheaders columnheaders`: first line the column
    # names, then one row per program; NaN cells are left blank.
    lines = [" ".join([_word("program")] +
                      [_word(m + ("*" if method.get(m) != "same-run" else ""))
                       for m in mechs])]
    for p in progs:
        cells = [_word(p)]
        for m in mechs:
            v = data.get((p, m))
            cells.append(_num(v[0]) if v else "NaN")
        lines.append(" ".join(cells))
    return _write(out, "fig5-coverage", lines,
                  {"nmech": len(mechs), "nprog": len(progs)}, rs,
                  "after the start-up window; truth: covtrace observing the "
                  "same run (* separate ptrace runs)")


FIGURES = {"fig1-getpid": fig1, "fig2-io": fig2, "fig3-sled": fig3,
           "fig4-macro": fig4, "fig5-coverage": fig5, "fig6-startup": fig6}
