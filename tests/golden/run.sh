#!/bin/sh
# Golden plans: `certwiz plan` for every procedure and each profile it is meant for,
# compared with tests/golden/expected/<procedure>--<profile>.txt.
#
# Every input is fixed, so nothing of the machine the tests run on leaks in:
#   --root     tests/golden/root-<profile>, a fake / holding only that profile's
#              puppet.conf (certname and dns_alt_names)
#   --config   tests/golden/site.cfg, an empty site configuration (an installed
#              certwiz.cfg is never read)
#   --datadir  the source tree, so the procedures and profiles under test are used
#   --certname, --dns-alt-names, --agents, --puppetdb-host, --console-host
#
# Environment: CERTWIZ (the binary; default ./certwiz) and SRCDIR (the source tree;
# default two directories above this script), as `make check` sets them.
# `run.sh --update` rewrites the expected files instead of comparing; read the diff
# (git diff tests/golden/expected) against the seeds before committing it. Only that argument
# updates: no environment variable does, so `make check` always compares.
#
# A procedure file that is still a placeholder (no `procedure = {`) is skipped and
# listed. Exit status: 0 all compared plans match, 1 a difference or a failed plan,
# 77 nothing could be compared, 99 the test itself cannot run.

LC_ALL=C
export LC_ALL
unset CERTWIZ_DATADIR

here=$(cd "$(dirname "$0")" && pwd) || exit 99
SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
CERTWIZ=${CERTWIZ:-./certwiz}
golden=$SRCDIR/tests/golden
expected_dir=$golden/expected
update=0
[ "${1:-}" = --update ] && update=1
if [ -n "${CERTWIZ_GOLDEN_UPDATE:-}" ]; then
	echo "golden: CERTWIZ_GOLDEN_UPDATE is ignored (comparing); to rewrite the expected plans run: tests/golden/run.sh --update" >&2
fi

if [ ! -x "$CERTWIZ" ]; then
	echo "golden: CERTWIZ=$CERTWIZ is not an executable; build certwiz or set CERTWIZ" >&2
	exit 99
fi
if [ ! -d "$SRCDIR/config/procedures" ] || [ ! -f "$golden/site.cfg" ]; then
	echo "golden: SRCDIR=$SRCDIR is not the certwiz source tree" >&2
	exit 99
fi

tmp=${TMPDIR:-/tmp}/certwiz-golden.$$
rm -rf "$tmp"
mkdir -m 700 "$tmp" || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# The fixed inputs. root-<profile>/…/puppet.conf says the same certname and alt names.
certname=master.example.com
alt_names=puppet,puppet.example.com
agents=agent1.example.com,agent2.example.com
puppetdb_host=puppetdb.example.com
console_host=console.example.com

# procedure profile [variant], one combination a line; a variant names an answers file
# tests/golden/VARIANT.cfg given with --answers (puppetdb: oss-ca with PuppetDB on the primary)
# and its plan is expected in <procedure>--<profile>--<variant>.txt.
combos='
crl-refresh oss-debian
ca-renew oss-debian
ca-renew oss-aio-5
ca-renew pe-2019
crl-refresh oss-aio-5
crl-refresh pe-2019
agent oss-debian
agent oss-aio
agent oss-aio-5
agent pe-2018
agent pe-2019
agent pe-2023
agent pe-3.7
primary oss-debian
primary oss-aio
primary pe-3.7
oss-ca oss-debian
oss-ca oss-aio
oss-ca oss-aio-5
oss-ca oss-debian puppetdb
oss-ca oss-aio puppetdb
oss-ca oss-aio-5 puppetdb
pe-monolithic pe-3.7
pe-monolithic pe-2018
pe-monolithic pe-2019
pe-monolithic pe-2023
pe-split pe-3.7
pe-split pe-2019
pe-split pe-2023
'

pass=0
fail=0
skip=0
failed=
skipped=

[ "$update" = 1 ] && mkdir -p "$expected_dir"

# Read the list through a here-document so the counters live in this shell.
while read -r proc profile variant; do
	[ -n "$proc" ] || continue
	name=$proc--$profile${variant:+--$variant}
	proc_file=$SRCDIR/config/procedures/$proc.cfg
	if [ ! -f "$proc_file" ] || ! grep -q '^[[:space:]]*procedure[[:space:]]*=' "$proc_file"; then
		echo "SKIP $name: config/procedures/$proc.cfg is a placeholder"
		skip=$((skip + 1))
		skipped="$skipped $name"
		continue
	fi
	set -- plan --procedure "$proc" --profile "$profile" \
		--root "$golden/root-$profile" --config "$golden/site.cfg" --datadir "$SRCDIR" \
		--certname "$certname" --dns-alt-names "$alt_names" --agents "$agents"
	if [ "$proc" = pe-split ]; then
		set -- "$@" --puppetdb-host "$puppetdb_host" --console-host "$console_host"
	fi
	[ -z "$variant" ] || set -- "$@" --answers "$golden/$variant.cfg"
	actual=$tmp/$name.txt
	"$CERTWIZ" "$@" >"$actual" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "FAIL $name: certwiz $* exited with $rc:"
		sed 's/^/    /' "$tmp/$name.err"
		fail=$((fail + 1))
		failed="$failed $name"
		continue
	fi
	expected=$expected_dir/$name.txt
	if [ "$update" = 1 ]; then
		if [ -f "$expected" ] && cmp -s "$expected" "$actual"; then
			echo "SAME $name"
		else
			cp "$actual" "$expected" || exit 99
			echo "WROTE $name"
		fi
		pass=$((pass + 1))
		continue
	fi
	if [ ! -f "$expected" ]; then
		echo "FAIL $name: no tests/golden/expected/$name.txt; make it with tests/golden/run.sh --update and read it against the seeds"
		fail=$((fail + 1))
		failed="$failed $name"
		continue
	fi
	if diff -u "$expected" "$actual" >"$tmp/$name.diff"; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name: the plan differs from tests/golden/expected/$name.txt:"
		cat "$tmp/$name.diff"
		fail=$((fail + 1))
		failed="$failed $name"
	fi
done <<EOF
$combos
EOF

# An expected file no combination produces any more is stale: it would never fail.
for f in "$expected_dir"/*.txt; do
	[ -f "$f" ] || continue
	base=${f##*/}
	base=${base%.txt}
	found=no
	while read -r p q v; do
		[ -n "$p" ] && [ "$p--$q${v:+--$v}" = "$base" ] && found=yes
	done <<EOF
$combos
EOF
	if [ "$found" = no ]; then
		echo "FAIL $base: tests/golden/expected/$base.txt belongs to no combination; delete it or add the combination"
		fail=$((fail + 1))
		failed="$failed $base"
	fi
done

echo "golden: $pass passed, $fail failed, $skip skipped"
[ -n "$skipped" ] && echo "golden: skipped (placeholder procedures):$skipped"
[ -n "$failed" ] && echo "golden: failed:$failed"
if [ "$fail" -gt 0 ]; then
	exit 1
fi
if [ "$pass" -eq 0 ]; then
	exit 77
fi
exit 0
