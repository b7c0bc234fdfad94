# Shared by the mechanism tests: $RUN = zpbench-run, $GP = getpids.
RUN=$1
GP=$2
TMP=$(mktemp -d /tmp/zpbench-mech-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0

# Mechanisms this machine supports (the first two --list columns).
supported() { "$RUN" --list | awk '$2 == "yes" { print $1 }'; }

# Can mechanism $1 run hook $2? (--list --json: an observer has no null.)
has_hook() {
	"$RUN" --list --json | /usr/bin/python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}[sys.argv[1]]
sys.exit(0 if sys.argv[2] in m["hooks"] else 1)' "$1" "$2"
}

# Is mechanism $1's count exact (--list --json "count_exact")?
count_exact() {
	"$RUN" --list --json | /usr/bin/python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}[sys.argv[1]]
sys.exit(0 if m["count_exact"] else 1)' "$1"
}

# Is count $2 of mechanism $1 right, want $3? Exactly, or within 1 % for
# a count that is not exact (count_exact false: perf-trace's ring buffers,
# coverage/README.md).
count_ok() {
	[ "$2" = "$3" ] && return 0
	count_exact "$1" && return 1
	d=$(($2 - $3))
	[ $((d < 0 ? -d : d)) -le $(($3 / 100)) ]
}

# Sum of one syscall number's counts over all JSON lines of a stats file.
count_of() { grep -o "\"$1\":[0-9]*" "$2" | awk -F: '{ s += $2 } END { print s + 0 }'; }

bad() { echo "FAIL: $*"; fail=1; }
