#!/bin/sh
# The standard hook libraries declare ZP_HOOK_GPR_ONLY, so under
# ZPOLINE_SAVE=auto the trampoline saves no vector state for them. Check the
# promise on the machine code: outside the init-time functions, no vector or
# x87 register is used and no libc function (PLT) is called.
# usage: hooks_gpr_only.sh HOOKDIR
fails=0
init_fns='zpoline_hook_init|zph_init|parse_null_set|zph_kind_from_name|zph_kind_name|_init|_fini|deregister_tm_clones|register_tm_clones|__do_global_dtors_aux|frame_dummy'
for lib in "$1"/zphook-null.so "$1"/zphook-pass.so "$1"/zphook-count.so; do
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
	else
		echo "ok   $lib: hook path uses general registers only"
	fi
done
[ $fails = 0 ]
