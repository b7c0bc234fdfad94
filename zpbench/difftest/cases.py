# SPDX-License-Identifier: MIT
"""The cases. Each one turns a run under one mechanism into an Observation:
named items (a test's outcome, an output file, a labelled block of output,
an exit status) that must be equal to the native run's, item by item.

  cpython   CPython's own regression tests (Debian libpython3.11-testsuite)
  openssl   known-answer P-256 and digests through the openssl command
  sqlite    scripted sqlite3 workloads on files (WAL and rollback journal)
  sigheavy, threadheavy   our own programs (difftest/*.c)
"""
import base64
import glob
import hashlib
import os
import shutil
import xml.etree.ElementTree as ET

from . import proc

PYTHON = "/usr/bin/python3"  # Debian's: its test package matches it
TESTSUITE = "/usr/lib/python3.11/test/libregrtest"


class Observation:
    def __init__(self):
        self.items = {}     # item -> comparable value (str)
        self.counts = {}    # what the summary shows (pass/fail/skip...)
        self.crash = []     # runs that ended by signal or timeout
        self.secs = 0.0

    def add_run(self, label, r):
        """The exit status of one command is an item; a signal or timeout
        is also a crash (a mechanism must never kill a program)."""
        self.items[f"{label}:status"] = str(r.status)
        self.secs += r.secs
        if r.status == "timeout" or (isinstance(r.status, int) and
                                     r.status > 128):
            self.crash.append(f"{label}: exit {r.status} ({r.err_tail()})")


def short(v, n=100):
    """A value as one short line for the report."""
    v = v if isinstance(v, str) else repr(v)
    v = v.replace("\n", "\\n")
    return v if len(v) <= n else v[:n] + f"... ({len(v)} chars)"


def content(path):
    """A file's content as an item: text when short, else its digest."""
    try:
        with open(path, "rb") as f:
            b = f.read()
    except OSError as e:
        return f"<missing: {e.strerror}>"
    if len(b) <= 512:
        return b.decode(errors="backslashreplace")
    return f"sha256:{hashlib.sha256(b).hexdigest()} ({len(b)} bytes)"


def script(d, name, text):
    """Writes a shell script into d (thousands of commands do not fit in
    one argument) and returns its path."""
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text + "\n")
    return p


def labelled(text, first="start"):
    """Splits output at lines '== NAME' into {NAME: block}."""
    blocks, cur = {}, first
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:].strip()
            blocks.setdefault(cur, "")
            continue
        blocks[cur] = blocks.get(cur, "") + line + "\n"
    return blocks


class Case:
    name = ""
    # Items that may differ natively by nature (timings...), never compared.
    def available(self):
        """None, or why this case cannot run on this machine."""
        return None

    def prepare(self, ctx):
        """Native set-up, once per run (inputs every mechanism shares)."""

    def observe(self, ctx, mech, tag):
        raise NotImplementedError


# ---- CPython ---------------------------------------------------------------

# Tests excluded before running, everywhere alike (they cannot say anything
# about a mechanism here), with the reason printed at every run.
CPYTHON_IGNORE = {
    "*ThreadedVSOCKSocketStreamTest*":
        "hangs natively where no vsock peer answers at host CID 2 (seen on "
        "the project's VMs)",
}


class CPython(Case):
    name = "cpython"

    def __init__(self, modules, timeout):
        self.modules = modules
        self.timeout = timeout

    def available(self):
        if not os.path.isdir(TESTSUITE):
            return ("Debian's libpython3.11-testsuite is not installed "
                    "(scripts/deps)")
        return None

    def observe(self, ctx, mech, tag):
        ob = Observation()
        n = {"pass": 0, "fail": 0, "skip": 0, "error": 0}
        for m in self.modules:
            d = ctx.workdir(f"cpython-{tag}-{m}")
            xml = os.path.join(d, "junit.xml")
            cmd = [PYTHON, "-m", "test", "--junit-xml", xml, "--tempdir",
                   os.path.join(d, "tmp"), "--timeout", str(self.timeout)]
            for pat in CPYTHON_IGNORE:
                cmd += ["--ignore", pat]
            r = proc.run(mech.argv(cmd + [m]), d, ctx.env(d),
                         self.timeout + 60)
            ob.add_run(m, r)
            res = self.parse(xml, m)
            if res is None:
                # no junit file: regrtest itself died; every test of the
                # module is then missing, which the comparison reports
                ob.crash.append(f"{m}: no results (exit {r.status}; "
                                f"{r.err_tail() or short(r.out[-300:])})")
                continue
            for t, v in res.items():
                ob.items[t] = v
                n[v] += 1
            ctx.progress(f"  {m}: exit {r.status}, {len(res)} tests "
                         f"({r.secs:.1f} s)")
        ob.counts = n
        return ob

    @staticmethod
    def parse(path, module):
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            return None
        res = {}
        for tc in root.iter("testcase"):
            tags = {c.tag for c in tc}
            if "error" in tags:
                v = "error"
            elif "failure" in tags:
                v = "fail"
            elif "skipped" in tags:
                v = "skip"
            else:
                v = "pass"
            # a module-level error (setUpModule...) has no test name
            name = tc.get("name") or f"{module}:unnamed-{len(res)}"
            res[name] = v
        return res


# ---- openssl ---------------------------------------------------------------

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DIGESTS = ["md5", "sha1", "sha256", "sha512", "sha3-256", "blake2b512"]


def p256_key(seed, i):
    """A P-256 private key derived from (seed, i), as PEM without the public
    point: the same keys on every run and machine (known answers that can
    be reproduced), and loading it makes openssl compute d*G itself."""
    d = int.from_bytes(hashlib.sha256(f"difftest {seed} {i}".encode())
                       .digest(), "big") % (P256_N - 1) + 1
    # ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING(32),
    #                             [0] namedCurve prime256v1 }
    der = bytes.fromhex("30310201010420") + d.to_bytes(32, "big") + \
        bytes.fromhex("a00a06082a8648ce3d030107")
    b64 = base64.encodebytes(der).decode()
    return f"-----BEGIN EC PRIVATE KEY-----\n{b64}-----END EC PRIVATE KEY-----\n"


class OpenSSL(Case):
    name = "openssl"

    def __init__(self, keys, seed=1):
        self.keys, self.seed = keys, seed

    def available(self):
        return None if shutil.which("openssl") else \
            "the openssl command is not installed"

    def prepare(self, ctx):
        """Keys, messages, and natively: public keys and signatures (ECDSA
        signing is randomised, so signatures are made once, here)."""
        self.ref = ctx.workdir("openssl-ref")
        msgs = {"empty": b"", "one": b"a",
                "text": b"The quick brown fox jumps over the lazy dog\n" * 23,
                "big": bytes((i * 131 + (i >> 8)) & 0xff
                             for i in range(1 << 20))}
        for k, v in msgs.items():
            with open(os.path.join(self.ref, f"msg-{k}"), "wb") as f:
                f.write(v)
        for i in range(self.keys):
            with open(os.path.join(self.ref, f"k{i:04d}.pem"), "w") as f:
                f.write(p256_key(self.seed, i))
        sh = "\n".join(
            f"openssl ec -in k{i:04d}.pem -pubout -out pub{i:04d}.pem "
            f"2>/dev/null && openssl dgst -sha256 -sign k{i:04d}.pem "
            f"-out sig{i:04d} msg-text" for i in range(self.keys))
        r = proc.run(ctx.native.argv(["sh", "-e", script(self.ref, "keys.sh",
                                                          sh)]),
                     self.ref, ctx.env(self.ref), 600)
        if r.status != 0:
            raise RuntimeError(f"openssl: native key set-up failed: exit "
                               f"{r.status}: {r.err_tail()}")

    def observe(self, ctx, mech, tag):
        ob = Observation()
        d = ctx.workdir(f"openssl-{tag}")
        ref = self.ref
        lines = []
        for i in range(self.keys):
            k, j = f"{i:04d}", f"{(i + 1) % self.keys:04d}"
            # the public key (fixed-base d*G), an ECDH secret with the next
            # key's native public key (variable base), our verification of
            # the native signature, and a signature of our own that the
            # native side verifies afterwards
            lines += [
                f"openssl ec -in {ref}/k{k}.pem -pubout -out pub-k{k} "
                f"2>/dev/null; echo \"pub-k{k} $?\"",
                f"openssl pkeyutl -derive -inkey {ref}/k{k}.pem -peerkey "
                f"{ref}/pub{j}.pem -out ecdh-k{k}; echo \"ecdh-k{k} $?\"",
                f"openssl dgst -sha256 -verify {ref}/pub{k}.pem -signature "
                f"{ref}/sig{k} {ref}/msg-text > verify-k{k} 2>&1; "
                f"echo \"verify-k{k} $?\"",
                f"openssl dgst -sha256 -sign {ref}/k{k}.pem -out sig-k{k} "
                f"{ref}/msg-text; echo \"sign-k{k} $?\""]
        for alg in DIGESTS:
            lines.append(f"openssl dgst -{alg} -r {ref}/msg-* | sed "
                         f"'s|{ref}/||' > dgst-{alg}; echo \"dgst-{alg} $?\"")
        lines.append(f"openssl enc -aes-256-ctr -K {'11' * 32} -iv "
                     f"{'22' * 16} -in {ref}/msg-big -out enc-aes256ctr; "
                     "echo \"enc-aes256ctr $?\"")
        r = proc.run(mech.argv(["sh", script(d, "ops.sh", "\n".join(lines))]),
                     d, ctx.env(d), 1800)
        ob.add_run("script", r)
        for line in r.out.decode(errors="replace").splitlines():
            f = line.split()
            if len(f) == 2:
                ob.items[f"{f[0]}:status"] = f[1]
        for p in sorted(glob.glob(os.path.join(d, "*"))):
            b = os.path.basename(p)
            if not b.startswith("sig-") and not b.endswith(".sh") and \
                    b != "tmp":
                ob.items[b] = content(p)
        # this mechanism's signatures, checked natively (one sh for all)
        sh = "\n".join(
            f"echo \"== sign-k{i:04d}\"; openssl dgst -sha256 -verify "
            f"{ref}/pub{i:04d}.pem -signature sig-k{i:04d} {ref}/msg-text "
            f"2>&1" for i in range(self.keys))
        v = proc.run(ctx.native.argv(["sh", script(d, "verify.sh", sh)]), d,
                     ctx.env(d), 600)
        for k, blk in labelled(v.out.decode(errors="replace")).items():
            if k != "start":
                ob.items[k + ":native-verify"] = blk.strip()
        ob.counts = {"keys": self.keys, "items": len(ob.items)}
        return ob


# ---- sqlite3 ---------------------------------------------------------------

def sqlite_script(rows, journal):
    """A deterministic workload: bulk insert, index, aggregates, window
    functions, joins, transactions, savepoints, blobs, checkpoint, vacuum,
    and a content hash at the end."""
    return f"""
.bail off
PRAGMA journal_mode={journal};
PRAGMA synchronous=FULL;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INT, b TEXT, c REAL);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{rows})
  INSERT INTO t SELECT i, (i*7919)%1000, printf('row-%08d-%s', i, hex(i*i)),
                       i/7.0 FROM s;
CREATE INDEX ta ON t(a);
.print == aggregate
SELECT count(*), sum(a), total(c), max(b), min(b) FROM t;
.print == group
SELECT a, count(*), sum(id) FROM t GROUP BY a ORDER BY a LIMIT 20 OFFSET 100;
.print == window
SELECT id, sum(a) OVER (ORDER BY id ROWS 5 PRECEDING) FROM t
  WHERE id % 997 = 0;
.print == join
CREATE TABLE u AS SELECT a, group_concat(id % 10, '') AS g FROM t GROUP BY a;
SELECT count(*), sum(length(g)) FROM u JOIN t USING(a) WHERE t.id < 5000;
.print == transaction
BEGIN; UPDATE t SET c = c*2 WHERE a < 100; DELETE FROM t WHERE a > 900; COMMIT;
SELECT count(*), total(c) FROM t;
.print == savepoint
SAVEPOINT x; DELETE FROM t; ROLLBACK TO x; RELEASE x;
SELECT count(*) FROM t;
.print == blobs
CREATE TABLE bl(k, v BLOB);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{rows // 20})
  INSERT INTO bl SELECT i, zeroblob(i*37 % 20000) FROM s;
SELECT count(*), sum(length(v)) FROM bl;
.print == checkpoint
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
PRAGMA integrity_check;
.print == sha3
.sha3sum
"""


class SQLite(Case):
    name = "sqlite"

    def __init__(self, rows):
        self.rows = rows

    def available(self):
        return None if shutil.which("sqlite3") else \
            "the sqlite3 command is not installed (scripts/deps)"

    def observe(self, ctx, mech, tag):
        ob = Observation()
        d = ctx.workdir(f"sqlite-{tag}")
        for journal in ("wal", "delete"):
            r = proc.run(mech.argv(["sqlite3", f"{journal}.db"]), d,
                         ctx.env(d), 600,
                         stdin=sqlite_script(self.rows, journal).encode())
            ob.add_run(journal, r)
            for k, v in labelled(r.out.decode(errors="replace")).items():
                ob.items[f"{journal}/{k}"] = v
            ob.items[f"{journal}/stderr"] = r.err.decode(errors="replace")
        # two writers at once on one WAL database (file locks, the shm
        # mapping), then a dump piped into a fresh database
        n = max(self.rows // 50, 10)
        sh = (f"for w in 1 2; do sqlite3 wal.db \"PRAGMA busy_timeout=60000;"
              f" CREATE TABLE IF NOT EXISTS w(x); WITH RECURSIVE s(i) AS "
              f"(SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{n}) INSERT "
              f"INTO w SELECT i*\\$w FROM s;\" & done; wait\n"
              "echo '== writers'; sqlite3 wal.db 'SELECT count(*), sum(x) "
              "FROM w'\n"
              "sqlite3 wal.db .dump | sqlite3 copy.db; echo \"dump $?\"\n"
              "echo '== copy'; sqlite3 copy.db 'PRAGMA integrity_check' "
              "'SELECT count(*), total(c) FROM t' '.sha3sum t'")
        sh = sh.replace("\\$w", "$w")
        r = proc.run(mech.argv(["sh", "-c", sh]), d, ctx.env(d), 600)
        ob.add_run("concurrent", r)
        for k, v in labelled(r.out.decode(errors="replace")).items():
            ob.items[f"concurrent/{k}"] = v
        ob.items["concurrent/stderr"] = r.err.decode(errors="replace")
        ob.counts = {"blocks": len(ob.items)}
        return ob


# ---- our own programs ------------------------------------------------------

class Own(Case):
    """sigheavy / threadheavy: every output line is an item keyed by its
    phase, so a difference names the phase."""

    def __init__(self, name, build, scale):
        self.name = name
        self.exe = os.path.join(build, "difftest", name)
        self.scale = scale

    def available(self):
        return None if os.access(self.exe, os.X_OK) else \
            f"{self.exe} is not built"

    def observe(self, ctx, mech, tag):
        ob = Observation()
        d = ctx.workdir(f"{self.name}-{tag}")
        # natively about a second per scale unit: a hang is a failure
        # found in 30 s, not at the suite's timeout
        r = proc.run(mech.argv([self.exe, str(self.scale)]), d, ctx.env(d),
                     30 * self.scale)
        ob.add_run(self.name, r)
        for line in r.out.decode(errors="replace").splitlines():
            key = line.split(":", 1)[0]
            ob.items[f"out/{key}"] = line
        ob.items["stderr"] = r.err.decode(errors="replace")
        ob.counts = {"lines": len(ob.items) - 2}
        return ob
