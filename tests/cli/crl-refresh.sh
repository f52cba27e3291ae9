#!/bin/sh
# tests/cli/crl-refresh.sh: the crl-refresh procedure run end to end in batch mode on this host,
# on a CA made here with the openssl CLI (its CRL 1 day from its next update, one revoked
# entry, CRL number 4), with stand-in services (tests/screen/bin/fake-service). Checked with
# OpenSSL: the same revoked serial, the number one more, the next update five years away, a
# valid signature, ssldir/crl.pem the same bytes, the owner kept; the journal signed off.
# Run by `make check` with CERTWIZ and SRCDIR set.
set -u
: "${CERTWIZ:?}" "${SRCDIR:?}"
tmp=$(mktemp -d /tmp/certwiz-crl.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
export HOME="$tmp/home"
mkdir -p "$HOME" "$tmp/ca/signed" "$tmp/ssl/certs" "$tmp/ssl/private_keys" "$tmp/conf" "$tmp/state" \
  "$tmp/db" "$tmp/data/config/profiles" "$tmp/data/config/procedures"
cp "$SRCDIR/tests/screen/data/config/profiles/screen-test.cfg" "$tmp/data/config/profiles/"
cp "$SRCDIR/config/procedures/crl-refresh.cfg" "$tmp/data/config/procedures/"
ca=$tmp/ca
printf '[main]\ncertname = puppet.example.com\n' >"$tmp/conf/puppet.conf"
: >"$tmp/db/index.txt"
echo 04 >"$tmp/db/crlnumber"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n' \
  "$tmp/db" "$tmp/db" >"$tmp/ca.cnf"
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/ca_key.pem" -days 3650 \
    -subj "/CN=Puppet CA: puppet.example.com" -out "$ca/ca_crt.pem" &&
  for n in puppet.example.com gone.example.com; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ssl/private_keys/$n.pem" \
      -subj "/CN=$n" | openssl x509 -req -CA "$ca/ca_crt.pem" -CAkey "$ca/ca_key.pem" -days 365 \
      -set_serial "0x$(printf %s "$n" | cksum | cut -c1-6)" -out "$ca/signed/$n.pem" || exit 1
  done &&
  cp "$ca/signed/puppet.example.com.pem" "$tmp/ssl/certs/" &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$ca/ca_key.pem" -cert "$ca/ca_crt.pem" -revoke "$ca/signed/gone.example.com.pem" &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$ca/ca_key.pem" -cert "$ca/ca_crt.pem" -gencrl -out "$ca/ca_crl.pem" &&
  cp "$ca/ca_crl.pem" "$tmp/ssl/crl.pem"
} >/dev/null 2>&1 || { echo "FAIL: making the CA with openssl"; exit 1; }
[ "$(id -u)" = 0 ] && chown 65534:65534 "$ca/ca_crl.pem"
owner=$(stat -c %u:%g "$ca/ca_crl.pem")
crl_text() { openssl crl -noout -text -in "$1"; }
old_serials=$(crl_text "$ca/ca_crl.pem" | sed -n 's/.*Serial Number: *//p')

. "$SRCDIR/tests/cli/ca-site.sh"
ca_site crl-refresh >"$tmp/site.cfg"
: >"$tmp/state/puppetserver.running"
(cd "$tmp" && "$CERTWIZ" run --answers "$tmp/site.cfg" --datadir "$tmp/data" --profile screen-test -c puppet.example.com \
  --config /dev/null --journal-dir "$tmp/runs" --backup-dir "$tmp/backups") >"$tmp/run.out" 2>&1
rc=$?
[ $rc = 0 ] || bad "certwiz run exited $rc: $(tail -25 "$tmp/run.out")"
grep -q "certwiz itself: crl-refresh $ca 1825" "$tmp/run.out" || bad "the action was not shown before it ran"
grep -q "ca_crl.pem: CRL from Puppet CA: puppet.example.com re-signed: 1 revoked entries kept, number 4 -> 5" \
  "$tmp/run.out" || bad "the step did not report the re-signed CRL: $(grep -i crl "$tmp/run.out" | head -5)"
[ "$(crl_text "$ca/ca_crl.pem" | sed -n 's/.*Serial Number: *//p')" = "$old_serials" ] ||
  bad "the revoked serials changed"
[ "$(crl_text "$ca/ca_crl.pem" | sed -n '/CRL Number/{n;s/ *//p;}' | head -n 1)" = 5 ] || bad "the CRL number is not 5"
next=$(date -d "$(openssl crl -noout -nextupdate -in "$ca/ca_crl.pem" | sed 's/.*=//')" +%s)
[ "$next" -gt $(($(date +%s) + 1820 * 86400)) ] || bad "the next update is not five years away: $next"
openssl crl -noout -CAfile "$ca/ca_crt.pem" -in "$ca/ca_crl.pem" 2>/dev/null || bad "the new CRL does not verify"
cmp -s "$ca/ca_crl.pem" "$tmp/ssl/crl.pem" || bad "ssldir/crl.pem is not the new CRL"
[ "$(stat -c %u:%g "$ca/ca_crl.pem")" = "$owner" ] || bad "the CRL's owner changed"
grep -q '"event":"signoff".*"step":"crl-resign"' "$tmp"/runs/*/journal.jsonl 2>/dev/null ||
  bad "the journal has no sign-off of crl-resign"
[ -e "$tmp/state/puppetserver.running" ] || bad "puppetserver was not started again"
# the last line: what the run cost this host, certwiz apart from the commands it ran
tail -n 1 "$tmp/run.out" | grep -Eq '^certwiz: its own CPU [0-9]+\.[0-9]{2} s, peak memory [1-9][0-9]*\.[0-9] MiB; the commands it ran on this host: [0-9]+\.[0-9]{2} s CPU$' ||
  bad "the run did not end with its resource line: $(tail -n 1 "$tmp/run.out")"
grep -q "PRIVATE KEY" "$tmp/run.out" "$tmp"/runs/*/* 2>/dev/null && bad "a private key reached the output or the run directory"
[ $fails = 0 ] && echo "ok: crl-refresh re-signed the CRL in batch mode"
[ $fails = 0 ]
