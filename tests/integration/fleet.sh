# tests/integration/fleet.sh: a fleet in batch mode, pipelined (issue 12). Sourced by
# tests/integration/run.sh, which gives it its helpers (on, check, log, want, certwiz_run,
# agent_run, fp, $work, $sb, $state, $SSL); run it alone with
#   CERTWIZ_IT_ONLY=fleet tests/integration/run.sh PATH/TO/certwiz
#
# Every agent of the sandbox (at least 2; `sandbox/up --agents 5` for a fleet) is regenerated
# in one run, while agent2's `puppet ssl submit_request` is held up once by 20 s
# (sandbox/straggle: a wrapper around `puppet` inside agent2's namespace only, as a slow agent
# would be).
# Agents that do not wait for each other start their catalog runs while agent2 still asks;
# waves would have held every agent at agent2's request. The CA shares its signing calls
# among agents that are ready together (agent2 not in the first), each agent's request
# compared with the CA's copy (public key) first. Scenario wizard-fleet (below) walks a fleet
# through the wizard in tmux.

# Both scenarios need 3 or more agents (a straggler among others ready together; agent3
# failing in the wizard): tests/run-all.sh runs them in a tier of 5 (CERTWIZ_IT_AGENTS=5).
fleet_n=$(cat "$state/agents" 2>/dev/null || echo 2)
for sc in fleet wizard-fleet; do
  if want "$sc" && [ "$fleet_n" -lt 3 ]; then
    printf '\n---- [%s] %s: skipped, the sandbox has %s agents (needs 3 or more: CERTWIZ_IT_AGENTS=5)\n' "$label" "$sc" "$fleet_n"
  fi
done
if want fleet && [ "$fleet_n" -ge 3 ]; then
  fleet=$(ls "$state/hosts" | grep -c '^agent[0-9]*$' || true)
  log "fleet: $fleet agents in one pipelined run; agent2 slowed by 20 s at its request"
  "$sb/reset" >/dev/null
  names=()
  for n in $(seq 1 "$fleet"); do names+=("\"agent$n.sandbox.test\""); done
  { echo 'procedure = "agent";'; printf 'agents = [%s];\n' "$(IFS=,; echo "${names[*]}")"
    echo 'operator = "it";'; echo 'confirm_destructive = true;'; } >"$work/fleet.cfg"
  declare -A old
  declare -A serial
  for n in $(seq 1 "$fleet"); do
    old[$n]=$(fp "agent$n" "$(cert_of "agent$n")")
    serial[$n]=$(on "agent$n" openssl x509 -noout -serial -in "$(cert_of "agent$n")" | sed 's/.*=//; s/^0*//')
  done
  "$sb/straggle" agent2 submit_request 20
  rc=$(certwiz_run "$work/fleet.cfg")
  "$sb/straggle" agent2 --off
  check "certwiz run exits 0" [ "$rc" = 0 ] || show_run
  for n in $(seq 1 "$fleet"); do
    new=$(fp "agent$n" "$(cert_of "agent$n")" || true)
    check "agent$n has a new certificate that chains to the CA" \
      sh -c "[ -n '$new' ] && [ '$new' != '${old[$n]}' ] && \"$sb/exec\" agent$n -- openssl verify -CAfile $SSL/certs/ca.pem $(cert_of "agent$n") >/dev/null"
  done
  rundir=$(ls -td "$state"/certwiz/runs/*-agent | sed -n 1p)
  check "pipelined: other agents' catalog runs started before agent2's slow request ended (journal order)" \
    python3 - "$rundir/journal.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
slow = max(i for i, e in enumerate(ev) if e["event"] == "step-finish" and e["step"] == "agent-request@agent2.sandbox.test")
assert any(e["event"] == "step-start" and e["step"].startswith("agent-run@") and i < slow
           for i, e in enumerate(ev)), "every catalog run waited for agent2's request"
PY
  check "the CA shared its signing calls among agents that were ready together, agent2 not in the first" \
    python3 - "$rundir/journal.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
calls = []
for e in ev:
    if e["event"] == "fact" and e.get("key") == "batch-command" and e["step"].startswith("ca-sign@"):
        if not calls or calls[-1][0] != e["value"]:
            calls.append((e["value"], []))
        calls[-1][1].append(e["step"])
assert any(len(steps) >= 2 for _, steps in calls), calls
assert "ca-sign@agent2.sandbox.test" not in calls[0][1], calls
PY
  if [ "$legacy" = 0 ]; then
    check "the CA cleaned agents ready together in one request to Puppet Server's bulk clean endpoint" \
      python3 - "$rundir/journal.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
calls = {}
for e in ev:
    if e["event"] == "fact" and e.get("key") == "batch-command" and e["step"].startswith("ca-clean@"):
        calls.setdefault(e["value"], []).append(e["step"])
bulk = [(c, s) for c, s in calls.items() if "/puppet-ca/v1/clean" in c and len(s) >= 2]
assert bulk, calls
PY
    # core/exec.c's words when a shared call fails and each agent gets its own
    fallback="each agent on its own|each agent is checked, and run on its own"
    check "no shared command fell back to one agent at a time" sh -c "! grep -qE '$fallback' '$work/run.log'"
    grep -E "$fallback" "$work/run.log" | sed 's/^/      | /' || true
  fi
  revoked=0
  for n in $(seq 1 "$fleet"); do
    on primary sh -c "openssl crl -noout -text -in $CRL | grep -qi 'Serial Number: *0*${serial[$n]}\$'" && revoked=$((revoked + 1))
  done
  check "every agent's old certificate is in the CA's CRL ($revoked of $fleet)" [ "$revoked" = "$fleet" ]
  check "each agent's request was compared with the CA's copy (public key) before its signing" \
    python3 - "$rundir/journal.jsonl" "$fleet" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
for i in range(1, n + 1):
    step = f"ca-sign@agent{i}.sandbox.test"
    notes = [e.get("note") or "" for e in ev if e["event"] == "step-verify" and e.get("step") == step]
    assert notes and any(l.startswith("ok before:") and "public key" in l and "the same on both ends" in l
                         for l in notes[-1].split("\n")), (step, notes)
PY
  check "report.json: every step signed off by batch:it, verified" \
    [ "$(signed_by "$rundir" batch:it)" = "$(plan_steps "$work/fleet.cfg")" ]
  for n in 1 2 "$fleet"; do check "puppet agent -t succeeds on agent$n" agent_run "agent$n"; done
fi

# ------------------------------------------------------------------ a fleet in the wizard, in tmux
# Every agent of the sandbox chosen from the CA's list, each fleet row run with one Enter and
# signed off once; agent3's request fails once (sandbox/straggle ... fail) and is retried; the
# terminal is lost after four rows and `certwiz resume` reopens the wizard at the run screen.
if want wizard-fleet && [ "$fleet_n" -ge 3 ]; then
  fleet=$(ls "$state/hosts" | grep -c '^agent[0-9]*$' || true)
  log "wizard-fleet: $fleet agents through the wizard in tmux; agent3 fails once; the terminal lost and resumed"
  "$sb/reset" >/dev/null
  declare -A wold
  for n in $(seq 1 "$fleet"); do wold[$n]=$(fp "agent$n" "$(cert_of "agent$n")"); done
  "$top/scripts/sandbox-config" >"$work/site.cfg"
  "$sb/straggle" agent3 submit_request fail
  rc=0
  python3 "$top/tests/integration/wizard-fleet-tmux.py" "$certwiz" "$work/site.cfg" "$state" 4 \
    >"$work/run.log" 2>&1 || rc=$?
  "$sb/straggle" agent3 --off
  check "the wizard walked the fleet, was resumed after the terminal was lost, and completed" [ "$rc" = 0 ] || show_run 60
  check "one confirmation per destructive fleet row, as a number of agents" grep -q "typed confirmations \['$fleet', '$fleet'\]" "$work/run.log"
  check "agent3 failed once and was retried" grep -q "; 1 retries;" "$work/run.log"
  for n in $(seq 1 "$fleet"); do
    new=$(fp "agent$n" "$(cert_of "agent$n")" || true)
    check "agent$n has a new certificate" [ -n "$new" -a "$new" != "${wold[$n]}" ]
  done
  rundir=$(sed -n 's/.*; run \(.*\)$/\1/p' "$work/run.log")
  check "one journal: the resume recorded, every step signed off by the operator" \
    python3 - "$rundir" "$fleet" <<'PY'
import json, sys
rundir, n = sys.argv[1], int(sys.argv[2])
ev = [json.loads(l) for l in open(rundir + "/journal.jsonl")]
assert any(e["event"] == "fact" and e.get("key") == "resumed" for e in ev), "no resume"
r = json.load(open(rundir + "/report.json"))
assert all((s.get("signoff") or {}).get("who") == "tmux-test" for s in r["steps"]), \
    [s["id"] for s in r["steps"] if (s.get("signoff") or {}).get("who") != "tmux-test"]
agents = {a["name"]: a["outcome"] for a in r["agents"]}
assert len(agents) == n and set(agents.values()) == {"done"}, agents
fails = [e for e in ev if e["event"] == "step-finish" and e.get("outcome") == "fail"]
assert [e["step"] for e in fails] == ["agent-request@agent3.sandbox.test"], [e["step"] for e in fails]
PY
  check "puppet agent -t succeeds on agent3" agent_run agent3
fi
