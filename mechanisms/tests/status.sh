#!/bin/sh
# Exit status and death by signal propagate; bad input is refused.
. "$(dirname "$0")/lib.sh"
for m in $(supported); do
	"$RUN" --mech="$m" -- "$GP" 1 exit=7 >/dev/null
	rc=$?
	[ $rc = 7 ] || bad "$m: exit 7 gave $rc"
	"$RUN" --mech="$m" -- "$GP" 1 sig=15 >/dev/null 2>"$TMP/err"
	rc=$?
	[ $rc = 143 ] || bad "$m: SIGTERM gave $rc"
	grep -q "killed by signal 15" "$TMP/err" || bad "$m: no signal message"
	"$RUN" --mech="$m" -- /nonexistent/cmd 2>/dev/null
	rc=$?
	[ $rc = 127 ] || bad "$m: missing command gave $rc"
	echo "ok $m"
done
"$RUN" --mech=nosuch -- true 2>"$TMP/err"
[ $? = 2 ] && grep -q "valid: none preload" "$TMP/err" || bad "unknown mechanism"
"$RUN" --mech=none --hook=nosuch -- true 2>"$TMP/err"
[ $? = 2 ] && grep -q "valid: null pass count" "$TMP/err" || bad "unknown hook"
"$RUN" --mech=none 2>"$TMP/err"
[ $? = 2 ] && grep -q "^usage" "$TMP/err" || bad "missing command"
"$RUN" -- true 2>/dev/null
[ $? = 2 ] || bad "missing --mech"
[ "$("$RUN" --list | awk '$2 != "yes" && $2 != "no"' | wc -l)" = 0 ] ||
	bad "--list column 2"
exit $fail
