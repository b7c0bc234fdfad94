#!/bin/sh
# A 4 KiB sigaltstack (legal): calls of normal code never write it, and
# handlers on it run and make system calls (their rt_sigreturn included).
ALSO="zpoline lazypoline"
. "$(dirname "$0")/sigsys_lib.sh"
for m in $(mechs); do
	f0=$fail fail=0
	for a in "" "4096 calls"; do
		out=$("$RUN" --mech="$m" -- "$APP" altstack $a 2>&1)
		rc=$?
		[ $rc = 77 ] && { echo "skip: $out"; exit 77; }
		[ $rc = 0 ] || bad "$m: altstack $a: $out (exit $rc)"
	done
	verdict "$m" "4 KiB alternate stack"
	[ $f0 = 0 ] || fail=1
done
exit $fail
