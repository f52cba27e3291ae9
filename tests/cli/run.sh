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
# (expect_line: TEXT is a whole line.)
expect() {
  code=$1 text=$2
  shift 3
  "$CERTWIZ" "$@" >"$tmp/out" 2>&1
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q${whole:-}F -- "$text" "$tmp/out"; then
    echo "FAIL: certwiz $* -> exit $rc (want $code), output:"
    sed 's/^/    /' "$tmp/out" | head -20
    echo "    (wanted the text: $text)"
    fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}
expect_line() { whole=x expect "$@"; }

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
# puppet.conf lists the certname among its alt names; Puppet puts it in the SAN by itself, so
# the plan does not name it twice
expect_line 0 "  alt names  puppet" -- plan -p primary $base
expect 0 "--subject-alt-names puppet --ca-client" -- plan -p primary $base
expect_line 0 "         $ puppetserver ca setup --certname puppet.example.com --subject-alt-names puppet.example.org" -- plan -p oss-ca -a web1.example.com -d puppet.example.com,puppet.example.org $base
expect 0 "Regenerate the CA and all certificates" -- list
# Puppet's documents by title, never by this project's file numbers
expect 0 'follows Puppet'"'"'s "Regenerating Certs for the Puppet Master"' -- list
"$CERTWIZ" list >"$tmp/out" 2>&1
if grep -qiE 'seed|\b00[0-4]\b' "$tmp/out"; then
	echo "FAIL: certwiz list names internal seed files:"; grep -iE 'seed|\b00[0-4]\b' "$tmp/out"; fails=$((fails + 1))
else
	passes=$((passes + 1))
fi
# A blocker: the plan is printed whole, and the exit code says it cannot run.
cp -r "$root" "$tmp/blocked-root"
mkdir -p "$tmp/blocked-root/etc/puppet/puppetserver/conf.d"
printf 'certificate-authority: {\n    allow-subject-alt-names: false\n}\n' \
	>"$tmp/blocked-root/etc/puppet/puppetserver/conf.d/ca.conf"
blocked="--profile oss-debian --root $tmp/blocked-root --journal-dir $tmp/runs --backup-dir $tmp/backups"
expect 2 "BLOCKED: the CA refuses certificates with alt names" -- plan -p primary $blocked
expect 2 "the plan is blocked (BLOCKED above)" -- plan -p primary $blocked
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
# A file that is not there is an input/output error (4), whatever names it.
expect 4 "cannot open $tmp/nope/journal.jsonl" -- report "$tmp/nope/journal.jsonl"
expect 4 "cannot open /nonexistent" -- report /nonexistent
expect 4 "cannot open /nonexistent" -- plan -p agent -A /nonexistent $base
expect 4 "cannot read $tmp/none.cfg" -- plan -p agent -a web1.example.com --config "$tmp/none.cfg" $base
expect 4 "cannot read $tmp/none.cfg" -- run --answers "$tmp/none.cfg" $base
expect 2 "--parallel takes a number of hosts from 1 to 256" -- run --parallel 0 $base
expect 2 "--on-failure takes stop or rollback, not 'panic'" -- plan -p primary --on-failure panic $base
expect 2 "resume needs the journal of the interrupted run" -- resume
expect 2 "restore needs a backup archive" -- restore
expect 4 "$tmp/none.manifest" -- restore "$tmp/none.tar.gz" --yes

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
printf 'procedure = "primary";\nvars = { ssldir = "/"; };\n' >"$tmp/root.cfg"
expect 2 "ssldir: path '/' is too close to /" -- run --answers "$tmp/root.cfg" $base
# Directories on the command line: relative ones are taken from the current directory and then
# checked as the config file's are.
(cd "$tmp" && "$CERTWIZ" plan -p agent -a web1.example.com -A agents --profile oss-debian --root "$root" \
	--config sshsite.cfg --journal-dir runs --backup-dir ./b/../backups) >"$tmp/out" 2>&1
if [ $? -ne 0 ] || ! grep -q "web2.example.com" "$tmp/out"; then
	echo "FAIL: relative --agents-file, --config and directories from the current directory:"; sed 's/^/    /' "$tmp/out"
	fails=$((fails + 1))
else
	passes=$((passes + 1))
fi
printf 'backup_dir = "backups";\n' >"$tmp/reldir.cfg"
expect 3 "reldir.cfg:1: backup_dir: path 'backups' is not absolute" -- plan -p agent -a web1.example.com --config "$tmp/reldir.cfg" $base
expect 2 "--journal-dir: path '/' is too close to /" -- plan -p agent -a web1.example.com $base --journal-dir /
# agents_file in an answers file names a file next to it, whatever the current directory
printf 'procedure = "agent";\nagents_file = "agents";\n' >"$tmp/relagents.cfg"
expect 0 "ca clean --certname web2.example.com" -- plan --answers "$tmp/relagents.cfg" $base
[ ! -e "$tmp/runs" ] || { echo "FAIL: a refused run left $tmp/runs behind"; fails=$((fails + 1)); }

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
