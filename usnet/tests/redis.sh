#!/bin/sh
# redis-server and redis-cli / redis-benchmark (Debian's, unmodified), each
# under libzpoline (or sud, seccomp) with the usnet hook, each with its own lwIP on one link:
# SET/GET values (one beyond the TCP window), redis-benchmark -c 1 -n 1000
# and the values it left, then a client and the server killed with SIGKILL
# and replaced: the link is taken over and everything still works.
# usage: redis.sh BUILD_DIR [zpoline|sud|seccomp]
set -u
. "$(dirname "$0")/lib.sh"
for p in redis-server redis-cli redis-benchmark; do
	command -v $p >/dev/null || skip "$p is not installed"
done
fail() { echo "FAIL: $*"; [ -f "$dir/srv.log" ] && tail -5 "$dir/srv.log"; exit 1; }

cli() { hooked 10.91.0.2 redis-cli -h 10.91.0.1 -p 6379 "$@"; }

start_server() {
	: >"$dir/srv.log"
	env $END USNET_ADDR=10.91.0.1 $RUNP redis-server --bind 10.91.0.1 --port 6379 --save '' \
		--appendonly no --protected-mode no --dir "$dir" \
		>"$dir/srv.log" 2>&1 &
	srv=$!
	kill_on_exit="$kill_on_exit $srv"
	wait_for "$dir/srv.log" "Ready to accept connections" $srv ||
		fail "redis-server did not get ready"
}

start_server
[ "$(cli SET k1 hello)" = OK ] || fail "SET"
[ "$(cli GET k1)" = hello ] || fail "GET: $(cli GET k1)"
head -c 300000 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/big"
cli -x SET big <"$dir/big" >/dev/null || fail "SET big"
cli --raw GET big | head -c 600000 | cmp -s - "$dir/big" || fail "GET big differs"

before=$(cli INFO stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p')
hooked 10.91.0.2 redis-benchmark -h 10.91.0.1 -p 6379 -c 1 -n 1000 -t set,get \
	-d 8 -q >"$dir/bench.out" 2>&1 || fail "redis-benchmark: $(cat "$dir/bench.out")"
after=$(cli INFO stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p')
[ $((after - before)) -ge 2000 ] || fail "server saw $((after - before)) commands, not 2000"
# Its values are random bytes of -d length (redis 7).
[ "$(cli STRLEN key:__rand_int__)" = 8 ] || fail "benchmark value: $(cli GET key:__rand_int__)"

# A client killed while connected: its side of the link is free again.
env $END USNET_ADDR=10.91.0.2 $RUNP redis-cli -h 10.91.0.1 -p 6379 -r 1000000 INCR ctr \
	>"$dir/incr.out" 2>&1 &
incr=$!
kill_on_exit="$kill_on_exit $incr"
wait_for "$dir/incr.out" "^10$" $incr
kill -9 $incr; wait $incr 2>/dev/null
[ "$(wc -l <"$dir/incr.out")" -ge 10 ] || fail "INCR client: $(head -3 "$dir/incr.out")"
[ "$(cli GET ctr)" -ge 10 ] || fail "GET ctr after SIGKILL: $(cli GET ctr)"

# The server killed: a new one takes its side over.
kill -9 $srv; wait $srv 2>/dev/null
start_server
[ "$(cli SET k2 again)" = OK ] && [ "$(cli GET k2)" = again ] ||
	fail "SET/GET after the server's SIGKILL"
cli SHUTDOWN NOSAVE >/dev/null 2>&1
wait $srv || fail "redis-server exit status $?"
echo "ok: redis through usnet"
