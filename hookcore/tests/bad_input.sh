#!/bin/sh
# Bad configuration of libzpoline.so: one clear line on stderr naming the
# problem, exit status 1, never a silently unhooked run.
# usage: bad_input.sh LIBZPOLINE
LIB=$1
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME STATUS PATTERN... -- command: stderr must be LINES (default 1)
# lines matching every PATTERN (grep -E), and the exit status STATUS.
expect() {
	name=$1 want=$2
	shift 2
	pats=""
	while [ "$1" != "--" ]; do pats="$pats
$1"; shift; done
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	st=$?
	ok=1
	[ "$st" = "$want" ] || ok=0
	if [ "$want" != 0 ]; then
		[ "$(wc -l <"$tmp/err")" = "${LINES:-1}" ] || ok=0
	fi
	echo "$pats" | while IFS= read -r p; do
		[ -z "$p" ] && continue
		grep -qE -- "$p" "$tmp/err" || exit 1
	done || ok=0
	if [ $ok = 1 ]; then
		echo "ok   $name"
	else
		echo "FAIL $name: exit $st (want $want), stderr:"
		sed 's/^/     /' "$tmp/err"
		fails=$((fails + 1))
	fi
}

run() { env LD_PRELOAD="$LIB" "$@"; }

if [ "$(cat /proc/sys/vm/mmap_min_addr)" != 0 ] && command -v capsh >/dev/null; then
	expect "VA 0 unmappable" 1 "virtual address 0" "mmap_min_addr" "CAP_SYS_RAWIO" -- \
		capsh --drop=cap_sys_rawio -- -c "LD_PRELOAD=$LIB /bin/true"
else
	echo "skip VA 0 unmappable (vm.mmap_min_addr is 0 or no capsh)"
fi
expect "hook missing" 1 "/nonexistent/hook.so" "No such file" -- \
	run ZPOLINE_HOOK=/nonexistent/hook.so /bin/true
expect "hook not ELF" 1 "'/etc/passwd'" "invalid ELF header" -- \
	run ZPOLINE_HOOK=/etc/passwd /bin/true
zydis=$(ldd "$LIB" | awk '/libZydis/ {print $3}')
expect "hook without zpoline_hook_init" 1 "has no zpoline_hook_init" -- \
	run ZPOLINE_HOOK="$zydis" /bin/true
# Two lines here: the hook's own reason, then libzpoline's.
LINES=2 expect "hook init returns NULL" 1 "ZPOLINE_NULL='abc'" \
	"zphook-null.so': zpoline_hook_init returned NULL" -- \
	run ZPOLINE_HOOK=null ZPOLINE_NULL=abc /bin/true
expect "unknown sled" 1 "ZPOLINE_SLED='zigzag' is not one of: fast, nop" -- \
	run ZPOLINE_SLED=zigzag /bin/true
expect "unknown lazy mode" 1 "ZPOLINE_LAZY='soon' is not one of: 0, 1, settle" -- \
	run ZPOLINE_LAZY=soon /bin/true
expect "settle count not a number" 1 "ZPOLINE_SETTLE='0' is not a positive number" -- \
	run ZPOLINE_LAZY=settle ZPOLINE_SETTLE=0 /bin/true
expect "settle count with junk" 1 "ZPOLINE_SETTLE='10x' is not a positive number" -- \
	run ZPOLINE_LAZY=settle ZPOLINE_SETTLE=10x /bin/true
expect "unknown save" 1 "ZPOLINE_SAVE='all' is not one of: auto, xsave" -- \
	run ZPOLINE_SAVE=all /bin/true
expect "unknown deferred-call tail" 1 "ZPOLINE_DEFER_TAIL='iret' is not one of: measure, jmp, ret" -- \
	run ZPOLINE_DEFER_TAIL=iret /bin/true
LINES=2 expect "standard hook's defer setting" 1 "ZPOLINE_DEFER: want 0 or 1, not 2" \
	"zphook-pass.so': zpoline_hook_init returned NULL" -- \
	run ZPOLINE_HOOK=pass ZPOLINE_DEFER=2 /bin/true
expect "relative exclude" 1 "ZPOLINE_EXCLUDE: 'lib/libc.so.6' is not an absolute path" -- \
	run ZPOLINE_EXCLUDE=lib/libc.so.6 /bin/true
expect "empty exclude fields" 0 -- run ZPOLINE_EXCLUDE=:: /bin/true
expect "missing exclude path is ignored" 0 "'/nonexistent': No such file or directory; ignored" -- \
	run ZPOLINE_VERBOSE=1 ZPOLINE_EXCLUDE=/nonexistent /bin/true

# Excluding libc really leaves it alone (the symlinked name resolves).
libc=$(ldd /bin/true | awk '/libc.so/ {print $3}')
run ZPOLINE_VERBOSE=1 ZPOLINE_EXCLUDE="$libc" /bin/true 2>"$tmp/err"
if grep -q "libc.so.6 \[" "$tmp/err" || ! grep -q "ld-linux" "$tmp/err"; then
	echo "FAIL exclude libc: libc still rewritten or nothing rewritten"
	cat "$tmp/err"
	fails=$((fails + 1))
else
	echo "ok   exclude libc"
fi

[ $fails = 0 ]
