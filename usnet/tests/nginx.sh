#!/bin/sh
# nginx (one process: master_process off) and its clients, each under
# libzpoline (or sud, seccomp) with the usnet hook on one link: GETs of a small file and a
# 64 KiB one (sendfile) compared byte for byte by a hooked python3 (its
# socket module: connect, sendall, recv with timeouts, i.e. poll), curl,
# and a short wrk run (epoll, edge-triggered on nginx's side, keep-alive)
# with zero errors.
# usage: nginx.sh BUILD_DIR [zpoline|sud|seccomp]
set -u
. "$(dirname "$0")/lib.sh"
for p in nginx wrk curl /usr/bin/python3; do
	command -v $p >/dev/null || skip "$p is not installed"
done
fail() { echo "FAIL: $*"; tail -5 "$dir/error.log" 2>/dev/null; exit 1; }

mkdir -p "$dir/www"
head -c 612 /dev/urandom | od -An -tx1 | head -c 612 >"$dir/www/small.html"
head -c 65536 /dev/urandom >"$dir/www/64k.bin"
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; use epoll; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp-body;
    proxy_temp_path $dir/tmp-proxy;
    fastcgi_temp_path $dir/tmp-fastcgi;
    uwsgi_temp_path $dir/tmp-uwsgi;
    scgi_temp_path $dir/tmp-scgi;
    server { listen 10.91.0.1:8080; root $dir/www; location / { } }
}
CONF
env $END USNET_ADDR=10.91.0.1 $RUNP nginx -p "$dir" -c "$dir/nginx.conf" \
	-e "$dir/error.log" >"$dir/nginx.out" 2>&1 &
srv=$!
kill_on_exit="$kill_on_exit $srv"

# Ready when a GET succeeds (each try is a new client process on side 2).
get() { # PATH -> body on stdout
	hooked 10.91.0.2 /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("10.91.0.1", 8080), timeout=20)
s.sendall(b"GET " + sys.argv[1].encode() + b" HTTP/1.0\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200"), head[:40]
sys.stdout.buffer.write(body)' "$1"
}
for i in $(seq 1 100); do
	get /small.html >/dev/null 2>&1 && break
	kill -0 $srv 2>/dev/null || fail "nginx exited: $(cat "$dir/nginx.out")"
	sleep 0.1
done
get /small.html | cmp -s - "$dir/www/small.html" || fail "small.html differs"
get /64k.bin | cmp -s - "$dir/www/64k.bin" || fail "64k.bin differs"
hooked 10.91.0.2 curl -s http://10.91.0.1:8080/64k.bin | cmp -s - "$dir/www/64k.bin" ||
	fail "curl: 64k.bin differs"
hooked 10.91.0.2 wrk -t1 -c8 -d1s --timeout 10s http://10.91.0.1:8080/small.html \
	>"$dir/wrk.out" 2>&1 || fail "wrk: $(cat "$dir/wrk.out")"
grep -q "requests in" "$dir/wrk.out" || fail "wrk: $(cat "$dir/wrk.out")"
! grep -q "Socket errors\|Non-2xx" "$dir/wrk.out" || fail "wrk: $(cat "$dir/wrk.out")"
kill -QUIT $srv
wait $srv || fail "nginx exit status $?"
echo "ok: nginx through usnet: $(grep 'Requests/sec' "$dir/wrk.out")"
