#!/bin/sh
# The program's own SIGSYS: sigaction(SIGSYS) is its own (reported back),
# raise(SIGSYS) and a trap of its own seccomp filter reach its handler
# (which answers the trapped call), and SIG_DFL kills it with SIGSYS.
ALSO="none zpoline lazypoline"
. "$(dirname "$0")/sigsys_lib.sh"
for m in $(mechs); do
	f0=$fail fail=0
	out=$("$RUN" --mech="$m" -- "$APP" own 2>"$TMP/err")
	rc=$?
	[ "$out" = "ok own handler; now dying of SIGSYS" ] && [ $rc = 159 ] ||
		bad "$m: '$out' $(cat "$TMP/err") (exit $rc)"
	verdict "$m" "its own SIGSYS handler and seccomp filter"
	[ $f0 = 0 ] || fail=1
done
exit $fail
