#!/bin/sh
# tests/cli/ca-renew.sh: the ca-renew procedure run end to end in batch mode on this host, on a
# two-tier CA made here with the openssl CLI (root and intermediate five days from their end,
# ca_crt.pem the intermediate then the root), with stand-in services (tests/screen/bin/fake-service)
# and openssl s_server standing in for the server on 127.0.0.1:8140. Checked with OpenSSL: the
# same public keys and subjects, a new serial, an end fifteen years away, the old leaf
# verifying under the new bundle after the old end (and not under the old one), ssldir's
# ca.pem the same bytes, owner and mode kept, the journal signed off; a bad ca_renew_days is
# refused before anything runs. Run by `make check` with CERTWIZ and SRCDIR set.
set -u
: "${CERTWIZ:?}" "${SRCDIR:?}"
tmp=$(mktemp -d /tmp/certwiz-carenew.XXXXXX)
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
export HOME="$tmp/home"
mkdir -p "$HOME" "$tmp/ca/signed" "$tmp/ssl/certs" "$tmp/ssl/private_keys" "$tmp/conf" "$tmp/state" \
  "$tmp/data/config/profiles" "$tmp/data/config/procedures"
cp "$SRCDIR/tests/screen/data/config/profiles/screen-test.cfg" "$tmp/data/config/profiles/"
cp "$SRCDIR/config/procedures/ca-renew.cfg" "$tmp/data/config/procedures/"
ca=$tmp/ca
n=puppet.example.com
printf '[main]\ncertname = %s\n' "$n" >"$tmp/conf/puppet.conf"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >"$tmp/ca.ext"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ndefault_md = sha256\ndefault_crl_days = 30\n' "$tmp" >"$tmp/ca.cnf"
: >"$tmp/index.txt"
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/root_key.pem" -days 5 \
    -subj "/CN=Puppet Root CA: 5e1f" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$tmp/root.pem" &&
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca/ca_key.pem" \
    -subj "/CN=Puppet CA: $n" | openssl x509 -req -CA "$tmp/root.pem" -CAkey "$ca/root_key.pem" -days 5 \
    -set_serial 2 -extfile "$tmp/ca.ext" -out "$tmp/int.pem" &&
  cat "$tmp/int.pem" "$tmp/root.pem" >"$ca/ca_crt.pem" &&
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ssl/private_keys/$n.pem" \
    -subj "/CN=$n" | openssl x509 -req -CA "$tmp/int.pem" -CAkey "$ca/ca_key.pem" -days 365 -set_serial 3 \
    -out "$ca/signed/$n.pem" &&
  cp "$ca/signed/$n.pem" "$tmp/ssl/certs/" && cp "$ca/ca_crt.pem" "$tmp/ssl/certs/ca.pem" &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$ca/ca_key.pem" -cert "$tmp/int.pem" -gencrl -out "$tmp/int.crl" &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$ca/root_key.pem" -cert "$tmp/root.pem" -gencrl -out "$tmp/root.crl" &&
  cat "$tmp/int.crl" "$tmp/root.crl" >"$ca/ca_crl.pem"
} >/dev/null 2>&1 || { echo "FAIL: making the CA with openssl"; exit 1; }
chmod 0640 "$ca/ca_crt.pem"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$ca/ca_crt.pem"
owner=$(stat -c %u:%g:%a "$ca/ca_crt.pem")
cp "$ca/ca_crt.pem" "$tmp/old-bundle.pem"
pubkeys() { openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs | awk '/BEGIN/{n++} {print > "'"$tmp"'/c" n ".pem"}' &&
  for c in "$tmp"/c1.pem "$tmp"/c2.pem; do openssl x509 -noout -pubkey -subject -in "$c"; done; }
old_keys=$(pubkeys "$ca/ca_crt.pem")
old_end=$(date -d "$(openssl x509 -noout -enddate -in "$tmp/int.pem" | sed 's/.*=//')" +%s)

# The server stand-in: serves the primary's certificate on 127.0.0.1:8140.
openssl s_server -quiet -accept 127.0.0.1:8140 -cert "$tmp/ssl/certs/$n.pem" -key "$tmp/ssl/private_keys/$n.pem" \
  </dev/null >/dev/null 2>&1 &
server=$!

. "$SRCDIR/tests/cli/ca-site.sh"
: >"$tmp/state/puppetserver.running"
run() {
  (cd "$tmp" && "$CERTWIZ" "$1" --answers "$2" --datadir "$tmp/data" --profile screen-test -c "$n" \
    --config /dev/null --journal-dir "$tmp/runs" --backup-dir "$tmp/backups")
}
ca_site ca-renew 'ca_renew_days = 0;' >"$tmp/bad.cfg"
run plan "$tmp/bad.cfg" >"$tmp/bad.out" 2>&1 && bad "a plan with ca_renew_days = 0 was accepted"
grep -q "the renewed CA lives 1 to 36500 days (ca_renew_days" "$tmp/bad.out" ||
  bad "the refusal does not name ca_renew_days: $(cat "$tmp/bad.out")"
ca_site ca-renew >"$tmp/site.cfg"
run run "$tmp/site.cfg" >"$tmp/run.out" 2>&1
rc=$?
[ $rc = 0 ] || bad "certwiz run exited $rc: $(tail -25 "$tmp/run.out")"
grep -q "certwiz itself: ca-renew $ca 5475" "$tmp/run.out" || bad "the action was not shown before it ran"
cmp -s "$ca/ca_crt.pem" "$tmp/old-bundle.pem" && bad "ca_crt.pem did not change"
[ "$(pubkeys "$ca/ca_crt.pem")" = "$old_keys" ] || bad "the public keys or subjects changed"
[ "$(openssl x509 -noout -serial -in "$ca/ca_crt.pem")" != "serial=02" ] || bad "the intermediate kept its serial"
end=$(date -d "$(openssl x509 -noout -enddate -in "$ca/ca_crt.pem" | sed 's/.*=//')" +%s)
[ $((end - $(date +%s))) -gt $((5474 * 86400)) ] && [ $((end - $(date +%s))) -le $((5475 * 86400)) ] ||
  bad "the new end is not 5475 days away: $end"
after=$((old_end + 2 * 86400))
openssl verify -attime "$after" -CAfile "$ca/ca_crt.pem" "$ca/signed/$n.pem" >/dev/null 2>&1 ||
  bad "the old leaf does not verify under the new bundle after the old CA's end"
openssl verify -attime "$after" -CAfile "$tmp/old-bundle.pem" "$ca/signed/$n.pem" >/dev/null 2>&1 &&
  bad "the old bundle verifies after its own end (the check above proves nothing)"
openssl verify -crl_check_all -CRLfile "$ca/ca_crl.pem" -CAfile "$ca/ca_crt.pem" "$ca/signed/$n.pem" >/dev/null 2>&1 ||
  bad "the leaf does not verify under the new bundle with the old CRLs"
cmp -s "$ca/ca_crt.pem" "$tmp/ssl/certs/ca.pem" || bad "ssldir/certs/ca.pem is not the new bundle"
[ "$(stat -c %u:%g:%a "$ca/ca_crt.pem")" = "$owner" ] || bad "ca_crt.pem's owner or mode changed"
grep -q '"event":"signoff".*"step":"ca-reissue"' "$tmp"/runs/*/journal.jsonl 2>/dev/null ||
  bad "the journal has no sign-off of ca-reissue"
grep -q "| $ca/signed: 1 certificates verify under the new CA bundle now, 1 of them also at" "$tmp/run.out" ||
  bad "the step did not report the signed certificates checked: $(grep -i signed "$tmp/run.out" | head -5)"
grep -q "ok verify: $ca/signed: 1 certificates verify under the new CA bundle now, 1 of them also at .* 0 failed on $n" \
  "$tmp/run.out" || bad "the signed check was not verified: $(grep -i signed "$tmp/run.out" | head -5)"
grep -q "ok verify: $ca/ca_crt.pem on $n: .* the same public key as before the run" "$tmp/run.out" ||
  bad "the same-key check was not verified"
grep -q "serves $n" "$tmp/run.out" || bad "the served certificate was not checked"
[ -e "$tmp/state/puppetserver.running" ] || bad "puppetserver was not started again"
grep -q "PRIVATE KEY" "$tmp/run.out" "$tmp"/runs/*/* 2>/dev/null && bad "a private key reached the output or the run directory"
# A crash just after the re-issue (the journal ends at its step-start): `certwiz resume` finds the
# step done by its verification — the public key and the old end come from the journal, not
# from the file that has changed since — and does not re-issue the CA again.
mkdir -p "$tmp/crash"
head -n "$(grep -n '"event":"step-start".*"step":"ca-reissue"' "$tmp"/runs/*/journal.jsonl | cut -d: -f1)" \
  "$tmp"/runs/*/journal.jsonl >"$tmp/crash/journal.jsonl"
cp "$ca/ca_crt.pem" "$tmp/crash/renewed.pem"
(cd "$tmp" && "$CERTWIZ" resume "$tmp/crash/journal.jsonl" --answers "$tmp/site.cfg" --datadir "$tmp/data" \
  --profile screen-test -c "$n" --config /dev/null --journal-dir "$tmp/runs" --backup-dir "$tmp/backups") \
  >"$tmp/resume.out" 2>&1
rc=$?
[ $rc = 0 ] || bad "certwiz resume exited $rc: $(tail -15 "$tmp/resume.out")"
grep -q "(ca-reissue) was running when the run stopped: its verification holds, so it is done" "$tmp/resume.out" ||
  bad "the resume did not find ca-reissue done: $(grep -i reissue "$tmp/resume.out" | head -3)"
cmp -s "$ca/ca_crt.pem" "$tmp/crash/renewed.pem" || bad "the resume re-issued the CA again"
[ $fails = 0 ] && echo "ok: ca-renew re-issued a two-tier CA in batch mode, and a resume after a crash found it done"
[ $fails = 0 ]
