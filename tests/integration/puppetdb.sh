# tests/integration/puppetdb.sh: oss-ca with PuppetDB on the primary, against a real PuppetDB
# (sandbox/up --puppet 8 --puppetdb: Debian 13's puppetdb 8.4.1 and PostgreSQL 17 on the
# debian-layout primary, set up as a Debian admin does, its own `puppetdb ssl-setup` pointing
# it at Puppet's own certificate files). Sourced by tests/integration/run.sh, which gives it
# its helpers; CERTWIZ_IT_PUPPETDB=1 brings the sandbox up that way:
#   CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_AGENT_PUPPET=8,7 CERTWIZ_IT_PUPPETDB=1 \
#     CERTWIZ_IT_ONLY=oss-ca-puppetdb tests/integration/run.sh PATH/TO/certwiz
# Everything is judged by OpenSSL, curl, PostgreSQL and PuppetDB, never certwiz's word.
if want oss-ca-puppetdb && [ "$SB_PUPPETDB" != 1 ]; then
  log "oss-ca-puppetdb: needs a sandbox with PuppetDB (CERTWIZ_IT_PUPPETDB=1: sandbox/up --puppetdb)"
  # Named on purpose, it must run; in a run of every scenario it is left to its own tier.
  if [ -n "$only" ]; then bad "this sandbox has no PuppetDB: run with CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_PUPPETDB=1"
  else echo "  skipped: this sandbox has no PuppetDB"; fi
fi

if want oss-ca-puppetdb && [ "$SB_PUPPETDB" = 1 ]; then
  log "oss-ca-puppetdb: a new CA and every certificate, and PuppetDB on the primary given the new one and restarted"
  "$sb/reset" >/dev/null
  P=puppet.sandbox.test
  # The certificate PuppetDB serves on 8081 (PEM on stdout).
  served8081() {
    on primary sh -c 'openssl s_client -connect "$1:8081" -servername puppet.sandbox.test </dev/null 2>/dev/null | openssl x509' \
      sh "$SB_PRIMARY_ADDR"
  }
  pubkey_of_pem() { openssl x509 -noout -pubkey | sha256sum | cut -c1-64; }
  # PuppetDB's status endpoint, from agent1, with a client certificate and key (files on agent1).
  pdb_status() { # ca cert key
    on agent1 curl -sS --noproxy '*' --max-time 20 --cacert "$1" --cert "$2" --key "$3" \
      "https://$P:8081/status/v1/services/puppetdb-status"
  }
  pdb_pid() { on primary "$sb/service/puppetdb" status | sed -n 's/.*(pid \([0-9]*\).*/\1/p'; }
  pg_psql() { # PostgreSQL's administrator, on the primary (the root's psql)
    on primary sh -c '. /run/certwiz-sandbox.env; r=$SANDBOX_RELEASE_ROOT; b=$(ls -d "$r"/usr/lib/postgresql/*/bin | tail -n 1)
      exec chroot --userspec="$(awk -F: "\$1 == \"postgres\" { print \$3 \":\" \$4 }" "$r/etc/passwd")" "$r" "${b#"$r"}/psql" -X -At -h /run/postgresql -U postgres "$@"' sh "$@"
  }

  # Before: PuppetDB serves the primary's current certificate, of the current CA.
  old_ca=$(fp primary "$CA")
  on primary cat "$CA" >"$work/pdb-old-ca.pem"
  served8081 >"$work/pdb-before.pem" || true
  check "before: PuppetDB on 8081 serves the primary's current certificate" \
    [ "$(openssl x509 -noout -fingerprint -sha256 -in "$work/pdb-before.pem" 2>/dev/null | sed 's/.*=//')" = "$(fp primary "$PCERT")" ]
  on agent1 cp "$(cert_of agent1)" "$work/pdb-agent1-old.pem"
  on agent1 cp "$(key_of agent1)" "$work/pdb-agent1-old.key"
  on agent1 cp "$SSL/certs/ca.pem" "$work/pdb-agent1-old-ca.pem"
  check "before: PuppetDB answers agent1 (a client certificate of the current CA) on its status endpoint" \
    sh -c "'$sb/exec' agent1 -- curl -sS --noproxy '*' --max-time 20 --cacert '$work/pdb-agent1-old-ca.pem' --cert '$work/pdb-agent1-old.pem' --key '$work/pdb-agent1-old.key' https://$P:8081/status/v1/services/puppetdb-status | grep -q '\"state\" *: *\"running\"'"
  pid_before=$(pdb_pid)

  "$top/scripts/sandbox-config" >"$work/site.cfg"
  cat >"$work/pdb.cfg" <<EOT
procedure = "oss-ca";
agents = ["agent1.sandbox.test", "agent2.sandbox.test"];
puppetdb = true;
operator = "it";
confirm_destructive = true;
EOT
  on primary "$certwiz" plan --config "$work/site.cfg" --answers "$work/pdb.cfg" >"$work/pdb-plan.txt" 2>&1 || true
  check "the plan prints PuppetDB's restart: its stop and start commands" \
    sh -c "grep -qF '\$ $top/sandbox/service/puppetdb stop' '$work/pdb-plan.txt' && grep -qF '\$ $top/sandbox/service/puppetdb start' '$work/pdb-plan.txt'"
  check "the plan has no ssl-setup to run on Debian (its PuppetDB reads Puppet's own files)" \
    sh -c "! grep -q 'ssl-setup' '$work/pdb-plan.txt'"
  rc=$(certwiz_run "$work/pdb.cfg")
  check "certwiz run of oss-ca with puppetdb = true exits 0" [ "$rc" = 0 ] || show_run 80
  rundir=$(ls -td "$state"/certwiz/runs/*-oss-ca | sed -n 1p)
  n=$(plan_steps "$work/pdb.cfg")
  check "report.json: each of the plan's $n steps signed off by batch:it, verified" [ "$(signed_by "$rundir" batch:it)" = "$n" -a "$n" -gt 0 ]
  check "the journal shows PuppetDB stopped and started, in that order, each verified" python3 - "$rundir/journal.jsonl" <<'PY'
import json, sys
order = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("step") in ("puppetdb-stop", "puppetdb-start") and e["event"] == "signoff":
        order.append(e["step"])
assert order == ["puppetdb-stop", "puppetdb-start"], order
PY
  pid_after=$(pdb_pid)
  check "PuppetDB was restarted (pid $pid_before before, $pid_after now)" [ -n "$pid_before" -a -n "$pid_after" -a "$pid_after" != "$pid_before" ]

  # After: the new CA, and PuppetDB serves the primary's new certificate.
  new_ca=$(fp primary "$CA")
  check "the CA is new" [ -n "$new_ca" -a "$new_ca" != "$old_ca" ]
  on primary cat "$CA" >"$work/pdb-new-ca.pem"
  served8081 >"$work/pdb-after.pem" || true
  check "after: PuppetDB on 8081 serves a certificate of the new CA" openssl verify -CAfile "$work/pdb-new-ca.pem" "$work/pdb-after.pem"
  check "... not of the old CA" sh -c "! openssl verify -CAfile '$work/pdb-old-ca.pem' '$work/pdb-after.pem' >/dev/null 2>&1"
  newkey=$(on primary openssl pkey -pubout -in "$SSL/private_keys/$P.pem" | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
  served_key=$(openssl x509 -noout -pubkey -in "$work/pdb-after.pem" | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
  check "... whose public key is the primary's new key ($SSL/private_keys/$P.pem)" [ -n "$newkey" -a "$served_key" = "$newkey" ]
  check "... and not the key it served before" \
    [ "$(openssl x509 -noout -pubkey -in "$work/pdb-before.pem" | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)" != "$served_key" ]
  check "PuppetDB answers agent1's new certificate (of the new CA) on its status endpoint" \
    sh -c "'$sb/exec' agent1 -- curl -sS --noproxy '*' --max-time 20 --cacert '$SSL/certs/ca.pem' --cert '$(cert_of agent1)' --key '$(key_of agent1)' https://$P:8081/status/v1/services/puppetdb-status | grep -q '\"state\" *: *\"running\"'"
  # -k: the server's certificate is not judged here, so only a refused client certificate fails it
  # (a PuppetDB still on the old CA accepts it: the check fails, as it must).
  check "PuppetDB refuses agent1's old certificate (of the old CA)" \
    sh -c "! '$sb/exec' agent1 -- curl -sS -k --noproxy '*' --max-time 20 --cert '$work/pdb-agent1-old.pem' --key '$work/pdb-agent1-old.key' https://$P:8081/status/v1/services/puppetdb-status >'$work/pdb-refused.txt' 2>&1"
  # Connected to PostgreSQL: it accepts a command and stores it, and answers a query for it.
  check "PuppetDB holds connections to PostgreSQL" [ "$(pg_psql -d postgres -c "select count(*) from pg_stat_activity where usename = 'puppetdb'")" -ge 1 ]
  now=$(date -u +%FT%TZ)
  cw_curl() { on agent1 curl -sS --noproxy '*' --max-time 20 --cacert "$SSL/certs/ca.pem" --cert "$(cert_of agent1)" --key "$(key_of agent1)" "$@"; }
  cw_curl -H 'Content-Type: application/json' -X POST \
    "https://$P:8081/pdb/cmd/v1?command=replace_facts&version=5&certname=agent1.sandbox.test" \
    -d "{\"certname\":\"agent1.sandbox.test\",\"environment\":\"production\",\"producer_timestamp\":\"$now\",\"producer\":\"$P\",\"values\":{\"certwiz_it\":\"$now\"}}" \
    >"$work/pdb-cmd.txt" 2>&1 || true
  check "PuppetDB accepts a replace facts command with agent1's new certificate" grep -q '"uuid"' "$work/pdb-cmd.txt"
  got=""
  for _ in $(seq 1 60); do
    got=$(cw_curl "https://$P:8081/pdb/query/v4/nodes/agent1.sandbox.test/facts/certwiz_it" 2>/dev/null || true)
    [[ "$got" == *"$now"* ]] && break
    sleep 1
  done
  check "PuppetDB stored the facts in PostgreSQL and returns them (query v4)" eval '[[ "$got" == *"$now"* ]]'
  check "PostgreSQL holds them (agent1's factset of $now in the puppetdb database)" \
    [ "$(pg_psql -d puppetdb -c "select count(*) from factsets where certname = 'agent1.sandbox.test' and producer_timestamp = '$now'::timestamptz")" = 1 ]
  for a in agent1 agent2; do
    check "$a's certificate verifies against the new CA" verifies "$a" "$SSL/certs/ca.pem" "$(cert_of "$a")"
    check "$a completes puppet agent -t" agent_run "$a"
  done
fi
