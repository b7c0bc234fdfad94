#!/bin/sh
# Hook libraries that declare ZP_HOOK_GPR_ONLY get no vector save under
# ZPOLINE_SAVE=auto. Check the promise on the machine code: outside the
# init-time functions, no vector or x87 register is used and no libc
# function (PLT) is called; and the flag is exported.
# usage: hooks_gpr_only.sh [--no-needed] 'INIT|FUNCTIONS' LIB...
#   the first argument: the library's own init-time functions (a regex
#   alternation) besides zpoline_hook_init and the compiler's
#   --no-needed: the libraries must also need no other library at all (the
#   standard hooks link no libc, so that loading one loads nothing else)
no_needed=0
if [ "$1" = --no-needed ]; then
	no_needed=1
	shift
fi
init_fns="zpoline_hook_init|$1|_init|_fini|deregister_tm_clones|register_tm_clones|__do_global_dtors_aux|frame_dummy"
shift
fails=0
for lib in "$@"; do
	bad=$(objdump -d --no-show-raw-insn -j .text "$lib" | awk -v skip="^($init_fns)\$" '
		/^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); next }
		fn ~ skip { next }
		/%[xyz]mm|%st|%mm[0-7]|call.*@plt|jmp.*@plt/ { print fn ": " $0 }')
	if [ -n "$bad" ]; then
		echo "FAIL $lib:"
		echo "$bad" | head -10
		fails=$((fails + 1))
	elif ! objdump -T "$lib" | grep -q zpoline_hook_flags; then
		echo "FAIL $lib does not export zpoline_hook_flags"
		fails=$((fails + 1))
	elif [ $no_needed = 1 ] && objdump -p "$lib" | grep -q NEEDED; then
		echo "FAIL $lib needs other libraries:"
		objdump -p "$lib" | grep NEEDED
		fails=$((fails + 1))
	else
		echo "ok   $lib: hook path uses general registers only"
	fi
done
[ $fails = 0 ]
