#!/bin/sh
# Hook libraries (zpoline.h's ABI, loaded in a namespace of their own)
# under every mechanism that says it runs them (--list --json "hook_libs"),
# which must include sud and seccomp where usable: the probe
# library (tests/hooklib_probe.c) must see every getpid of a 4-thread
# program, while its own calls - through its libc, and from a thread it
# started - never reach it again. A mechanism that says it cannot run hook
# libraries must refuse --hook=PATH (exit 2). The same holds in a process
# tree (python3 running children three ways). Under sud and seccomp the
# library also runs sigsys_app's timer case (SIGALRM at 10 kHz while the
# program makes calls, forks and cancels a thread): signals landing while
# the library runs must not re-enter it either.
# usage: hooklib.sh ZPBENCH_RUN GETPIDS PROBE_SO SIGSYS_APP
. "$(dirname "$0")/lib.sh"
PROBE=$3
APP=$4
N=500
MUST="sud seccomp zpoline lazypoline"
# name hook_libs, one per line, for the usable mechanisms
"$RUN" --list --json | /usr/bin/python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["supported"]:
        print(m["name"], "yes" if m["hook_libs"] else "no")' >"$TMP/list" ||
	{ echo "FAIL: --list --json has no hook_libs"; exit 1; }
for m in $MUST; do
	grep -q "^$m " "$TMP/list" || continue
	grep -q "^$m yes$" "$TMP/list" || bad "$m: --list --json says no hook_libs"
done
while read -r m libs; do
	[ "$m" = none ] && continue
	if [ "$libs" = no ]; then
		"$RUN" --mech="$m" --hook="$PROBE" -- true 2>"$TMP/err"
		[ $? = 2 ] && grep -q "not a hook library" "$TMP/err" ||
			bad "$m: hook_libs false but --hook=PATH not refused"
		continue
	fi
	rm -f "$TMP/p.json"
	out=$(ZP_PROBE_OUT="$TMP/p.json" timeout 120 "$RUN" --mech="$m" \
		--hook="$PROBE" -- "$GP" $N threads=3) || bad "$m: exit $?"
	set -- $out
	[ "${1#getpid=}" = "${2#pid=}" ] && [ "${1#getpid=}" -gt 0 ] ||
		bad "$m: program printed '$out'"
	rec=$(cat "$TMP/p.json" 2>/dev/null)
	# 4 threads x N, and the final syscall(SYS_getpid)
	/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1]); want = int(sys.argv[2])
bad = []
if r["getpid"] != want: bad.append(f"getpid {r['"'"'getpid'"'"']} != {want}")
for k in ("reentered", "hook_thread_calls"):
    if r[k]: bad.append(f"{k} {r[k]}")
if r["thread_rounds"] < 1: bad.append("the hook thread never ran")
if r["own"] < r["calls"]: bad.append("fewer own calls than calls")
print("; ".join(bad)); sys.exit(1 if bad else 0)' "$rec" $((4 * N + 1)) \
		>"$TMP/why" 2>&1 || bad "$m: $(cat "$TMP/why") ($rec)"
	[ $fail = 0 ] && echo "ok $m: $rec"
	# A process tree: python3's subprocess (vfork), a shell pipeline
	# (fork without exec), posix_spawn - one record per process image.
	if [ -x /usr/bin/python3 ]; then
		rm -f "$TMP/p.json"
		out=$(ZP_PROBE_OUT="$TMP/p.json" timeout 120 "$RUN" --mech="$m" \
			--hook="$PROBE" -- /usr/bin/python3 -c 'import subprocess, os
print(subprocess.run(["true"]).returncode,
      subprocess.run(["sh", "-c", "echo hi | cat"], capture_output=True).stdout,
      os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0)[1])' 2>&1)
		n=$(grep -c . "$TMP/p.json" 2>/dev/null)
		clean=$(grep -c '"reentered":0,"hook_thread_calls":0,' "$TMP/p.json")
		if [ "$out" = "0 b'hi\\n' 0" ] && [ "${n:-0}" -ge 4 ] &&
		   [ "$n" = "$clean" ]; then
			echo "ok $m: a process tree, $n images"
		else
			bad "$m: python3 process tree: $out; $(cat "$TMP/p.json")"
		fi
	fi
	case $m in sud|seccomp) ;; *) continue ;; esac
	rm -f "$TMP/p.json"
	out=$(ZP_PROBE_OUT="$TMP/p.json" timeout 120 "$RUN" --mech="$m" \
		--hook="$PROBE" -- "$APP" timer 10000 30 2>&1) ||
		bad "$m: sigsys_app timer: $out"
	rec=$(cat "$TMP/p.json" 2>/dev/null)
	echo "$rec" | grep -q '"reentered":0,"hook_thread_calls":0,' ||
		bad "$m: sigsys_app timer: $rec"
	[ $fail = 0 ] && echo "ok $m: signals at 10 kHz: $rec"
done <"$TMP/list"
exit $fail
