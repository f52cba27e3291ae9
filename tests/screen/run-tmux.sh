#!/bin/sh
# run-tmux.sh: the real terminal path of the widget kit, through tmux: first screen, keys,
# resize (larger, too small, back), stderr kept off the screen, colours and NO_COLOR, and
# the terminal restored after SIGTERM (stty -a before and after). Polls with a timeout.
#
#   run-tmux.sh        exit 0 pass, 1 fail (with the screen), 77 when tmux is missing
#
# Environment: TUI_DEMO the demo binary (default: tests/screen/tui_demo under the current
# directory). Uses its own tmux server (-S, socket in a temporary directory), so it never
# touches the user's sessions.
set -u
command -v tmux >/dev/null 2>&1 || {
	echo "run-tmux: tmux not found, skipped"
	[ "${CERTWIZ_TEST_STRICT:-}" = 1 ] && exit 1 # run-all.sh: the machine has tmux
	exit 77
}
demo=${TUI_DEMO:-$PWD/tests/screen/tui_demo}
case "$demo" in /*) ;; *) demo=$PWD/$demo ;; esac
[ -x "$demo" ] || { echo "run-tmux: no demo binary at $demo (build it, or set TUI_DEMO)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tui-tmux.XXXXXX") || exit 1
sock=$tmp/tmux.sock
T() { tmux -S "$sock" "$@"; }
cleanup() {
	T kill-server >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail=0

screen() { T capture-pane -p -t w "$@"; }
# wait_for TEXT [seconds]: poll the pane until TEXT shows
wait_for() {
	i=0
	while [ $i -lt $((${2:-5} * 20)) ]; do
		screen | grep -qF -- "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "FAIL: timed out waiting for \"$1\"; the screen was:"
	screen
	fail=1
	return 1
}
check() { # check WHAT COMMAND...
	what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
demo_pid() {
	ps -o pid= --ppid "$(T display -p -t w '#{pane_pid}')" | tr -d ' ' | head -1
}

LC_ALL=C.UTF-8 T -f /dev/null new-session -d -s w -x 80 -y 24 \
	"env PS1='$ ' LC_ALL=C.UTF-8 sh" || { echo "run-tmux: cannot start tmux"; exit 1; }
T set-option -t w window-size manual >/dev/null 2>&1

# 1. first screen, keys, resize, stderr, colour; then SIGTERM
T send-keys -t w "stty -a >$tmp/before; $demo --stderr-log $tmp/log/stderr.log; echo exit=\$?; stty -a >$tmp/after" Enter
wait_for "Deployment type" && check "first screen with the detected item selected" \
	sh -c "tmux -S $sock capture-pane -p -t w | grep -q '▸ Whole CA (open source)'"
T send-keys -t w Up
wait_for "▸ Primary server certificate" && echo "ok: Up moves the selection"
T resize-window -t w -x 100 -y 30
# The redraw may still be under way when the corner shows: wait for the full width.
wait_for "page 1 of 10 ─┐" &&
	check "redrawn at 100x30" sh -c "for i in \$(seq 100); do [ \$(tmux -S $sock capture-pane -p -t w | head -1 | wc -m) = 101 ] && exit 0; sleep 0.05; done; exit 1"
T resize-window -t w -x 70 -y 20
wait_for "certwiz needs at least 80x24" && echo "ok: too small says so"
T resize-window -t w -x 80 -y 24
wait_for "Primary server certificate" && echo "ok: back at 80x24"
T send-keys -t w e
wait_for "wrote a line to stderr" &&
	check "stderr kept off the screen" sh -c "! tmux -S $sock capture-pane -p -t w | grep -q 'library noise'"
T send-keys -t w C-n
wait_for "Pre-flight" &&
	check "colours in use" sh -c "tmux -S $sock capture-pane -e -p -t w | grep -q \"\$(printf '\\033')\\[3[1-3]m\""
pid=$(demo_pid)
[ -n "$pid" ] && kill -TERM "$pid"
wait_for "exit=143" && {
	check "stderr went to the log" grep -q 'library noise' "$tmp/log/stderr.log"
	check "alternate screen left after SIGTERM" sh -c "! tmux -S $sock capture-pane -p -t w | grep -q 'Pre-flight'"
	i=0
	while [ ! -s "$tmp/after" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	check "terminal modes restored after SIGTERM (stty -a)" cmp -s "$tmp/before" "$tmp/after"
}

# 2. NO_COLOR: no colour, state still in words; quit asks first
T send-keys -t w "clear; NO_COLOR=1 $demo --page 2; echo exit=\$?" Enter
wait_for "[FAIL] allow-subject-alt-names" &&
	check "NO_COLOR: no colour sequences" sh -c "! tmux -S $sock capture-pane -e -p -t w | grep -q \"\$(printf '\\033')\\[3[0-7]m\""
T send-keys -t w q
wait_for "Quit certwiz?" && T send-keys -t w y
wait_for "exit=0" && echo "ok: q, y quits with status 0"

exit $fail
