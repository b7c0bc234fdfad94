#!/bin/sh
# A TCP echo round trip between two processes, each running its own lwIP,
# over a usnet link in a fresh directory; then a second pair on the same
# link file (the sides are taken over from the processes that exited).
set -u
ECHO=$1
dir=$(mktemp -d /dev/shm/usnet-test.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
for run in 1 2; do
	"$ECHO" pair-lwip "$dir" 200
	st=$?
	[ $st = 77 ] && exit 77
	[ $st = 0 ] || { echo "FAIL: pair $run: status $st"; exit 1; }
done
