#!/usr/bin/env bash
# tests/integration/run.sh CERTWIZ: certwiz against the real thing. Brings the sandbox up
# (real puppetserver, real agents, real sshd on loopback), then for each procedure: resets
# the sandbox to its pristine state, runs `certwiz run --answers` on the primary server,
# and checks the outcome with OpenSSL and Puppet themselves, not certwiz's own word.
#
# The Puppet release: CERTWIZ_IT_PUPPET (5, 7 or 8; default 7) for the server and every
# agent, CERTWIZ_IT_AGENT_PUPPET (e.g. "8,7") for agent1, agent2, ... (sandbox/up's
# --puppet and --agent-puppet), CERTWIZ_IT_LAYOUT (debian or aio: Puppet's AIO paths under
# /etc/puppetlabs and /opt/puppetlabs; Puppet 5 is aio, 7 debian, 8 either; pe: Puppet
# Enterprise's layout and services, for the pe-* scenarios of pe.sh: PE 2025 on Puppet 8,
# PE 2018.1 on Puppet 5 (CERTWIZ_IT_PUPPET=5 CERTWIZ_IT_LAYOUT=pe: pe-monolithic with the
# pe-2018 profile; pe-split needs Puppet 8's PuppetDB and console hosts and says it is skipped).
# CERTWIZ_IT_PUPPETDB=1: the primary also runs PuppetDB from Debian's package with PostgreSQL
# (sandbox/up --puppetdb; Puppet 8, debian layout), for the oss-ca-puppetdb scenario of puppetdb.sh.
# CERTWIZ_IT_AGENTS: how many agents the sandbox has (default 2; the fleet scenarios of
# fleet.sh need 3 or more and are skipped, saying so, with fewer).
set -euo pipefail
certwiz=${1:?usage: tests/integration/run.sh PATH/TO/certwiz}
certwiz=$(cd "$(dirname "$certwiz")" && pwd)/$(basename "$certwiz")
top=$(cd "$(dirname "$0")/../.." && pwd)
sb=$top/sandbox
state=${CERTWIZ_SANDBOX_DIR:-/var/lib/certwiz-sandbox}
export CERTWIZ_DATADIR=$top
work=$(mktemp -d /tmp/certwiz-it.XXXXXX)
# Never leave a certwiz of ours running (the fault tests start them in the background).
cleanup() { pkill -KILL -f "^$certwiz (run|resume) .*$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
passes=0 fails=0
only=${CERTWIZ_IT_ONLY:-}
release=${CERTWIZ_IT_PUPPET:-7}
agent_release=${CERTWIZ_IT_AGENT_PUPPET:-}
layout=${CERTWIZ_IT_LAYOUT:-}
puppetdb=${CERTWIZ_IT_PUPPETDB:-}
label="Puppet $release${agent_release:+ (agents $agent_release)}${layout:+, $layout layout}${puppetdb:+, PuppetDB}"

log() { scenario=${1%%:*}; : >"$work/run.log"; printf '\n---- [%s] %s (at %ss)\n' "$label" "$*" "$SECONDS"; }
ok() { passes=$((passes + 1)); printf '  ok   %s\n' "$*"; }
# A failure names the release and scenario, and (once per scenario) shows the end of
# certwiz's output there: the step that failed and its command.
shown=""
bad() {
  fails=$((fails + 1)); printf '  FAIL [%s, %s] %s\n' "$label" "$scenario" "$*"
  if [ "$shown" != "$scenario" ] && [ -s "$work/run.log" ]; then
    shown=$scenario
    echo "      certwiz's output (end of $work/run.log):"; show_run 30
  fi
}
scenario=setup
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
on() { local host=$1; shift; "$sb/exec" "$host" -- "$@"; }

# What a host holds, read inside its namespace.
fp() { on "$1" openssl x509 -noout -fingerprint -sha256 -in "$2" | sed 's/.*=//'; }
keyhash() { on "$1" openssl pkey -pubout -in "$2" | sha256sum | cut -c1-64; }
sans() { on "$1" openssl x509 -noout -ext subjectAltName -in "$2" | tr ',' '\n' | sed -n 's/ *DNS://p' | sort -u; }
verifies() { on "$1" openssl verify -CAfile "$2" "$3" >/dev/null 2>&1; }
served_fp() {
  on primary sh -c 'openssl s_client -connect "$1:8140" -servername puppet.sandbox.test </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256' sh "$SB_PRIMARY_ADDR" | sed 's/.*=//'
}
agent_run() { local rc=0; on "$1" puppet agent --test >"$work/agent-run.log" 2>&1 || rc=$?; [ "$rc" = 0 ] || [ "$rc" = 2 ]; }

log "sandbox up"
# A sandbox left changed by an interrupted earlier run is put back first.
up_args=(--puppet "$release" --agents "${CERTWIZ_IT_AGENTS:-2}")
[ -z "$agent_release" ] || up_args+=(--agent-puppet "$agent_release")
[ -z "$layout" ] || up_args+=(--layout "$layout")
[ "$puppetdb" != 1 ] || up_args+=(--puppetdb)
"$sb/up" "${up_args[@]}" || { "$sb/reset" --full && "$sb/up" "${up_args[@]}"; }
# Where this release and layout keep things (Puppet 5: AIO paths, the CA inside the ssldir).
eval "$("$sb/info" primary)"
CA=$SB_CADIR_PRIMARY/ca_crt.pem
CRL=$SB_CADIR_PRIMARY/ca_crl.pem
SSL=$SB_SSLDIR
CATALOGS=$SB_VARDIR/client_data/catalog
legacy=0; [ "$SB_SERVER_RELEASE" -ge 6 ] || legacy=1
# The CA's own command for one agent, in the release's dialect.
ca_clean() { if [ "$legacy" = 1 ]; then on primary puppet cert clean "$1"; else on primary puppetserver ca clean --certname "$1"; fi; }
cert_of() { echo "$SSL/certs/$1.sandbox.test.pem"; }
key_of() { echo "$SSL/private_keys/$1.sandbox.test.pem"; }
PCERT=$SSL/certs/puppet.sandbox.test.pem

# Run certwiz in batch mode on the primary server with an answers file.
certwiz_run() {
  local answers=$1 rc=0
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  on primary "$certwiz" run --config "$work/site.cfg" --answers "$answers" >"$work/run.log" 2>&1 || rc=$?
  echo "$rc"
}
show_run() { sed 's/^/      | /' "$work/run.log" | tail -n "${1:-60}"; }
# How many steps `certwiz plan` lists for an answers file (the plan, not a run's own count).
plan_steps() { on primary "$certwiz" plan --config "$work/site.cfg" --answers "$1" 2>/dev/null | grep -c '^  \[ \] '; }
# report.json of a run: how many steps were signed off by WHO with a verification that held.
signed_by() { # rundir who
  python3 - "$1/report.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sum(1 for s in r["steps"] if (s.get("signoff") or {}).get("who") == sys.argv[2]
          and (s.get("verification") or {}).get("outcome") == "ok"))
PY
}
# A backup archive's files re-hashed against its manifest, on the host that keeps it.
archive_matches_manifest() { # host archive
  on "$1" sh -c "d=\$(mktemp -d) && tar -xzf '$2' -C \"\$d\" &&
    awk '\$1 == \"file\" { print \$6 \"  \" \$7 }' '${2%.tar.gz}.manifest' | sed \"s|  /|  \$d/|\" |
    sha256sum -c --quiet -; rc=\$?; rm -rf \"\$d\"; exit \$rc"
}

want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }


# ------------------------------------------------------------------ agent
if want agent; then
  log "agent: regenerate agent1's certificate"
  "$sb/reset" >/dev/null
  old_fp=$(fp agent1 "$(cert_of agent1)"); old_key=$(keyhash agent1 "$(key_of agent1)")
  old_serial=$(on agent1 openssl x509 -noout -serial -in "$(cert_of agent1)" | sed 's/.*=//')
  ca_fp=$(fp primary $CA); start=$(date +%s)
  cat >"$work/agent.cfg" <<EOT
procedure = "agent";
agents = ["agent1.sandbox.test"];
operator = "it";
confirm_destructive = true;
EOT
  rc=$(certwiz_run "$work/agent.cfg")
  check "certwiz run exits 0" [ "$rc" = 0 ] || show_run
  new_fp=$(fp agent1 "$(cert_of agent1)" || true)
  check "agent1 has a new certificate (fingerprint changed)" [ -n "$new_fp" -a "$new_fp" != "$old_fp" ]
  check "agent1 has a new private key" [ "$(keyhash agent1 "$(key_of agent1)")" != "$old_key" ]
  check "the CA is unchanged" [ "$(fp primary $CA)" = "$ca_fp" ]
  check "the new certificate chains to the CA" verifies agent1 "$SSL/certs/ca.pem" "$(cert_of agent1)"
  check "the old certificate (serial $old_serial) is revoked in the CA's CRL" \
    on primary sh -c "openssl crl -noout -text -in $CRL | grep -qi 'Serial Number: *0*$old_serial\$'"
  cat_mtime=$(on agent1 stat -c %Y $CATALOGS/agent1.sandbox.test.json 2>/dev/null || echo 0)
  check "the cached catalog was replaced during the run" [ "$cat_mtime" -ge "$start" ]
  check "puppet agent -t succeeds on agent1 afterwards" agent_run agent1
  check "agent2 was not touched and still runs" agent_run agent2
  rundir=$(ls -d "$state"/certwiz/runs/*-agent | tail -n 1)
  n=$(plan_steps "$work/agent.cfg")
  check "report.json: each of the plan's $n steps signed off by batch:it, verified" [ "$(signed_by "$rundir" batch:it)" = "$n" -a "$n" -gt 0 ]
  check "no private key material in journal or report" \
    sh -c "! grep -l 'PRIVATE KEY' '$rundir'/journal.jsonl '$rundir'/report.md '$rundir'/report.json"
  # The backup the run made on agent1 (over SSH, on agent1 itself) puts the old state back.
  archive=$(on agent1 sh -c "ls $state/certwiz/backups/*-agent1.sandbox.test-agent.tar.gz" | tail -n 1)
  rc=0
  on primary "$certwiz" restore "$archive" --host agent1.sandbox.test --config "$work/site.cfg" \
    </dev/null >"$work/run.log" 2>&1 || rc=$?
  check "restore --host without --yes and no answer exits 6 (cancelled)" [ "$rc" = 6 ] || show_run
  check "... and changes nothing" [ "$(fp agent1 "$(cert_of agent1)")" = "$new_fp" ]
  rc=0
  on primary "$certwiz" restore "$archive" --host agent1.sandbox.test --yes --config "$work/site.cfg" \
    >"$work/run.log" 2>&1 || rc=$?
  check "restore --host agent1 --yes exits 0" [ "$rc" = 0 ] || show_run
  check "agent1 has its old certificate back" [ "$(fp agent1 "$(cert_of agent1)")" = "$old_fp" ]
  check "agent1 has its old private key back" [ "$(keyhash agent1 "$(key_of agent1)")" = "$old_key" ]
fi

# ------------------------------------------------------------------ two agents, the CA's side batched
if want agents; then
  log "agents: agent1 and agent2 together; the CA cleans and signs both in one call each"
  "$sb/reset" >/dev/null
  serial1=$(on agent1 openssl x509 -noout -serial -in "$(cert_of agent1)" | sed 's/.*=//')
  old1=$(fp agent1 "$(cert_of agent1)"); old2=$(fp agent2 "$(cert_of agent2)")
  # An operator already revoked agent2 by hand: the shared clean reports it missing (exit 24)
  # and still cleans agent1.
  ca_clean agent2.sandbox.test >/dev/null 2>&1
  cat >"$work/agents.cfg" <<EOT
procedure = "agent";
agents = ["agent1.sandbox.test", "agent2.sandbox.test"];
operator = "it";
confirm_destructive = true;
EOT
  rc=$(certwiz_run "$work/agents.cfg")
  check "certwiz run exits 0" [ "$rc" = 0 ] || show_run
  if [ "$legacy" = 1 ]; then
    clean_cmd="$SB_BINDIR/puppet cert clean agent1.sandbox.test agent2.sandbox.test"
    sign_cmd="$SB_BINDIR/puppet cert sign agent1.sandbox.test agent2.sandbox.test"
  else
    # the clean through Puppet Server's bulk endpoint (fleet.sh asserts it with 5 agents)
    clean_cmd="--data '{\"certnames\":[\"agent1.sandbox.test\",\"agent2.sandbox.test\"]}' https://puppet.sandbox.test:8140/puppet-ca/v1/clean"
    sign_cmd="puppetserver ca sign --certname agent1.sandbox.test,agent2.sandbox.test"
  fi
  # The CA's clean and sign for the agents run as one command for those whose steps are
  # ready within the scheduler's collection window (1.5 s; test_schedule proves the
  # gathering with a fake runner). Here two real agents may or may not be ready together,
  # so whether a call was shared is shown, not asserted; the outcome is checked below.
  for c in "$clean_cmd" "$sign_cmd"; do
    if grep -qF -- "$c" "$work/run.log"; then echo "  note: shared: $c"; else echo "  note: not shared this time: $c"; fi
  done
  check "agent1's old certificate (serial $serial1) is revoked" \
    on primary sh -c "openssl crl -noout -text -in $CRL | grep -qi 'Serial Number: *0*$serial1\$'"
  new1=$(fp agent1 "$(cert_of agent1)" || true); new2=$(fp agent2 "$(cert_of agent2)" || true)
  check "agent1 has a new certificate" [ -n "$new1" -a "$new1" != "$old1" ]
  check "agent2 has a new certificate" [ -n "$new2" -a "$new2" != "$old2" ]
  check "both chain to the CA" sh -c "on() { \"$sb/exec\" \"\$1\" -- openssl verify -CAfile $SSL/certs/ca.pem \"\$2\" >/dev/null; }; on agent1 $(cert_of agent1) && on agent2 $(cert_of agent2)"
  check "puppet agent -t succeeds on agent1" agent_run agent1
  check "puppet agent -t succeeds on agent2" agent_run agent2
fi

# ------------------------------------------------------------------ primary
if want primary; then
  log "primary: regenerate the primary server's certificate"
  "$sb/reset" >/dev/null
  old_fp=$(fp primary $PCERT); old_sans=$(sans primary $PCERT); ca_fp=$(fp primary $CA)
  printf 'procedure = "primary";\noperator = "it";\nconfirm_destructive = true;\n' >"$work/primary.cfg"
  rc=$(certwiz_run "$work/primary.cfg")
  check "certwiz run exits 0" [ "$rc" = 0 ] || show_run
  new_fp=$(fp primary $PCERT || true)
  check "the server has a new certificate" [ -n "$new_fp" -a "$new_fp" != "$old_fp" ]
  missing=$(comm -23 <(echo "$old_sans") <(sans primary $PCERT))
  check "it carries every alt name it had before ($(echo $old_sans))" [ -z "$missing" ]
  check "the CA is unchanged" [ "$(fp primary $CA)" = "$ca_fp" ]
  check "it chains to the CA" verifies primary $CA $PCERT
  check "the server serves it on 8140" [ "$(served_fp)" = "$new_fp" ]
  check "agent1 still runs" agent_run agent1
  check "agent2 still runs" agent_run agent2
fi

# ------------------------------------------------------------------ oss-ca
if want oss-ca; then
  log "oss-ca: regenerate the CA and every certificate"
  "$sb/reset" >/dev/null
  old_ca=$(fp primary $CA)
  on primary cat $CA >"$work/old-ca.pem"
  cat >"$work/ossca.cfg" <<EOT
procedure = "oss-ca";
agents = ["agent1.sandbox.test", "agent2.sandbox.test"];
operator = "it";
confirm_destructive = true;
EOT
  rc=$(certwiz_run "$work/ossca.cfg")
  check "certwiz run exits 0" [ "$rc" = 0 ] || show_run 80
  check "the CA fingerprint changed" [ "$(fp primary $CA)" != "$old_ca" ]
  on primary cat $CA >"$work/new-ca.pem"
  for h in primary agent1 agent2; do
    c=$PCERT; [ "$h" = primary ] || c=$(cert_of "$h")
    on "$h" cat "$c" >"$work/$h.pem"
    check "$h's certificate verifies against the new CA" openssl verify -CAfile "$work/new-ca.pem" "$work/$h.pem"
    check "$h's certificate fails against the old CA" sh -c "! openssl verify -CAfile '$work/old-ca.pem' '$work/$h.pem' >/dev/null 2>&1"
  done
  check "the server serves a certificate of the new CA" [ "$(served_fp)" = "$(fp primary $PCERT)" ]
  check "agent1 completes puppet agent -t" agent_run agent1
  check "agent2 completes puppet agent -t" agent_run agent2
  if [ "$legacy" = 1 ]; then
    # The seed's sequence: `puppet master --no-daemonize` made the server certificate and was
    # stopped; the master that serves now is the service's, started after it.
    rundir=$(ls -td "$state"/certwiz/runs/*-oss-ca | sed -n 1p)
    check "puppet master --no-daemonize ran in the run, and certwiz stopped it" \
      sh -c "grep -q '\"step-start\".*\"ca-master-legacy\".*puppet master --no-daemonize' '$rundir/journal.jsonl' &&
             ! pgrep -f 'puppet maste[r] --no-daemonize --verbose --dns_alt_names' >/dev/null"
  fi
fi

# ------------------------------------------------------------------ the wizard, in a real terminal
if want wizard; then
  log "wizard: oss-ca walked through the ncurses wizard in tmux (80x24), every step signed off"
  "$sb/reset" >/dev/null
  old_ca=$(fp primary $CA)
  on primary cat $CA >"$work/old-ca.pem"
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  rc=0
  python3 "$top/tests/integration/wizard-tmux.py" "$certwiz" "$work/site.cfg" \
    agent1.sandbox.test,agent2.sandbox.test >"$work/run.log" 2>&1 || rc=$?
  check "the wizard reached the summary: completed, every step signed off" [ "$rc" = 0 ] || show_run 40
  check "the CA fingerprint changed" [ "$(fp primary $CA)" != "$old_ca" ]
  on primary cat $CA >"$work/new-ca.pem"
  for h in primary agent1 agent2; do
    c=$PCERT; [ "$h" = primary ] || c=$(cert_of "$h")
    on "$h" cat "$c" >"$work/$h.pem"
    check "$h's certificate verifies against the new CA and not the old" \
      sh -c "openssl verify -CAfile '$work/new-ca.pem' '$work/$h.pem' >/dev/null && ! openssl verify -CAfile '$work/old-ca.pem' '$work/$h.pem' >/dev/null 2>&1"
  done
  check "agent1 completes puppet agent -t" agent_run agent1
  rundir=$(ls -td "$state"/certwiz/runs/*-oss-ca | sed -n 1p)
  printf 'procedure = "oss-ca";\nagents = ["agent1.sandbox.test", "agent2.sandbox.test"];\n' >"$work/wiz-plan.cfg"
  n=$(plan_steps "$work/wiz-plan.cfg")
  check "report.json: each of the plan's $n steps signed off by the operator, verified" \
    [ "$(signed_by "$rundir" tmux-test)" = "$n" -a "$n" -gt 0 ]
fi

# ------------------------------------------------------------------ host keys
if want hostkey; then
  log "hostkey: an agent whose host key is not in known_hosts is refused before anything changes"
  "$sb/reset" >/dev/null
  old_fp=$(fp agent2 "$(cert_of agent2)")
  grep -v -e agent2 -e '127\.0\.0\.12' "$state/known_hosts" >"$work/known_hosts"
  "$top/scripts/sandbox-config" | sed "s|known_hosts = \".*\"|known_hosts = \"$work/known_hosts\"|" >"$work/site.cfg"
  printf 'procedure = "agent";\nagents = ["agent2.sandbox.test"];\nconfirm_destructive = true;\n' >"$work/hk.cfg"
  rc=0
  on primary "$certwiz" run --config "$work/site.cfg" --answers "$work/hk.cfg" >"$work/run.log" 2>&1 || rc=$?
  check "certwiz run exits 7 (host key)" [ "$rc" = 7 ] || show_run
  realfp=$(ssh-keygen -lf "$state/hosts/agent2/ssh/ssh_host_ed25519_key.pub" | awk '{ print $2 }')
  check "the message gives agent2's real key fingerprint ($realfp, from ssh-keygen -lf)" grep -qF "$realfp" "$work/run.log"
  check "no step ran" sh -c "! grep -q '^\[1/' '$work/run.log'"
  check "agent2's certificate is untouched" [ "$(fp agent2 "$(cert_of agent2)")" = "$old_fp" ]
  # A Windows agent: certwiz prints its steps but refuses to run a plan with it.
  printf 'procedure = "agent";\nagents = ["agent1.sandbox.test", "win.sandbox.test"];\nconfirm_destructive = true;\nhosts = ( { name = "win.sandbox.test"; os = "windows"; } );\n' >"$work/win.cfg"
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  runs_before=$(ls "$state/certwiz/runs" 2>/dev/null | wc -l) || true
  rc=0
  on primary "$certwiz" run --config "$work/site.cfg" --answers "$work/win.cfg" >"$work/run.log" 2>&1 || rc=$?
  check "a plan with a Windows agent is refused: exit 2, saying what to do" \
    sh -c "[ $rc = 2 ] && grep -q 'win.sandbox.test is a Windows host.*Regenerate it by hand' '$work/run.log'" || show_run
  check "... before any run began" [ "$(ls "$state/certwiz/runs" 2>/dev/null | wc -l)" = "$runs_before" ]
  check "... and certwiz plan still prints its steps by hand" \
    sh -c "'$sb/exec' primary -- '$certwiz' plan --config '$work/site.cfg' --answers '$work/win.cfg' | grep -q 'On this Windows host'"
fi

# ------------------------------------------------------------------ kill -9 and resume
if want resume; then
  log "resume: certwiz is killed with SIGKILL in the middle of a destructive step, then resumed"
  "$sb/reset" >/dev/null
  old_fp=$(fp agent1 "$(cert_of agent1)")
  cat >"$work/resume.cfg" <<EOT
procedure = "agent";
agents = ["agent1.sandbox.test"];
operator = "it";
confirm_destructive = true;
EOT
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  before=$(ls -d "$state"/certwiz/runs/*-agent 2>/dev/null | wc -l) || true
  on primary "$certwiz" run --config "$work/site.cfg" --answers "$work/resume.cfg" >"$work/run1.log" 2>&1 &
  runner=$!
  journal=""
  for _ in $(seq 1 600); do  # at most 60 s for the run to reach the step
    journal=$(ls -d "$state"/certwiz/runs/*-agent 2>/dev/null | sed -n "$((before + 1))p") || true
    [ -n "$journal" ] && grep -q '"step-start".*agent-delete-ssl@agent1' "$journal/journal.jsonl" 2>/dev/null && break
    sleep 0.1
  done
  # SIGKILL certwiz itself (inside the primary's namespace), not the wrapper.
  pkill -KILL -f "^$certwiz run --config $work/site.cfg" || true
  wait "$runner" 2>/dev/null || true
  check "the run was interrupted mid-step" grep -q '"step-start".*agent-delete-ssl@agent1' "$journal/journal.jsonl"
  check "the interrupted run did not end" sh -c "! grep -q run-end '$journal/journal.jsonl'"
  rc=0
  on primary "$certwiz" resume "$journal/journal.jsonl" >"$work/run.log" 2>&1 || rc=$?
  check "certwiz resume exits 0" [ "$rc" = 0 ] || show_run
  check "the resumed run re-verified the backups" grep -q "verified again" "$work/run.log"
  dups=$(grep '"step-start"' "$journal/journal.jsonl" | sed 's/.*"step":"\([^"]*\)".*/\1/' | sort | uniq -d | tr '\n' ' ')
  check "steps done before the kill were not started again (twice: ${dups:-none}; only the interrupted one may be)" \
    [ -z "$dups" -o "$dups" = "agent-delete-ssl@agent1.sandbox.test " ]
  new_fp=$(fp agent1 "$(cert_of agent1)" || true)
  check "agent1 ends with a new certificate" [ -n "$new_fp" -a "$new_fp" != "$old_fp" ]
  check "puppet agent -t succeeds on agent1" agent_run agent1
  check "one journal holds both halves, ended" grep -q '"run-end"' "$journal/journal.jsonl"
fi

# ------------------------------------------------------------------ SIGKILL at every step boundary
if want faults; then
  log "faults: oss-ca killed with SIGKILL after every sign-off and as destructive steps are under way, resumed each time"
  "$sb/reset" >/dev/null
  old_ca=$(fp primary $CA)
  on primary cat $CA >"$work/old-ca.pem"
  cat >"$work/faults.cfg" <<EOT
procedure = "oss-ca";
agents = ["agent1.sandbox.test", "agent2.sandbox.test"];
operator = "it";
confirm_destructive = true;
EOT
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  before=$(ls -d "$state"/certwiz/runs/*-oss-ca 2>/dev/null | wc -l) || true
  # Orphans: commands a killed certwiz had started go on by themselves; wait for them as an
  # operator would before resuming.
  # Remote backups, and Puppet commands on this sandbox's agents (several agents are in flight
  # at once; a killed certwiz's ssh session does not end them); certwiz itself waits for local
  # commands. Agents are told apart from another sandbox's by their mount namespace.
  agent_ns=$(for h in "$state"/hosts/agent*; do readlink "/proc/$(cat "$h/ns.pid")/ns/mnt"; done | tr '\n' ' ')
  settle() {
    local p ns busy
    for _ in $(seq 1 300); do
      busy=0
      pgrep -f 'certwiz-backup' >/dev/null && busy=1
      for p in $(pgrep -f 'puppet (ssl|agent) ' || true); do
        ns=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
        case " $agent_ns " in *" $ns "*) busy=1 ;; esac
      done
      [ "$busy" = 0 ] && return 0
      sleep 0.2
    done
  }
  kills=0 mids=0 rc=0 journal=""
  # certwiz stops itself at each boundary and as each destructive step starts (test hook);
  # a stopped certwiz is killed with SIGKILL there, and the run resumed.
  # After a kill as a step starts, the resumed run re-runs that step: it stops only at the
  # next boundary, or it would be killed at the same start for ever.
  stop_at=boundary,started
  stopped_pid() {
    local p
    for p in $(pgrep -f "^$certwiz (run|resume) .*$work" || true); do
      [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = T ] && { echo "$p"; return 0; }
    done
    return 0
  }
  on primary env CERTWIZ_TEST_STOP_AT=$stop_at "$certwiz" run --config "$work/site.cfg" --answers "$work/faults.cfg" \
    >"$work/faults-0.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    p=$(stopped_pid)
    if [ -z "$p" ]; then sleep 0.05; continue; fi
    [ -n "$journal" ] || journal=$(ls -d "$state"/certwiz/runs/*-oss-ca 2>/dev/null | sed -n "$((before + 1))p") || true
    j=$journal/journal.jsonl
    # where it stopped, in its own words (several agents run at once: the journal's last line
    # may be another agent's)
    last=$(sed -n 's/^certwiz: test stop at //p' "$work/faults-$kills.log" | tail -n 1)
    kill -KILL "$p"
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    if [ "$last" = started ]; then mids=$((mids + 1)) stop_at=boundary; else stop_at=boundary,started; fi
    settle
    on primary env CERTWIZ_TEST_STOP_AT=$stop_at "$certwiz" resume "$j" --config "$work/site.cfg" \
      >"$work/faults-$kills.log" 2>&1 &
    pid=$!
  done
  wait "$pid" || rc=$?
  echo "  (killed $kills times: $((kills - mids)) at step boundaries, $mids in the middle of destructive steps)"
  grep -q '"run-end"' "$journal/journal.jsonl" || rc=99
  check "the run completed after $kills kills ($mids of them mid-step)" [ "$rc" = 0 ]
  nsteps=$(plan_steps "$work/faults.cfg")
  signoffs=$(grep -c '"signoff"' "$journal/journal.jsonl")
  check "it was killed after each of the $nsteps sign-offs and in at least 3 destructive steps under way" \
    [ "$signoffs" = "$nsteps" -a $((kills - mids)) = "$signoffs" -a "$mids" -ge 3 ]
  check "the same result: the CA fingerprint changed" [ "$(fp primary $CA)" != "$old_ca" ]
  on primary cat $CA >"$work/new-ca.pem"
  for h in primary agent1 agent2; do
    c=$PCERT; [ "$h" = primary ] || c=$(cert_of "$h")
    on "$h" cat "$c" >"$work/$h.pem"
    check "$h's certificate verifies against the new CA" openssl verify -CAfile "$work/new-ca.pem" "$work/$h.pem"
  done
  check "agent1 completes puppet agent -t" agent_run agent1
  check "agent2 completes puppet agent -t" agent_run agent2
  check "agents were in flight at different steps at once (journal: two agents' steps of different kinds started, neither finished)" \
    python3 - "$journal/journal.jsonl" <<'PY'
import json, sys
running = {}
seen = False
for l in open(sys.argv[1]):
    e = json.loads(l)
    s = e.get("step") or ""
    if "@" not in s:
        continue
    if e["event"] == "step-start":
        running[s] = True
        kinds = {(x.split("@")[0], x.split("@")[1]) for x in running}
        if len({k for k, _ in kinds}) > 1 and len({a for _, a in kinds}) > 1:
            seen = True
    elif e["event"] in ("step-finish", "signoff"):
        running.pop(s, None)
assert seen
PY
  check "every sign-off is in one journal, each step once" \
    sh -c "[ \$(grep '\"signoff\"' '$journal/journal.jsonl' | sed 's/.*\"step\":\"\([^\"]*\)\".*/\1/' | sort | uniq -d | wc -l) = 0 ]"
  # The backups themselves, re-hashed against their manifests where they are kept.
  bad_archives=0 narchives=0
  for a in $(python3 -c "import json,sys; print(' '.join(b['archive'] + '@' + b['host'] for b in json.load(open(sys.argv[1]))['backups']))" "$journal/report.json"); do
    narchives=$((narchives + 1))
    h=${a#*@}; h=${h%%.*}; [ "$h" = puppet ] && h=primary
    archive_matches_manifest "$h" "${a%@*}" || bad_archives=$((bad_archives + 1))
  done
  check "all $narchives backups of the run re-hash to their manifests" [ "$narchives" -ge 3 -a "$bad_archives" = 0 ]
fi

# ------------------------------------------------------------------ a real failure
if want failure; then
  log "failure: the server cannot start; the run stops, names the step, and the backup restores"
  "$sb/reset" >/dev/null
  old_fp=$(fp primary $PCERT)
  # A broken server configuration: puppetserver really fails to start after the new cert.
  conf=/etc/puppet/puppetserver/conf.d/webserver.conf
  on primary cp "$conf" "$work/webserver.conf.orig"
  printf 'procedure = "primary";\noperator = "it";\nconfirm_destructive = true;\non_failure = "rollback";\n' >"$work/fail.cfg"
  # The running server has loaded its configuration already; it fails only at the restart.
  on primary sh -c "printf 'this is not hocon {{{\n' >> $conf"
  rc=$(certwiz_run "$work/fail.cfg")
  check "certwiz run exits 5 (a step failed)" [ "$rc" = 5 ] || show_run
  check "the output names the failing step" grep -q "FAILED" "$work/run.log"
  rundir=$(ls -td "$state"/certwiz/runs/*-primary | sed -n 1p)
  check "report.json: one step failed, a service start, with its reason; a rollback is recorded" python3 - "$rundir/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
failed = [s for s in r["steps"] if s["status"] == "failed"]
assert len(failed) == 1 and failed[0]["id"].endswith("-start") and failed[0].get("reason"), failed
assert r["rollbacks"], "no rollback in the report"
PY
  on primary cp "$work/webserver.conf.orig" "$conf"
  check "the server's old certificate is back (nothing lost)" [ "$(fp primary $PCERT)" = "$old_fp" ]
  "$sb/service/puppetserver" status >/dev/null 2>&1 || on primary "$sb/service/puppetserver" start >/dev/null
  check "agents run again against the restored server" agent_run agent1
fi

# Expiry: inventory, check's own fix, crl-refresh (their own file).
. "$top/tests/integration/expiry.sh"
# A fleet, pipelined, with a straggler (its own file).
. "$top/tests/integration/fleet.sh"
# Puppet Enterprise on the pe layout: pe-monolithic, its rollback (their own file).
. "$top/tests/integration/pe.sh"
# oss-ca with a real PuppetDB on the primary (their own file; the sandbox of CERTWIZ_IT_PUPPETDB=1).
. "$top/tests/integration/puppetdb.sh"

printf '\nintegration: %d passed, %d failed\n' "$passes" "$fails"
[ "$fails" -eq 0 ]
