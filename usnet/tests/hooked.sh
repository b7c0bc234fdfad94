#!/bin/sh
# Unmodified programs under libzpoline (eager and lazy rewriting) with the
# usnet hook: usnet-fds (descriptor numbers, poll/select/epoll over lwIP
# sockets and a pipe, in one process), then an echo server and client in
# two processes, each with its own lwIP, every byte checked.
# usage: hooked.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*"; exit 1; }
for lazy in 0 1; do
	hooked 10.91.0.1 env ZPOLINE_LAZY=$lazy "$B/usnet/usnet-fds" 10.91.0.1 \
		"$B/usnet/usnet-fds" || fail "usnet-fds (ZPOLINE_LAZY=$lazy)"
	env $END USNET_ADDR=10.91.0.1 ZPOLINE_LAZY=$lazy "$B/usnet/usnet-echo" \
		serve 10.91.0.1 >"$dir/port" &
	srv=$!
	kill_on_exit="$kill_on_exit $srv"
	wait_for "$dir/port" . $srv || fail "echo server (ZPOLINE_LAZY=$lazy)"
	hooked 10.91.0.2 env ZPOLINE_LAZY=$lazy "$B/usnet/usnet-echo" connect \
		10.91.0.1 "$(cat "$dir/port")" 300 ||
		fail "echo client (ZPOLINE_LAZY=$lazy)"
	wait $srv || fail "echo server status $? (ZPOLINE_LAZY=$lazy)"
done
