#!/bin/sh
# A 4-thread program that fork+execs a child: every getpid() of every
# thread and of the child is counted, under every complete mechanism.
. "$(dirname "$0")/lib.sh"
N=3000
C=700
for m in $(supported); do
	case "$m" in none|preload) continue ;; esac
	# 4 threads x N, the child's C, and one syscall(SYS_getpid) each.
	want=$((4 * N + 1 + C + 1))
	rm -f "$TMP/s.json"
	"$RUN" --mech="$m" --hook=count --stats="$TMP/s.json" -- \
		"$GP" $N threads=3 child=$C >/dev/null || bad "$m: exit $?"
	got=$(count_of 39 "$TMP/s.json")
	# exact, or within 1 % for perf-trace (lib.sh: count_ok)
	count_ok "$m" "$got" "$want" || bad "$m: getpid counted $got, want $want"
	execs=$(grep -c '"event":"execve"' "$TMP/s.json")
	[ "$execs" -ge 1 ] || bad "$m: no execve record"
	echo "ok $m: $got getpid"
done
exit $fail
