# tests/integration/expiry.sh: expiry against the real sandbox CA (issue 13). Sourced by
# tests/integration/run.sh, which gives it its helpers (on, check, ok, bad, log, want,
# certwiz_run, agent_run, fp, $work, $sb, $certwiz, $SSL): add, before its last lines,
#   . "$top/tests/integration/expiry.sh"
# and run it alone with CERTWIZ_IT_ONLY=expiry,crl-refresh,ca-renew tests/integration/run.sh PATH/TO/certwiz.
#
# agent2's certificate is re-issued by the CA's own key with 5 days to live (its own key, a
# new serial, recorded in inventory.txt). Then: `certwiz inventory` must find it, with the
# serial, dates and counts OpenSSL reads; `certwiz check` must name the fix; that fix is run
# word for word (inventory --write-agents, then the agent procedure with that agents file);
# afterwards agent2 has a certificate valid for years and completes a catalog run, and the
# inventory has nothing left to do.
if want expiry; then
  log "expiry: a short-lived agent certificate found by inventory and renewed from check's own fix"
  "$sb/reset" >/dev/null
  CADIR=$SB_CADIR_PRIMARY
  A2=agent2.sandbox.test
  # A request from agent2's own key; the CA signs it with OpenSSL for 5 days, serial 0x7E57.
  on agent2 openssl req -new -key "$SSL/private_keys/$A2.pem" -subj "/CN=$A2" \
    -addext "subjectAltName=DNS:$A2" -out "$work/a2.csr"
  on primary openssl x509 -req -in "$work/a2.csr" -CA "$CADIR/ca_crt.pem" -CAkey "$CADIR/ca_key.pem" \
    -days 5 -set_serial 0x7E57 -copy_extensions copy -out "$work/a2-short.pem" 2>/dev/null
  on primary cp "$work/a2-short.pem" "$CADIR/signed/$A2.pem"
  on agent2 cp "$work/a2-short.pem" "$SSL/certs/$A2.pem"
  nb=$(date -u +%Y-%m-%dT%H:%M:%SUTC)
  na=$(date -u -d @$(($(date +%s) + 5 * 86400)) +%Y-%m-%dT%H:%M:%SUTC)
  on primary sh -c "echo '0x7E57 $nb $na /CN=$A2' >> $CADIR/inventory.txt"
  check "agent2 runs with its short-lived certificate" agent_run agent2
  "$top/scripts/sandbox-config" >"$work/site.cfg"

  rc=0
  on primary "$certwiz" inventory --config "$work/site.cfg" >"$work/inv.log" 2>&1 || rc=$?
  check "certwiz inventory exits 1 (something expires within 30 days)" [ "$rc" = 1 ] ||
    sed 's/^/      | /' "$work/inv.log"
  check "inventory lists agent2 as expiring, 4 days left, serial 7E57" \
    grep -Eq "^expiring +4  .*  $A2 +7E57 " "$work/inv.log"
  nsigned=$(on primary sh -c "ls $CADIR/signed | grep -c '\.pem\$'")
  check "inventory counts the $nsigned files in signed/" grep -q "^signed  *$nsigned: " "$work/inv.log"
  nrev=$(on primary openssl crl -noout -text -in "$CADIR/ca_crl.pem" | grep -c 'Serial Number:' || true)
  on primary "$certwiz" inventory --json --config "$work/site.cfg" >"$work/inv.json" 2>/dev/null || true
  check "the first CRL's $nrev revoked entries match (openssl crl reads the first)" python3 -c "
import json, sys
d = json.load(open('$work/inv.json'))
sys.exit(d['crls'][0]['revoked'] != $nrev)"
  a2_end=$(date -u -d "$(openssl x509 -noout -enddate -in "$work/a2-short.pem" | sed 's/.*=//')" +%Y-%m-%dT%H:%M:%SZ)
  check "the JSON gives agent2 OpenSSL's notAfter ($a2_end)" python3 -c "
import json, sys
d = json.load(open('$work/inv.json'))
sys.exit(not any(c['certname'] == '$A2' and c['not_after'] == '$a2_end' and c['state'] == 'expiring'
                 for c in d['certificates']))"

  rc=0
  on primary "$certwiz" check --config "$work/site.cfg" >"$work/check.log" 2>&1 || rc=$?
  check "certwiz check warns or fails (exit $rc)" [ "$rc" -ge 1 ]
  fix=$(sed -n 's/.*fix: 1 agent certificate(s) expire within 30 days: certwiz \(inventory .*\), then certwiz \(plan .*\)$/\1|\2/p' \
    "$work/check.log")
  check "check names the fix for the expiring agent" [ -n "$fix" ] || sed 's/^/      | /' "$work/check.log"
  inv_args=${fix%%|*} plan_args=${fix#*|}
  # The fix, word for word, run where the agents file is to be written (split into words).
  # shellcheck disable=SC2086
  (cd "$work" && on primary "$certwiz" $inv_args --config "$work/site.cfg" >/dev/null 2>&1) || true
  check "inventory --write-agents wrote exactly agent2" \
    sh -c "[ \"\$(grep -v '^#' '$work/expiring-agents.txt')\" = '$A2' ]"
  rc=0
  # shellcheck disable=SC2086
  (cd "$work" && on primary "$certwiz" $plan_args --config "$work/site.cfg" >"$work/plan.log" 2>&1) || rc=$?
  clean_cmd="ca clean --certname $A2"; [ "$legacy" = 0 ] || clean_cmd="cert clean $A2"
  check "the suggested plan is the agent procedure for agent2" \
    sh -c "[ $rc = 0 ] && grep -q '$clean_cmd' '$work/plan.log'"
  printf 'procedure = "agent";\nagents_file = "%s";\noperator = "it";\nconfirm_destructive = true;\n' \
    "$work/expiring-agents.txt" >"$work/expiry.cfg"
  rc=$(certwiz_run "$work/expiry.cfg")
  check "certwiz run of the agent procedure exits 0" [ "$rc" = 0 ] || show_run
  check "agent2's new certificate lives for years" \
    on agent2 openssl x509 -noout -checkend $((365 * 86400)) -in "$SSL/certs/$A2.pem"
  check "the short-lived serial 7E57 is revoked" \
    on primary sh -c "openssl crl -noout -text -in $CADIR/ca_crl.pem | grep -qi 'Serial Number: *0*7E57\$'"
  check "agent2 completes puppet agent -t" agent_run agent2
  rc=0
  on primary "$certwiz" inventory --within 30 --config "$work/site.cfg" >"$work/inv2.log" 2>&1 || rc=$?
  check "certwiz inventory --within 30 now exits 0" [ "$rc" = 0 ] || sed 's/^/      | /' "$work/inv2.log"
  check "it says nothing expires within 30 days" grep -q "No signed certificate expires within 30 days" "$work/inv2.log"
fi

# crl-refresh: check names it (with --within beyond the CRL's five years); the procedure
# re-signs the CRL with the CA's own key; OpenSSL then sees the same revoked serials, the CRL
# number one higher, a next update about five years away and a valid signature; every host
# has the CA's bytes; agents complete a catalog run.
if want crl-refresh; then
  log "crl-refresh: the CRL re-signed with the CA's key and given to every host"
  "$sb/reset" >/dev/null
  CADIR=$SB_CADIR_PRIMARY
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  # Something revoked first, so there are entries to keep (a certificate no host uses).
  if [ "$legacy" = 1 ]; then
    on primary puppet cert generate spare.sandbox.test >/dev/null 2>&1 || true
    on primary puppet cert revoke spare.sandbox.test >/dev/null 2>&1 || true
  else
    on primary puppetserver ca generate --certname spare.sandbox.test >/dev/null 2>&1 || true
    on primary puppetserver ca revoke --certname spare.sandbox.test >/dev/null 2>&1 || true
  fi
  crl_text() { on primary openssl crl -noout -text -in "$CADIR/ca_crl.pem"; }
  old_serials=$(crl_text | sed -n 's/.*Serial Number: *//p' | sort)
  old_number=$(crl_text | sed -n '/CRL Number/{n;s/ *//p}' | sed -n 1p)
  rc=0
  on primary "$certwiz" check --within 4000 --config "$work/site.cfg" >"$work/check-crl.log" 2>&1 || rc=$?
  check "check names the inventory and crl-refresh commands for the CRL" grep -q \
    "fix: certwiz inventory --within 36500 --write-agents all-agents.txt (every agent), then certwiz plan --procedure crl-refresh --agents-file all-agents.txt" \
    "$work/check-crl.log"
  # Its first command, word for word, in the run directory.
  (cd "$work" && on primary "$certwiz" inventory --within 36500 --write-agents all-agents.txt --config "$work/site.cfg" \
    >/dev/null 2>&1) || true
  check "all-agents.txt names agent1 and agent2 (not the revoked spare, not the primary)" \
    sh -c "[ \"\$(grep -v '^#' '$work/all-agents.txt' | sort | tr '\n' ' ')\" = 'agent1.sandbox.test agent2.sandbox.test ' ]"
  printf 'procedure = "crl-refresh";\nagents_file = "%s";\noperator = "it";\nconfirm_destructive = true;\n' \
    "$work/all-agents.txt" >"$work/crl.cfg"
  rc=$(certwiz_run "$work/crl.cfg")
  check "certwiz run of crl-refresh exits 0" [ "$rc" = 0 ] || show_run
  check "the CRL has revoked entries to keep" [ -n "$old_serials" ]
  check "the same revoked serials" [ "$(crl_text | sed -n 's/.*Serial Number: *//p' | sort)" = "$old_serials" ]
  new_number=$(crl_text | sed -n '/CRL Number/{n;s/ *//p}' | sed -n 1p)
  check "the CRL number went from $old_number to $new_number (one more)" [ "$new_number" = $((old_number + 1)) ]
  check "the next update is more than four years away" \
    sh -c "[ \$(date -d \"\$('$sb/exec' primary -- openssl crl -noout -nextupdate -in $CADIR/ca_crl.pem | sed 's/.*=//')\" +%s) -gt $(($(date +%s) + 4 * 365 * 86400)) ]"
  check "the CRL verifies against the CA" on primary openssl crl -noout -CAfile "$CADIR/ca_crt.pem" -in "$CADIR/ca_crl.pem"
  ca_crl=$(on primary sha256sum "$CADIR/ca_crl.pem" | cut -c1-64)
  check "the primary's ssldir/crl.pem is the CA's" [ "$(on primary sha256sum "$SSL/crl.pem" | cut -c1-64)" = "$ca_crl" ]
  for a in agent1 agent2; do
    check "$a's crl.pem is the CA's" [ "$(on $a sha256sum "$SSL/crl.pem" | cut -c1-64)" = "$ca_crl" ]
    check "$a completes puppet agent -t" agent_run $a
  done
fi

# ca-renew: the sandbox CA is made short-lived for real (its certificates re-issued with
# OpenSSL by its own keys for 5 days: the self-signed CA of Puppet 5, the root and intermediate
# of Puppet 6+) and given to every host; check must name ca-renew; the fix is run word for
# word. Then OpenSSL, not certwiz, checks: the same public keys and subjects, an end about 15
# years away, every signed certificate verifying under the new bundle at a time after the old
# CA's end (and not under the old one), every host's ca.pem the CA's bytes, the server serving
# its certificate and the new CA, agents running without a new certificate.
if want ca-renew; then
  log "ca-renew: a CA 5 days from its end renewed with its own key"
  "$sb/reset" >/dev/null
  CADIR=$SB_CADIR_PRIMARY
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  # The CA's certificates one a file (c1.pem, c2.pem ...), in the order of ca_crt.pem.
  split_bundle() { awk -v d="$2" '/BEGIN CERT/{n++} n{print > (d "/c" n ".pem")}' "$1"; }
  on primary cp "$CADIR/ca_crt.pem" "$work/ca-orig.pem"
  rm -f "$work"/c[0-9].pem; split_bundle "$work/ca-orig.pem" "$work"
  ncerts=$(ls "$work"/c[0-9].pem | wc -l)
  if [ "$ncerts" = 1 ]; then
    on primary openssl x509 -in "$work/c1.pem" -key "$CADIR/ca_key.pem" -days 5 -out "$work/short.pem"
  else
    # ca_crt.pem: the intermediate, then the root; root_key.pem signs both. (openssl x509 -CA
    # takes only a self-signed input: the intermediate goes through a request from its own key,
    # with Puppet Server's CA extensions.)
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' \
      >"$work/ca.ext"
    on primary openssl x509 -in "$work/c2.pem" -key "$CADIR/root_key.pem" -days 5 -out "$work/root5.pem"
    on primary openssl x509 -x509toreq -in "$work/c1.pem" -key "$CADIR/ca_key.pem" -out "$work/int.csr"
    # Its serial stays: Puppet Server's agent certificates name it (authorityKeyIdentifier serial:02).
    on primary openssl x509 -req -in "$work/int.csr" -CA "$work/root5.pem" -CAkey "$CADIR/root_key.pem" -days 5 \
      -set_serial "0x$(openssl x509 -noout -serial -in "$work/c1.pem" | sed 's/.*=//')" \
      -extfile "$work/ca.ext" -out "$work/int5.pem" 2>/dev/null
    cat "$work/int5.pem" "$work/root5.pem" >"$work/short.pem"
  fi
  check "the CA bundle ($ncerts certificate(s)) was re-issued for 5 days" \
    sh -c "! openssl x509 -noout -checkend $((6 * 86400)) -in '$work/short.pem' >/dev/null"
  for h in primary agent1 agent2; do on $h cp "$work/short.pem" "$SSL/certs/ca.pem"; done
  on primary cp "$work/short.pem" "$CADIR/ca_crt.pem"
  # The server serves the short-lived CA from its restart on (a busy machine can take more than
  # the service's default two minutes to start a JVM).
  on primary "$sb/service/puppetserver" stop >/dev/null 2>&1 || true
  check "the server restarts with the short-lived CA" \
    on primary env PUPPETSERVER_START_TIMEOUT=400 "$sb/service/puppetserver" start
  check "agent1 runs under the short-lived CA" agent_run agent1
  old_end=$(date -d "$(openssl x509 -noout -enddate -in "$work/short.pem" | sed 's/.*=//')" +%s)
  pubkeys() { rm -f "$work"/p[0-9].pem; awk -v d="$work" '/BEGIN CERT/{n++} n{print > (d "/p" n ".pem")}' "$1"
    for c in "$work"/p[0-9].pem; do openssl x509 -noout -subject -pubkey -in "$c"; done; }
  old_keys=$(pubkeys "$work/short.pem")
  declare -A own_fp
  for a in agent1 agent2; do own_fp[$a]=$(fp $a "$(cert_of $a)"); done
  on primary sh -c "cat $CADIR/signed/*.pem" >"$work/signed-before.pem"

  rc=0
  on primary "$certwiz" inventory --config "$work/site.cfg" >"$work/inv-ca.log" 2>&1 || rc=$?
  check "certwiz inventory exits 1 (the CA expires within 30 days)" [ "$rc" = 1 ] || sed 's/^/      | /' "$work/inv-ca.log"
  rc=0
  on primary "$certwiz" check --config "$work/site.cfg" >"$work/check-ca.log" 2>&1 || rc=$?
  check "certwiz check warns (exit $rc)" [ "$rc" -ge 1 ]
  check "check names ca-renew for the CA certificate" grep -q \
    "fix: renew it with its own key: certwiz inventory --within 36500 --write-agents all-agents.txt (every agent), then certwiz plan --procedure ca-renew --agents-file all-agents.txt" \
    "$work/check-ca.log" || sed 's/^/      | /' "$work/check-ca.log"
  rm -f "$work/all-agents.txt"
  (cd "$work" && on primary "$certwiz" inventory --within 36500 --write-agents all-agents.txt --config "$work/site.cfg" \
    >/dev/null 2>&1) || true
  rc=0
  (cd "$work" && on primary "$certwiz" plan --procedure ca-renew --agents-file all-agents.txt --config "$work/site.cfg" \
    >"$work/plan-ca.log" 2>&1) || rc=$?
  check "the suggested plan is ca-renew for agent1 and agent2, 5475 days" \
    sh -c "[ $rc = 0 ] && grep -q 'certwiz itself: re-issue' '$work/plan-ca.log' && grep -q 'valid for 5475 days' '$work/plan-ca.log' &&
           grep -q 'Run Puppet once on agent2.sandbox.test' '$work/plan-ca.log'"
  printf 'procedure = "ca-renew";\nagents_file = "%s";\noperator = "it";\nconfirm_destructive = true;\n' \
    "$work/all-agents.txt" >"$work/ca-renew.cfg"
  rc=$(certwiz_run "$work/ca-renew.cfg")
  check "certwiz run of ca-renew exits 0" [ "$rc" = 0 ] || show_run
  on primary cp "$CADIR/ca_crt.pem" "$work/new-ca.pem"
  check "ca_crt.pem changed" sh -c "! cmp -s '$work/new-ca.pem' '$work/short.pem'"
  check "the same subjects and public keys, in the same order" [ "$(pubkeys "$work/new-ca.pem")" = "$old_keys" ]
  check "the CA's end is about 15 years away" \
    sh -c "end=\$(date -d \"\$(openssl x509 -noout -enddate -in '$work/new-ca.pem' | sed 's/.*=//')\" +%s);
           [ \$end -gt $(($(date +%s) + 5474 * 86400)) ] && [ \$end -le $(($(date +%s) + 5476 * 86400)) ]"
  # The self-signed one (the root of a two-tier CA) gets a new serial; an intermediate keeps the
  # one its agents' certificates name.
  last_serial() { rm -f "$work"/l[0-9].pem; awk -v d="$work" '/BEGIN CERT/{n++} n{print > (d "/l" n ".pem")}' "$1"
    openssl x509 -noout -serial -in "$(ls "$work"/l[0-9].pem | tail -n 1)"; }
  check "the self-signed CA certificate has a new serial" [ "$(last_serial "$work/new-ca.pem")" != "$(last_serial "$work/short.pem")" ]
  if [ "$ncerts" = 2 ]; then
    check "the intermediate keeps the serial the agents' certificates name" \
      [ "$(openssl x509 -noout -serial -in "$work/new-ca.pem")" = "$(openssl x509 -noout -serial -in "$work/short.pem")" ]
  fi
  after=$((old_end + 2 * 86400))
  rm -f "$work"/s[0-9]*.pem; awk -v d="$work" '/BEGIN CERT/{n++} n{print > (d "/s" n ".pem")}' "$work/signed-before.pem"
  nsigned=$(ls "$work"/s[0-9]*.pem | wc -l)
  good=0 old_ok=0
  for c in "$work"/s[0-9]*.pem; do
    openssl verify -attime "$after" -CAfile "$work/new-ca.pem" "$c" >/dev/null 2>&1 && good=$((good + 1))
    openssl verify -attime "$after" -CAfile "$work/short.pem" "$c" >/dev/null 2>&1 && old_ok=$((old_ok + 1))
  done
  check "all $nsigned signed certificates verify under the new bundle 2 days after the old CA's end ($good)" \
    [ "$good" = "$nsigned" ]
  check "and none under the old bundle then ($old_ok)" [ "$old_ok" = 0 ]
  ca_sum=$(sha256sum <"$work/new-ca.pem" | cut -c1-64)
  for h in primary agent1 agent2; do
    check "$h's ca.pem is the CA's new bundle" [ "$(on $h sha256sum "$SSL/certs/ca.pem" | cut -c1-64)" = "$ca_sum" ]
  done
  # What the server presents: its certificate (verifying under the new bundle after the old
  # end) and the CA certificates it sends with it, which must be the new ones.
  on primary sh -c 'openssl s_client -showcerts -connect "$1:8140" </dev/null 2>/dev/null' sh "$SB_PRIMARY_ADDR" \
    >"$work/served.txt" || true
  rm -f "$work"/v[0-9].pem
  awk -v d="$work" '/BEGIN CERT/{n++} n{print > (d "/v" n ".pem")}' "$work/served.txt"
  check "the server serves its own certificate, which verifies under the new bundle after the old end" \
    sh -c "[ \"\$(openssl x509 -noout -fingerprint -sha256 -in '$work/v1.pem')\" = \"\$('$sb/exec' primary -- openssl x509 -noout -fingerprint -sha256 -in '$PCERT')\" ] &&
           openssl verify -attime $after -CAfile '$work/new-ca.pem' '$work/v1.pem' >/dev/null 2>&1"
  pubkeys "$work/new-ca.pem" >/dev/null # p1.pem ... are now the new CA certificates
  served_cas=0 new_cas=0
  for v in "$work"/v[2-9].pem; do
    [ -s "$v" ] || continue
    served_cas=$((served_cas + 1))
    vf=$(openssl x509 -noout -fingerprint -sha256 -in "$v")
    for p in "$work"/p[0-9].pem; do [ "$(openssl x509 -noout -fingerprint -sha256 -in "$p")" = "$vf" ] && new_cas=$((new_cas + 1)); done
  done
  # (Puppet 5's WEBrick master sends the CA with its certificate; Puppet Server sends none.)
  check "the CA certificates it sends with it, if any ($served_cas), are the new ones ($new_cas)" \
    [ "$new_cas" = "$served_cas" ]
  check "the CA bundle it serves to agents (/puppet-ca/v1/certificate/ca) is the new one" \
    [ "$(on primary curl -sk "https://$SB_PRIMARY_ADDR:8140/puppet-ca/v1/certificate/ca?environment=production" |
        sha256sum | cut -c1-64)" = "$ca_sum" ]
  for a in agent1 agent2; do
    check "$a completes puppet agent -t" agent_run $a
    check "$a keeps its own certificate (fingerprint unchanged)" [ "$(fp $a "$(cert_of $a)")" = "${own_fp[$a]}" ]
  done
  rc=0
  on primary "$certwiz" check --config "$work/site.cfg" >"$work/check-ca2.log" 2>&1 || rc=$?
  check "certwiz check no longer names ca-renew" sh -c "! grep -q 'procedure ca-renew' '$work/check-ca2.log'"
fi
