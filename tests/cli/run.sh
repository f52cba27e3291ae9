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

# inventory: a CA made here with the openssl CLI (the CA server puppet.example.com with 20 days
# left, web1 with 5, web2 with a year, web3 revoked), read from the root's cadir.
ca="$tmp/caroot/etc/puppet/puppetserver/ca"
mkdir -p "$ca/signed" "$tmp/cadb" && cp -r "$root/etc" "$tmp/caroot/"
: >"$tmp/cadb/index.txt"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ndefault_md = sha256\ndefault_crl_days = 30\n' \
  "$tmp/cadb" >"$tmp/ca.cnf"
mkcert() { # CN DAYS SERIAL
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=$1" \
    -addext "subjectAltName=DNS:$1" 2>/dev/null |
    openssl x509 -req -CA "$ca/ca_crt.pem" -CAkey "$tmp/ca.key" -days "$2" -set_serial "$3" -copy_extensions copy \
      -out "$ca/signed/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" -days 3650 \
  -subj "/CN=Puppet CA: puppet.example.com" -out "$ca/ca_crt.pem" 2>/dev/null
mkcert puppet.example.com 20 2 && mkcert web1.example.com 5 3 && mkcert web2.example.com 365 4 &&
  mkcert web3.example.com 365 5 &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$tmp/ca.key" -cert "$ca/ca_crt.pem" -revoke "$ca/signed/web3.example.com.pem" \
    >/dev/null 2>&1 &&
  openssl ca -config "$tmp/ca.cnf" -keyfile "$tmp/ca.key" -cert "$ca/ca_crt.pem" -gencrl -out "$ca/ca_crl.pem" \
    >/dev/null 2>&1 || { echo "FAIL: making the inventory fixture CA with openssl"; fails=$((fails + 1)); }
cabase="--profile oss-debian --root $tmp/caroot --journal-dir $tmp/runs --backup-dir $tmp/backups"
expect 4 "no CA here: /etc/puppet/puppetserver/ca/ca_crt.pem does not exist" -- inventory $base
expect 1 "signed         4: 1 ok, 2 expiring within 30 days, 0 expired, 1 revoked, 0 unreadable" -- inventory $cabase
expect 1 "revoked" -- inventory $cabase
expect 1 "fix: 1 agent certificate(s) expire within 30 days: certwiz inventory --within 30 --write-agents" -- inventory $cabase
expect 1 "fix: the CA server's own certificate (puppet.example.com) expires soon: certwiz plan --procedure primary" -- inventory $cabase
expect 0 "No signed certificate expires within 4 days." -- inventory --within 4 $cabase
expect 1 '"format":"certwiz-inventory-1"' -- inventory --json $cabase
expect 1 "--agents-file $tmp/expiring.txt" -- inventory --write-agents "$tmp/expiring.txt" $cabase
if grep -qx web1.example.com "$tmp/expiring.txt" && ! grep -q '^[^#].*puppet.example.com' "$tmp/expiring.txt"; then
  passes=$((passes + 1))
else
  echo "FAIL: --write-agents wrote:"; sed 's/^/    /' "$tmp/expiring.txt"; fails=$((fails + 1))
fi
expect 1 "wrote 1 agent certname(s) to $tmp/expiring.txt" -- inventory --write-agents "$tmp/expiring.txt" $cabase
# The same CA where Puppet 5 keeps it, inside the ssldir.
mkdir -p "$tmp/p5root/etc/puppetlabs/puppet/ssl" && cp -r "$SRCDIR/tests/golden/root-oss-aio-5/etc" "$tmp/p5root/" &&
  cp -r "$ca" "$tmp/p5root/etc/puppetlabs/puppet/ssl/ca"
expect 1 "CA directory   /etc/puppetlabs/puppet/ssl/ca (inside the ssldir: Puppet 5" -- inventory -P oss-aio-5 --root "$tmp/p5root"
expect 1 "signed         4: 1 ok, 2 expiring within 30 days, 0 expired, 1 revoked" -- inventory -P oss-aio-5 --root "$tmp/p5root"
# What it wrote is an agents file the agent procedure takes.
expect 0 '$ puppetserver ca clean --certname web1.example.com' -- plan -p agent -A "$tmp/expiring.txt" $cabase
# check names the certwiz command that fixes each expiry finding.
mkdir -p "$tmp/caroot/var/lib/puppet/ssl/certs"
cp "$ca/signed/puppet.example.com.pem" "$tmp/caroot/var/lib/puppet/ssl/certs/"
# Its exit code is 1, or 2 when a puppetserver of another CA answers on this machine's port
# 8140 (check asks the CA server's port), so only the words are compared here.
"$CERTWIZ" check $cabase >"$tmp/check.out" 2>&1
"$CERTWIZ" check --within 4000 $cabase >"$tmp/check4000.out" 2>&1
while IFS='|' read -r file text; do
  if grep -qF -- "$text" "$tmp/$file"; then
    passes=$((passes + 1))
  else
    echo "FAIL: certwiz check did not say: $text"; sed 's/^/    /' "$tmp/$file"; fails=$((fails + 1))
  fi
done <<'EOT'
check.out|WARN signed certificates  4 in /etc/puppet/puppetserver/ca: 2 expiring within 30 days
check.out|fix: 1 agent certificate(s) expire within 30 days: certwiz inventory --within 30 --write-agents
check.out|fix: regenerate it with its alt names: certwiz plan --procedure primary
check4000.out|fix: renew it with its own key: certwiz inventory --within 36500 --write-agents all-agents.txt (every agent), then certwiz plan --procedure ca-renew --agents-file all-agents.txt
check4000.out|if its key must change too, regenerate the CA and every certificate: certwiz plan --procedure oss-ca
check4000.out|then certwiz plan --procedure crl-refresh --agents-file all-agents.txt
EOT

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
expect 4 "no backup archive $tmp/none.tar.gz: give the path" -- restore "$tmp/none.tar.gz" --yes
: >"$tmp/lone.tar.gz"
expect 4 "the backup $tmp/lone.tar.gz has no manifest $tmp/lone.manifest beside it" -- restore "$tmp/lone.tar.gz" --yes

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
