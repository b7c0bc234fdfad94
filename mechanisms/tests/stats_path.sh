#!/bin/sh
# --stats to a path that cannot be written fails up front under every
# mechanism: exit 2, one line naming the path and the error, the command
# never started. A relative path names the file where the runner started.
. "$(dirname "$0")/lib.sh"
for m in $(supported); do
	f0=$fail fail=0
	for p in /nonexistent/dir/x.json:"No such file or directory" \
		 "$TMP":"Is a directory"; do
		path=${p%%:*} why=${p#*:}
		rm -f "$TMP/started"
		"$RUN" --mech="$m" --hook=count --stats="$path" -- \
			sh -c ": >'$TMP/started'" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		[ $rc = 2 ] || bad "$m: --stats=$path gave $rc"
		[ ! -e "$TMP/started" ] || bad "$m: --stats=$path: the command ran"
		[ "$(wc -l <"$TMP/err")" = 1 ] &&
			grep -q "^zpbench-run: --stats $path: $why\$" "$TMP/err" ||
			bad "$m: --stats=$path said '$(cat "$TMP/err")'"
	done
	if [ "$m" != none ]; then # none has no hook, hence no records
	rm -f "$TMP/rel.json"
	(cd "$TMP" && "$RUN" --mech="$m" --hook=count --stats=rel.json -- \
		sh -c 'cd / && exec "$0" 5' "$GP" >/dev/null) || bad "$m: rel run $?"
	[ -s "$TMP/rel.json" ] || bad "$m: no records in the relative --stats file"
	fi
	[ $fail = 0 ] && echo "ok $m"
	[ $f0 = 0 ] || fail=1
done
exit $fail
