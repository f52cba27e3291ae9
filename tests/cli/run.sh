#!/bin/sh
# tests/cli/run.sh: what a person sees at the command line: exit codes and messages.
# Run by `make check` with CERTWIZ (the binary) and SRCDIR (the source tree) set.
set -u
: "${CERTWIZ:?}" "${SRCDIR:?}"
root="$SRCDIR/tests/cli/root"
tmp=$(mktemp -d /tmp/certwiz-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

# expect CODE TEXT -- ARGS...: exit code CODE and TEXT somewhere in stdout+stderr.
expect() {
  code=$1 text=$2
  shift 3
  "$CERTWIZ" "$@" >"$tmp/out" 2>&1
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qF -- "$text" "$tmp/out"; then
    echo "FAIL: certwiz $* -> exit $rc (want $code), output:"
    sed 's/^/    /' "$tmp/out" | head -20
    echo "    (wanted the text: $text)"
    fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}

base="--profile oss-debian --root $root --journal-dir $tmp/runs --backup-dir $tmp/backups"
# Our own HOME: the operator's ~/.ssh/config must not change what these tests see.
export HOME="$tmp/home"
mkdir -p "$HOME/.ssh"

expect 0 "Usage: certwiz" -- --help
expect 0 "Exit codes:" -- --help
expect 0 "certwiz 0." -- --version
expect 2 "unknown option '--frobnicate'" -- plan --frobnicate
expect 2 "option --procedure needs a value" -- plan --procedure
expect 2 "unknown command 'frob'" -- frob
expect 2 "unexpected argument 'extra'" -- plan extra
expect 2 "unknown procedure 'nope': choose one of agent" -- plan -p nope $base
expect 2 "unknown profile 'pe-9': choose one of" -- plan -p agent -P pe-9 --root "$root"
expect 2 "the agent procedure needs at least one agent" -- plan -p agent $base
expect 2 "certname 'bad;name' has the character ';'" -- plan -p agent -a 'bad;name' $base
expect 2 "certname 'Web1.example.com' has upper-case letters" -- plan -p agent -a Web1.example.com $base
expect 2 "alt name '*.example.com' is a wildcard" -- plan -p primary -d '*.example.com' $base
expect 2 "regenerate its certificate with the 'primary' procedure" -- plan -p agent -a puppet.example.com $base
expect 0 '$ puppetserver ca clean --certname web1.example.com' -- plan -p agent -a web1.example.com $base
expect 0 "CA server  puppet.example.com (this host)" -- plan -p agent -a web1.example.com $base
expect 0 "alt names  puppet,puppet.example.com" -- plan -p primary $base
expect 0 "--subject-alt-names puppet,puppet.example.com --ca-client" -- plan -p primary $base
expect 0 "Regenerate the CA and all certificates" -- list
printf 'web1.example.com\n# comment\nweb2.example.com\n' >"$tmp/agents"
expect 0 "ca clean --certname web2.example.com" -- plan -p agent -A "$tmp/agents" $base
# ~/.ssh/config basics: HostName, User, Port, IdentityFile by Host pattern, first value wins;
# the site config's own settings come first.
cat >"$HOME/.ssh/config" <<'EOT'
Host web1.example.com
    HostName 10.9.8.7
    Port 2222
Host *.example.com
    User deploy
    Port 22
    IdentityFile ~/.ssh/fleet_ed25519
EOT
expect 0 "agent      web1.example.com (deploy@10.9.8.7:2222)" -- plan -p agent -A "$tmp/agents" $base
expect 0 "agent      web2.example.com (deploy@web2.example.com:22)" -- plan -p agent -A "$tmp/agents" $base
printf 'ssh = { user = "certwiz"; };\nhosts = ( { name = "web1.example.com"; port = 2200; } );\n' >"$tmp/sshsite.cfg"
expect 0 "agent      web1.example.com (certwiz@10.9.8.7:2200)" -- plan -p agent -A "$tmp/agents" --config "$tmp/sshsite.cfg" $base
printf 'ssh = { config = ""; };\n' >"$tmp/nossh.cfg"
expect 0 "agent      web1.example.com (root@web1.example.com:22)" -- plan -p agent -A "$tmp/agents" --config "$tmp/nossh.cfg" $base
printf 'Host *\n    Port 99999\n' >"$HOME/.ssh/config"
expect 3 ".ssh/config:2: port must be a number from 1 to 65535, found '99999'" -- plan -p agent -A "$tmp/agents" $base
rm "$HOME/.ssh/config"
printf 'web1.example.com\nweb 2\n' >"$tmp/badagents"
expect 2 "badagents:2: expected one agent certname per line" -- plan -p agent -A "$tmp/badagents" $base

expect 1 "WARN CA certificate" -- check $base
expect 1 "fix: run certwiz on the CA server" -- check $base
expect 2 "--within takes a number of days" -- check --within soon $base

expect 2 "report needs the journal of a run" -- report
expect 3 "cannot open $tmp/nope/journal.jsonl" -- report "$tmp/nope/journal.jsonl"
expect 2 "--parallel takes a number of hosts from 1 to 256" -- run --parallel 0 $base
expect 2 "--on-failure takes stop or rollback, not 'panic'" -- plan -p primary --on-failure panic $base
expect 2 "resume needs the journal of the interrupted run" -- resume
expect 2 "restore needs a backup archive" -- restore
expect 3 "no backup archive $tmp/none.tar.gz: give the path" -- restore "$tmp/none.tar.gz" --yes
: >"$tmp/lone.tar.gz"
expect 3 "the backup $tmp/lone.tar.gz has no manifest $tmp/lone.manifest beside it" -- restore "$tmp/lone.tar.gz" --yes

# Batch: answers files are checked before anything runs.
expect 2 "run needs --answers FILE" -- run
printf 'procedure = "agent";\nagents = ["web1.example.com";\nconfirm_destructive = true;\n' >"$tmp/syntax.cfg"
expect 3 "syntax.cfg:2: syntax error" -- run --answers "$tmp/syntax.cfg" $base
printf 'procedure = "agent";\nagents = ["web1.example.com"];\n' >"$tmp/ok.cfg"
expect 2 "--root is for certwiz plan only" -- run --answers "$tmp/ok.cfg" $base
printf 'procedure = "agent";\nagents = ["web1.example.com"];\nconfirm_destructiv = true;\n' >"$tmp/typo.cfg"
expect 3 "typo.cfg:3: unknown setting 'confirm_destructiv'" -- run --answers "$tmp/typo.cfg" $base
printf 'procedure = "agent";\nagents = ["web1.example.com", "$(reboot)"];\n' >"$tmp/inject.cfg"
expect 3 "inject.cfg:2: agent certname '\$(reboot)' has the character '\$'" -- run --answers "$tmp/inject.cfg" $base
printf 'procedure = "agent";\nagents = ["web1.example.com"];\nskip = ["agent-runn"];\n' >"$tmp/skip.cfg"
expect 3 "skip.cfg:3: skip names 'agent-runn', which is no step of procedure agent: expected a step id" -- plan --answers "$tmp/skip.cfg" $base
printf 'procedure = "agent";\nagents = ["web1.example.com"];\nmanual_done = ["agent-run"];\n' >"$tmp/manual.cfg"
expect 3 "manual.cfg:3: manual_done names 'agent-run', but procedure agent has no manual steps" -- plan --answers "$tmp/manual.cfg" $base
printf 'services = { backend = "sysv"; groups = (); };\n' >"$tmp/groups.cfg"
expect 3 "groups.cfg:1: services: 'groups' belongs to a profile" -- plan -p agent -a web1.example.com --config "$tmp/groups.cfg" $base
printf 'vars = {\n  ssldir = "/srv/puppet/ssl";\n  bogus = "x";\n};\n' >"$tmp/vars.cfg"
expect 3 "vars.cfg:3: vars: 'bogus' is a variable that no procedure and not profile oss-debian uses: expected one of" -- plan -p agent -a web1.example.com --config "$tmp/vars.cfg" $base
printf 'services = { backend = "systemctl"; };\n' >"$tmp/backend.cfg"
expect 3 "backend.cfg:1: unknown service backend \"systemctl\": expected one of systemd" -- plan -p agent -a web1.example.com --config "$tmp/backend.cfg" $base
expect 3 "procedure pe-monolithic is for Puppet Enterprise and needs a PE profile, but profile oss-debian is open-source Puppet" -- plan -p pe-monolithic $base
printf 'procedure = "primary";\nvars = { ssldir = "/"; };\n' >"$tmp/root.cfg"
expect 2 "ssldir: path '/' is too close to /" -- run --answers "$tmp/root.cfg" $base
[ ! -e "$tmp/runs" ] || { echo "FAIL: a refused run left $tmp/runs behind"; fails=$((fails + 1)); }

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
