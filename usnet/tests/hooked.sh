#!/bin/sh
# Unmodified programs under libzpoline (eager and lazy rewriting), or
# under sud or seccomp, with the usnet hook: usnet-fds (descriptor numbers,
# poll/select/epoll over lwIP sockets and a pipe, in one process), then an
# echo server and client in two processes, each with its own lwIP, every
# byte checked.
# usage: hooked.sh BUILD_DIR [zpoline|sud|seccomp]
set -u
. "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*"; exit 1; }
lazies="0 1"
[ "$MECH" = zpoline ] || lazies=0 # ZPOLINE_LAZY is libzpoline's alone
for lazy in $lazies; do
	hooked 10.91.0.1 env ZPOLINE_LAZY=$lazy "$B/usnet/usnet-fds" 10.91.0.1 \
		"$B/usnet/usnet-fds" || fail "usnet-fds (ZPOLINE_LAZY=$lazy)"
	env $END USNET_ADDR=10.91.0.1 ZPOLINE_LAZY=$lazy $RUNP "$B/usnet/usnet-echo" \
		serve 10.91.0.1 >"$dir/port" &
	srv=$!
	kill_on_exit="$kill_on_exit $srv"
	wait_for "$dir/port" . $srv || fail "echo server (ZPOLINE_LAZY=$lazy)"
	hooked 10.91.0.2 env ZPOLINE_LAZY=$lazy "$B/usnet/usnet-echo" connect \
		10.91.0.1 "$(cat "$dir/port")" 300 ||
		fail "echo client (ZPOLINE_LAZY=$lazy)"
	wait $srv || fail "echo server status $? (ZPOLINE_LAZY=$lazy)"
done

# zpbench-run runs the hook under the mechanisms that load hook libraries,
# and says why the others do not.
env USNET_LINK="$dir/link" USNET_ADDR=10.91.0.1 "$B/mechanisms/zpbench-run" --mech=$MECH \
	--hook="$HOOK" -- "$B/usnet/usnet-fds" 10.91.0.1 "$B/usnet/usnet-fds" ||
	fail "usnet-fds under zpbench-run --mech=$MECH"
out=$("$B/mechanisms/zpbench-run" --mech=ptrace --hook="$HOOK" -- true 2>&1); st=$?
[ $st = 2 ] && echo "$out" | grep -q "runs only the built-in hooks.*tracer" ||
	fail "zpbench-run --mech=ptrace --hook=PATH: status $st: $out"

# Bad configuration: one line, exit 1 (missing variables only at the first
# TCP socket: the hooked `env` and `true` on the way need none).
out=$(env $PRE $RUNP "$B/usnet/usnet-echo" serve \
	10.91.0.1 2>&1); st=$?
[ $st = 1 ] && [ "$out" = "usnet: set USNET_LINK (the link file) and USNET_ADDR (this end's IPv4 address)" ] ||
	fail "without USNET_*: status $st: $out"
env $PRE $RUNP true || fail "true without USNET_*"
out=$(env $PRE USNET_ADDR=10.91.0 $RUNP true 2>&1); st=$?
[ $st = 1 ] && echo "$out" | head -1 | grep -qx "usnet: USNET_ADDR is not an IPv4 address" ||
	fail "bad USNET_ADDR: status $st: $out"
env USNET_LINK="$dir/link" USNET_ADDR=10.91.0.1 "$B/mechanisms/zpbench-run" --mech=lazypoline \
	--hook="$HOOK" -- "$B/usnet/usnet-fds" 10.91.0.1 "$B/usnet/usnet-fds" ||
	fail "usnet-fds under zpbench-run --mech=lazypoline"
echo "ok: usnet under $MECH"
