# SPDX-License-Identifier: MIT
"""The corpus: real programs and the torture programs of coverage/torture.

A Program knows how to prepare its temporary files (setup), the command to
run (argv), and, for servers, how to drive and stop it while it runs under
a mechanism (drive). `hints` explain misses this program is known for, per
mechanism family: {family: {nr or "*": reason}}. Torture programs also say
what they make (`marked`: {nr: calls}) and what each mechanism must see of
it (`expect`: {family: {nr: fraction}}), which the tests assert.
"""
import os
import socket
import subprocess
import time

K = 1000  # marked calls per torture path
MARK = 110  # getppid

LATE_CODE = "code loaded or generated after start-up is not rewritten"


class Program:
    def __init__(self, name, kind, argv, quick=True, setup=None, drive=None,
                 hints=None, marked=None, expect=None, static=False,
                 needs=None, note=""):
        self.name = name
        self.kind = kind  # "real" | "torture"
        self._argv = argv
        self.quick = quick
        self.setup = setup
        self.drive = drive
        self.hints = hints or {}
        self.marked = marked or {}
        self.expect = expect or {}
        self.static = static
        self.needs = needs  # an executable that must exist
        self.note = note

    def argv(self, env):
        return self._argv(env) if callable(self._argv) else list(self._argv)


class Env:
    """Where things are for one run: build dir and a private temp dir."""

    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.port = None

    def tt(self, name):
        return os.path.join(self.build, "coverage", "tt-" + name)


# ---- real programs -------------------------------------------------------

def _git_setup(env):
    repo = os.path.join(env.tmp, "repo")
    os.makedirs(repo, exist_ok=True)
    genv = _git_env(env)
    for cmd in (["git", "init", "-q"], ["git", "add", "."],
                ["git", "commit", "-q", "-m", "one"]):
        if cmd[1] == "add":
            with open(os.path.join(repo, "a.txt"), "w") as f:
                f.write("hello\n")
        subprocess.run(cmd, cwd=repo, env=genv, check=True,
                       capture_output=True, timeout=30)
    with open(os.path.join(repo, "a.txt"), "a") as f:
        f.write("changed\n")


def _git_env(env):
    e = dict(os.environ)
    e.update({"HOME": env.tmp, "GIT_CONFIG_NOSYSTEM": "1",
              "GIT_AUTHOR_NAME": "cov", "GIT_AUTHOR_EMAIL": "cov@localhost",
              "GIT_COMMITTER_NAME": "cov",
              "GIT_COMMITTER_EMAIL": "cov@localhost"})
    return e


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _connect(port, deadline):
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _redis_setup(env):
    env.port = _free_port()


def _redis_drive(env, proc, timeout):
    """PING, SET, GET, then SHUTDOWN NOSAVE: the server exits by itself."""
    s = _connect(env.port, time.monotonic() + timeout)
    with s:
        for cmd in (b"PING", b"SET cov 1", b"GET cov", b"INCR cov"):
            s.sendall(cmd + b"\r\n")
            s.recv(4096)
        s.sendall(b"SHUTDOWN NOSAVE\r\n")
        try:
            s.recv(4096)
        except OSError:
            pass


def _nginx_setup(env):
    env.port = _free_port()
    p = os.path.join(env.tmp, "nginx")
    os.makedirs(os.path.join(p, "html"), exist_ok=True)
    os.makedirs(os.path.join(p, "logs"), exist_ok=True)
    with open(os.path.join(p, "html", "index.html"), "w") as f:
        f.write("<p>coverage</p>\n")
    with open(os.path.join(p, "nginx.conf"), "w") as f:
        f.write(f"""daemon off;
master_process on;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/logs/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {p}/logs/access.log;
  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi; uwsgi_temp_path {p}/uwsgi;
  scgi_temp_path {p}/scgi;
  server {{ listen 127.0.0.1:{env.port}; root {p}/html; }}
}}
""")


def _nginx_drive(env, proc, timeout):
    """Three GET /, then SIGQUIT (graceful stop) to the master."""
    deadline = time.monotonic() + timeout
    for _ in range(3):
        s = _connect(env.port, deadline)
        with s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            while s.recv(4096):
                pass
    pidfile = os.path.join(env.tmp, "nginx", "nginx.pid")
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(pidfile) as f:
        os.kill(int(f.read().strip()), 3)  # SIGQUIT


PY = ("import json, os, hashlib\n"
      "d = {k: len(v) for k, v in os.environ.items()}\n"
      "s = json.dumps(d, sort_keys=True)\n"
      "print(len(os.listdir('/usr/lib')), hashlib.sha256(s.encode())"
      ".hexdigest()[:8])\n")

REAL = [
    Program("ls", "real", ["ls", "-la", "/usr"]),
    Program("cat", "real", ["cat", "/usr/include/stdio.h"]),
    Program("python3", "real", ["/usr/bin/python3", "-c", PY]),
    Program("sh-pipeline", "real",
            ["sh", "-c", "cat /etc/passwd | sort | uniq -c | wc -l"]),
    Program("perl", "real", ["perl", "-e", 'open(my $f, "<", "/etc/passwd")'
                             ' or die; my @l = <$f>; print scalar(@l), "\\n";'],
            quick=False),
    Program("git-version", "real", ["git", "--version"], quick=False),
    Program("git-status", "real",
            lambda env: ["git", "-C", os.path.join(env.tmp, "repo"),
                         "status", "--porcelain"],
            quick=False, setup=_git_setup),
    Program("sqlite3", "real",
            lambda env: ["sqlite3", os.path.join(env.tmp, "t.db"),
                         "create table if not exists t(a); "
                         "insert into t values (1), (2), (3); "
                         "select count(*) from t;"],
            quick=False, needs="sqlite3"),
    Program("redis", "real",
            lambda env: ["redis-server", "--port", str(env.port), "--bind",
                         "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", env.tmp, "--logfile", ""],
            quick=False, setup=_redis_setup, drive=_redis_drive,
            needs="redis-server",
            note="started, 4 commands, SHUTDOWN NOSAVE"),
    Program("nginx", "real",
            lambda env: ["nginx", "-p", os.path.join(env.tmp, "nginx"), "-c",
                         os.path.join(env.tmp, "nginx", "nginx.conf"),
                         "-e", os.path.join(env.tmp, "nginx", "logs",
                                            "error.log")],
            quick=False, setup=_nginx_setup, drive=_nginx_drive,
            needs="nginx", note="master + 1 worker, 3 GET /, SIGQUIT"),
]

# ---- torture programs ----------------------------------------------------

class Expect(dict):
    """Expected fraction of the marked calls per coverage class (the
    `coverage` of `zpbench-run --list --json`: zpoline-nop is zpoline's):
    the classes named, and `default` for every other mechanism."""

    def __init__(self, default, over):
        super().__init__(over)
        self.default = default

    def __missing__(self, cls):
        return self.default


def _exp(default, **over):
    """expected fraction of the marked calls per coverage class."""
    return Expect(default, {k.replace("_", "-"): v for k, v in over.items()})


def _tt(name, marked, expect, hints=None, static=False, args=None):
    return Program("tt-" + name, "torture",
                   lambda env: [env.tt(name)] + [str(a) for a in
                                                  (args or [K])],
                   marked=marked, expect=expect, hints=hints, static=static)


TORTURE = [
    _tt("raw", {MARK: K, 39: K},
        {MARK: _exp(1.0, preload=0.0), 39: _exp(1.0)},
        hints={"preload": {MARK: "raw `syscall` instruction in the main "
                           "binary: no libc function to interpose"}}),
    _tt("dlopen", {MARK: K}, {MARK: _exp(1.0, preload=0.0, zpoline=0.0)},
        hints={"zpoline": {MARK: "libtt-dl.so was dlopen()ed after start-up: "
                           + LATE_CODE},
               "preload": {MARK: "raw `syscall` instruction"}}),
    _tt("jit", {MARK: K}, {MARK: _exp(1.0, preload=0.0, zpoline=0.0,
                                      zpoline_late=0.0)},
        hints={"zpoline": {MARK: "JIT code written at run time into an "
                           "anonymous page: " + LATE_CODE},
               "preload": {MARK: "raw `syscall` instruction in JIT code"}}),
    _tt("static", {MARK: K, 39: K},
        {MARK: _exp(1.0, preload=0.0, sud=0.0, zpoline=0.0, zpoline_late=0.0,
                    lazypoline=0.0, lazypoline_settle=0.0),
         39: _exp(1.0, preload=0.0, sud=0.0, zpoline=0.0, zpoline_late=0.0,
                  lazypoline=0.0, lazypoline_settle=0.0)}, static=True),
    # Synchronous signals (kill) are delivered on the way back from the
    # kill syscall, which an in-process hook made: the handler runs inside
    # the hook. libzpoline's count hook makes the call through the host's
    # pass, so the handler is known to be the program's code and is hooked
    # (the previous libzpoline bypassed it: 50 %; lazy mode also traps its
    # first uses then, unless the thread has an alternate signal stack).
    # seccomp and sud see them all.
    _tt("signal", {MARK: 2 * K},
        {MARK: _exp(1.0, preload=0.0)},
        hints={"preload": {MARK: "raw `syscall` instruction"}}),
    _tt("threads", {MARK: 4 * K}, {MARK: _exp(1.0, preload=0.0)},
        hints={"preload": {MARK: "raw `syscall` instruction"}}),
    _tt("spawn", {MARK: 3 * K}, {MARK: _exp(1.0, preload=0.0)},
        hints={"preload": {MARK: "raw `syscall` instruction"}}),
    _tt("vdso", {228: K}, {228: _exp(1.0, preload=0.0, zpoline=0.0,
                                     zpoline_late=0.0, lazypoline_settle=0.0)},
        hints={"zpoline": {228: "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) has "
                           "no vDSO fast path: the vDSO's own fallback "
                           "`syscall` makes it, and the vDSO is not rewritten"},
               # (only lazypoline-settle misses it in this family)
               "lazypoline": {228: "lazypoline-settle: the vDSO's fallback "
                              "`syscall` runs while the process is settled "
                              "(dispatch off), and the vDSO is not "
                              "rewritten"},
               "preload": {228: "clock_gettime is not wrapped (the vDSO "
                           "makes the call)"}}),
]

PROGRAMS = TORTURE + REAL


def select(names=None, full=False):
    if names:
        by = {p.name: p for p in PROGRAMS}
        bad = [n for n in names if n not in by]
        if bad:
            raise ValueError("unknown program(s): " + ", ".join(bad) +
                             " (known: " + ", ".join(by) + ")")
        return [by[n] for n in names]
    return [p for p in PROGRAMS if full or p.quick]
