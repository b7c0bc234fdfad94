#!/bin/sh
# SIGALRM at 1 kHz and 10 kHz (SA_RESTART handler making calls) while a
# program makes pipe round trips, sleeps, masks, forks and cancels a
# thread: every one of RUNS runs must survive under sud and seccomp.
. "$(dirname "$0")/sigsys_lib.sh"
RUNS=${RUNS:-100}
for m in $(mechs); do
	for hz in 1000 10000; do
		died=0 ticks=0
		i=0
		while [ $i -lt $RUNS ]; do
			out=$("$RUN" --mech="$m" -- "$APP" timer $hz 30 2>&1)
			rc=$?
			if [ $rc != 0 ]; then
				died=$((died + 1))
				[ $died -le 3 ] && echo "$m $hz Hz run $i: $out (exit $rc)"
			else
				t=${out#*Hz: } ticks=$((ticks + ${t%% ticks*}))
			fi
			i=$((i + 1))
		done
		[ $died = 0 ] || bad "$m: $hz Hz: $died of $RUNS runs died"
		[ $died = 0 ] && echo "ok $m: $hz Hz: $RUNS/$RUNS runs, $ticks signals"
	done
done
exit $fail
