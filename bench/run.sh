#!/usr/bin/env bash
# bench/run.sh [CERTWIZ]: measure what certwiz promises about speed and memory, and print a
# table. Numbers are measured here, never asserted by the tests.
#  - plan: expanding a procedure for 10, 200 and 1000 agents (wall time, peak RSS, and the
#    instruction count under callgrind, which repeats exactly on the same binary)
#  - wizard start-up: from exec to the first screen drawn, headless (the key script quits at
#    once), which issue 5 wants well under 100 ms of certwiz's own time
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
certwiz=${1:-$top/build/ci/certwiz}
[ -x "$certwiz" ] || { echo "bench: build certwiz first (or pass its path)" >&2; exit 2; }
root=$top/tests/cli/root
tmp=$(mktemp -d /tmp/certwiz-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CERTWIZ_DATADIR=$top LC_ALL=C

# peak RSS (KiB) and wall ms of a command, from GNU time if present, else bash's time.
measure() {
  local out=$tmp/time
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null 2>&1 || true
    awk '{ printf "%d ms  %d KiB", $1 * 1000, $2 }' "$out"
  else
    local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    printf '%d ms  ? KiB' $(((e - s) / 1000000))
  fi
}

instructions() {
  command -v valgrind >/dev/null || { echo "n/a"; return; }
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$@" >/dev/null 2>"$tmp/cg.err" || true
  sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$tmp/cg.err" | head -n 1
}

printf '%-40s %-24s %s\n' "benchmark" "wall / peak RSS" "instructions"
for n in 10 200 1000; do
  seq -f 'agent%g.example.com' 1 "$n" >"$tmp/agents"
  args=(plan -p agent -A "$tmp/agents" --profile oss-debian --root "$root" --config /dev/null)
  printf '%-40s %-24s %s\n' "plan agent, $n agents" "$(measure "$certwiz" "${args[@]}")" \
    "$(instructions "$certwiz" "${args[@]}")"
done
printf ':quit\n' >"$tmp/quit.keys"
wargs=(--profile oss-debian --root "$root" --config /dev/null --journal-dir "$tmp/runs" --backup-dir "$tmp/b")
printf '%-40s %-24s %s\n' "wizard: start to first screen, headless" \
  "$(CERTWIZ_HEADLESS=1 CERTWIZ_SCRIPT=$tmp/quit.keys measure "$certwiz" "${wargs[@]}")" \
  "$(CERTWIZ_HEADLESS=1 CERTWIZ_SCRIPT=$tmp/quit.keys instructions "$certwiz" "${wargs[@]}")"
