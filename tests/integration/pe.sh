# tests/integration/pe.sh: Puppet Enterprise's procedures against the pe-layout sandbox
# (sandbox/up --puppet 8 --layout pe: real Puppet Server, PuppetDB and PostgreSQL at PE's
# paths and users, TLS stand-ins for the console and PE's other services). Sourced by
# tests/integration/run.sh, which gives it its helpers; its scenarios run only on that layout:
#   CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=pe CERTWIZ_IT_ONLY=pe-monolithic,pe-rollback \
#     tests/integration/run.sh PATH/TO/certwiz
# Everything is judged by OpenSSL, PostgreSQL, PuppetDB and Puppet, never certwiz's word.
if [ "$SB_LAYOUT" = pe ] && { want pe-monolithic || want pe-rollback; }; then
  PDB_SSL=/etc/puppetlabs/puppetdb/ssl
  CONSOLE=/opt/puppetlabs/server/data/console-services/certs
  PGCERTS=/opt/puppetlabs/server/data/postgresql/14/data/certs
  P=puppet.sandbox.test
  # The certificate a port of the primary serves (PEM on stdout); extra s_client options after.
  served() { # port [s_client options]
    local port=$1; shift
    on primary sh -c 'a=$1; shift; openssl s_client -connect "$a" -servername puppet.sandbox.test "$@" </dev/null 2>/dev/null |
      openssl x509' sh "$SB_PRIMARY_ADDR:$port" "$@"
  }
  pubkey_of_pem() { openssl x509 -noout -pubkey | sha256sum | cut -c1-64; }
  file_pubkey() { on primary openssl x509 -noout -pubkey -in "$1" | sha256sum | cut -c1-64; }
  # psql as PostgreSQL's own administrator, on the primary (the pe root's psql).
  pe_psql() {
    on primary sh -c '. /run/certwiz-sandbox.env; r=$SANDBOX_RELEASE_ROOT; b=$(ls -d "$r"/usr/lib/postgresql/*/bin | tail -n 1)
      exec chroot --userspec="$(id -u pe-postgres):$(id -g pe-postgres)" "$r" "${b#"$r"}/psql" -X -At -h /run/postgresql -U postgres "$@"' sh "$@"
  }
  # Every file of PE's certificate directories: path, mode, owner, group, SHA-256 (a rollback
  # must bring back exactly this).
  pe_state() {
    on primary sh -c 'for d in "$@"; do find "$d" -printf "%p %m %U %G %y\n" | sort; find "$d" -type f -print0 | sort -z | xargs -0 sha256sum; done' \
      sh "$SSL" "$SB_CADIR_PRIMARY" "$PDB_SSL" "$CONSOLE" "$PGCERTS"
  }
  pe_answers() { # file [extra lines]
    printf 'procedure = "pe-monolithic";\nagents = ["agent1.sandbox.test", "agent2.sandbox.test"];\noperator = "it";\nconfirm_destructive = true;\n%s' "${2:-}" >"$1"
  }
fi

if [ "$SB_LAYOUT" = pe ] && want pe-monolithic; then
  log "pe-monolithic: a new CA and every certificate of a PE primary, its PuppetDB, PostgreSQL and console, and the agents"
  "$sb/reset" >/dev/null
  old_ca=$(fp primary "$CA")
  on agent1 cp "$(cert_of agent1)" "$work/agent1-old.pem"
  on agent1 cp "$(key_of agent1)" "$work/agent1-old.key"
  # The console answers a request (TLS 1.3 sends the client's certificate after the server's,
  # so only an answer shows that it was accepted).
  console_accepts() {
    on primary sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 openssl s_client -quiet -connect "$1:4433" -cert "$2" -key "$3" 2>/dev/null |
      grep -q "^HTTP/1.0 200"' sh "$SB_PRIMARY_ADDR" "$1" "$2"
  }
  check "before: the console stand-in accepts agent1's certificate of the current CA" \
    console_accepts "$work/agent1-old.pem" "$work/agent1-old.key"
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  on primary "$certwiz" check --config "$work/site.cfg" >"$work/check.log" 2>&1 || true
  check "certwiz detects the pe-2023 profile" grep -q '^ok   profile *pe-2023 ' "$work/check.log"
  pe_answers "$work/pe.cfg"
  rc=$(certwiz_run "$work/pe.cfg")
  check "certwiz run of pe-monolithic exits 0" [ "$rc" = 0 ] || show_run
  rundir=$(ls -td "$state"/certwiz/runs/*-pe-monolithic | head -n 1)
  check "report.json: all $(plan_steps "$work/pe.cfg") steps of the plan signed off by batch:it" \
    [ "$(signed_by "$rundir" batch:it)" = "$(plan_steps "$work/pe.cfg")" ]
  new_ca=$(fp primary "$CA")
  check "the CA is new" [ -n "$new_ca" -a "$new_ca" != "$old_ca" ]
  check "the primary's certificate verifies against the new CA" verifies primary "$CA" "$PCERT"
  # Every TLS port serves a certificate of the new CA whose key is the file seed 003 copies there.
  on primary cat "$CA" >"$work/ca-new.pem"
  for spec in "8140 $PCERT" "8081 $PDB_SSL/$P.cert.pem" "443 $CONSOLE/$P.cert.pem" \
              "8143 $PCERT" "62658 $PCERT" "44633 $PCERT"; do
    port=${spec%% *} file=${spec#* }
    served "$port" >"$work/served-$port.pem" || true
    check "port $port serves a certificate of the new CA" openssl verify -CAfile "$work/ca-new.pem" "$work/served-$port.pem"
    check "port $port's key is the one in $file" [ "$(pubkey_of_pem <"$work/served-$port.pem")" = "$(file_pubkey "$file")" ]
  done
  served 4433 -cert "$PCERT" -key "$SSL/private_keys/$P.pem" >"$work/served-4433.pem" || true
  check "the console (4433, client certificate required) serves a certificate of the new CA" \
    openssl verify -CAfile "$work/ca-new.pem" "$work/served-4433.pem"
  check "the console's key is $CONSOLE/$P.cert.pem's" [ "$(pubkey_of_pem <"$work/served-4433.pem")" = "$(file_pubkey "$CONSOLE/$P.cert.pem")" ]
  check "the console refuses agent1's certificate of the old CA" \
    eval '! console_accepts "$work/agent1-old.pem" "$work/agent1-old.key"'
  on agent1 cp "$(cert_of agent1)" "$work/agent1-new.pem"
  on agent1 cp "$(key_of agent1)" "$work/agent1-new.key"
  check "the console accepts agent1's certificate of the new CA" console_accepts "$work/agent1-new.pem" "$work/agent1-new.key"
  served 5432 -starttls postgres >"$work/served-5432.pem" || true
  check "PostgreSQL (5432, STARTTLS) serves a certificate of the new CA" openssl verify -CAfile "$work/ca-new.pem" "$work/served-5432.pem"
  check "PostgreSQL's key is the one in $PGCERTS" [ "$(pubkey_of_pem <"$work/served-5432.pem")" = "$(file_pubkey "$PGCERTS/$P.cert.pem")" ]
  # PuppetDB logs in to PostgreSQL over SSL with the new certificate.
  serial=$(on primary openssl x509 -noout -serial -in "$PCERT" | sed 's/.*=//')
  pdb_ssl=$(pe_psql -d postgres -c "select s.ssl, s.client_dn, s.client_serial from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'puppetdb' limit 1")
  check "PuppetDB's connection to PostgreSQL is SSL with the new certificate (serial $serial): $pdb_ssl" \
    python3 -c "import sys; s, dn, n = '$pdb_ssl'.split('|'); sys.exit(not (s == 't' and dn == '/CN=$P' and int(n) == int('$serial', 16)))"
  # A node's facts go into PuppetDB and come back out, over 8081 with agent1's new certificate.
  now=$(date -u +%FT%TZ)
  on agent1 sh -c "curl -sf --cacert '$SSL/certs/ca.pem' --cert '$(cert_of agent1)' --key '$(key_of agent1)' \
      -H 'Content-Type: application/json' -X POST \
      'https://$P:8081/pdb/cmd/v1?command=replace_facts&version=5&certname=agent1.sandbox.test' \
      -d '{\"certname\":\"agent1.sandbox.test\",\"environment\":\"production\",\"producer_timestamp\":\"$now\",\"producer\":\"$P\",\"values\":{\"certwiz_it\":\"$now\"}}'" >/dev/null
  got=""
  for _ in $(seq 1 30); do
    got=$(on agent1 sh -c "curl -sf --cacert '$SSL/certs/ca.pem' --cert '$(cert_of agent1)' --key '$(key_of agent1)' \
      'https://$P:8081/pdb/query/v4/nodes/agent1.sandbox.test/facts/certwiz_it'" 2>/dev/null || true)
    [[ "$got" == *"$now"* ]] && break
    sleep 1
  done
  check "PuppetDB stores agent1's facts in PostgreSQL and serves them back" eval '[[ "$got" == *"$now"* ]]'
  # Owners and modes, as the seed sets them (compared by number: the accounts are the sandbox's).
  pg_uid=$(on primary id -u pe-postgres) pdb_uid=$(on primary id -u pe-puppetdb)
  cs_uid=$(on primary id -u pe-console-services) pp_uid=$(on primary id -u pe-puppet)
  owners() { on primary find "$1" -printf '%U\n' | sort -u; }
  pg_modes=$(on primary stat -c '%a %u' "$PGCERTS/$P.cert.pem" "$PGCERTS/$P.public_key.pem" "$PGCERTS/$P.private_key.pem" | sort -u)
  check "PostgreSQL's certificate files: mode 400, owner pe-postgres ($pg_modes)" [ "$pg_modes" = "400 $pg_uid" ]
  check "PuppetDB's SSL directory belongs to pe-puppetdb" [ "$(owners "$PDB_SSL")" = "$pdb_uid" ]
  check "PuppetDB has its PKCS#8 key" on primary test -s "$PDB_SSL/$P.private_key.pk8"
  check "console-services' directory belongs to pe-console-services" [ "$(owners "$CONSOLE")" = "$cs_uid" ]
  check "the primary's SSL directory belongs to pe-puppet" [ "$(owners "$SSL")" = "$pp_uid" ]
  for f in "$PDB_SSL/$P.cert.pem" "$PGCERTS/$P.private_key.pem" "$CONSOLE/pe-internal-classifier.cert.pem"; do
    src=$SSL/certs/$P.pem
    case "$f" in *private_key*) src=$SSL/private_keys/$P.pem ;; *pe-internal-classifier*) src=$SSL/certs/pe-internal-classifier.pem ;; esac
    check "$f is byte for byte $src" on primary cmp -s "$f" "$src"
  done
  for a in agent1 agent2; do
    check "$a's certificate verifies against the new CA" verifies "$a" "$work/ca-new.pem" "$(cert_of "$a")"
    check "$a completes puppet agent -t" agent_run "$a"
  done
fi

if [ "$SB_LAYOUT" = pe ] && want pe-rollback; then
  log "pe-rollback: PE-PostgreSQL cannot start after the copy; the run stops there and every directory comes back"
  "$sb/reset" >/dev/null
  pe_state >"$work/pe-before.txt"
  old_pfp=$(fp primary "$PCERT")
  # The operator skips the chmod 400: PostgreSQL then refuses its key file (group-readable)
  # and does not start. A real fault, caused for real.
  pe_answers "$work/pe-fail.cfg" 'on_failure = "rollback";
skip = ["pgsql-chmod"];
skip_reason = "integration: a PostgreSQL that cannot start";
'
  rc=$(certwiz_run "$work/pe-fail.cfg")
  check "certwiz run exits 5 (a step failed)" [ "$rc" = 5 ] || show_run
  rundir=$(ls -td "$state"/certwiz/runs/*-pe-monolithic | head -n 1)
  check "report.json: the run stopped at the start of PE's services, with PostgreSQL's reason; a rollback is recorded" \
    python3 - "$rundir/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
failed = [s for s in r["steps"] if s["status"] == "failed"]
assert len(failed) == 1 and failed[0]["id"] == "start-all", failed
assert "pe-postgresql" in failed[0].get("reason", ""), failed[0]
assert r["rollbacks"], "no rollback in the report"
later = [s for s in r["steps"] if s["id"] in ("master-run",) and s["status"] == "done"]
assert not later, "a step after the failure ran"
PY
  check "PostgreSQL's log says why: the key file's permissions" \
    on primary grep -q 'private key file .* has group or world access' /var/log/puppetlabs/pe-postgresql/pe-postgresql.log
  pe_state >"$work/pe-after.txt"
  check "after the rollback every PE certificate directory is back byte for byte (files, modes, owners)" \
    cmp -s "$work/pe-before.txt" "$work/pe-after.txt" || diff "$work/pe-before.txt" "$work/pe-after.txt" | head -n 10
  # The rollback starts what ran before, PostgreSQL before PuppetDB (which needs it).
  check "after the rollback Puppet Server runs again" on primary "$sb/service/pe-puppetserver" status
  check "after the rollback PE-PostgreSQL runs again" on primary "$sb/service/pe-postgresql" status
  check "after the rollback PuppetDB runs again and serves the old certificate" \
    [ "$(served 8081 | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')" = "$old_pfp" ]
fi
