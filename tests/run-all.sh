#!/usr/bin/env bash
# tests/run-all.sh: the whole test suite, from a clean clone on Debian 12, as root:
# dependencies, a -Werror build, unit + golden + CLI + screen tests, the unit tests again
# under ASan/UBSan, the Debian package (built, linted, installed into a scratch root and run),
# then the integration tests against a real Puppet sandbox: Puppet 7 (every scenario), then
# Puppet 5 and Puppet 8 (the procedures, and mixed agent releases).
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
else
  stage "integration tests: real puppetserver, agents and sshd in the sandbox (Puppet 7)"
  tests/integration/run.sh "$top/build/ci/certwiz"
  stage "integration tests: a fleet of 5 agents, pipelined in batch and walked in the wizard (Puppet 7)"
  CERTWIZ_IT_AGENTS=5 CERTWIZ_IT_ONLY=fleet,wizard-fleet tests/integration/run.sh "$top/build/ci/certwiz"
  # The other releases (their roots are built once under the sandbox's state directory):
  # the procedures end to end on each, and an upgrade in progress (an 8 server, an 8 and a
  # 7 agent; the two-agent scenario is the mixed run).
  stage "integration tests: Puppet 5 (legacy dialect: puppet cert, puppet master; AIO layout)"
  CERTWIZ_IT_PUPPET=5 CERTWIZ_IT_ONLY=agent,agents,primary,oss-ca,ca-renew,expiry,crl-refresh tests/integration/run.sh "$top/build/ci/certwiz"
  # The primary of this tier also runs PuppetDB from Debian's package with PostgreSQL
  # (sandbox/up --puppetdb), for oss-ca with puppetdb = true against a real PuppetDB (it
  # checks all that the plain oss-ca scenario does, and PuppetDB: that one is left out here).
  stage "integration tests: Puppet 8 server with a Puppet 8 and a Puppet 7 agent, PuppetDB on the primary"
  CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_AGENT_PUPPET=8,7 CERTWIZ_IT_PUPPETDB=1 \
    CERTWIZ_IT_ONLY=agent,agents,primary,ca-renew,expiry,crl-refresh,oss-ca-puppetdb \
    tests/integration/run.sh "$top/build/ci/certwiz"
  stage "integration tests: Puppet 8 in the AIO layout (/etc/puppetlabs, /opt/puppetlabs/bin)"
  CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=aio CERTWIZ_IT_ONLY=agent,primary,oss-ca,ca-renew \
    tests/integration/run.sh "$top/build/ci/certwiz"
  stage "integration tests: Puppet Enterprise's layout on Puppet 8 (real PuppetDB and PostgreSQL, console stand-in; monolithic and split on three hosts)"
  CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=pe CERTWIZ_IT_ONLY=pe-monolithic,pe-rollback,pe-split \
    tests/integration/run.sh "$top/build/ci/certwiz"
fi
printf '\nall tests passed in %ss\n' "$SECONDS"
