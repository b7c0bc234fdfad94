#!/bin/sh
# Every mechanism: N getpid() through libc -> count N; null -> -ENOSYS;
# pass -> the real pid. Raw inline `syscall`s are counted by all but
# preload, which must miss them.
. "$(dirname "$0")/lib.sh"
N=2000
RAW=300
for m in $(supported); do
	[ "$m" = none ] && continue
	rm -f "$TMP/s.json"
	out=$("$RUN" --mech="$m" --hook=count --stats="$TMP/s.json" -- "$GP" $N raw=$RAW) ||
		bad "$m count: exit $?"
	got=$(count_of 39 "$TMP/s.json")
	# +1: the final syscall(SYS_getpid) of getpids (libc syscall()).
	if [ "$m" = preload ]; then want=$((N + 1)); else want=$((N + RAW + 1)); fi
	count_ok "$m" "$got" "$want" || bad "$m count: getpid counted $got, want $want"

	if has_hook "$m" null; then
		out=$("$RUN" --mech="$m" --hook=null -- "$GP" 10) || bad "$m null: exit $?"
		# getpid() returns the raw -ENOSYS; libc's syscall() makes it -1.
		[ "$out" = "getpid=-38 pid=-1" ] ||
			bad "$m null: '$out', want getpid=-38 (-ENOSYS)"
	else
		# an observer: asking for null is refused, with the reason
		"$RUN" --mech="$m" --hook=null -- "$GP" 10 >/dev/null 2>"$TMP/err"
		[ $? = 2 ] && grep -q "has no null hook" "$TMP/err" ||
			bad "$m null: not refused"
	fi

	out=$("$RUN" --mech="$m" --hook=pass -- "$GP" 10) || bad "$m pass: exit $?"
	set -- $out
	[ "${1#getpid=}" = "${2#pid=}" ] && [ "${1#getpid=}" -gt 0 ] ||
		bad "$m pass: '$out'"
	echo "ok $m: count $got, null (or its refusal) and pass"
done
exit $fail
