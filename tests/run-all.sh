#!/usr/bin/env bash
# tests/run-all.sh: the whole test suite, from a clean clone on Debian 12, as root:
# dependencies, a -Werror build, unit + golden + CLI + screen tests, the unit tests again
# under ASan/UBSan, the Debian package (built, linted, installed into a scratch root and run),
# then the integration tests against real Puppet sandboxes, in two lanes side by side: Puppet 7
# (every scenario, and a fleet), Puppet 5, Puppet 8 (Debian's layout with PuppetDB and mixed
# agent releases; AIO's layout; PE's layout).
# CERTWIZ_SKIP_INTEGRATION=1 stops after the fast tiers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
# This machine has every tool the tests use (sshd, ssh-agent, tmux, openssl): a test that
# would skip for lack of one fails instead.
export CERTWIZ_TEST_STRICT=1
stage() { printf '\n==== %s  (at %ss)\n' "$1" "$SECONDS"; }
show_logs() { # on failure, print what automake's harness kept
  find "$1" -name '*.log' -path '*tests*' -newer "$top/configure" 2>/dev/null |
    while read -r f; do grep -qE '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && { echo "---- $f"; tail -n 80 "$f"; }; done
  return 1
}

stage "dependencies"
scripts/install-deps

stage "build with -Werror"
./autogen.sh >/dev/null
mkdir -p build/ci
(cd build/ci && ../../configure --enable-werror >/dev/null && make -j"$jobs" >/dev/null)

stage "unit, golden, CLI and screen tests"
make -C build/ci -j"$jobs" check || show_logs build/ci

stage "unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
mkdir -p build/asan
(cd build/asan && ../../configure --enable-asan >/dev/null && make -j"$jobs" >/dev/null)
ASAN_OPTIONS=detect_leaks=1 make -C build/asan -j"$jobs" check-unit || show_logs build/asan

stage "Debian package: dpkg-buildpackage, lintian, installed with dpkg --root and run"
tests/package/run.sh

stage "fuzz targets, 15 s each (libFuzzer, ASan + UBSan; bench/fuzz.sh SECONDS runs them longer)"
tests/fuzz/run.sh 15

if [ "${CERTWIZ_SKIP_INTEGRATION:-}" = 1 ]; then
  echo "integration tests skipped (CERTWIZ_SKIP_INTEGRATION=1)"
  printf '\nall tests passed in %ss\n' "$SECONDS"
  exit 0
fi

# The integration tiers run in two lanes side by side, each with its own sandbox (state dir
# and 127.0.NET.0/24), sharing the release roots, which are built first: most of a tier's
# time is spent waiting (JVMs starting, agents' runs, ssh), so two fill two cores.
# Lane A: the default sandbox ($CERTWIZ_SANDBOX_DIR); lane B: the same path with ".b".
stage "sandbox: this machine's packages and the Puppet 5 and 8 roots (built once, shared by both lanes)"
state_a=${CERTWIZ_SANDBOX_DIR:-/var/lib/certwiz-sandbox}
state_b=$state_a.b
export CERTWIZ_SANDBOX_ROOTS=${CERTWIZ_SANDBOX_ROOTS:-$state_a/roots}
sandbox/prepare 5 8 8-pe
net_a=$(cat "$state_a/net" 2>/dev/null || echo "${CERTWIZ_SANDBOX_NET:-0}")
net_b=$(cat "$state_b/net" 2>/dev/null || echo $(((net_a + 1) % 256)))
[ "$net_b" != "$net_a" ] || net_b=$(((net_a + 1) % 256))

logs=$(mktemp -d /tmp/certwiz-run-all.XXXXXX)
# tier TITLE VAR=VALUE...: one run of tests/integration/run.sh in this lane's sandbox.
tier() {
  local title=$1; shift
  stage "integration tests: $title"
  env "$@" tests/integration/run.sh "$top/build/ci/certwiz"
}
# The fleet tier first: the Puppet 7 tier after it shrinks the sandbox from 5 agents to 2,
# as an operator's sandbox/up --agents 2 would (the CA forgets the agents that went).
lane_a() {
  export CERTWIZ_SANDBOX_DIR=$state_a CERTWIZ_SANDBOX_NET=$net_a
  local rc=0
  tier "a fleet of 5 agents, pipelined in batch and walked in the wizard (Puppet 7)" \
    CERTWIZ_IT_AGENTS=5 CERTWIZ_IT_ONLY=fleet,wizard-fleet || rc=1
  tier "real puppetserver, agents and sshd in the sandbox (Puppet 7, every scenario)" || rc=1
  tier "Puppet 5 (legacy dialect: puppet cert, puppet master; AIO layout)" \
    CERTWIZ_IT_PUPPET=5 CERTWIZ_IT_ONLY=agent,agents,primary,oss-ca,ca-renew,expiry,crl-refresh || rc=1
  tier "Puppet 8 in the AIO layout (/etc/puppetlabs, /opt/puppetlabs/bin)" \
    CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=aio CERTWIZ_IT_ONLY=agent,primary,oss-ca,ca-renew || rc=1
  return $rc
}
# The other releases' procedures, an upgrade in progress (an 8 server, an 8 and a 7 agent; the
# two-agent scenario is the mixed run), and PuppetDB: the primary of the first tier also runs
# PuppetDB from Debian's package with PostgreSQL (sandbox/up --puppetdb), for oss-ca with
# puppetdb = true against a real PuppetDB (it checks all that the plain oss-ca does, and
# PuppetDB: the plain one is left out here). Then Puppet Enterprise's layout: PE 2025 on
# Puppet 8 (monolithic, its rollback, split on three hosts), PE 2018.1 on Puppet 5.
lane_b() {
  export CERTWIZ_SANDBOX_DIR=$state_b CERTWIZ_SANDBOX_NET=$net_b
  local rc=0
  tier "Puppet 8 server with a Puppet 8 and a Puppet 7 agent, PuppetDB on the primary" \
    CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_AGENT_PUPPET=8,7 CERTWIZ_IT_PUPPETDB=1 \
    CERTWIZ_IT_ONLY=agent,agents,primary,ca-renew,expiry,crl-refresh,oss-ca-puppetdb || rc=1
  tier "Puppet Enterprise's layout on Puppet 8 (real PuppetDB and PostgreSQL, console stand-in; monolithic and split on three hosts)" \
    CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=pe CERTWIZ_IT_ONLY=pe-monolithic,pe-rollback,pe-split || rc=1
  tier "PE 2018.1's layout on Puppet 5 (legacy dialect; PuppetDB and PostgreSQL from the Puppet 8 pe root)" \
    CERTWIZ_IT_PUPPET=5 CERTWIZ_IT_LAYOUT=pe CERTWIZ_IT_ONLY=pe-monolithic || rc=1
  return $rc
}
stage "integration tests in two lanes: A in $state_a (127.0.$net_a.0/24), B in $state_b (127.0.$net_b.0/24)"
echo "    each lane's whole output follows when both are done; meanwhile, their headings and failures:"
follow() { grep --line-buffered -E '^(====|---- |  FAIL|integration:)' | sed -u "s/^/    [$1] /"; }
{ lane_a >"$logs/a.log" 2>&1; echo $? >"$logs/a.rc"; } &
pid_a=$!
{ lane_b >"$logs/b.log" 2>&1; echo $? >"$logs/b.rc"; } &
pid_b=$!
# Each follower ends with its lane (tail --pid); wait waits for the lanes and the followers.
tail --pid="$pid_a" -n +1 -F "$logs/a.log" 2>/dev/null | follow A &
tail --pid="$pid_b" -n +1 -F "$logs/b.log" 2>/dev/null | follow B &
wait
rc_a=$(cat "$logs/a.rc" 2>/dev/null || echo 1) rc_b=$(cat "$logs/b.rc" 2>/dev/null || echo 1)
for l in a b; do printf '\n######## lane %s\n' "${l^^}"; cat "$logs/$l.log"; done
printf '\n######## summary\n'
for l in a b; do
  grep -E '^==== integration tests|^integration:|^  FAIL' "$logs/$l.log" | sed "s/^/[${l^^}] /"
done
rm -rf "$logs"
if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then
  printf '\nintegration tests failed (lane A: exit %s, lane B: exit %s) after %ss\n' "$rc_a" "$rc_b" "$SECONDS"
  exit 1
fi
printf '\nall tests passed in %ss\n' "$SECONDS"
