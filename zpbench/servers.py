# SPDX-License-Identifier: MIT
"""Server drivers of the macrobenchmarks (Python 3 standard library only).

A server (redis-server or nginx) runs under `zpbench-run --mech=M --hook=H`
on 127.0.0.1 at a port found free, pinned to one CPU; the load generator
(redis-benchmark or wrk) runs unhooked, pinned to another. Every server is
stopped on every way out (a `with` block: SIGTERM to its process group,
SIGKILL after a bound), and also dies with this process if that is killed
outright (PR_SET_PDEATHSIG). See macrobench/README.md.

Used by zpbench/bench/macro.py (the `macro` stage of scripts/bench) and
by macrobench/macro-run (one server, one mechanism, by hand).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import proc

HOST = "127.0.0.1"
REDIS_CLIENTS = 50
WRK_THREADS = 1
WRK_CONNECTIONS = 32
SMALL_BYTES = 612      # the size of nginx's stock index.html
LARGE_BYTES = 64 * 1024


class ServerError(Exception):
    """A server did not start or a load run did not complete; the message
    holds what went wrong and the tail of the server's output."""


# ---- the load generator --------------------------------------------------

def run_load(argv, timeout):
    """Runs a load generator in its own session; killed with its group on
    timeout or on any exception (Ctrl-C included). Returns (rc, out, err)
    and records the run's wall time and the generator's CPU time (user +
    system, from the rusage of reaped children: the generator is the only
    child reaped meanwhile) in run_load.last = {"wall_s", "cpu_s"}."""
    c0, t0 = proc.children_cpu_s(), time.monotonic()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True,
                             preexec_fn=proc.die_with_parent)
    except OSError as e:
        raise ServerError(f"cannot run {argv[0]}: {e}")
    try:
        out, err = proc.communicate(p, timeout)
    except subprocess.TimeoutExpired:
        raise ServerError(f"{os.path.basename(argv[0])} did not finish "
                          f"within {timeout:.0f} s")
    run_load.last = {"wall_s": time.monotonic() - t0,
                     "cpu_s": proc.children_cpu_s() - c0}
    return p.returncode, out, err


run_load.last = None


# ---- ports ---------------------------------------------------------------

def port_is_free(port):
    """Nothing listens on 127.0.0.1:port and a server could bind it."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(1.0)
    try:
        c.connect((HOST, port))
        return False  # someone answers
    except OSError:
        pass
    finally:
        c.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A port of 127.0.0.1 that the kernel hands out for port 0 and that is
    checked free (another process may still take it before the server
    binds: the servers retry on another port when bind fails)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port_is_free(port):
            return port
    raise ServerError("no free port on 127.0.0.1")


# ---- the mechanism wrapper ------------------------------------------------

def runner_argv(runner, mech, hook, stats, argv):
    """argv under zpbench-run (plain argv for mechanism none without
    runner). stats: path for the count hook's JSON lines, or None."""
    if runner is None:
        if mech != "none":
            raise ServerError(f"mechanism {mech} needs zpbench-run")
        return list(argv)
    cmd = [runner, f"--mech={mech}"]
    if mech != "none":
        cmd.append(f"--hook={hook}")
        if stats:
            cmd.append(f"--stats={stats}")
    return cmd + ["--"] + list(argv)


def death_guard():
    """Prefix that makes the server die with the process that forked it.
    zpbench-run forks the command and waits, so the PR_SET_PDEATHSIG the
    driver sets on the runner does not reach the server itself; setpriv
    sets it in the forked child, right before exec'ing the server (so a
    SIGKILLed driver takes the runner down, and the runner the server).
    The mechanism sees setpriv's few calls and its exec; its count line is
    left out of the server's syscalls."""
    path = shutil.which("setpriv")
    return [path, "--pdeathsig", "KILL", "--"] if path else []


def read_stats(path, skip_exes=("setpriv",)):
    """The count hook's JSON lines: one object per process image. Returns
    {"processes": [...], "total", "bypassed", "counts": {nr: n}} summed over
    every process image except those of skip_exes (by basename), or None
    when nothing was written."""
    try:
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        return None
    procs, counts, total, bypassed = [], {}, 0, 0
    for ln in lines:
        try:
            d = json.loads(ln)
        except ValueError:
            continue
        if os.path.basename(d.get("exe") or "") in skip_exes:
            continue
        procs.append({k: d.get(k) for k in
                      ("mechanism", "event", "pid", "exe", "total", "bypassed")})
        for nr, n in (d.get("counts") or {}).items():
            counts[nr] = counts.get(nr, 0) + n
        total += d.get("total") or 0
        bypassed += d.get("bypassed") or 0
    if not procs:
        return None
    return {"processes": procs, "total": total, "bypassed": bypassed,
            "counts": dict(sorted(counts.items(), key=lambda kv: int(kv[0])))}


# ---- servers -------------------------------------------------------------

class Server:
    """Base of the two servers. Use as a context manager:

        with RedisServer(runner, mech, hook, cpu=1) as srv:
            ... srv.port ...
        # stopped here, whatever happened; srv.stats holds the count JSON

    start() raises ServerError (with the server's output) when the server
    exits or does not answer within ready_timeout seconds."""

    name = "server"
    program = None
    # Where the server listens and how a client process reaches it: the
    # kernel's loopback, any process. (The usnet stage's servers listen on
    # a user-space stack, reached only by clients started with a prefix.)
    host = HOST
    client_prefix = ()

    def __init__(self, runner, mech, hook, cpu=None, ready_timeout=20.0,
                 keep_dir=False):
        self.runner = runner
        self.mech = mech
        self.hook = hook
        self.cpu = cpu
        self.ready_timeout = ready_timeout
        self.keep_dir = keep_dir
        self.dir = None
        self.port = None
        self.proc = None
        self.pid = None  # of the process started (taskset, then the runner)
        self.command = None
        self.stats = None
        self.stopped_how = None
        self.start_s = None

    # subclasses: write files, return the server's argv
    def prepare(self):
        raise NotImplementedError

    def ready(self):
        """True once the server answers a real request."""
        raise NotImplementedError

    @property
    def stats_path(self):
        return os.path.join(self.dir, "count.jsonl")

    @property
    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def output_tail(self, lines=8):
        parts = []
        for path in (self.log_path,) + self.extra_logs():
            try:
                with open(path, errors="replace") as f:
                    t = f.read().strip().splitlines()[-lines:]
            except OSError:
                continue
            if t:
                parts.append(" | ".join(t))
        return " || ".join(parts) or "(no output)"

    def extra_logs(self):
        return ()

    def server_prefix(self):
        """argv put between the mechanism and the server (env settings)."""
        return []

    def start(self):
        if shutil.which(self.program) is None:
            raise ServerError(f"{self.program} is not installed "
                              "(scripts/deps installs it)")
        self.dir = tempfile.mkdtemp(prefix=f"zpmacro-{self.name}-")
        last = None
        for attempt in range(3):
            self.port = free_port()
            argv = self.prepare()
            stats = self.stats_path if self.hook == "count" else None
            if stats and os.path.exists(stats):
                os.unlink(stats)
            self.command = proc.pin(self.cpu, runner_argv(
                self.runner, self.mech, self.hook, stats,
                death_guard() + self.server_prefix() + argv))
            t0 = time.monotonic()
            log = open(self.log_path, "w")
            try:
                self.proc = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.dir,
                    start_new_session=True, preexec_fn=proc.die_with_parent)
            except OSError as e:
                raise ServerError(f"cannot run {self.command[0]}: {e}")
            finally:
                log.close()
            try:
                self._wait_ready()
                self.start_s = time.monotonic() - t0
                self.pid = self.proc.pid
                return self
            except ServerError as e:
                last = e
                proc.kill_group(self.proc)
                self.proc = None
                if "in use" not in self.output_tail():
                    break  # not a port race: no point retrying
        raise last

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} under {self.mech}/{self.hook} exited with "
                    f"status {self.proc.returncode} before answering: "
                    f"{self.output_tail()}")
            try:
                if self.ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} under {self.mech}/{self.hook} did not "
                    f"answer within {self.ready_timeout:.0f} s: "
                    f"{self.output_tail()}")
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_snapshot(self):
        """CPU seconds of the runner's process group, per pid."""
        return proc.tree_cpu(self.proc.pid) if self.proc is not None else {}

    def cpu_per_request(self, before, after, requests):
        """What the server side spent per request served between two
        snapshots: {"server_us", "tracer_us", "total_us", "requests",
        "cpu_s"}. The runner process (self.pid: taskset execs it) is the
        tracer under ptrace and only waits otherwise; every other member
        of its group is the server (setpriv execs it)."""
        if not requests or requests <= 0:
            return None
        d = proc.cpu_delta(before, after)
        runner = d.pop(self.proc.pid if self.proc else -1, 0.0)
        server = sum(d.values())
        per = 1e6 / requests
        return {"server_us": server * per, "tracer_us": runner * per,
                "total_us": (server + runner) * per, "requests": requests,
                "cpu_s": server + runner, "clk_tck": proc.CLK_TCK}

    def stop(self):
        """Stops the server (idempotent); reads the count JSON. SIGINT and
        SIGTERM are held back meanwhile (a second Ctrl-C must not cut the
        stop short) and delivered when it is done."""
        held = {signal.SIGINT, signal.SIGTERM}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            self._stop()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _stop(self):
        if self.proc is not None:
            self.stopped_how = proc.kill_group(self.proc)
            self.proc = None
        if self.dir and self.hook == "count":
            self.stats = read_stats(self.stats_path)
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- redis ---------------------------------------------------------------

def resp_command(port, *args, timeout=2.0):
    """One command over RESP; returns the reply's raw bytes (enough for
    PING and INFO, which is all this needs)."""
    req = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        req += b"$%d\r\n%s\r\n" % (len(a), a)
    def whole(buf):
        if buf[:1] in (b"+", b"-", b":"):
            return buf.endswith(b"\r\n")
        if buf[:1] == b"$":
            head, _, rest = buf.partition(b"\r\n")
            return head == b"$-1" or len(rest) >= int(head[1:]) + 2
        return False

    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(req)
        return _receive(s, whole)


def _receive(s, whole=lambda buf: False):
    """What socket s sends until it closes, or until whole(bytes so far)
    says the reply is complete (redis keeps the connection open)."""
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        if whole(buf):
            break
    return buf


def redis_info(port, section="stats"):
    """INFO <section> as {field: value string}."""
    raw = resp_command(port, "INFO", section).decode(errors="replace")
    out = {}
    for line in raw.splitlines()[1:]:
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


class RedisServer(Server):
    name = "redis"
    program = "redis-server"

    def prepare(self):
        return [shutil.which(self.program),
                "--port", str(self.port), "--bind", self.host,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.dir,
                "--pidfile", os.path.join(self.dir, "redis.pid"),
                "--logfile", ""]  # to stdout: server.log

    def ready(self):
        return resp_command(self.port, "PING").startswith(b"+PONG")

    def commands_processed(self):
        return int(redis_info(self.port)["total_commands_processed"])


def _csv_fields(line):
    return [f.strip().strip('"') for f in line.split('","')]


def parse_redis_csv(out):
    """redis-benchmark --csv: {TEST: {rps, avg_ms, p50_ms, p99_ms, ...}}."""
    rows = [ln.strip() for ln in out.splitlines() if ln.strip()]
    header, res = None, {}
    for ln in rows:
        f = _csv_fields(ln)
        if f and f[0] == "test":
            header = f
            continue
        if header is None or len(f) != len(header):
            continue
        d = dict(zip(header, f))
        try:
            res[d["test"]] = {
                "rps": float(d["rps"]),
                "avg_ms": float(d.get("avg_latency_ms", "nan")),
                "p50_ms": float(d.get("p50_latency_ms", "nan")),
                "p99_ms": float(d.get("p99_latency_ms", "nan")),
                "max_ms": float(d.get("max_latency_ms", "nan")),
            }
        except (KeyError, ValueError):
            continue
    return res


def redis_load(port, tests, requests, pipeline, cpu=None,
               clients=REDIS_CLIENTS, timeout=None, server=None):
    """redis-benchmark -t <tests> -n <requests> -P <pipeline> -c <clients>
    against 127.0.0.1:port, pinned to cpu. Returns {TEST: {...}} with the
    command and an error count per test: requests the server did not
    process (from INFO's total_commands_processed around the run, when
    `server` is given) plus anything redis-benchmark printed as an error."""
    host, prefix = (server.host, list(server.client_prefix)) if server \
        else (HOST, [])
    argv = proc.pin(cpu, prefix + [
        "redis-benchmark", "-h", host, "-p", str(port), "-c", str(clients),
        "-n", str(requests), "-P", str(pipeline), "-t", ",".join(tests),
        "--csv"])
    if timeout is None:
        timeout = 60 + requests * len(tests) / 500.0  # >= 500 req/s
    before = server.commands_processed() if server else None
    cpu0 = server.cpu_snapshot() if server else None
    t0 = time.monotonic()
    rc, out, err = run_load(argv, timeout)
    wall = time.monotonic() - t0
    cpu1 = server.cpu_snapshot() if server else None
    res = parse_redis_csv(out)
    missing = [t for t in tests if t.upper() not in res]
    if rc != 0 or missing:
        tail = " | ".join((err.strip() or out.strip()).splitlines()[-4:])
        raise ServerError(f"redis-benchmark exited {rc}"
                          f"{', no result for ' + ','.join(missing) if missing else ''}"
                          f": {tail or '(no output)'}")
    lost = 0
    if server is not None:
        if not server.alive():
            raise ServerError(f"redis-server died during the load: "
                              f"{server.output_tail()}")
        done = server.commands_processed() - before
        lost = max(0, requests * len(tests) - done)
        res["_cpu"] = server.cpu_per_request(cpu0, cpu1, done)
    err_lines = [ln for ln in err.splitlines()
                 if re.search(r"error|reset|refused", ln, re.I)]
    for t in tests:
        r = res[t.upper()]
        r["requests"] = requests
        r["errors"] = len(err_lines) + (lost if t == tests[0] else 0)
    res["_command"] = argv
    res["_wall_s"] = wall
    res["_load"] = load_utilisation(run_load.last)
    return res


def load_utilisation(last):
    """The load generator's CPU time over its wall time (1.0 = one CPU
    busy the whole run). Both generators run one load thread here
    (redis-benchmark; wrk -t1), pinned to one CPU, so >= CLIENT_BOUND
    means the client, not the server, set the pace."""
    if not last or not last["wall_s"]:
        return None
    u = last["cpu_s"] / last["wall_s"]
    return {"cpu_s": last["cpu_s"], "wall_s": last["wall_s"],
            "utilisation": u, "client_bound": u >= CLIENT_BOUND}


# issue 16: a generator busy >= 95 % of its run was the bottleneck
CLIENT_BOUND = 0.95


# ---- nginx ---------------------------------------------------------------

def _nginx_modules_without():
    try:
        r = subprocess.run(["nginx", "-V"], capture_output=True, text=True,
                           timeout=20)
        return set(re.findall(r"--without-http_(\w+)_module", r.stderr))
    except (OSError, subprocess.TimeoutExpired):
        return set()


NGINX_CONF = """\
# generated by zpbench/servers.py
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 1024;
    use epoll;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type application/octet-stream;
{temp_paths}    server {{
        listen {host}:{port};
        root {dir}/www;
        location / {{ }}
    }}
}}
"""


class NginxServer(Server):
    """nginx, one process (master_process off, so no fork: every request
    is served by the process the mechanism started), serving /small.html
    (612 B) and /64k.bin (65536 B) from the temporary directory."""

    name = "nginx"
    program = "nginx"
    files = {"small": "/small.html", "64k": "/64k.bin"}

    def extra_logs(self):
        return (os.path.join(self.dir, "error.log"),)

    def prepare(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "small.html"), "w") as f:
            body = "<!DOCTYPE html>\n<html><head><title>zpoline-bench</title>" \
                   "</head>\n<body>\n"
            f.write(body + "x" * (SMALL_BYTES - len(body) - 16) +
                    "\n</body></html>\n")
        with open(os.path.join(www, "64k.bin"), "wb") as f:
            f.write(bytes(range(256)) * (LARGE_BYTES // 256))
        without = _nginx_modules_without()
        temp = ""
        for mod in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            if mod not in without:
                temp += f"    {mod}_temp_path {self.dir}/tmp-{mod};\n"
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, host=self.host,
                                      port=self.port, temp_paths=temp))
        return [shutil.which(self.program), "-p", self.dir, "-c", conf,
                "-e", os.path.join(self.dir, "error.log")]

    def url(self, which):
        return f"http://{self.host}:{self.port}{self.files[which]}"

    def ready(self):
        status, body = http_get(self.port, self.files["small"])
        return status == 200 and len(body) == SMALL_BYTES

    def check_files(self):
        """Both files come back whole (a hooked sendfile/writev that lost
        bytes would show here)."""
        for which, size in (("small", SMALL_BYTES), ("64k", LARGE_BYTES)):
            status, body = http_get(self.port, self.files[which])
            if status != 200 or len(body) != size:
                raise ServerError(f"GET {self.files[which]}: status {status}, "
                                  f"{len(body)} bytes instead of {size}")


def http_get(port, path, timeout=5.0):
    """(status, body) of one HTTP/1.0 GET."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        buf = _receive(s)
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.\d (\d+)", head)
    return (int(m.group(1)) if m else 0), body


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    m = re.match(r"([\d.]+)\s*(us|ms|s|m|h)$", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_wrk(out):
    """wrk --latency output: {rps, requests, duration_s, p50_ms, p75_ms,
    p90_ms, p99_ms, errors, socket_errors, non_2xx}."""
    r = {}
    m = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if not m:
        raise ValueError("no Requests/sec line")
    r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out)
    if m:
        r["requests"] = int(m.group(1))
        r["duration_s"] = _ms(m.group(2) + m.group(3)) / 1000
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        if m:
            r[f"p{pct}_ms"] = _ms(m.group(1))
    se = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        se = dict(zip(se, map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx"] = int(m.group(1)) if m else 0
    r["socket_errors"] = se
    r["errors"] = sum(se.values()) + r["non_2xx"]
    return r


def wrk_load(url, duration_s, cpu=None, threads=WRK_THREADS,
             connections=WRK_CONNECTIONS, timeout_s=10, server=None):
    """wrk -t1 -c32 -d<duration> --latency url, pinned to cpu. With
    `server`, also the server side's CPU time per request ("_cpu")."""
    prefix = list(server.client_prefix) if server else []
    argv = proc.pin(cpu, prefix + [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration_s)}s",
        f"--timeout={timeout_s}s", "--latency", url])
    cpu0 = server.cpu_snapshot() if server else None
    rc, out, err = run_load(argv, duration_s + timeout_s + 30)
    cpu1 = server.cpu_snapshot() if server else None
    try:
        if rc != 0:
            raise ValueError(f"exit status {rc}")
        r = parse_wrk(out)
    except ValueError as e:
        tail = " | ".join((err.strip() or out.strip()).splitlines()[-4:])
        raise ServerError(f"wrk failed ({e}): {tail or '(no output)'}")
    r["_command"] = argv
    r["_load"] = load_utilisation(run_load.last)
    if server is not None:
        # wrk counts the requests completed; the few still in flight
        # when it stops were served too, within CLK_TCK resolution
        r["_cpu"] = server.cpu_per_request(cpu0, cpu1, r.get("requests"))
    return r


SERVERS = {"redis": RedisServer, "nginx": NginxServer}
