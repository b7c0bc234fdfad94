#!/bin/sh
# zphook-fault.so declares ZP_HOOK_GPR_ONLY: check the promise on its
# machine code as tests/hooks_gpr_only.sh does for the standard hooks -
# outside the init-time functions no vector or x87 register is touched and
# no libc function (PLT) is called.
# usage: fault_gpr_only.sh HOOKDIR
lib=$1/zphook-fault.so
init_fns='zpoline_hook_init|parse_rule|bad|_init|_fini|deregister_tm_clones|register_tm_clones|__do_global_dtors_aux|frame_dummy'
bad=$(objdump -d --no-show-raw-insn -j .text "$lib" | awk -v skip="^($init_fns)\$" '
	/^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); next }
	fn ~ skip { next }
	/%[xyz]mm|%st|%mm[0-7]|call.*@plt|jmp.*@plt/ { print fn ": " $0 }')
if [ -n "$bad" ]; then
	echo "FAIL $lib:"
	echo "$bad" | head -10
	exit 1
fi
if ! objdump -T "$lib" | grep -q zpoline_hook_flags; then
	echo "FAIL $lib does not export zpoline_hook_flags"
	exit 1
fi
echo "ok   $lib: hook path uses general registers only"
