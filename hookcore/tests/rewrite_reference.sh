#!/bin/sh
# The fast rewriter (byte scan + decode from the function start found in
# .eh_frame_hdr) rewrites exactly the sites the reference full linear sweep
# finds, mapping by mapping, for libc, ld.so and python3's libraries; and so
# does a second run that takes them from the site cache the first one wrote.
# usage: rewrite_reference.sh LIBZPOLINE
LIB=$1
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sites() { # MODE cmd... -> "path sites" per mapping, all of them MODE
	mode=$1; shift
	env LD_PRELOAD="$LIB" ZPOLINE_VERBOSE=1 ZPOLINE_CACHE="$tmp/cache" \
	    ZPOLINE_REWRITE="${mode%-*}" "$@" 2>&1 >/dev/null |
		sed -n 's/^zpoline: \(\/[^ ]*\) \[[^]]*\] [0-9]* bytes: \([a-z]*\), .*, \([0-9]*\) sites, .*/\1 \3 \2/p' |
		sort >"$tmp/raw"
	want=${mode#*-}
	if awk -v m="$want" '$3 != m {bad = 1} END {exit !bad}' "$tmp/raw"; then
		echo "FAIL $*: some mapping was not rewritten by '$want'" >&2
		cat "$tmp/raw" >&2
		fails=$((fails + 1))
	fi
	cut -d' ' -f1,2 "$tmp/raw"
}

for prog in "/bin/true" "/usr/bin/python3 -c pass"; do
	rm -rf "$tmp/cache"
	sites fast-fast $prog >"$tmp/fast"
	sites fast-cache $prog >"$tmp/cached"
	sites sweep-sweep $prog >"$tmp/sweep"
	if [ ! -s "$tmp/fast" ] || ! cmp -s "$tmp/fast" "$tmp/sweep" ||
	   ! cmp -s "$tmp/cached" "$tmp/sweep"; then
		echo "FAIL $prog: fast / cached / sweep differ"
		diff "$tmp/fast" "$tmp/sweep"
		diff "$tmp/cached" "$tmp/sweep"
		fails=$((fails + 1))
		continue
	fi
	for lib in libc.so.6 ld-linux-x86-64.so.2; do
		n=$(awk -v l="$lib" '$1 ~ l {print $2}' "$tmp/fast")
		[ "${n:-0}" -gt 0 ] || { echo "FAIL $prog: no sites in $lib"; fails=$((fails + 1)); }
	done
	echo "ok   $prog: $(wc -l <"$tmp/fast") mappings, $(awk '{s += $2} END {print s}' "$tmp/fast") sites, fast = cached = sweep"
done
# A cache entry with a site that is not a proven syscall instruction is
# not trusted: the mapping is scanned again, all its sites are rewritten.
entry=$(ls -S "$tmp"/cache/*.sites | head -1)
/usr/bin/python3 - "$entry" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
# the sites (u32 offsets) end the entry: move the last one by a byte
struct.pack_into("<I", b, len(b) - 4, struct.unpack_from("<I", b, len(b) - 4)[0] + 1)
open(sys.argv[1], "wb").write(b)
PY
out=$(env LD_PRELOAD="$LIB" ZPOLINE_VERBOSE=1 ZPOLINE_CACHE="$tmp/cache" /bin/echo hi 2>&1)
if echo "$out" | grep -q "1 cache entries rejected" && echo "$out" | grep -qx hi &&
   echo "$out" | grep -q "libc.so.6 .* fast, .* $(awk '/libc.so.6/ {print $2}' "$tmp/sweep") sites"; then
	echo "ok   a tampered cache entry is caught"
else
	echo "FAIL tampered cache entry: $out"
	fails=$((fails + 1))
fi
[ $fails = 0 ]
