# tests/integration/expiry.sh: expiry against the real sandbox CA (issue 13). Sourced by
# tests/integration/run.sh, which gives it its helpers (on, check, ok, bad, log, want,
# certwiz_run, agent_run, fp, $work, $sb, $certwiz, $SSL): add, before its last lines,
#   . "$top/tests/integration/expiry.sh"
# and run it alone with CERTWIZ_IT_ONLY=expiry,crl-refresh tests/integration/run.sh PATH/TO/certwiz.
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
  check "the suggested plan is the agent procedure for agent2" \
    sh -c "[ $rc = 0 ] && grep -q 'ca clean --certname $A2' '$work/plan.log'"
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
  on primary puppetserver ca generate --certname spare.sandbox.test >/dev/null 2>&1 || true
  on primary puppetserver ca revoke --certname spare.sandbox.test >/dev/null 2>&1 || true
  crl_text() { on primary openssl crl -noout -text -in "$CADIR/ca_crl.pem"; }
  old_serials=$(crl_text | sed -n 's/.*Serial Number: *//p' | sort)
  old_number=$(crl_text | sed -n '/CRL Number/{n;s/ *//p}' | head -n 1)
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
  new_number=$(crl_text | sed -n '/CRL Number/{n;s/ *//p}' | head -n 1)
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
