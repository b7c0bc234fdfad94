#!/bin/sh
# The fast rewriter (byte scan + decode from the function start found in
# .eh_frame_hdr) rewrites exactly the sites the reference full linear sweep
# finds, mapping by mapping, for libc, ld.so and python3's libraries.
# usage: rewrite_reference.sh LIBZPOLINE
LIB=$1
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sites() { # MODE cmd... -> "path sites" per mapping
	mode=$1; shift
	env LD_PRELOAD="$LIB" ZPOLINE_VERBOSE=1 ZPOLINE_REWRITE="$mode" "$@" 2>&1 >/dev/null |
		sed -n 's/^zpoline: \(\/[^ ]*\) \[.*, \([0-9]*\) sites, .*/\1 \2/p' | sort
}

for prog in "/bin/true" "/usr/bin/python3 -c pass"; do
	sites fast $prog >"$tmp/fast"
	sites sweep $prog >"$tmp/sweep"
	if [ ! -s "$tmp/fast" ] || ! cmp -s "$tmp/fast" "$tmp/sweep"; then
		echo "FAIL $prog: fast vs sweep"
		diff "$tmp/fast" "$tmp/sweep"
		fails=$((fails + 1))
		continue
	fi
	for lib in libc.so.6 ld-linux-x86-64.so.2; do
		n=$(awk -v l="$lib" '$1 ~ l {print $2}' "$tmp/fast")
		[ "${n:-0}" -gt 0 ] || { echo "FAIL $prog: no sites in $lib"; fails=$((fails + 1)); }
	done
	echo "ok   $prog: $(wc -l <"$tmp/fast") mappings, $(awk '{s += $2} END {print s}' "$tmp/fast") sites, same as the sweep"
done
[ $fails = 0 ]
