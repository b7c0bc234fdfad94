# Sourced by the usnet shell tests: BUILD_DIR is $1, the mechanism $2
# (zpoline, the default: libzpoline; sud and seccomp: what `zpbench-run
# --mech=M --hook=PATH` sets up, without the runner in between, so that a
# server's pid is the server's). Skips (77) with the reason when the hook
# or the mechanism cannot run here; makes $dir (removed on exit, after
# SIGKILL of the pids in $kill_on_exit), $END, the environment of one end
# of the link in $dir, and $RUNP, the command that starts a program under
# the mechanism (empty, or seccomp's helper behind a script that execs it):
#   env $END USNET_ADDR=a $RUNP cmd &     (all exec: $! is cmd's pid)
B=$1
MECH=${2:-zpoline}
LIB=$B/hookcore/libzpoline.so
HOOK=$B/usnet/zphook-usnet.so
skip() { echo "SKIP: $*"; exit 77; }
[ -f "$HOOK" ] || skip "usnet was built without lwIP (liblwip-dev)"
case $MECH in
zpoline)
	env LD_PRELOAD="$LIB" ZPOLINE_HOOK=pass true 2>/dev/null ||
		skip "libzpoline cannot run here: $(env LD_PRELOAD="$LIB" true 2>&1)"
	PRE="LD_PRELOAD=$LIB ZPOLINE_HOOK=$HOOK" ;;
sud|seccomp)
	why=$("$B/mechanisms/zpbench-run" --mech=$MECH -- true 2>&1) ||
		skip "$MECH cannot run here: $why"
	PRE="LD_PRELOAD=$B/mechanisms/zpmech-sud.so ZPBENCH_HOOK=$HOOK" ;;
*)
	echo "usage: $0 BUILD_DIR [zpoline|sud|seccomp]"; exit 2 ;;
esac
dir=$(mktemp -d /dev/shm/usnet-test.XXXXXX) || exit 1
kill_on_exit=""
cleanup() {
	for p in $kill_on_exit; do kill -9 $p 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
RUNP=
if [ "$MECH" = seccomp ]; then
	# The helper loads the program itself (mechanisms/README.md); the
	# preloaded zpmech-hooklib.so attaches the hook library there. Set
	# here, not in $END: a program not under the helper cannot load it.
	PRE=
	RUNP=$dir/under-seccomp
	cat >"$RUNP" <<EOS
#!/bin/sh
case "\$1" in */*) p=\$1 ;; *) p=\$(which "\$1") || exit 127 ;; esac
exec env LD_PRELOAD=$B/mechanisms/zpmech-hooklib.so ZPBENCH_HOOK=$HOOK \\
	$B/mechanisms/zpmech-seccomp --hook=pass -- "\$p" "\$@"
EOS
	chmod +x "$RUNP"
fi
END="$PRE USNET_LINK=$dir/link"
hooked() { # ADDR cmd...: one end in the foreground, bounded in time
	addr=$1; shift
	timeout 60 env $END USNET_ADDR="$addr" $RUNP "$@"
}
# Wait until FILE has a line matching PATTERN while PID lives; bounded by
# count (30 s), never by a guess of how long something takes.
wait_for() { # FILE PATTERN PID
	for i in $(seq 1 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 $3 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
