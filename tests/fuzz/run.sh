#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...]: build the fuzz targets, replay the committed corpus
# (tests/fuzz/corpus/TARGET, which holds a regression input for every finding) and fuzz each
# target for SECONDS, one after another, at nice 19. Inputs found are kept in
# build/fuzz/corpus/TARGET; a crash is saved in build/fuzz/findings/ and fails the run.
# One line of figures per target (runs, coverage, corpus size). CERTWIZ_FUZZ_OUT: another
# build directory than build/fuzz.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
out=${CERTWIZ_FUZZ_OUT:-$top/build/fuzz}
"$top/tests/fuzz/build.sh" "$out" >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(puppetconf config journal sshconfig x509 validate backup)
mkdir -p "$out/findings"
failed=0
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: no target $t" >&2; exit 2; }
  mkdir -p "$out/corpus/$t"
  log=$out/$t.log
  # UBSan findings are errors (the build does not recover from them); leaks are findings too.
  if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$top/tests/fuzz/lsan.supp \
       nice -n 19 "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$out/findings/$t-" -print_final_stats=1 \
       "$out/corpus/$t" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz: $t FAILED, see $log and $out/findings/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
    failed=1
    continue
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  files=$(ls "$out/corpus/$t" | wc -l)
  echo "fuzz: $t ok: $runs runs in ${secs}s, $cov, $files new corpus inputs"
done
exit $failed
