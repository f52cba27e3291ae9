#!/bin/sh
# run-widgets.sh: golden screen tests of the tui widget kit. Runs tests/screen/tui_demo
# headless with each key script and compares every :dump with tests/screen/golden/.
#
#   run-widgets.sh            exit 0 when every screen matches, 1 with the diffs otherwise
#   run-widgets.sh --update   rewrite the goldens from this run (review them with git diff)
#
# Environment: TUI_DEMO the demo binary (default: tests/screen/tui_demo under the current
# directory, i.e. the build tree), SRCDIR the source tree (default: from this script).
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${SRCDIR:-$(cd "$here/../.." && pwd)}
sdir=$srcdir/tests/screen
gdir=$sdir/golden
demo=${TUI_DEMO:-$PWD/tests/screen/tui_demo}
update=0
[ "${1:-}" = --update ] && update=1

if [ ! -x "$demo" ]; then
	echo "run-widgets: no demo binary at $demo (build it, or set TUI_DEMO)"
	exit 1
fi
case "$demo" in /*) ;; *) demo=$PWD/$demo ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tui-widgets.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
fail=0

bad() {
	echo "FAIL: $*"
	fail=1
}

# run NAME LOCALE SCRIPT [VAR=value...] [-- demo args]: the dumps land in $tmp/NAME, the
# demo's stderr in $tmp/NAME.err; sets rc.
run() {
	name=$1 loc=$2 script=$3
	shift 3
	mkdir -p "$tmp/$name"
	(
		cd "$tmp/$name" || exit 99
		unset NO_COLOR CERTWIZ_SCRIPT CERTWIZ_HEADLESS LANG LANGUAGE
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			export "$1"
			shift
		done
		[ "${1:-}" = -- ] && shift
		LC_ALL=$loc CERTWIZ_HEADLESS=1 COLUMNS=80 LINES=24 TERM=xterm-256color \
			CERTWIZ_SCRIPT=$script exec "$demo" "$@"
	) >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

# compare NAME PREFIX: every golden PREFIX-*.txt against the dump of the same name in
# $tmp/NAME, and no dump without a golden.
compare() {
	name=$1 prefix=$2
	if [ $update = 1 ]; then
		rm -f "$gdir/$prefix"-*.txt
		for d in "$tmp/$name"/*.txt; do
			[ -e "$d" ] && cp "$d" "$gdir/$prefix-$(basename "$d")"
		done
		echo "updated $prefix: $(ls "$tmp/$name" | wc -l) screens"
		return
	fi
	n=0
	for g in "$gdir/$prefix"-*.txt; do
		[ -e "$g" ] || { bad "$name: no goldens $gdir/$prefix-*.txt"; return; }
		d=$tmp/$name/${g#"$gdir/$prefix-"}
		n=$((n + 1))
		if [ ! -e "$d" ]; then
			bad "$name: the script did not dump $(basename "$d")"
		elif ! diff -u "$g" "$d" >"$tmp/diff"; then
			bad "$name: $(basename "$d") differs from the golden (- expected, + seen):"
			cat "$tmp/diff"
		fi
	done
	for d in "$tmp/$name"/*.txt; do
		[ -e "$d" ] || continue
		[ -e "$gdir/$prefix-$(basename "$d")" ] || bad "$name: $(basename "$d") has no golden (run with --update)"
	done
	[ $fail = 0 ] && echo "ok: $name ($n screens)"
}

if ! LC_ALL=C.UTF-8 locale charmap 2>/dev/null | grep -q UTF-8; then
	echo "run-widgets: the C.UTF-8 locale is missing"
	exit 1
fi

# 1. every widget in a UTF-8 locale
run widgets C.UTF-8 "$sdir/widgets.keys"
[ $rc = 0 ] || bad "widgets: the demo exited with $rc: $(cat "$tmp/widgets.err")"
compare widgets widgets

[ $update = 1 ] || {
	# 2. NO_COLOR: the same words and symbols, so the same screens
	run mono C.UTF-8 "$sdir/widgets.keys" NO_COLOR=1
	[ $rc = 0 ] || bad "mono: the demo exited with $rc: $(cat "$tmp/mono.err")"
	compare mono widgets
}

# 3. ASCII fallbacks in the C locale
run ascii C "$sdir/ascii.keys"
[ $rc = 0 ] || bad "ascii: the demo exited with $rc: $(cat "$tmp/ascii.err")"
compare ascii ascii

[ $update = 1 ] && exit 0

# 4. the hooks fail loudly: an unknown script command names FILE:LINE ...
printf '# a comment\n:frobnicate\n' >"$tmp/bad.keys"
run bad C.UTF-8 "$tmp/bad.keys"
if [ $rc = 0 ] || ! grep -q "bad.keys:2: unknown script command 'frobnicate'" "$tmp/bad.err"; then
	bad "an unknown script command was not reported (exit $rc): $(cat "$tmp/bad.err")"
else
	echo "ok: unknown script command reported"
fi

# ... and :until gives up with the screen in the message and a failing exit status
printf ':until -t 0.2 text that never appears\n' >"$tmp/until.keys"
run until C.UTF-8 "$tmp/until.keys"
if [ $rc != 1 ] || ! grep -q 'did not appear' "$tmp/until.err" ||
	! grep -q 'Deployment type' "$tmp/until.err"; then
	bad ":until did not fail as it should (exit $rc): $(cat "$tmp/until.err")"
else
	echo "ok: :until times out"
fi

# 5. stderr goes to the log while the screen is up, and the note says where
printf 'e\n:dump screen.txt\n' >"$tmp/stderr.keys"
run stderr C.UTF-8 "$tmp/stderr.keys" -- --stderr-log "$tmp/logs/sub/stderr.log"
if [ $rc != 0 ] || ! grep -q 'library noise' "$tmp/logs/sub/stderr.log" 2>/dev/null; then
	bad "stderr was not redirected to the log (exit $rc)"
elif grep -q 'library noise' "$tmp/stderr.err" "$tmp/stderr/screen.txt"; then
	bad "stderr reached the terminal or the screen"
elif ! grep -q "messages from libraries .* are in $tmp/logs/sub/stderr.log" "$tmp/stderr.err"; then
	bad "no note naming the stderr log: $(cat "$tmp/stderr.err")"
else
	echo "ok: stderr redirected to the log"
fi

exit $fail
