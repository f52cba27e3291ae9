#!/usr/bin/env bash
# bench/ca-side.sh N [RELEASE]: the CA's side of regenerating N agents, timed on a real Puppet
# Server of that release (default 8; issue 12's target: on Puppet 8, 200 agents under 30 s).
# Measures, never asserts. Brings the sandbox to that release (sandbox/up --puppet RELEASE; set
# CERTWIZ_SANDBOX_DIR and friends for a sandbox of your own) and leaves it reset to pristine.
#
# N certificate requests are made with OpenSSL inside the primary (one key for all: the CA
# does not care) and submitted as agents submit theirs (PUT /puppet-ca/v1/certificate_request/
# NAME). Then the CA's two calls of the agent procedure, in its shared calls of up to 100 names
# (core/schedule.h, SCHED_BATCH_CAP), exactly as certwiz runs them:
#   puppetserver ca sign --certname a,b,...    (Puppet Server 8.4 and later: one bulk request)
#   puppetserver ca clean --certname a,b,...   (puppetserver-ca-cli 2.7: a revoke and a delete
#                                               request per name, each revoke a new CRL)
# and, to compare, the requests signed again and cleaned through Puppet Server's bulk clean
# endpoint (PUT /puppet-ca/v1/clean, every name in one request, with the primary's own
# certificate, which carries pp_cli_auth).
set -euo pipefail
n=${1:?usage: bench/ca-side.sh N [RELEASE]}
rel=${2:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
sb=$top/sandbox
cap=100
on() { local host=$1; shift; "$sb/exec" "$host" -- "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "bench: Puppet $rel sandbox" >&2
"$sb/up" --puppet "$rel" >/dev/null 2>&1 || { echo "bench: sandbox/up --puppet $rel failed" >&2; exit 1; }
"$sb/reset" >/dev/null
eval "$("$sb/info" primary)"
[ "$SB_SERVER_RELEASE" -ge 6 ] || { echo "bench: Puppet $rel has no puppetserver ca" >&2; exit 2; }
cadir=$SB_CADIR_PRIMARY ssl=$SB_SSLDIR fq=puppet.sandbox.test
url=https://$fq:8140/puppet-ca/v1
work=/tmp/certwiz-bench-ca
trap 'on primary rm -rf "$work" >/dev/null 2>&1 || true; "$sb/reset" >/dev/null 2>&1 || true' EXIT

names=()
for i in $(seq 1 "$n"); do names+=("bench$i.sandbox.test"); done
# groups of up to $cap names, comma-joined, one per line
groups() { printf '%s\n' "${names[@]}" | xargs -n "$cap" | tr ' ' ','; }

submit() {
  on primary bash -s -- "$work" "$url" "$ssl/certs/ca.pem" "${names[@]}" <<'EOS'
set -e
work=$1 url=$2 ca=$3; shift 3
mkdir -p "$work"
[ -s "$work/key.pem" ] || openssl genrsa -out "$work/key.pem" 2048 2>/dev/null
for nm in "$@"; do
  [ -s "$work/$nm.csr" ] || openssl req -new -key "$work/key.pem" -subj "/CN=$nm" -out "$work/$nm.csr"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -X PUT -H 'Content-Type: text/plain' \
    --data-binary "@$work/$nm.csr" "$url/certificate_request/$nm")
  [ "$code" = 200 ] || { echo "submitting $nm: HTTP $code" >&2; exit 1; }
done
EOS
}
count() { on primary sh -c "ls '$cadir/signed' | grep -c '^bench' || true"; }
crl_entries() { on primary sh -c "openssl crl -noout -text -in '$cadir/ca_crl.pem' | grep -c 'Serial Number' || true"; }
timed() { # label command...
  local label=$1 t0 t1 rc=0
  shift
  t0=$(now)
  "$@" >/tmp/certwiz-bench-ca.log 2>&1 || rc=$?
  t1=$(now)
  printf '%-44s %6s s  exit %d\n' "$label" "$(secs "$t0" "$t1")" "$rc"
  [ "$rc" = 0 ] || tail -n 5 /tmp/certwiz-bench-ca.log | sed 's/^/    /'
}
sign_calls() { local g; while read -r g; do on primary puppetserver ca sign --certname "$g" || return; done < <(groups); }
clean_calls() { local g; while read -r g; do on primary puppetserver ca clean --certname "$g" || return; done < <(groups); }
bulk_clean() {
  local body
  body=$(printf '"%s",' "${names[@]}")
  on primary curl -s -f --cacert "$ssl/certs/ca.pem" --cert "$ssl/certs/$fq.pem" --key "$ssl/private_keys/$fq.pem" \
    -X PUT -H 'Content-Type: application/json' --data "{\"certnames\":[${body%,}]}" "$url/clean"
}

echo "bench: N=$n, Puppet Server $(on primary puppetserver --version 2>/dev/null | sed -n 1p || echo "$rel"), $(nproc) cores ($(date -u +%FT%TZ))"
echo "  (not timed: $n requests made and submitted)"
submit
timed "puppetserver ca sign, $(groups | wc -l) call(s) of <= $cap" sign_calls
echo "  signed: $(count) of $n"
timed "puppetserver ca clean, $(groups | wc -l) call(s) of <= $cap" clean_calls
echo "  signed left: $(count); CRL entries: $(crl_entries)"
submit
timed "puppetserver ca sign again" sign_calls
timed "bulk clean endpoint, 1 request" bulk_clean
echo "  signed left: $(count); CRL entries: $(crl_entries)"
