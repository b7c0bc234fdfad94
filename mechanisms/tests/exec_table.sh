#!/bin/sh
# The runner behaves like execve under every mechanism: for each kind of
# command below, exit status, stdout and stderr are those of `none` (plain
# fork+exec, which answers like a shell: 127 not found, 126 cannot run);
# and an execve made inside the hooked program (exec_app, $3) gets the
# same errno, or runs the same.
. "$(dirname "$0")/lib.sh"
APP=$3
D=$TMP/t
mkdir -p "$D/dir"
printf '#!/bin/sh\necho ran\n' >"$D/noexec.sh"
chmod 644 "$D/noexec.sh"
printf '#!/nonexistent/interp\necho ran\n' >"$D/nointerp.sh"
printf '#!%s\necho ran\n' "$D/noexec.sh" >"$D/interp-noexec.sh"
printf '#!%s\necho ran\n' "$D/dir" >"$D/interp-dir.sh"
printf '#!/bin/sh\necho "$# args, $(printf %%s "$*" | wc -c) bytes, last ${2000-none}"\n' >"$D/ok.sh"
printf 'echo ran\n' >"$D/noshebang"
: >"$D/empty"
# ELF headers of other machines: i386 (ELFCLASS32, EM_386 = 3) and
# aarch64 (ELFCLASS64, EM_AARCH64 = 183), ET_EXEC, no program headers.
{ printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000'
  printf '\002\000\003\000\001\000\000\000'
  head -c 28 /dev/zero; } >"$D/i386.elf"
{ printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000'
  printf '\002\000\267\000\001\000\000\000'
  head -c 40 /dev/zero; } >"$D/aarch64.elf"
# An x86-64 ELF whose interpreter (PT_INTERP) does not exist.
sed 's|ld-linux-x86-64\.so\.2|ld-linux-x86-64.so.X|' "$GP" >"$D/badldso.elf"
grep -q 'ld-linux-x86-64\.so\.X' "$D/badldso.elf" || bad "cannot craft badldso.elf"
chmod 755 "$D"/*.sh "$D/noshebang" "$D/empty" "$D"/*.elf
chmod 644 "$D/noexec.sh"
# ~2000 arguments of 100 bytes (200 KB): beyond any fixed buffer.
set --
i=0
ARG=$(head -c 99 /dev/zero | tr '\0' x)
while [ $i -lt 2000 ]; do
	set -- "$@" "$ARG$((i % 10))"
	i=$((i + 1))
done

# case name, command; each runs with the ~2000 arguments only for "long".
cases="missing:$D/nope dir:$D/dir noexec:$D/noexec.sh
nointerp:$D/nointerp.sh interp-noexec:$D/interp-noexec.sh
interp-dir:$D/interp-dir.sh script:$D/ok.sh long:$D/ok.sh
noshebang:$D/noshebang empty:$D/empty i386:$D/i386.elf
aarch64:$D/aarch64.elf badldso:$D/badldso.elf"

run() { # mech name cmd [args]: output in $TMP/<mech>.<name>.{out,err,rc}
	m=$1 n=$2 c=$3
	shift 3
	"$RUN" --mech="$m" -- "$c" "$@" >"$TMP/$m.$n.out" 2>"$TMP/$m.$n.err"
	echo $? >"$TMP/$m.$n.rc"
	# the same exec from inside: name "in-<case>"
	"$RUN" --mech="$m" -- "$APP" "$c" "$@" >"$TMP/$m.in-$n.out" 2>"$TMP/$m.in-$n.err"
	echo $? >"$TMP/$m.in-$n.rc"
}

for m in $(supported); do
	for nc in $cases; do
		n=${nc%%:*} c=${nc#*:}
		if [ "$n" = long ]; then run "$m" "$n" "$c" "$@"; else run "$m" "$n" "$c"; fi
	done
done

# none itself must answer like a shell would.
for want in missing:127 dir:126 noexec:126 nointerp:127 interp-noexec:126 \
	    interp-dir:126 script:0 long:0 noshebang:126 empty:126 \
	    i386:126 aarch64:126 badldso:127; do
	n=${want%%:*}
	[ "$(cat "$TMP/none.$n.rc")" = "${want#*:}" ] ||
		bad "none: $n gave $(cat "$TMP/none.$n.rc"), want ${want#*:}"
done
grep -q "^2000 args, 201999 bytes, last x*9$" "$TMP/none.long.out" ||
	bad "none: long printed '$(cat "$TMP/none.long.out")'"
cmp -s "$TMP/none.long.out" "$TMP/none.in-long.out" || bad "none: in-long differs"

for m in $(supported); do
	[ "$m" = none ] && continue
	ok=1
	for nc in $cases; do
		for n in ${nc%%:*} in-${nc%%:*}; do for f in rc out err; do
			cmp -s "$TMP/none.$n.$f" "$TMP/$m.$n.$f" && continue
			bad "$m: $n: $f differs from none: '$(head -c 200 "$TMP/$m.$n.$f")' vs '$(head -c 200 "$TMP/none.$n.$f")'"
			ok=0
		done; done
	done
	[ $ok = 1 ] && echo "ok $m"
done
exit $fail
