#!/usr/bin/env bash
# bench/fleet.sh N [CERTWIZ]: a fleet of N sandbox agents regenerated three ways, timed (issue
# 12). Measures, never asserts. Brings the sandbox to N agents (sandbox/up --agents N; set
# CERTWIZ_SANDBOX_DIR and friends for a sandbox of your own), then, each from the pristine
# state (sandbox/reset):
#   1. certwiz run, procedure agent, every agent (ssh.parallel at once, pipelined);
#   2. a serial loop of the seed's commands over ssh, one agent after the other (what an
#      operator would script: puppetserver ca clean, stop, rm -rf ssldir and catalog, puppet
#      ssl submit_request, puppetserver ca sign, puppet ssl download_cert, puppet agent -t);
#   3. certwiz run again with stragglers: agents each slowed once by STRAGGLE seconds (default
#      30) at a different step: agent1 at its request, agent2 at its fetch, agent3 at its
#      catalog run (sandbox/straggle, a wrapper around puppet in that host's namespace).
# For each: wall time, the machine's busy CPU (from /proc/stat: every process on the machine,
# other people's too) and busy CPU / cores, the bound of wall time on this machine; for
# certwiz its own CPU and peak memory (the last line of certwiz run: getrusage of its own
# process, every thread, without the commands it ran on the primary such as
# puppetserver ca, whose CPU it reports apart), and GNU time's figures of both together.
set -euo pipefail
n=${1:?usage: bench/fleet.sh N [CERTWIZ]}
top=$(cd "$(dirname "$0")/.." && pwd)
certwiz=${2:-$top/build/dev/certwiz}
[ -x "$certwiz" ] || { echo "bench: build certwiz first (or pass its path)" >&2; exit 2; }
certwiz=$(cd "$(dirname "$certwiz")" && pwd)/$(basename "$certwiz")
sb=$top/sandbox
state=${CERTWIZ_SANDBOX_DIR:-/var/lib/certwiz-sandbox}
delay=${STRAGGLE:-30}
export CERTWIZ_DATADIR=$top
tmp=$(mktemp -d /tmp/certwiz-bench-fleet.XXXXXX)
trap 'for h in agent1 agent2 agent3; do "$sb/straggle" "$h" --off >/dev/null 2>&1 || true; done; rm -rf "$tmp"' EXIT
on() { local host=$1; shift; "$sb/exec" "$host" -- "$@"; }
cores=$(nproc)
hz=$(getconf CLK_TCK)

echo "bench: sandbox with $n agents" >&2
"$sb/up" --agents "$n" >"$tmp/up.log" 2>&1 || { tail -20 "$tmp/up.log"; exit 1; }
eval "$("$sb/info" primary)"
"$top/scripts/sandbox-config" >"$tmp/site.cfg"
names=$(for i in $(seq 1 "$n"); do printf '"agent%d.sandbox.test"%s' "$i" "$([ "$i" -lt "$n" ] && echo ,)"; done)
printf 'procedure = "agent";\nagents = [%s];\noperator = "bench";\nconfirm_destructive = true;\n' "$names" \
  >"$tmp/answers.cfg"

busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# label command...: wall and busy CPU of the machine while it runs
measure() {
  local label=$1 t0 t1 b0 b1 rc=0
  shift
  b0=$(busy_jiffies)
  t0=$(date +%s.%N)
  "$@" >"$tmp/$label.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  b1=$(busy_jiffies)
  awk -v l="$label" -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v hz="$hz" -v c="$cores" -v rc="$rc" 'BEGIN {
    w = t1 - t0; b = (b1 - b0) / hz
    printf "%-22s wall %6.1f s  busy CPU %6.1f s  busy/cores %6.1f s  wall/(busy/cores) %.2f  exit %d\n", l, w, b, b / c, w / (b / c), rc
  }'
}

run_certwiz() {
  on primary /usr/bin/time -f 'certwiz and the commands it ran on the primary: %e s wall, %U s user, %S s system' \
    -o "$tmp/time-$1" "$certwiz" run --config "$tmp/site.cfg" --answers "$tmp/answers.cfg"
}

serial_loop() {
  local i a
  for i in $(seq 1 "$n"); do
    a=agent$i.sandbox.test
    on primary puppetserver ca clean --certname "$a" || true
    "$sb/ssh" "agent$i" "$top/sandbox/service/puppet stop; rm -rf -- $SB_SSLDIR; rm -f -- $SB_VARDIR/client_data/catalog/$a.json; puppet ssl submit_request --certname $a"
    on primary puppetserver ca sign --certname "$a"
    "$sb/ssh" "agent$i" "puppet ssl download_cert --certname $a && { puppet agent --test --certname $a || true; }"
  done
}

stragglers() {
  "$sb/straggle" agent1 submit_request "$delay"
  [ "$n" -ge 2 ] && "$sb/straggle" agent2 download_cert "$delay"
  [ "$n" -ge 3 ] && "$sb/straggle" agent3 "agent --test" "$delay"
  run_certwiz stragglers
}

echo "bench: N=$n, $cores cores, straggler delay $delay s ($(date -u +%FT%TZ))"
"$sb/reset" >/dev/null
measure "certwiz run" run_certwiz plain
cat "$tmp/time-plain"
"$sb/reset" >/dev/null
measure "serial ssh loop" serial_loop
"$sb/reset" >/dev/null
measure "certwiz, 3 stragglers" stragglers
cat "$tmp/time-stragglers"
for h in agent1 agent2 agent3; do "$sb/straggle" "$h" --off >/dev/null 2>&1 || true; done
# how the CA's side went: its shared calls, from the last run's journal
rundir=$(ls -td "$state"/certwiz/runs/*-agent | sed -n 1p)
python3 - "$rundir/journal.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
calls = {}
for e in ev:
    if e["event"] == "fact" and e.get("key") == "batch-command":
        calls.setdefault(e["value"], 0)
        calls[e["value"]] += 1
sizes = sorted(calls.values(), reverse=True)
print(f"stragglers run: {len(sizes)} shared CA calls, agents per call {sizes}")
PY
grep -h "certwiz: run\|certwiz: its own CPU" "$tmp/certwiz run.log" "$tmp/certwiz, 3 stragglers.log" | sed 's/^/  /'
awk -v n="$n" '/^certwiz: its own CPU/ { sub(/ s,.*/, "", $5); printf "certwiz own CPU per agent: %.3f s (%s)\n", $5 / n, FILENAME }' \
  "$tmp/certwiz run.log" "$tmp/certwiz, 3 stragglers.log"
