#!/bin/sh
# Real programs print exactly the same with and without libzpoline (pass and
# count hooks, both sleds, every save variant the CPU has).
# usage: real_programs.sh LIBZPOLINE
LIB=$1
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PY='import hashlib, json, threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(sum(range(10**6)), hashlib.sha256(b"x" * 100000).hexdigest(), json.dumps({"a": [1, 2.5]}))'

check() { # NAME ENV... -- cmd: same stdout, stderr and status as plain
	name=$1; shift
	envs=""
	while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
	shift
	# / may change under concurrent tests (ls -la / shows /tmp): retry.
	# /proc's link count is the number of processes: not compared.
	for try in 1 2 3; do
		"$@" >"$tmp/plain.raw" 2>"$tmp/plain.err"; st0=$?
		env LD_PRELOAD="$LIB" $envs "$@" >"$tmp/hook.raw" 2>"$tmp/hook.err"; st1=$?
		sed '/ proc$/d' "$tmp/plain.raw" >"$tmp/plain.out"
		sed '/ proc$/d' "$tmp/hook.raw" >"$tmp/hook.out"
		if [ $st0 = $st1 ] && cmp -s "$tmp/plain.out" "$tmp/hook.out" &&
		   cmp -s "$tmp/plain.err" "$tmp/hook.err"; then
			echo "ok   $name"
			return
		fi
	done
	echo "FAIL $name: status $st0 vs $st1"
	diff "$tmp/plain.out" "$tmp/hook.out" | head -5
	diff "$tmp/plain.err" "$tmp/hook.err" | head -5
	fails=$((fails + 1))
}

for cfg in "ZPOLINE_HOOK=pass" "ZPOLINE_HOOK=pass ZPOLINE_SLED=nop" \
	   "ZPOLINE_HOOK=pass ZPOLINE_SAVE=xsave" \
	   "ZPOLINE_HOOK=count ZPOLINE_STATS=$tmp/stats"; do
	check "ls -la / [$cfg]" $cfg -- ls -la /
	check "python3 [$cfg]" $cfg -- /usr/bin/python3 -c "$PY"
	check "sh pipeline [$cfg]" $cfg -- sh -c 'echo hi | cat; for i in 3 1 2; do echo $i; done | sort'
	check "perl [$cfg]" $cfg -- perl -e 'print join(",", map { $_ * $_ } 1..10), "\n"'
done
[ -s "$tmp/stats" ] || { echo "FAIL count hook wrote no stats"; fails=$((fails + 1)); }
[ $fails = 0 ]
