# Shared by the sigsys_* tests: $RUN = zpbench-run, $APP = sigsys_app.
# The SIGSYS-based mechanisms must pass; the others listed in $ALSO are
# run too and, if in $XFAIL (owned elsewhere, see issue 15), reported
# without failing the test.
RUN=$1
APP=$2
TMP=$(mktemp -d /tmp/zpbench-sigsys-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
mechs() { "$RUN" --list | awk -v want="sud seccomp $ALSO" \
	'BEGIN { n = split(want, w); for (i = 1; i <= n; i++) ok[w[i]] = 1 }
	 $2 == "yes" && ok[$1] { print $1 }'; }
# verdict MECH WHAT: after a check that set $fail for this mechanism
verdict() {
	case " $XFAIL " in *" $1 "*)
		if [ $fail = 1 ]; then echo "xfail $1: $2 (known, not fixed here)"
		else echo "xpass $1: $2"; fi
		fail=0 ;;
	*) [ $fail = 0 ] && echo "ok $1: $2" ;;
	esac
}
