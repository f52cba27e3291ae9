#!/bin/sh
# run-wizard.sh: golden screen tests of the wizard: every screen at 80x24, headless, driven by
# key scripts (CERTWIZ_SCRIPT), each :dump compared with tests/screen/golden-wizard/.
#
#   run-wizard.sh            exit 0 when every screen matches, 1 with the diffs otherwise
#   run-wizard.sh --update   rewrite the goldens from this run (review them with git diff)
#   run-wizard.sh --try ro|run
#                            set up the same fake host and open the wizard on this terminal
#                            (to walk the screens by hand; everything is removed at the end)
#
# Environment: CERTWIZ the binary (default ./certwiz, i.e. the build tree), SRCDIR the source
# tree (default: from this script). Needs the openssl command (exit 77 without it).
#
# Two walks, both against a fake host made here (tests/screen/root copied to a temporary
# directory, its CA, certificate and CRL made with openssl):
#  ro   the real procedures and profile oss-debian with --root: welcome, deployment type,
#       discovery, pre-flight, plan review, and the run screen refusing to run (a run would
#       act on this host's real files).
#  run  CERTWIZ_TEST_ALLOW_ROOT_RUN=1 with the test data in tests/screen/data (a procedure of
#       the same shape whose commands are scripts in tests/screen/bin, a `command` service
#       backend) and a certwiz.cfg pointing every path into the temporary directory: backup,
#       every kind of step, a destructive confirmation, a skip, a step done by hand, a failed
#       agent, the hosts screen, the summary. Nothing outside the temporary directory changes.
# What varies between runs (the temporary directory, times, fingerprints, digests, free
# space) is masked in the dumps; the temporary directory always has the same length, so the
# layout does not change with it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${SRCDIR:-$(cd "$here/../.." && pwd)}
sdir=$srcdir/tests/screen
gdir=$sdir/golden-wizard
cw=${CERTWIZ:-$PWD/certwiz}
update=0 try=
[ "${1:-}" = --update ] && update=1
[ "${1:-}" = --try ] && try=${2:-run}

case "$cw" in /*) ;; *) cw=$PWD/$cw ;; esac
[ -x "$cw" ] || { echo "run-wizard: no certwiz binary at $cw (build it, or set CERTWIZ)"; exit 1; }
command -v openssl >/dev/null 2>&1 || {
	echo "run-wizard: openssl not found, skipped"
	[ "${CERTWIZ_TEST_STRICT:-}" = 1 ] && exit 1
	exit 77
}
if ! LC_ALL=C.UTF-8 locale charmap 2>/dev/null | grep -q UTF-8; then
	echo "run-wizard: the C.UTF-8 locale is missing"
	exit 1
fi
# Not under $TMPDIR: the path is on screen, and its length must not change the layout.
tmp=$(mktemp -d /tmp/cwwiz.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
# An empty HOME: the operator's ~/.ssh/config must not change the screens.
HOME=$tmp/home
export HOME
mkdir -p "$HOME"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# The pre-flight checks say whether certwiz runs as root. Run as root, or as root in a user
# namespace; without either, the screens that show it are not compared.
as_root=
if [ "$(id -u)" != 0 ]; then
	if unshare -r true 2>/dev/null; then
		as_root="unshare -r"
	else
		as_root=none
		echo "run-wizard: not root and no user namespaces: the pre-flight screens are not compared"
	fi
fi

# ---- the fake host ----
# make_root DIR: the fixture tree plus an Ed25519 CA (fixed serials: the files always have the
# same size), the host certificate (its alt names differ from puppet.conf's on purpose), CRLs.
make_root() {
	root=$1
	mkdir -p "$root" && cp -R "$sdir/root/." "$root/" || return 1
	ca=$root/etc/puppet/puppetserver/ca ssl=$root/var/lib/puppet/ssl
	mkdir -p "$ca" "$ssl/certs" "$ssl/private_keys" "$tmp/openssl" || return 1
	cat >"$tmp/openssl/cnf" <<-EOF
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = unused
	[v3_ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	subjectKeyIdentifier = hash
	[v3_host]
	basicConstraints = critical,CA:FALSE
	subjectAltName = DNS:puppet,DNS:puppet.example.com,DNS:oldname.example.com
	[ca]
	default_ca = d
	[d]
	database = $tmp/openssl/index.txt
	crlnumber = $tmp/openssl/crlnumber
	default_crl_days = 365
	default_md = default
	EOF
	: >"$tmp/openssl/index.txt"
	echo 01 >"$tmp/openssl/crlnumber"
	cnf=$tmp/openssl/cnf
	{
		openssl genpkey -algorithm ed25519 -out "$ca/ca_key.pem" &&
			openssl req -x509 -new -key "$ca/ca_key.pem" -config "$cnf" -extensions v3_ca \
				-subj "/CN=Puppet CA: puppet.example.com" -days 3650 -set_serial 1 -out "$ca/ca_crt.pem" &&
			openssl genpkey -algorithm ed25519 -out "$ssl/private_keys/puppet.example.com.pem" &&
			openssl req -new -key "$ssl/private_keys/puppet.example.com.pem" -config "$cnf" \
				-subj "/CN=puppet.example.com" -out "$tmp/openssl/host.csr" &&
			openssl x509 -req -in "$tmp/openssl/host.csr" -CA "$ca/ca_crt.pem" -CAkey "$ca/ca_key.pem" \
				-set_serial 2 -days 825 -extfile "$cnf" -extensions v3_host \
				-out "$ssl/certs/puppet.example.com.pem" &&
			openssl ca -gencrl -config "$cnf" -keyfile "$ca/ca_key.pem" -cert "$ca/ca_crt.pem" \
				-out "$ca/ca_crl.pem" &&
			cp "$ca/ca_crt.pem" "$ssl/certs/ca.pem" && cp "$ca/ca_crl.pem" "$ssl/crl.pem"
	} >"$tmp/openssl/log" 2>&1 || { cat "$tmp/openssl/log"; return 1; }
}

# The new CA the run's "setup" step puts in place.
make_new_ca() {
	mkdir -p "$tmp/newca" &&
		openssl genpkey -algorithm ed25519 -out "$tmp/newca/ca_key.pem" &&
		openssl req -x509 -new -key "$tmp/newca/ca_key.pem" -config "$tmp/openssl/cnf" -extensions v3_ca \
			-subj "/CN=Puppet CA: puppet.example.com" -days 3650 -set_serial 3 -out "$tmp/newca/ca_crt.pem"
} >>"$tmp/openssl/log" 2>&1

# The scripts are copied, so that their paths on screen have a fixed length too.
mkdir -p "$tmp/bin" "$tmp/state" && cp "$sdir/bin/fake-service" "$sdir/bin/fake-step" "$tmp/bin/" || exit 1
make_root "$tmp/ro-root" || { echo "run-wizard: could not make the fake host"; exit 1; }
make_root "$tmp/root" && make_new_ca || { echo "run-wizard: could not make the fake host"; cat "$tmp/openssl/log"; exit 1; }
mkdir -p "$tmp/root/var/cache/puppet/client_data/catalog"
: >"$tmp/state/puppet.running"
: >"$tmp/state/puppetserver.running"

# The agents are reached over SSH (exec_open connects every host before the first step): an
# sshd of the test's own, on loopback, with its own host key, client key and known_hosts. The
# agents' steps run on the CA, so nothing runs over SSH but the connection itself.
sshd_pid=
cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
	if [ -n "${CW_KEEP_TMP:-}" ]; then echo "run-wizard: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
start_sshd() {
	sshd_bin=${CW_TEST_SSHD:-/usr/sbin/sshd}
	[ -x "$sshd_bin" ] && command -v ssh-keygen >/dev/null 2>&1 || return 1
	# sshd logs us in as ourselves: an account without a login shell cannot be
	case $(getent passwd "$(id -un)" | cut -d: -f7) in */nologin | */false) return 1 ;; esac
	d=$tmp/sshd
	mkdir -p "$d" &&
		ssh-keygen -q -t ed25519 -N '' -C '' -f "$d/hostkey" &&
		ssh-keygen -q -t ed25519 -N '' -C '' -f "$d/client" &&
		cp "$d/client.pub" "$d/authorized_keys" && chmod 600 "$d/authorized_keys" || return 1
	# sshd started by root needs its (empty) privilege separation directory
	[ "$(id -u)" = 0 ] && [ ! -d /run/sshd ] && mkdir -p -m 0755 /run/sshd
	for attempt in 1 2 3 4 5; do
		port=$((20000 + ($$ * 7 + attempt * 1013) % 10000)) # five digits: the layout keeps
		{
			echo "Port $port"
			echo "ListenAddress 127.0.0.1"
			echo "HostKey $d/hostkey"
			echo "AuthorizedKeysFile $d/authorized_keys"
			echo "PidFile $d/sshd.pid"
			echo "StrictModes no"
			echo "UsePAM no"
			echo "PasswordAuthentication no"
			echo "KbdInteractiveAuthentication no"
			echo "UseDNS no"
			echo "MaxStartups 50"
			[ "$(id -u)" = 0 ] && echo "PermitRootLogin yes"
		} >"$d/sshd_config"
		"$sshd_bin" -t -f "$d/sshd_config" >"$d/log" 2>&1 || return 1
		rm -f "$d/sshd.pid"
		"$sshd_bin" -D -e -f "$d/sshd_config" 2>>"$d/log" &
		sshd_pid=$!
		# sshd writes its pid file once it listens: wait for that (or for it to give up)
		i=0
		while [ $i -lt 200 ] && [ ! -s "$d/sshd.pid" ] && kill -0 "$sshd_pid" 2>/dev/null; do
			sleep 0.05
			i=$((i + 1))
		done
		[ -s "$d/sshd.pid" ] && break
		kill "$sshd_pid" 2>/dev/null
		wait "$sshd_pid" 2>/dev/null
		sshd_pid=
	done
	[ -n "$sshd_pid" ] || return 1
	key=$(cut -d' ' -f1,2 "$d/hostkey.pub")
	for h in web1.example.com web2.example.com bad3.example.com; do
		echo "[$h]:$port $key"
	done >"$d/known_hosts"
	ssh_user=$(id -un)
}
have_sshd=1
start_sshd || {
	have_sshd=0
	echo "run-wizard: no sshd to log in to as $(id -un) (${CW_TEST_SSHD:-/usr/sbin/sshd}): the run walk is skipped"
	[ -e "$tmp/sshd/log" ] && cat "$tmp/sshd/log"
}

# Nothing listens on 127.0.0.99, the CA's port: it is refused at once, on loopback.
services="services = {
  backend = \"command\";
  start = [\"$tmp/bin/fake-service\", \"$tmp/state\", \"start\", \"\${service}\"];
  stop = [\"$tmp/bin/fake-service\", \"$tmp/state\", \"stop\", \"\${service}\"];
  status = [\"$tmp/bin/fake-service\", \"$tmp/state\", \"status\", \"\${service}\"];
};"
cat >"$tmp/ro.cfg" <<EOF
hosts = ( { name = "puppet.example.com"; address = "127.0.0.99"; } );
$services
EOF
[ $have_sshd = 1 ] && cat >"$tmp/run.cfg" <<EOF
operator = "alice";
ssh = { user = "$ssh_user"; port = $port; identity = "$tmp/sshd/client"; known_hosts = "$tmp/sshd/known_hosts";
        connect_timeout = 5; };
hosts = (
  { name = "puppet.example.com"; address = "127.0.0.99"; },
  { name = "web1.example.com"; address = "127.0.0.1"; },
  { name = "web2.example.com"; address = "127.0.0.1"; },
  { name = "bad3.example.com"; address = "127.0.0.1"; }
);
$services
vars = {
  tools = "$tmp/bin";
  newca = "$tmp/newca";
  confdir = "$tmp/root/etc/puppet";
  ssldir = "$tmp/root/var/lib/puppet/ssl";
  cadir = "$tmp/root/etc/puppet/puppetserver/ca";
  client_datadir = "$tmp/root/var/cache/puppet/client_data";
};
EOF

# run NAME SCRIPT [VAR=value...] -- ARGS: the dumps land in $tmp/NAME, stderr in NAME.err.
run() {
	name=$1 script=$2
	shift 2
	mkdir -p "$tmp/$name"
	(
		cd "$tmp/$name" || exit 99
		unset NO_COLOR CERTWIZ_SCRIPT CERTWIZ_HEADLESS CERTWIZ_TEST_ALLOW_ROOT_RUN CERTWIZ_DATADIR LANG LANGUAGE
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			export "$1"
			shift
		done
		[ "${1:-}" = -- ] && shift
		wrap=
		[ "$as_root" = "unshare -r" ] && wrap="unshare -r"
		LC_ALL=C.UTF-8 NO_COLOR=1 CERTWIZ_HEADLESS=1 COLUMNS=80 LINES=24 TERM=xterm-256color USER=alice \
			CERTWIZ_SCRIPT=$script exec $wrap "$cw" "$@"
	) >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
}

# What changes from run to run, masked (perl: lengths are kept, so the frame stays straight;
# where a mask must change a length, the spaces before the frame's right border make up).
mask() {
	TMPDIR_MASK=$tmp perl -CSD -Mutf8 -ne '
		my $t = $ENV{TMPDIR_MASK};
		my $w = length($_);
		s/\Q$t\E/\/tmp\/cwwiz.XXXXXX/g;
		s/\d{8}T\d{6}Z/YYYYMMDDTHHMMSSZ/g;
		s/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/YYYY-MM-DDTHH:MM:SSZ/g;
		s/\d{4}-\d\d-\d\d/YYYY-MM-DD/g;
		# a date or time cut short by an ellipsis
		s/((?:\d{4}|YYYY)-[0-9A-Z:-]*)(?=…)/($1 =~ s#\d#N#gr)/ge;
		s/\((in|EXPIRED) (\d+)/"($1 " . ("N" x length($2))/ge;
		s/((?:[0-9A-F]{1,2}:){3,}[0-9A-F]{0,2})/"X" x length($1)/ge;
		s/\b([0-9a-f]{16,64})\b/"x" x length($1)/ge;
		s/127\.0\.0\.1:\d{5}/127.0.0.1:NNNNN/g;
		s/\]:\d{5}/]:NNNNN/g;
		s/SHA256:[A-Za-z0-9+\/]{43}/"SHA256:" . ("X" x 43)/ge;
		s/\d+ MiB free for [^│]*/N MiB free (masked) /;
		s/ as [a-z_][a-z0-9_.-]*( at|\))/ as USER$1/g;
		if (length($_) != $w && /^(.*)(\s*)│\n$/s) {
			my ($body) = /^(.*?)\s*│\n$/s;
			my $room = $w - 2 - length($body);
			$_ = $room >= 1 ? $body . (" " x $room) . "│\n" : substr($body, 0, $w - 3) . " │\n";
		}
		print;
	' "$1"
}

# compare NAME PREFIX: every golden PREFIX-*.txt against the masked dump of the same name.
compare() {
	name=$1 prefix=$2
	if [ $update = 1 ]; then
		rm -f "$gdir/$prefix"-*.txt
		mkdir -p "$gdir"
		for d in "$tmp/$name"/*.txt; do
			[ -e "$d" ] && mask "$d" >"$gdir/$prefix-$(basename "$d")"
		done
		echo "updated $prefix: $(ls "$tmp/$name" | grep -c '\.txt$') screens"
		return
	fi
	n=0
	for g in "$gdir/$prefix"-*.txt; do
		[ -e "$g" ] || { bad "$name: no goldens $gdir/$prefix-*.txt"; return; }
		d=$tmp/$name/${g#"$gdir/$prefix-"}
		case $(basename "$g") in "$prefix"-preflight*) [ "$as_root" = none ] && continue ;; esac
		n=$((n + 1))
		if [ ! -e "$d" ]; then
			bad "$name: the script did not dump $(basename "$d")"
		elif ! mask "$d" | diff -u "$g" - >"$tmp/diff"; then
			bad "$name: $(basename "$d") differs from the golden (- expected, + seen):"
			cat "$tmp/diff"
		fi
	done
	for d in "$tmp/$name"/*.txt; do
		[ -e "$d" ] || continue
		[ -e "$gdir/$prefix-$(basename "$d")" ] || bad "$name: $(basename "$d") has no golden (run with --update)"
	done
	[ $fail = 0 ] && echo "ok: $name ($n screens)"
}

ro_args="--root $tmp/ro-root --profile oss-debian --config $tmp/ro.cfg --journal-dir $tmp/ro-journal --backup-dir $tmp/ro-backups"
run_args="--root $tmp/root --datadir $sdir/data --profile screen-test --config $tmp/run.cfg --journal-dir $tmp/journal --backup-dir $tmp/backups"
if [ -n "$try" ]; then
	case $try in
	ro) "$cw" $ro_args ;;
	run) [ $have_sshd = 1 ] || exit 1; CERTWIZ_TEST_ALLOW_ROOT_RUN=1 "$cw" $run_args ;;
	*) echo "run-wizard: --try ro or --try run"; exit 2 ;;
	esac
	exit $?
fi

# 1. read-only walk with the real procedures
run ro "$sdir/wizard-ro.keys" -- --root "$tmp/ro-root" --profile oss-debian --config "$tmp/ro.cfg" \
	--journal-dir "$tmp/ro-journal" --backup-dir "$tmp/ro-backups"
[ $rc = 0 ] || bad "ro: certwiz exited with $rc: $(cat "$tmp/ro.err")"
compare ro ro
[ $update = 1 ] || {
	if [ -e "$tmp/ro-journal" ] && [ -n "$(ls -A "$tmp/ro-journal" | grep -v '^stderr.log$')" ]; then
		bad "ro: the read-only walk wrote a run: $(ls "$tmp/ro-journal")"
	fi
	[ -e "$tmp/ro-backups" ] && bad "ro: the read-only walk wrote a backup"
}

# 1b. choosing agents from the CA's list (F2 on the agents field): the read-only root with
# signed certificates: web1 and bad3 for 825 days, web2 for 20, gone4 revoked, and a thousand
# more (copies of web1's: the picker must stay quick with them; the names are the files').
cp -R "$tmp/ro-root" "$tmp/pick-root" && {
	pca=$tmp/pick-root/etc/puppet/puppetserver/ca
	mkdir -p "$pca/signed" "$tmp/pick" || exit 1
	for spec in web1:825:10 web2:20:11 bad3:825:12 gone4:825:13; do
		n=${spec%%:*} rest=${spec#*:}
		openssl genpkey -algorithm ed25519 -out "$tmp/pick/$n.key" &&
			openssl req -new -key "$tmp/pick/$n.key" -config "$tmp/openssl/cnf" -subj "/CN=$n.example.com" \
				-out "$tmp/pick/$n.csr" &&
			openssl x509 -req -in "$tmp/pick/$n.csr" -CA "$pca/ca_crt.pem" -CAkey "$pca/ca_key.pem" \
				-set_serial "${rest#*:}" -days "${rest%%:*}" -out "$pca/signed/$n.example.com.pem" || exit 1
	done >>"$tmp/openssl/log" 2>&1
	openssl ca -config "$tmp/openssl/cnf" -keyfile "$pca/ca_key.pem" -cert "$pca/ca_crt.pem" \
		-revoke "$pca/signed/gone4.example.com.pem" >>"$tmp/openssl/log" 2>&1 &&
		openssl ca -gencrl -config "$tmp/openssl/cnf" -keyfile "$pca/ca_key.pem" -cert "$pca/ca_crt.pem" \
			-out "$pca/ca_crl.pem" >>"$tmp/openssl/log" 2>&1 || { cat "$tmp/openssl/log"; exit 1; }
	i=1000
	while [ $i -lt 2000 ]; do
		cp "$pca/signed/web1.example.com.pem" "$pca/signed/node$i.example.com.pem"
		i=$((i + 1))
	done
}
run pick "$sdir/wizard-pick.keys" -- --root "$tmp/pick-root" --profile oss-debian --config "$tmp/ro.cfg" \
	--journal-dir "$tmp/pick-journal" --backup-dir "$tmp/pick-backups"
[ $rc = 0 ] || bad "pick: certwiz exited with $rc: $(cat "$tmp/pick.err")"
compare pick pick

# 2. a whole run with stand-in commands
# Without an sshd the run walk did not happen: that is a skip (77), not a pass, and a failure
# where CERTWIZ_TEST_STRICT=1 says the machine has sshd (tests/run-all.sh).
if [ $have_sshd != 1 ]; then
	[ $fail = 0 ] || exit 1
	if [ "${CERTWIZ_TEST_STRICT:-}" = 1 ]; then
		echo "FAIL: the run walk needs sshd, and CERTWIZ_TEST_STRICT=1 says this machine has it"
		exit 1
	fi
	echo "run-wizard: the read-only walk passed; the run walk was skipped (no sshd)"
	exit 77
fi
run run "$sdir/wizard-run.keys" CERTWIZ_TEST_ALLOW_ROOT_RUN=1 -- --root "$tmp/root" --datadir "$sdir/data" \
	--profile screen-test --config "$tmp/run.cfg" --journal-dir "$tmp/journal" --backup-dir "$tmp/backups"
# the run ends with a failed agent step: exit 5
[ $rc = 5 ] || bad "run: certwiz exited with $rc (expected 5: a step failed): $(cat "$tmp/run.err")"
compare run run

# 2b. a wizard run quit after two steps, then `certwiz resume RUNDIR` in a terminal: the wizard
# reopens at the run screen (a root and config of its own: the run above changed its root)
make_root "$tmp/rs-root" && mkdir -p "$tmp/rs-root/var/cache/puppet/client_data/catalog" ||
	bad "resume: could not make its fake host"
mkdir -p "$tmp/rs-state" && : >"$tmp/rs-state/puppet.running" && : >"$tmp/rs-state/puppetserver.running"
sed -e "s|$tmp/root/|$tmp/rs-root/|g" -e "s|$tmp/state\"|$tmp/rs-state\"|g" "$tmp/run.cfg" >"$tmp/rs.cfg"
rs_args="--root $tmp/rs-root --datadir $sdir/data --profile screen-test --config $tmp/rs.cfg --journal-dir $tmp/rs-journal --backup-dir $tmp/rs-backups"
run resume-a "$sdir/wizard-resume-a.keys" CERTWIZ_TEST_ALLOW_ROOT_RUN=1 -- $rs_args
rsd=$(ls -d "$tmp/rs-journal"/*-screen-test 2>/dev/null | head -1)
[ $rc = 6 ] && [ -n "$rsd" ] || bad "resume: the first half exited with $rc (expected 6: quit): $(cat "$tmp/resume-a.err")"
run resume-b "$sdir/wizard-resume-b.keys" CERTWIZ_TEST_ALLOW_ROOT_RUN=1 -- resume "$rsd" $rs_args
[ $rc = 6 ] || bad "resume: the resumed wizard exited with $rc (expected 6: quit again): $(cat "$tmp/resume-b.err")"
compare resume-b resume
if [ $update = 0 ] && [ -n "$rsd" ]; then
	# both halves in one journal; the resumed half signed off as the operator, not batch:
	grep -q '"key":"resumed"' "$rsd/journal.jsonl" || bad "resume: the journal does not record the resume"
	[ "$(grep -c '"event":"signoff".*"who":"alice"' "$rsd/journal.jsonl")" = 3 ] ||
		bad "resume: expected 3 sign-offs by alice: $(grep '"signoff"' "$rsd/journal.jsonl")"
	grep -q '"who":"batch:' "$rsd/journal.jsonl" && bad "resume: a wizard run was resumed in batch"
	CERTWIZ_HEADLESS= "$cw" resume "$rsd" $rs_args </dev/null >"$tmp/resume-c.out" 2>&1
	rc=$?
	[ $rc = 2 ] && grep -q "is a wizard run" "$tmp/resume-c.out" ||
		bad "resume: without a terminal a wizard run must ask for --batch (exit $rc): $(cat "$tmp/resume-c.out")"
	[ $fail = 0 ] && echo "ok: a wizard run was resumed in the wizard, signed off by its operator"
fi

# 3. an unknown host key: the question in the pre-flight checks (web2's key is not known yet)
grep -v '^\[web2' "$tmp/sshd/known_hosts" >"$tmp/hk_known_hosts"
sed "s|known_hosts = \"$tmp/sshd/known_hosts\"|known_hosts = \"$tmp/hk_known_hosts\"|" "$tmp/run.cfg" >"$tmp/hk.cfg"
grep -q hk_known_hosts "$tmp/hk.cfg" || bad "hostkey: could not make hk.cfg"
run hostkey "$sdir/wizard-hostkey.keys" CERTWIZ_TEST_ALLOW_ROOT_RUN=1 -- --root "$tmp/root" --datadir "$sdir/data" \
	--profile screen-test --config "$tmp/hk.cfg" --journal-dir "$tmp/hk-journal" --backup-dir "$tmp/hk-backups"
compare hostkey hostkey
if [ $update = 0 ]; then
	# the accepted key is the one sshd really has, stored as OpenSSH stores a non-default port
	grep -qxF "[web2.example.com]:$port $(cut -d' ' -f1,2 "$tmp/sshd/hostkey.pub")" "$tmp/hk_known_hosts" ||
		bad "hostkey: web2's key was not added to known_hosts: $(cat "$tmp/hk_known_hosts")"
	[ "$(grep -c '^\[web2' "$tmp/hk_known_hosts")" = 1 ] || bad "hostkey: web2's key was added more than once"
	grep -q '"key":"hostkey-accepted","value":"SHA256:' "$tmp"/hk-journal/*/journal.jsonl 2>/dev/null ||
		bad "hostkey: the journal does not record the accepted key"
	[ $fail = 0 ] && echo "ok: an unknown host key was shown, declined, accepted and stored"
fi

[ $update = 1 ] && exit 0

# 4. batch mode, one CA-side command for many agents (exec_run_batch): the stand-in CA cannot
# revoke bad3, so the shared call fails; web1 and web2 are verified done, bad3 gets a call of
# its own and fails alone.
printf 'procedure = "batch-test";\noperator = "alice";\nconfirm_destructive = true;\nagents = ["web1.example.com", "web2.example.com", "bad3.example.com"];\nreport_dir = "%s/reports";\nvars = { castate = "%s/castate"; };\n' "$tmp" "$tmp" >"$tmp/batch.cfg"
wrap=
[ "$as_root" = "unshare -r" ] && wrap="unshare -r"
# its own datadir: the wizard walks above must not see this procedure (screen-test is there too:
# it uses the variables of run.cfg that batch-test does not, as one site file serves every
# procedure)
mkdir -p "$tmp/bdata/config/profiles" "$tmp/bdata/config/procedures"
cp "$sdir/data/config/profiles/screen-test.cfg" "$tmp/bdata/config/profiles/"
cp "$sdir/batch/batch-test.cfg" "$sdir/data/config/procedures/screen-test.cfg" "$tmp/bdata/config/procedures/"
# paths relative to $tmp, as a person types them: the journal must record them absolute
(cd "$tmp" && unset CERTWIZ_DATADIR && $wrap "$cw" run --answers batch.cfg --datadir bdata \
	--profile screen-test --certname puppet.example.com --config ./run.cfg --journal-dir b-journal \
	--backup-dir "$tmp/b-backups") >"$tmp/batch.out" 2>&1
rc=$?
brd=$(ls -d "$tmp/b-journal"/*-batch-test 2>/dev/null | head -1)
if [ $rc != 5 ]; then
	bad "batch: certwiz run exited with $rc (expected 5: bad3 failed): $(tail -20 "$tmp/batch.out")"
elif [ "$(cat "$tmp/castate/calls" 2>/dev/null)" != "web1.example.com,web2.example.com,bad3.example.com
bad3.example.com" ]; then
	bad "batch: expected one shared call, then one for bad3 alone; the calls were: $(cat "$tmp/castate/calls")"
elif ! grep -q 'for 3 agents in one command: \$ .*fake-step revoke .* --certname web1.example.com,web2.example.com,bad3.example.com' "$tmp/batch.out"; then
	bad "batch: the shared command was not shown before it ran: $(head -30 "$tmp/batch.out")"
elif [ ! -e "$tmp/castate/revoked-web1.example.com" ] || [ ! -e "$tmp/castate/revoked-web2.example.com" ]; then
	bad "batch: web1 and web2 were not revoked"
elif ! grep -q '"signoff".*"step":"revoke@web2.example.com"' "$brd/journal.jsonl" ||
	! grep -q '"step-finish".*"step":"revoke@bad3.example.com".*"outcome":"fail"' "$brd/journal.jsonl"; then
	bad "batch: the journal does not have web2 signed off and bad3 failed"
elif ! grep -q '^  bad3.example.com .*FAILED at step 4' "$tmp/batch.out" ||
	! grep -q '^  web1.example.com .*done$' "$tmp/batch.out" ||
	! grep -q '^  puppet.example.com .*done$' "$tmp/batch.out"; then
	bad "batch: the host table does not name bad3's failed step: $(tail -8 "$tmp/batch.out")"
elif [ ! -s "$tmp/reports/${brd##*/}.md" ] || [ ! -s "$tmp/reports/${brd##*/}.json" ] ||
	! cmp -s "$brd/report.md" "$tmp/reports/${brd##*/}.md"; then
	bad "batch: report_dir $tmp/reports has no copy of the report: $(ls "$tmp/reports" 2>&1)"
elif ! head -1 "$brd/journal.jsonl" | grep -F "\"path\":\"$tmp/batch.cfg\"" | grep -qF "\"value\":\"$tmp/run.cfg\""; then
	bad "batch: the journal does not record the answers and config as absolute paths: $(head -1 "$brd/journal.jsonl")"
else
	echo "ok: batch mode shared one command among three agents and gave the failing one its own"
fi
# ... and the run is resumed from another directory: the same answers and config are found.
# Without its run-end line the journal is that of a run killed before its end.
if [ -n "$brd" ]; then
	sed -i '/"event":"run-end"/d' "$brd/journal.jsonl"
	(cd / && unset CERTWIZ_DATADIR && $wrap "$cw" resume "$brd" --datadir "$tmp/bdata" --profile screen-test \
		--certname puppet.example.com --journal-dir "$tmp/b-journal" --backup-dir "$tmp/b-backups") \
		>"$tmp/resume.out" 2>&1
	rc=$?
	if [ $rc != 5 ] || ! grep -q "certwiz resume: $brd/journal.jsonl (answers $tmp/batch.cfg)" "$tmp/resume.out" ||
		! grep -q "done before the resume" "$tmp/resume.out"; then
		bad "batch: resume from / exited with $rc (expected 5: bad3 fails again): $(head -5 "$tmp/resume.out")"
	else
		echo "ok: a batch run with relative paths was resumed from another directory"
	fi
fi

# 5. what the run left: a report, the journal with every sign-off, the new CA in place
rd=$(ls -d "$tmp/journal"/*-screen-test 2>/dev/null | head -1)
if [ -z "$rd" ] || [ ! -s "$rd/report.md" ] || [ ! -s "$rd/report.json" ]; then
	bad "run: no report.md/report.json in $tmp/journal"
else
	grep -q '"event":"signoff".*"who":"alice"' "$rd/journal.jsonl" || bad "run: no sign-off by alice in the journal"
	grep -q '"event":"skip".*no catalog on this host' "$rd/journal.jsonl" || bad "run: the skip reason is not in the journal"
	grep -q 'handed over in the team channel' "$rd/report.md" || bad "run: the manual step's note is not in the report"
	cmp -s "$tmp/newca/ca_crt.pem" "$tmp/root/etc/puppet/puppetserver/ca/ca_crt.pem" || bad "run: the new CA is not in place"
	grep -q "journal and report in $rd" "$tmp/run.err" || bad "run: certwiz did not say where the report is: $(cat "$tmp/run.err")"
	# the run records the wizard's choices as an answers file: `certwiz resume` rebuilds the same plan
	answers=$(sed -n '1s/.*"path":"\([^"]*\)".*/\1/p' "$rd/journal.jsonl")
	case $answers in "$tmp"/journal/wizard-*-screen-test.cfg) ;; *) bad "run: no answers file in the journal: $answers" ;; esac
	"$cw" plan --answers "$answers" --root "$tmp/root" --datadir "$sdir/data" --config "$tmp/run.cfg" 2>&1 |
		grep -q "10 in 3 phases" || bad "run: the answers file does not give the same plan"
	[ $fail = 0 ] && echo "ok: the run left its report, journal and new CA"
fi
[ -e "$tmp/state/puppet.running" ] && [ -e "$tmp/state/puppetserver.running" ] ||
	bad "run: the services were not started again"
exit $fail
