# SPDX-License-Identifier: MIT
"""Static coverage of zpoline's rewriting.

The target runs under libzpoline.so with ZPOLINE_VERBOSE=3 (every
rewritten mapping with its file offset, every site as PATH+0xFILEOFFSET)
and ZPOLINE_CACHE=off (each mapping is really scanned). The reference is
an independent disassembler: `objdump -d` over the same file's executable
sections (SHF_EXECINSTR), which restarts decoding at every symbol. Its
instruction addresses (virtual addresses of the file) are turned into file
offsets through the section headers, so both sides speak in file offsets
and the comparison holds whatever address the file was mapped at.

Per rewritten mapping: reference sites in the mapped file range, rewritten
sites, missed (reference site not rewritten), non_boundary (rewritten but
not an instruction start per objdump: a would-be corruption), and
outside_sections (rewritten bytes outside every executable section).
"""
import os
import re
import struct
import subprocess

SHF_EXECINSTR = 0x4
_ref_cache = {}


def exec_sections(path):
    """[(name, addr, offset, size)] of the SHF_EXECINSTR sections."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError(f"{path}: not a 64-bit ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    secs = []
    for i in range(shnum):
        secs.append(struct.unpack_from("<IIQQQQIIQQ", data,
                                       shoff + i * shentsize))
    stroff = secs[shstrndx][4]
    out = []
    for (nm, typ, flags, addr, off, size, *_rest) in secs:
        if flags & SHF_EXECINSTR and typ != 8:  # not SHT_NOBITS
            end = data.index(b"\0", stroff + nm)
            out.append((data[stroff + nm:end].decode(), addr, off, size))
    return out


LINE = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
SYM = re.compile(r"^([0-9a-f]+) <(.+)>:$")


def reference(path):
    """{"boundaries": set of file offsets of instruction starts, "sites":
    {file offset: symbol} of syscall/sysenter, "ranges": [(lo, hi)] of
    executable sections in file offsets}, from objdump -d."""
    if path in _ref_cache:
        return _ref_cache[path]
    secs = exec_sections(path)
    r = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn", path],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"objdump -d {path}: {r.stderr.strip()[:200]}")

    def off_of(va):
        for _, addr, off, size in secs:
            if addr <= va < addr + size:
                return va - addr + off
        return None

    bounds, sites, sym = set(), {}, None
    for line in r.stdout.splitlines():
        m = SYM.match(line)
        if m:
            sym = m.group(2)
            continue
        m = LINE.match(line)
        if not m:
            continue
        fo = off_of(int(m.group(1), 16))
        if fo is None:
            continue
        bounds.add(fo)
        insn = m.group(2).split(None, 1)[0] if m.group(2).strip() else ""
        if insn in ("syscall", "sysenter"):
            sites[fo] = sym
    ref = {"boundaries": bounds, "sites": sites,
           "ranges": [(off, off + size) for _, _, off, size in secs]}
    _ref_cache[path] = ref
    return ref


MAP = re.compile(r"^zpoline: map (.+) \[([0-9a-f]+)-([0-9a-f]+)\] offset "
                 r"0x([0-9a-f]+)$")
SITE = re.compile(r"^zpoline: site (.+)\+0x([0-9a-f]+)$")
STAT = re.compile(r"^zpoline: (/.+) \[([0-9a-f]+)-([0-9a-f]+)\] (\d+) bytes: "
                  r"(\w+), (\d+) instructions decoded, (\d+) candidates, "
                  r"(\d+) unproven, (\d+) sites, ([0-9.]+) ms$")


def rewritten(libzpoline, argv, rewrite=None, timeout=120, cwd=None):
    """Runs argv under zpoline; [mapping dict] from its verbose output."""
    env = dict(os.environ)
    env.update({"LD_PRELOAD": libzpoline, "ZPOLINE_VERBOSE": "3",
                "ZPOLINE_CACHE": "off"})
    env.pop("ZPOLINE_HOOK", None)
    if rewrite:
        env["ZPOLINE_REWRITE"] = rewrite
    r = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)
    maps, stats = [], {}
    for line in r.stderr.splitlines():
        m = STAT.match(line)
        if m:
            stats[(m.group(1), int(m.group(2), 16))] = {
                "method": m.group(5), "instructions": int(m.group(6)),
                "candidates": int(m.group(7)), "unproven": int(m.group(8)),
                "ms": float(m.group(10))}
            continue
        m = MAP.match(line)
        if m:
            start, end = int(m.group(2), 16), int(m.group(3), 16)
            maps.append({"path": m.group(1), "start": start, "end": end,
                         "offset": int(m.group(4), 16), "sites": []})
            continue
        m = SITE.match(line)
        if m and maps and maps[-1]["path"] == m.group(1):
            maps[-1]["sites"].append(int(m.group(2), 16))
    if not maps:
        raise RuntimeError(f"{argv[0]}: no ZPOLINE_VERBOSE=3 output (exit "
                           f"{r.returncode}): {r.stderr.strip()[-300:]}")
    for m in maps:
        m.update(stats.get((m["path"], m["start"]), {}))
    return maps


def compare(m):
    """The record fields of one rewritten mapping against objdump."""
    lo = m["offset"]
    hi = lo + m["end"] - m["start"]
    ref = reference(m["path"])
    rs = {o: s for o, s in ref["sites"].items() if lo <= o < hi}
    got = set(m["sites"])
    missed = sorted(set(rs) - got)
    extra = sorted(got - set(rs))
    in_secs = [o for o in extra
               if any(a <= o < b for a, b in ref["ranges"])]
    non_boundary = [o for o in in_secs if o not in ref["boundaries"]]
    # a boundary objdump decodes as something else (cannot happen for a
    # real 0f 05 at a boundary; listed for completeness)
    other = [o for o in in_secs if o in ref["boundaries"]]
    outside = [o for o in extra if o not in in_secs]
    return {
        "path": m["path"],
        "file_range": [lo, hi],
        "method": m.get("method"),
        "candidates": m.get("candidates"),
        "unproven": m.get("unproven"),
        "reference": len(rs),
        "rewritten": len(got),
        "matched": len(got & set(rs)),
        "missed": [{"offset": hex(o), "symbol": rs[o]} for o in missed],
        "non_boundary": [hex(o) for o in non_boundary],
        "boundary_not_syscall": [hex(o) for o in other],
        "outside_sections": [hex(o) for o in outside],
        "complete": not missed and not extra,
    }


TARGETS = {
    # name: (argv, quick)
    "true": (["/bin/true"], True),
    "ls": (["ls", "/"], True),
    "python3": (["/usr/bin/python3", "-c", "import json, ssl"], True),
    "perl": (["perl", "-e", "1"], False),
    "git": (["git", "--version"], False),
    "sqlite3": (["sqlite3", ":memory:", "select 1;"], False),
    "redis-server": (["redis-server", "--version"], False),
    "nginx": (["nginx", "-v"], False),
}
