#!/usr/bin/env bash
# bench/fleet.sh N [CERTWIZ]: a fleet of N sandbox agents regenerated three ways, timed (issue
# 12). Measures, never asserts. Brings the sandbox to N agents (sandbox/up --agents N; set
# CERTWIZ_SANDBOX_DIR and friends for a sandbox of your own), then, each from the pristine
# state (sandbox/reset):
#   1. certwiz run, procedure agent, every agent (ssh.parallel at once, pipelined);
#   2. a serial loop of the seed's commands over ssh, one agent after the other (what an
#      operator would script: puppetserver ca clean, stop, rm -rf ssldir and catalog, puppet
#      ssl submit_request, puppetserver ca sign, puppet ssl download_cert, puppet agent -t);
#   3. certwiz run again with stragglers: five agents spread over the fleet (the first, the
#      last and three between: agents 1, 13, 25, 37, 50 of 50) each slowed once by STRAGGLE
#      seconds (default 30), each at a different step: its agent's stop, the deletion of its
#      SSL directory, its request, its fetch, its catalog run (sandbox/straggle: a wrapper
#      around that one command in that host's namespace only). With fewer than five agents,
#      the first steps only.
# FLEET_RUNS (default "certwiz serial stragglers") names the runs to make, e.g. FLEET_RUNS=certwiz
# for certwiz's own figures at N = 200 without the hour the other two would take.
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
runs=${FLEET_RUNS:-certwiz serial stragglers}
for r in $runs; do
  case $r in certwiz|serial|stragglers) ;; *) echo "bench: FLEET_RUNS: '$r' is not certwiz, serial or stragglers" >&2; exit 2 ;; esac
done
nstrag=$((n < 5 ? n : 5))
slow=()  # the stragglers' agent numbers, spread over 1..n
for k in $(seq 0 $((nstrag - 1))); do slow+=($((nstrag > 1 ? 1 + k * (n - 1) / (nstrag - 1) : 1))); done
unstraggle() { for i in "${slow[@]}"; do "$sb/straggle" "agent$i" --off >/dev/null 2>&1 || true; done; }
trap 'unstraggle; rm -rf "$tmp"' EXIT
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

# One straggler a step: the host's command and what in its arguments picks that step.
straggle_at=(
  "stop|$top/sandbox/service/puppet"   # agent-stop: the sandbox's service script
  "$SB_SSLDIR|rm"                      # agent-delete-ssl: rm -rf -- SSLDIR
  "submit_request|puppet"              # agent-request
  "download_cert|puppet"               # agent-fetch
  "agent --test|puppet"                # agent-run
)
stragglers() {
  local k
  for k in "${!slow[@]}"; do
    echo "straggler: agent${slow[k]} at '${straggle_at[k]%%|*}' (${straggle_at[k]#*|})"
    "$sb/straggle" "agent${slow[k]}" "${straggle_at[k]%%|*}" "$delay" "${straggle_at[k]#*|}"
  done
  run_certwiz stragglers
}

echo "bench: N=$n, $cores cores, runs: $runs, straggler delay $delay s ($(date -u +%FT%TZ))"
slog="certwiz, $nstrag stragglers"
for r in $runs; do
  "$sb/reset" >/dev/null
  case $r in
    certwiz) measure "certwiz run" run_certwiz plain; cat "$tmp/time-plain" ;;
    serial) measure "serial ssh loop" serial_loop ;;
    stragglers) measure "$slog" stragglers; cat "$tmp/time-stragglers"; unstraggle ;;
  esac
done
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
print(f"the last certwiz run: {len(sizes)} shared CA calls, agents per call {sizes}")
PY
logs=()
for f in "$tmp/certwiz run.log" "$tmp/$slog.log"; do [ -f "$f" ] && logs+=("$f"); done
[ ${#logs[@]} -gt 0 ] || exit 0
grep -h "certwiz: run\|certwiz: its own CPU" "${logs[@]}" | sed 's/^/  /'
awk -v n="$n" '/^certwiz: its own CPU/ { sub(/ s,.*/, "", $5); printf "certwiz own CPU per agent: %.3f s (%s)\n", $5 / n, FILENAME }' \
  "${logs[@]}"
