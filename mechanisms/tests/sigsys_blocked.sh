#!/bin/sh
# A parent that blocked SIGSYS passes the mask on: the mechanism unblocks
# it, and the program can never block it again (sigprocmask,
# pthread_sigmask, sa_mask, ppoll/pselect/epoll_pwait masks).
ALSO="zpoline lazypoline"
. "$(dirname "$0")/sigsys_lib.sh"
total=0
for m in $(mechs); do
	f0=$fail fail=0
	out=$("$APP" block "$RUN" --mech="$m" -- "$APP" masks 2>&1)
	[ "$out" = "ok masks" ] || bad "$m: blocked at exec: $out (exit $?)"
	out=$("$RUN" --mech="$m" -- "$APP" masks 2>&1)
	[ "$out" = "ok masks" ] || bad "$m: $out"
	verdict "$m" "SIGSYS blocked by the parent and by the program"
	[ $f0 = 0 ] || fail=1
done
exit $fail
