#!/bin/sh
# getpid ns/call per mechanism x hook (null, pass), best of 5, pinned to
# the last CPU this shell may use (as the microbenchmarks); the raw inline syscall unhooked beside it. Not a test: prints a
# Markdown table. Usage: getpid_table.sh BUILD_DIR [N]
B=${1:?build dir}/mechanisms
N=${2:-2000000}
CPU=$(taskset -pc $$ | sed 's/.*: *//; s/.*[,-]//')
ns() { taskset -c "$CPU" "$@" | sed 's/.*"ns_per_call":\([0-9.]*\).*/\1/'; }
echo "| mechanism | null | pass |"
echo "|---|---|---|"
echo "| raw syscall (unhooked) | - | $(ns "$B/bench-getpid" "$N" raw) |"
for m in $("$B/zpbench-run" --list | awk '$2 == "yes" { print $1 }'); do
	n=$N
	case $m in ptrace*|strace*|seccomp-unotify*|perf-trace) n=$((N / 20)) ;; esac
	# an observer has no null hook (the runner refuses it): "-"
	null=$(ns "$B/zpbench-run" --mech="$m" --hook=null -- "$B/bench-getpid" $n 2>/dev/null)
	[ -n "$null" ] || null=-
	pass=$(ns "$B/zpbench-run" --mech="$m" --hook=pass -- "$B/bench-getpid" $n)
	echo "| $m | $null | $pass |"
done
