# tests/integration/pe.sh: Puppet Enterprise's procedures against the pe-layout sandbox
# (sandbox/up --puppet 8 --layout pe: real Puppet Server, PuppetDB and PostgreSQL at PE's
# paths and users, TLS stand-ins for the console and PE's other services). Sourced by
# tests/integration/run.sh, which gives it its helpers; its scenarios run only on that layout:
#   CERTWIZ_IT_PUPPET=8 CERTWIZ_IT_LAYOUT=pe CERTWIZ_IT_ONLY=pe-monolithic,pe-rollback \
#     tests/integration/run.sh PATH/TO/certwiz
# pe-split runs on the same sandbox: its PuppetDB host (pdb) and console host (console).
# pe-monolithic also runs on PE 2018.1's layout (CERTWIZ_IT_PUPPET=5 CERTWIZ_IT_LAYOUT=pe: a
# Puppet 5 master, the legacy `puppet cert` dialect, PE-PostgreSQL 9.6's paths, ActiveMQ and
# MCollective), where certwiz must pick the pe-2018 profile; the paths and services that differ
# by PE release come from sandbox/info (sandbox/lib.sh's PE_* tables).
# Everything is judged by OpenSSL, PostgreSQL, PuppetDB and Puppet, never certwiz's word.
if [ "$SB_LAYOUT" = pe ] && { want pe-monolithic || want pe-rollback || want pe-split; }; then
  PDB_SSL=/etc/puppetlabs/puppetdb/ssl
  CONSOLE=$SB_PE_CONSOLE_CERTDIR
  PGCERTS=$SB_PE_PGDATA/certs
  # The profile certwiz must find on its own: PE 2018.1 on Puppet 5, PE 2023/2025 on 7 and 8.
  if [ "$SB_SERVER_RELEASE" -le 5 ]; then pe_profile=pe-2018; else pe_profile=pe-2023; fi
  # The TLS port each of the primary's PE services serves (besides 8140, 8081, 4433 and
  # 5432) and the file whose key it must be: the services of this sandbox's PE release.
  declare -A PE_PORT=([pe-nginx]=443 [pe-orchestration-services]=8143 [pe-bolt-server]=62658
                      [pe-ace-server]=44633 [pe-activemq]=61613)
  P=puppet.sandbox.test
  addr_of() { "$sb/info" "$1" | sed -n 's/^SB_ADDR=//p'; }
  fqdn_of() { if [ "$1" = primary ]; then echo puppet.sandbox.test; else echo "$1.sandbox.test"; fi; }
  # The certificate a port of a host serves (PEM on stdout); extra s_client options after.
  served_on() { # host port [s_client options]
    local h=$1 port=$2; shift 2
    on primary sh -c 'a=$1 n=$2; shift 2; openssl s_client -connect "$a" -servername "$n" "$@" </dev/null 2>/dev/null |
      openssl x509' sh "$(addr_of "$h"):$port" "$(fqdn_of "$h")" "$@"
  }
  served() { served_on primary "$@"; }
  # The SHA-256 of a certificate's public key, or nothing when there is no certificate to read
  # (a port that serves nothing and a missing file must not "match" as two empty hashes).
  pubkey_of_pem() { local k; k=$(openssl x509 -noout -pubkey 2>/dev/null) && [ -n "$k" ] && printf '%s\n' "$k" | sha256sum | cut -c1-64; }
  file_pubkey_on() { local k; k=$(on "$1" openssl x509 -noout -pubkey -in "$2" 2>/dev/null) && [ -n "$k" ] && printf '%s\n' "$k" | sha256sum | cut -c1-64; }
  file_pubkey() { file_pubkey_on primary "$1"; }
  keys_match() { [ -n "$1" ] && [ "$1" = "$2" ]; }
  keys_differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
  # psql as PostgreSQL's own administrator, on the primary (the pe root's psql; pe_psql_on
  # HOST for another PE host's).
  pe_psql() { pe_psql_on primary "$@"; }
  pe_psql_on() {
    local h=$1; shift
    on "$h" sh -c '. /run/certwiz-sandbox.env; r=${SANDBOX_SERVICES_ROOT:-$SANDBOX_RELEASE_ROOT}; b=$(ls -d "$r"/usr/lib/postgresql/*/bin | tail -n 1)
      exec chroot --userspec="$(id -u pe-postgres):$(id -g pe-postgres)" "$r" "${b#"$r"}/psql" -X -At -h /run/postgresql -U postgres "$@"' sh "$@"
  }
  # Every file of PE's certificate directories: path, mode, owner, group, SHA-256 (a rollback
  # must bring back exactly this).
  pe_state() {
    on primary sh -c 'for d in "$@"; do find "$d" -printf "%p %m %U %G %y\n" | sort; find "$d" -type f -print0 | sort -z | xargs -0 sha256sum; done' \
      sh "$SSL" "$SB_CADIR_PRIMARY" "$PDB_SSL" "$CONSOLE" "$PGCERTS"
  }
  # The console answers a request (TLS 1.3 sends the client's certificate after the server's,
  # so only an answer shows that it was accepted): console_accepts [HOST] CERT KEY.
  console_accepts() {
    local h=primary; [ $# -lt 3 ] || { h=$1; shift; }
    on "$h" sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 openssl s_client -quiet -connect "$1:4433" -cert "$2" -key "$3" 2>/dev/null |
      grep -q "^HTTP/1.0 200"' sh "$(addr_of "$h")" "$1" "$2"
  }
  # A node's facts go into the PuppetDB at NAME and come back out, over 8081 with agent1's
  # certificate (of the new CA after a run).
  pdb_roundtrip() { # name
    local now got i
    now=$(date -u +%FT%TZ)
    on agent1 sh -c "curl -sf --cacert '$SSL/certs/ca.pem' --cert '$(cert_of agent1)' --key '$(key_of agent1)' \
        -H 'Content-Type: application/json' -X POST \
        'https://$1:8081/pdb/cmd/v1?command=replace_facts&version=5&certname=agent1.sandbox.test' \
        -d '{\"certname\":\"agent1.sandbox.test\",\"environment\":\"production\",\"producer_timestamp\":\"$now\",\"producer\":\"$P\",\"values\":{\"certwiz_it\":\"$now\"}}'" >/dev/null
    for i in $(seq 1 30); do
      got=$(on agent1 sh -c "curl -sf --cacert '$SSL/certs/ca.pem' --cert '$(cert_of agent1)' --key '$(key_of agent1)' \
        'https://$1:8081/pdb/query/v4/nodes/agent1.sandbox.test/facts/certwiz_it'" 2>/dev/null || true)
      [[ "$got" == *"$now"* ]] && return 0
      sleep 1
    done
    return 1
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
  check "before: the console stand-in accepts agent1's certificate of the current CA" \
    console_accepts "$work/agent1-old.pem" "$work/agent1-old.key"
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  on primary "$certwiz" check --config "$work/site.cfg" >"$work/check.log" 2>&1 || true
  check "certwiz detects the $pe_profile profile" grep -q "^ok   profile *$pe_profile " "$work/check.log"
  pe_answers "$work/pe.cfg"
  rc=$(certwiz_run "$work/pe.cfg")
  check "certwiz run of pe-monolithic exits 0" [ "$rc" = 0 ] || show_run
  rundir=$(ls -td "$state"/certwiz/runs/*-pe-monolithic | sed -n 1p)
  check "report.json: all $(plan_steps "$work/pe.cfg") steps of the plan signed off by batch:it" \
    [ "$(signed_by "$rundir" batch:it)" = "$(plan_steps "$work/pe.cfg")" ]
  new_ca=$(fp primary "$CA")
  check "the CA is new" [ -n "$new_ca" -a "$new_ca" != "$old_ca" ]
  check "the primary's certificate verifies against the new CA" verifies primary "$CA" "$PCERT"
  # Every TLS port serves a certificate of the new CA whose key is the file seed 003 copies there.
  on primary cat "$CA" >"$work/ca-new.pem"
  specs=("8140 $PCERT" "8081 $PDB_SSL/$P.cert.pem")
  for s in $SB_PE_SERVICES; do
    [ -n "${PE_PORT[$s]:-}" ] || continue
    if [ "$s" = pe-nginx ]; then specs+=("${PE_PORT[$s]} $CONSOLE/$P.cert.pem"); else specs+=("${PE_PORT[$s]} $PCERT"); fi
  done
  for spec in "${specs[@]}"; do
    port=${spec%% *} file=${spec#* }
    served "$port" >"$work/served-$port.pem" || true
    check "port $port serves a certificate of the new CA" openssl verify -CAfile "$work/ca-new.pem" "$work/served-$port.pem"
    check "port $port's key is the one in $file" keys_match "$(pubkey_of_pem <"$work/served-$port.pem")" "$(file_pubkey "$file")"
  done
  served 4433 -cert "$PCERT" -key "$SSL/private_keys/$P.pem" >"$work/served-4433.pem" || true
  check "the console (4433, client certificate required) serves a certificate of the new CA" \
    openssl verify -CAfile "$work/ca-new.pem" "$work/served-4433.pem"
  check "the console's key is $CONSOLE/$P.cert.pem's" keys_match "$(pubkey_of_pem <"$work/served-4433.pem")" "$(file_pubkey "$CONSOLE/$P.cert.pem")"
  check "the console refuses agent1's certificate of the old CA" \
    eval '! console_accepts "$work/agent1-old.pem" "$work/agent1-old.key"'
  on agent1 cp "$(cert_of agent1)" "$work/agent1-new.pem"
  on agent1 cp "$(key_of agent1)" "$work/agent1-new.key"
  check "the console accepts agent1's certificate of the new CA" console_accepts "$work/agent1-new.pem" "$work/agent1-new.key"
  served 5432 -starttls postgres >"$work/served-5432.pem" || true
  check "PostgreSQL (5432, STARTTLS) serves a certificate of the new CA" openssl verify -CAfile "$work/ca-new.pem" "$work/served-5432.pem"
  check "PostgreSQL's key is the one in $PGCERTS" keys_match "$(pubkey_of_pem <"$work/served-5432.pem")" "$(file_pubkey "$PGCERTS/$P.cert.pem")"
  # PuppetDB logs in to PostgreSQL over SSL with the new certificate.
  serial=$(on primary openssl x509 -noout -serial -in "$PCERT" | sed 's/.*=//')
  pdb_ssl=$(pe_psql -d postgres -c "select s.ssl, s.client_dn, s.client_serial from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'puppetdb' limit 1")
  check "PuppetDB's connection to PostgreSQL is SSL with the new certificate (serial $serial): $pdb_ssl" \
    python3 -c "import sys; s, dn, n = '$pdb_ssl'.split('|'); sys.exit(not (s == 't' and dn == '/CN=$P' and int(n) == int('$serial', 16)))"
  check "PuppetDB stores agent1's facts in PostgreSQL and serves them back" pdb_roundtrip "$P"
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
  # PE's own services' certificates (MCollective's three too on PE 2018), made by the new CA.
  for n in $SB_PE_INTERNAL_CERTS; do
    check "$n's certificate verifies against the new CA" verifies primary "$work/ca-new.pem" "$SSL/certs/$n.pem"
  done
  # Every PE service of the primary runs again (judged by its process and port, not certwiz).
  for s in $SB_PE_SERVICES; do
    check "$s runs on the primary after the run" eval 'on primary "$sb/service/$s" status >/dev/null'
  done
  check "the primary completes puppet agent -t" agent_run primary
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
  rundir=$(ls -td "$state"/certwiz/runs/*-pe-monolithic | sed -n 1p)
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
    cmp -s "$work/pe-before.txt" "$work/pe-after.txt" || diff "$work/pe-before.txt" "$work/pe-after.txt" | sed -n 1,10p
  # The rollback starts what ran before, PostgreSQL before PuppetDB (which needs it).
  check "after the rollback Puppet Server runs again" on primary "$sb/service/pe-puppetserver" status
  check "after the rollback PE-PostgreSQL runs again" on primary "$sb/service/pe-postgresql" status
  check "after the rollback PuppetDB runs again and serves the old certificate" \
    [ "$(served 8081 | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')" = "$old_pfp" ]
fi

if [ "$SB_LAYOUT" = pe ] && want pe-split && [ -z "$SB_PE_SPLIT_HOSTS" ]; then
  log "pe-split: skipped: this sandbox's PE release has no PuppetDB and console hosts (sandbox/lib.sh, PE_SPLIT_HOSTS)"
elif [ "$SB_LAYOUT" = pe ] && want pe-split; then
  log "pe-split: a new CA and every certificate of PE with the master, PuppetDB and console on three hosts, and the agents"
  "$sb/reset" >/dev/null
  PDB=pdb.sandbox.test CON=console.sandbox.test
  services_of() { "$sb/info" "$1" | sed -n 's/^SB_PE_SERVICES="\(.*\)"$/\1/p'; }
  # A master-only primary: the services the PuppetDB and console hosts run stop on the
  # primary (in the reverse order) and start on those hosts (in PE's order).
  split_services=$(printf '%s\n' $(services_of pdb) $(services_of console) | grep -vx pxp-agent)
  for s in $(tac <<<"$split_services"); do on primary "$sb/service/$s" stop >/dev/null; done
  for h in pdb console; do
    for s in $(services_of "$h"); do
      on "$h" "$sb/service/$s" start >"$work/start-$h-$s.log" 2>&1 || { cat "$work/start-$h-$s.log"; bad "$h: $s did not start"; }
    done
  done
  old_ca=$(fp primary "$CA")
  old_pdb=$(fp pdb "$SSL/certs/$PDB.pem") old_con=$(fp console "$SSL/certs/$CON.pem")
  check "before: PuppetDB (8081) on $PDB serves that host's own certificate" \
    keys_match "$(served_on pdb 8081 | pubkey_of_pem)" "$(file_pubkey_on pdb "$SSL/certs/$PDB.pem")"
  on agent1 cp "$(cert_of agent1)" "$work/agent1-old.pem"
  on agent1 cp "$(key_of agent1)" "$work/agent1-old.key"
  check "before: the console stand-in on $CON accepts agent1's certificate of the current CA" \
    console_accepts console "$work/agent1-old.pem" "$work/agent1-old.key"
  # The operator's way through the manual steps: the batch run stops at each ("NOT DONE"),
  # the scp commands the step prints are run on the master with the sandbox's ssh
  # configuration, the step goes into manual_done in the answers file, and the run resumes.
  split_answers() { # manual_done ids...
    printf 'procedure = "pe-split";\nagents = ["agent1.sandbox.test", "agent2.sandbox.test"];\npuppetdb_host = "%s";\nconsole_host = "%s";\noperator = "it";\nconfirm_destructive = true;\n' "$PDB" "$CON" >"$work/split.cfg"
    [ $# -eq 0 ] || printf 'manual_done = [%s];\n' "$(printf '"%s", ' "$@" | sed 's/, $//')" >>"$work/split.cfg"
  }
  split_answers
  rc=$(certwiz_run "$work/split.cfg")
  rundir=$(ls -td "$state"/certwiz/runs/*-pe-split | sed -n 1p)
  done_ids=() copies=0
  cat "$work/run.log" >"$work/split-all.log"
  for _ in 1 2 3 4; do
    id=$(sed -n 's/.*=> NOT DONE: do it by hand, add "\([^"]*\)" to manual_done.*/\1/p' "$work/run.log" | tail -n 1)
    [ "$rc" != 0 ] && [ -n "$id" ] || break
    # The step's instructions are the line above its NOT DONE.
    mapfile -t cmds < <(grep -B1 "=> NOT DONE: do it by hand, add \"$id\"" "$work/run.log" | sed -n 1p | grep -o 'scp [^ ]* [^ ]*')
    for c in "${cmds[@]}"; do
      read -r _ src dst <<<"$c"
      on primary scp -q -F "$state/ssh/config" "$src" "$dst" && copies=$((copies + 1))
    done
    done_ids+=("$id")
    split_answers "${done_ids[@]}"
    rc=0
    on primary "$certwiz" resume "$rundir" >"$work/run.log" 2>&1 || rc=$?
    cat "$work/run.log" >>"$work/split-all.log"
  done
  check "the run stopped at the two manual copies, console-copy-classifier then console-copy-dashboard (${done_ids[*]:-none}), 6 files copied by scp ($copies)" \
    [ "${done_ids[*]:-}" = "console-copy-classifier console-copy-dashboard" ] && [ "$copies" = 6 ]
  check "certwiz resume of pe-split exits 0" [ "$rc" = 0 ] || show_run
  # The two manual steps are "done by hand" (certwiz checked the copies on both hosts before
  # it took them as done); every other step is signed off with a verification that held.
  by_hand=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(" ".join(s["id"] for s in r["steps"] if s["status"] == "done by hand" and (s.get("signoff") or {}).get("who") == "batch:it"))' "$rundir/report.json")
  check "report.json: all $(plan_steps "$work/split.cfg") steps of the plan signed off by batch:it, the two manual ones done by hand ($by_hand)" \
    [ "$by_hand" = "console-copy-classifier console-copy-dashboard" ] && [ "$(($(signed_by "$rundir" batch:it) + 2))" = "$(plan_steps "$work/split.cfg")" ]
  new_ca=$(fp primary "$CA")
  check "the CA is new" [ -n "$new_ca" ] && [ "$new_ca" != "$old_ca" ]
  on primary cat "$CA" >"$work/ca-new.pem"
  # Each host has its own new certificate from the new CA (not the master's).
  pkey_master=$(file_pubkey_on primary "$PCERT")
  for spec in "primary puppet.sandbox.test -" "pdb $PDB $old_pdb" "console $CON $old_con"; do
    read -r h cn old <<<"$spec"
    f=$SSL/certs/$cn.pem
    check "$h: $f verifies against the new CA" verifies "$h" "$work/ca-new.pem" "$f"
    check "$h: $f is for $cn" [ "$(on "$h" openssl x509 -noout -subject -nameopt RFC2253 -in "$f")" = "subject=CN=$cn" ]
    [ "$h" = primary ] && continue
    check "$h: its certificate is new" [ "$(fp "$h" "$f")" != "$old" ]
    check "$h: its key is its own, not the master's" keys_differ "$(file_pubkey_on "$h" "$f")" "$pkey_master"
  done
  # Every TLS port of every PE service on the three hosts serves a certificate of the new CA
  # whose key is the file the procedure copied there (the console asks for a client's).
  on agent1 cp "$(cert_of agent1)" "$work/agent1-new.pem"
  on agent1 cp "$(key_of agent1)" "$work/agent1-new.key"
  for spec in "primary 8140 $PCERT" "primary 8143 $PCERT" "primary 62658 $PCERT" "primary 44633 $PCERT" \
              "pdb 8081 $PDB_SSL/$PDB.cert.pem" "pdb 5432 $PGCERTS/$PDB.cert.pem" \
              "console 4433 $CONSOLE/$CON.cert.pem" "console 443 $CONSOLE/$CON.cert.pem"; do
    read -r h port file <<<"$spec"
    opts=()
    case "$port" in
    5432) opts=(-starttls postgres) ;;
    4433) opts=(-cert "$work/agent1-new.pem" -key "$work/agent1-new.key") ;;
    esac
    served_on "$h" "$port" "${opts[@]}" >"$work/served-$h-$port.pem" || true
    check "$h:$port serves a certificate of the new CA" eval 'openssl verify -CAfile "$work/ca-new.pem" "$work/served-$h-$port.pem" >/dev/null'
    check "$h:$port's key is the one in $file" keys_match "$(pubkey_of_pem <"$work/served-$h-$port.pem")" "$(file_pubkey_on "$h" "$file")"
    check "$h:$port's key is $h's own certificate's" keys_match "$(pubkey_of_pem <"$work/served-$h-$port.pem")" "$(file_pubkey_on "$h" "$SSL/certs/$(fqdn_of "$h").pem")"
  done
  check "the console on $CON refuses agent1's certificate of the old CA" \
    eval '! console_accepts console "$work/agent1-old.pem" "$work/agent1-old.key"'
  check "the console on $CON accepts agent1's certificate of the new CA" \
    console_accepts console "$work/agent1-new.pem" "$work/agent1-new.key"
  # PuppetDB on its host logs in to PostgreSQL over SSL with that host's new certificate.
  serial=$(on pdb openssl x509 -noout -serial -in "$SSL/certs/$PDB.pem" | sed 's/.*=//')
  pdb_ssl=$(pe_psql_on pdb -d postgres -c "select s.ssl, s.client_dn, s.client_serial from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'puppetdb' limit 1")
  check "PuppetDB's connection to PostgreSQL is SSL with $PDB's new certificate (serial $serial): $pdb_ssl" \
    python3 -c "import sys; s, dn, n = '$pdb_ssl'.split('|'); sys.exit(not (s == 't' and dn == '/CN=$PDB' and int(n) == int('$serial', 16)))"
  check "PuppetDB on $PDB stores agent1's facts in PostgreSQL and serves them back" pdb_roundtrip "$PDB"
  # Owners and modes, as the procedure sets them (by number: the accounts are the sandbox's).
  owners() { on "$1" find "$2" -printf '%U\n' | sort -u; }
  pg_uid=$(on pdb id -u pe-postgres) pdb_uid=$(on pdb id -u pe-puppetdb) cs_uid=$(on console id -u pe-console-services)
  pg_modes=$(on pdb stat -c '%a %u' "$PGCERTS/$PDB.cert.pem" "$PGCERTS/$PDB.public_key.pem" "$PGCERTS/$PDB.private_key.pem" | sort -u)
  check "$PDB: PostgreSQL's certificate files: mode 400, owner pe-postgres ($pg_modes)" [ "$pg_modes" = "400 $pg_uid" ]
  check "$PDB: PuppetDB's SSL directory belongs to pe-puppetdb" [ "$(owners pdb "$PDB_SSL")" = "$pdb_uid" ]
  check "$PDB: PuppetDB has its PKCS#8 key" on pdb test -s "$PDB_SSL/$PDB.private_key.pk8"
  check "$CON: console-services' directory belongs to pe-console-services" [ "$(owners console "$CONSOLE")" = "$cs_uid" ]
  # The files the manual steps copied are the master's, byte for byte.
  for n in pe-internal-classifier pe-internal-dashboard; do
    for k in "certs cert" "public_keys public_key" "private_keys private_key"; do
      read -r d x <<<"$k"
      check "$CON:$CONSOLE/$n.$x.pem is the master's $SSL/$d/$n.pem" \
        [ "$(on console sha256sum "$CONSOLE/$n.$x.pem" | cut -c1-64)" = "$(on primary sha256sum "$SSL/$d/$n.pem" | cut -c1-64)" ]
    done
  done
  for a in agent1 agent2 pdb console; do
    check "$a completes puppet agent -t against the new CA" agent_run "$a"
  done
fi
