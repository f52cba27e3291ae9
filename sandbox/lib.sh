# sandbox/lib.sh — helpers shared by the certwiz sandbox scripts (sourced, never run).
# shellcheck shell=bash
#
# Model: every simulated host is a long-lived mount + UTS namespace whose
# "keeper" is a renamed `sleep infinity`.  Its Puppet directories, /etc/hosts
# and a private tmpfs /run are mounted inside that namespace only; the host's
# sshd runs inside it on the host's own loopback address.  Everything lives
# under $STATE.  Processes are only ever identified by recorded pid *and*
# start time, or by membership of a sandbox namespace.

SANDBOX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${CERTWIZ_SANDBOX_DIR:-/var/lib/certwiz-sandbox}
STATE=${STATE%/}
# Release roots (Puppet 5 and 8) may be shared by several state dirs: $CERTWIZ_SANDBOX_ROOTS.
ROOTS=${CERTWIZ_SANDBOX_ROOTS:-$STATE/roots}
ROOTS=${ROOTS%/}

DOMAIN=sandbox.test
PRIMARY=primary
PRIMARY_FQDN=puppet.$DOMAIN
# The sandbox's network: 127.0.NET.0/24 (NET from $STATE/net as `up` chose it, else
# $CERTWIZ_SANDBOX_NET, else 0), so two sandboxes with their own state dirs can run at once.
if [ -r "$STATE/net" ]; then
	NET=$(cat "$STATE/net")
	if [ -n "${CERTWIZ_SANDBOX_NET:-}" ] && [ "$CERTWIZ_SANDBOX_NET" != "$NET" ]; then
		echo "sandbox: error: the sandbox in $STATE uses 127.0.$NET.0/24, not CERTWIZ_SANDBOX_NET=$CERTWIZ_SANDBOX_NET (run sandbox/down first, or unset it)" >&2
		exit 1
	fi
else NET=${CERTWIZ_SANDBOX_NET:-0}; fi
case "$NET" in [0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]) ;; *) echo "sandbox: error: CERTWIZ_SANDBOX_NET must be 0..255 (got $NET)" >&2; exit 1 ;; esac
NET_PREFIX=127.0.$NET
PRIMARY_ADDR=$NET_PREFIX.10
PRIMARY_ALT_NAMES=puppet,puppet.$DOMAIN
PUPPETSERVER_JAVA_ARGS="-Xms256m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
DEFAULT_AGENTS=2
# shellcheck disable=SC2034 # used by up
MAX_AGENTS=200  # addresses 127.0.NET.11 .. 127.0.NET.210
PACKAGES=(puppet-agent puppetserver ruby-puppetserver-ca-cli openssh-server default-jre-headless)
# Puppet releases a host can run.  7 is this machine's own (Debian 12); the others run
# from a root of their Debian release built once under $STATE/roots (mmdebstrap).
RELEASES="5 7 8"
DEFAULT_RELEASE=7
# A primary in the pe layout runs from the release's pe root: PuppetDB and PostgreSQL too.
declare -gA RELEASE_SUITE=([5]=bullseye [8]=trixie [8-pe]=trixie)
declare -gA RELEASE_PACKAGES=([5]=puppet,puppet-master [8]=puppet-agent,puppetserver,ruby-puppetserver-ca-cli
                              [8-pe]=puppet-agent,puppetserver,ruby-puppetserver-ca-cli,puppetdb,postgresql,augeas-tools)
# Tools each root must have, and the Puppet tools a host of that release gets.
# Accounts of a root given fixed ids (the pe primary's pe-postgres and pe-puppetdb use them).
declare -gA RELEASE_ACCOUNTS=([8-pe]="postgres:4432 puppetdb:4081")
declare -gA RELEASE_TOOLS=([5]="puppet facter" [7]="puppet facter puppetserver" [8]="puppet facter puppetserver"
                           [8-pe]="puppet facter puppetserver")
# Small tools the scripts call; package that provides each.
TOOLS=(curl:curl openssl:openssl ss:iproute2 ps:procps flock:util-linux
       unshare:util-linux nsenter:util-linux setsid:util-linux tar:tar)

# Directories of a host that make up its Puppet state (relative to the host's
# fs/ tree and to /).  These are what the pristine snapshot holds.
# Two layouts: Debian's packages (confdir /etc/puppet) and Puppet's AIO packages
# (/etc/puppetlabs, /opt/puppetlabs); see layout_path for the paths of each.
PUPPET_DIRS_AGENT=(etc/puppet var/lib/puppet var/cache/puppet)
PUPPET_DIRS_PRIMARY=(etc/puppet var/lib/puppet var/cache/puppet var/lib/puppetserver)
PUPPET_DIRS_AIO=(etc/puppetlabs opt/puppetlabs/puppet/cache)
PUPPET_DIRS_AIO_SERVER=(opt/puppetlabs/server/data/puppetserver)  # a Puppet Server's vardir
PUPPET_DIRS_PE_SERVER=(opt/puppetlabs/server/data)  # a PE primary's: PuppetDB's, PostgreSQL's, the console's too
# A pe-layout primary: the PE release it stands for, PE's paths, and its services in the
# order PE starts them (after pe-puppetserver; sandbox/service/pe-service runs them), all by
# the primary's Puppet release (the key): 8 is PE 2025.x (Puppet 8), 5 is PE 2018.1 (Puppet 5,
# `puppet master` standing in for pe-puppetserver).
# shellcheck disable=SC2034 # read by pe_data, through a nameref
declare -gA PE_VERSION=(
	[5]="2018.1 (certwiz sandbox: Puppet 5 from Debian 11 in PE 2018's layout)"
	[8]="2025.x (certwiz sandbox: Puppet 8 from Debian 13 in PE's layout)")
# shellcheck disable=SC2034 # read by pe_data, through a nameref
declare -gA PE_PGDATA=([5]=/opt/puppetlabs/server/data/postgresql/9.6/data
                       [8]=/opt/puppetlabs/server/data/postgresql/14/data)
# shellcheck disable=SC2034 # read by pe_data, through a nameref
declare -gA PE_CONSOLE_CERTDIR=([5]=/opt/puppetlabs/server/data/console-services/certs
                                [8]=/opt/puppetlabs/server/data/console-services/certs)
# The certificates PE's installer has the CA make for PE's own services (MCollective's three
# until PE 2018; PE 2019 dropped MCollective).
# shellcheck disable=SC2034 # read by pe_data, through a nameref
declare -gA PE_INTERNAL_CERTS=(
	[5]="pe-internal-classifier pe-internal-dashboard pe-internal-mcollective-servers pe-internal-peadmin-mcollective-client pe-internal-puppet-console-mcollective-client"
	[8]="pe-internal-classifier pe-internal-dashboard")
# The root PuppetDB and PostgreSQL run from (SANDBOX_SERVICES_ROOT), by release: the release's
# own pe root, or Puppet 8's where Debian has no PuppetDB for the release (Debian 11, Puppet 5).
declare -gA PE_SERVICES_ROOT=([5]=8-pe [8]=8-pe)
# Which PE services each PE role runs, in PE's start order (stopped in the reverse order),
# keyed ROLE@RELEASE: the monolithic primary runs them all; for pe-split the layout adds a
# PuppetDB host and a console host (agents of the primary with certificates of their own),
# whose services are configured but stay stopped until a scenario makes the primary a
# master-only one; "agent" is what every other node of the layout runs.
declare -gA PE_ROLE_SERVICES=(
	[primary@8]="pe-postgresql pe-puppetdb pe-console-services pe-nginx pe-orchestration-services pe-bolt-server pe-ace-server pe-host-action-collector pxp-agent"
	[puppetdb@8]="pe-postgresql pe-puppetdb pxp-agent"
	[console@8]="pe-console-services pe-nginx pxp-agent"
	[agent@8]="pxp-agent"
	[primary@5]="pe-postgresql pe-puppetdb pe-console-services pe-nginx pe-orchestration-services pe-activemq mcollective pxp-agent"
	[agent@5]="mcollective pxp-agent")
# The pe layout's hosts beyond the primary and the agents, by release (pe-split's, on Puppet 8
# only here): host id, its role, its address (127.0.NET.N, below the primary's .10).
# shellcheck disable=SC2034 # read by pe_data, through a nameref
declare -gA PE_SPLIT_HOSTS=([5]="" [8]="pdb console")
declare -gA PE_HOST_ROLE=([primary]=primary [pdb]=puppetdb [console]=console)
declare -gA PE_HOST_ADDR=([pdb]=8 [console]=9)
# pe_data TABLE: the pe layout's value of TABLE (one of the PE_* tables above) for this
# sandbox's primary release.
pe_data() { local -n t=$1; echo "${t[$(server_release)]:-}"; }
pe_split_hosts() {
	local h
	if pe_layout; then for h in $(pe_data PE_SPLIT_HOSTS); do echo "$h"; done; fi
}
# The services of a PE role (primary, puppetdb, console, agent) on this sandbox's release.
pe_role_services() { echo "${PE_ROLE_SERVICES[$1@$(server_release)]:-}"; }
# A debian-layout primary with PuppetDB (up --puppetdb): Debian's puppetdb and PostgreSQL from
# the release's pe root, set up by sandbox/bin/puppetdb-setup as a Debian admin does; their
# files live in the primary's tree and are bind-mounted into the root at Debian's paths.
PUPPETDB_SERVICES=(postgresql puppetdb)
PUPPETDB_DIRS=(etc/puppetdb var/lib/puppetdb var/log/puppetdb var/lib/postgresql)
PUPPETDB_PGDATA=/var/lib/postgresql/data
# Logs are bind-mounted too but never snapshotted or restored.
LOG_DIRS_AGENT=(var/log/puppet)
LOG_DIRS_PRIMARY=(var/log/puppet var/log/puppetserver)
LOG_DIRS_AIO=(var/log/puppetlabs)

T0=${T0:-$(date +%s.%N)}

say()  { printf '[%5ss] %s\n' "$(elapsed)" "$*"; }
warn() { printf 'sandbox: warning: %s\n' "$*" >&2; }
die()  { printf 'sandbox: error: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }'; }

require_root() { [ "$(id -u)" = 0 ] || die "run as root"; }

check_state_path() {
	case "$STATE" in
	''|/) die "CERTWIZ_SANDBOX_DIR must not be empty or /" ;;
	/*) ;;
	*) die "CERTWIZ_SANDBOX_DIR must be an absolute path (got $STATE)" ;;
	esac
	local p
	for p in /etc /etc/puppet /var/lib/puppet /var/cache/puppet /var/log/puppet \
	         /var/lib/puppetserver /var/log/puppetserver /run /var/run /root/.ssh /etc/ssh; do
		case "$STATE/" in
		"$p"/) die "CERTWIZ_SANDBOX_DIR=$STATE is a directory the sandbox mounts over" ;;
		"$p"/*) [ "$p" = /etc ] || die "CERTWIZ_SANDBOX_DIR=$STATE lies under $p, which the sandbox mounts over" ;;
		esac
	done
}

# Take the sandbox lock by re-running the calling script under flock(1).
# `flock -o` keeps the lock out of every process the script starts (keepers,
# sshd, the JVM), so a daemon never holds it.
take_lock() {
	local script=$1; shift
	[ -n "${CERTWIZ_SANDBOX_LOCKED:-}" ] && return 0
	mkdir -p "$STATE"
	chmod 0755 "$STATE"
	export CERTWIZ_SANDBOX_LOCKED=1 T0
	exec flock -o -w 900 "$STATE/.lock" "$script" "$@"
}

# ---------------------------------------------------------------- hosts

agent_count() {
	if [ -r "$STATE/agents" ]; then cat "$STATE/agents"; else echo "$DEFAULT_AGENTS"; fi
}
all_hosts() {
	local n i
	n=$(agent_count)
	echo "$PRIMARY"
	for ((i = 1; i <= n; i++)); do echo "agent$i"; done
	pe_split_hosts
}
# Every host but the primary: the agents, and on the pe layout its PuppetDB and console hosts
# (agents of the primary too).
agent_hosts() { all_hosts | tail -n +2; }
is_primary() { [ "$1" = "$PRIMARY" ]; }
# A host's PE role (primary, puppetdb, console) on the pe layout; nothing for an agent.
pe_role() {
	if pe_layout && { is_primary "$1" || [[ " $(pe_data PE_SPLIT_HOSTS) " == *" $1 "* ]]; }; then
		echo "${PE_HOST_ROLE[$1]:-}"
	fi
}
pe_host() { [ -n "$(pe_role "$1")" ]; }

host_short() { if is_primary "$1"; then echo puppet; else echo "$1"; fi; }
host_fqdn() { echo "$(host_short "$1").$DOMAIN"; }
host_addr() {
	if is_primary "$1"; then echo "$PRIMARY_ADDR"
	elif [ -n "${PE_HOST_ADDR[$1]:-}" ]; then echo "$NET_PREFIX.${PE_HOST_ADDR[$1]}"
	else echo "$NET_PREFIX.$((10 + ${1#agent}))"; fi
}
host_dir() { echo "$STATE/hosts/$1"; }
host_fs() { echo "$STATE/hosts/$1/fs"; }

# The sandbox's layout (debian | aio | pe) and each host's Puppet release, as `up` chose them.
# pe is the aio layout with Puppet Enterprise's services on the primary (its root adds
# PuppetDB and PostgreSQL; the console and the rest are stand-ins, see service/).
sandbox_layout() { if [ -r "$STATE/layout" ]; then cat "$STATE/layout"; else echo debian; fi; }
aio_layout() { [ "$(sandbox_layout)" != debian ]; }
pe_layout() { [ "$(sandbox_layout)" = pe ]; }
# up --puppetdb: the (debian-layout) primary runs PuppetDB and PostgreSQL.
puppetdb_sandbox() { [ "$(cat "$STATE/puppetdb" 2>/dev/null)" = 1 ]; }
host_release() {
	if [ -r "$STATE/hosts/$1/release" ]; then cat "$STATE/hosts/$1/release"; else echo "$DEFAULT_RELEASE"; fi
}
server_release() { host_release "$PRIMARY"; }
# layout_path LAYOUT RELEASE WHAT: a Puppet path as that layout and release have it.
layout_path() {
	case "${1/#pe/aio}:$3" in
	debian:confdir) echo /etc/puppet ;;
	debian:ssldir) echo /var/lib/puppet/ssl ;;
	debian:cadir) echo /etc/puppet/puppetserver/ca ;;
	debian:vardir) echo /var/cache/puppet ;;
	debian:rundir) echo /run/puppet ;;
	debian:logdir) echo /var/log/puppet ;;
	debian:serverconf) echo /etc/puppet/puppetserver ;;
	debian:servervar) echo /var/lib/puppetserver ;;
	debian:serverlog) echo /var/log/puppetserver ;;
	debian:bindir) echo /usr/bin ;;
	aio:confdir) echo /etc/puppetlabs/puppet ;;
	aio:ssldir) echo /etc/puppetlabs/puppet/ssl ;;
	aio:cadir) if [ "$2" -le 5 ]; then echo /etc/puppetlabs/puppet/ssl/ca; else echo /etc/puppetlabs/puppetserver/ca; fi ;;
	aio:vardir) echo /opt/puppetlabs/puppet/cache ;;
	aio:rundir) echo /var/run/puppetlabs ;;
	aio:logdir) echo /var/log/puppetlabs/puppet ;;
	aio:serverconf) echo /etc/puppetlabs/puppetserver ;;
	aio:servervar) echo /opt/puppetlabs/server/data/puppetserver ;;
	aio:serverlog) echo /var/log/puppetlabs/puppetserver ;;
	aio:bindir) echo /opt/puppetlabs/bin ;;
	*) die "layout_path: no '$3' in layout '$1'" ;;
	esac
}
host_path() { layout_path "$(sandbox_layout)" "$(host_release "$1")" "$2"; }
host_ssldir() { echo "$(host_fs "$1")$(host_path "$1" ssldir)"; }
host_cert() { echo "$(host_ssldir "$1")/certs/$(host_fqdn "$1").pem"; }
ca_dir() { echo "$(host_fs "$PRIMARY")$(host_path "$PRIMARY" cadir)"; }
ca_cert() { echo "$(ca_dir)/ca_crt.pem"; }
# The root a release's Puppet runs from ("" for this machine's own release).
# ROOT is a release, or RELEASE-pe for a pe layout's primary (host_root names a host's).
release_root() { if [ "$1" = "$DEFAULT_RELEASE" ]; then echo ""; else echo "$ROOTS/$1"; fi; }
# A PE host's Puppet runs from its release's pe root where there is one (Puppet 8: 8-pe, which
# also runs PuppetDB and PostgreSQL), else from the release's root (Puppet 5).
host_root_key() {
	local rel
	rel=$(host_release "$1")
	if { pe_host "$1" || { is_primary "$1" && puppetdb_sandbox; }; } && [ -n "${RELEASE_SUITE[$rel-pe]:-}" ]; then
		echo "$rel-pe"
	else echo "$rel"; fi
}
host_root() { release_root "$(host_root_key "$1")"; }
# The root a host's PuppetDB and PostgreSQL run from ("" when it runs none): PE_SERVICES_ROOT
# of its release (for Puppet 5, Puppet 8's pe root: Debian 11 has no PuppetDB).
host_services_root_key() {
	local rel
	rel=$(host_release "$1")
	if pe_host "$1" || { is_primary "$1" && puppetdb_sandbox; }; then echo "${PE_SERVICES_ROOT[$rel]:-$rel-pe}"; fi
}
host_services_root() { local k; k=$(host_services_root_key "$1"); [ -z "$k" ] || release_root "$k"; }
# Puppet 5 has no puppetserver in Debian: its server is `puppet master` (WEBrick).
has_puppetserver() { [ "$(host_release "${1:-$PRIMARY}")" -ge 6 ]; }

puppet_dirs() {
	if aio_layout; then
		printf '%s\n' "${PUPPET_DIRS_AIO[@]}"
		if pe_host "$1"; then printf '%s\n' "${PUPPET_DIRS_PE_SERVER[@]}"
		elif is_primary "$1" && has_puppetserver "$1"; then printf '%s\n' "${PUPPET_DIRS_AIO_SERVER[@]}"; fi
	elif is_primary "$1"; then printf '%s\n' "${PUPPET_DIRS_PRIMARY[@]}"
	else printf '%s\n' "${PUPPET_DIRS_AGENT[@]}"; fi
}
log_dirs() {
	if aio_layout; then printf '%s\n' "${LOG_DIRS_AIO[@]}"
	elif is_primary "$1"; then printf '%s\n' "${LOG_DIRS_PRIMARY[@]}"
	else printf '%s\n' "${LOG_DIRS_AGENT[@]}"; fi
}

# HOST argument (primary, puppet, agent1, their FQDNs or addresses) -> host id.
resolve_host() {
	local arg=$1 h
	[ -r "$STATE/agents" ] || die "no sandbox in $STATE (run sandbox/up)"
	while read -r h; do
		case "$arg" in
		"$h"|"$(host_short "$h")"|"$(host_fqdn "$h")"|"$(host_addr "$h")") echo "$h"; return 0 ;;
		esac
	done < <(all_hosts)
	die "unknown host '$arg' (hosts: $(all_hosts | tr '\n' ' '))"
}

# ---------------------------------------------------------------- processes

# Start time of a process in clock ticks since boot (field 22 of stat), or "".
proc_start() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 0
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "${20}"
}
proc_alive() {
	local st
	[ -n "$1" ] || return 1
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# Record "pid starttime" so that a recycled pid is never mistaken for ours.
record_pid() { echo "$2 $(proc_start "$2")" >"$1"; }
# Print the recorded pid if that very process is still alive.
recorded_pid() {
	local file=$1 pid start
	[ -r "$file" ] || return 1
	read -r pid start <"$file" || return 1
	[ -n "${pid:-}" ] && proc_alive "$pid" || return 1
	[ "$(proc_start "$pid")" = "$start" ] || return 1
	echo "$pid"
}

keeper_pid() { recorded_pid "$(host_dir "$1")/keeper.pid"; }
sshd_pid() {
	local pid kp
	pid=$(recorded_pid "$(host_dir "$1")/sshd.pid.rec") || return 1
	kp=$(keeper_pid "$1") || return 1
	[ "/proc/$pid/ns/mnt" -ef "/proc/$kp/ns/mnt" ] || return 1
	echo "$pid"
}

# Every process inside the host's namespace (keeper included).
ns_pids() {
	local kp p
	kp=$(keeper_pid "$1") || return 0
	for p in /proc/[0-9]*; do
		[ "$p/ns/mnt" -ef "/proc/$kp/ns/mnt" ] && echo "${p#/proc/}"
	done
	return 0
}

wait_gone() { # pid timeout-seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do proc_alive "$1" || return 0; sleep 0.1; done
	! proc_alive "$1"
}

# Run a command inside a host's namespaces.
in_host() {
	local h=$1 kp; shift
	kp=$(keeper_pid "$h") || die "host $h is not running (sandbox/up)"
	nsenter -t "$kp" -m -u -- env -u CERTWIZ_SANDBOX_LOCKED \
		CERTWIZ_SANDBOX_HOST="$h" CERTWIZ_SANDBOX_DIR="$STATE" PATH="$(host_path "$h" bindir):$PATH" "$@"
}
# Run a Puppet command on the primary, output to its log; on failure show the log and die.
in_primary_logged() {
	local what=$1; shift
	mkdir -p "$STATE/logs"
	printf '==== %s %s\n' "$(date -Is)" "$*" >>"$STATE/logs/$PRIMARY.log"
	in_host "$PRIMARY" "$@" >>"$STATE/logs/$PRIMARY.log" 2>&1 ||
		{ tail -n 20 "$STATE/logs/$PRIMARY.log" >&2; die "$what (Puppet $(server_release); log: $STATE/logs/$PRIMARY.log)"; }
}

# ssh to a host from outside its namespace, strict host key checking.
ssh_opts() {
	printf '%s\n' -i "$STATE/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o UserKnownHostsFile="$STATE/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o ConnectTimeout=5 -o LogLevel=ERROR
}
host_ssh() {
	local h=$1 opts; shift
	mapfile -t opts < <(ssh_opts)
	ssh "${opts[@]}" -o HostKeyAlias="$(host_fqdn "$h")" "root@$(host_addr "$h")" "$@"
}

# ---------------------------------------------------------------- x509

# These print nothing (and succeed) when there is no certificate to read.
fingerprint() { { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null || true; } | sed 's/^.*=//'; }
enddate() { { openssl x509 -in "$1" -noout -enddate 2>/dev/null || true; } | sed 's/^notAfter=//'; }
# Fingerprint of the certificate a TLS port serves.
served_fingerprint() {
	{ openssl s_client -connect "$1" -servername "$2" </dev/null 2>/dev/null || true; } |
		{ openssl x509 -noout -fingerprint -sha256 2>/dev/null || true; } | sed 's/^.*=//'
}
# Puppet Server answers its status endpoint; Puppet 5's `puppet master` has none, so
# there any HTTP answer over TLS counts.
server_answers() {
	if has_puppetserver "$PRIMARY"; then
		[ "$(curl -sk --noproxy '*' --max-time 5 "https://$PRIMARY_ADDR:8140/status/v1/simple" 2>/dev/null)" = running ]
	else
		[ "$(curl -sk --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "https://$PRIMARY_ADDR:8140/" 2>/dev/null)" != 000 ]
	fi
}

# ---------------------------------------------------------------- install

ensure_packages() {
	local missing=() p t
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	for t in "${TOOLS[@]}"; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing: ${missing[*]}"
	# Keep package scripts from starting the machine's own puppetserver or
	# sshd (they would take 8140/22 on every address); only when the machine
	# has no policy of its own.
	local policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# temporary, from certwiz sandbox/up\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
	fi
	local rc=0
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } || rc=$?
	[ -n "$policy" ] && rm -f "$policy"
	[ "$rc" = 0 ] || die "apt-get failed ($rc)"
}

# ---------------------------------------------------------------- release roots

# A root is usable when its marker names the packages it was built with and every tool of
# the release runs from it (a root left half-built by an interrupted up has no marker).
root_ok() {
	local rel=$1 root t
	root=$(release_root "$rel")
	[ -n "$root" ] || return 0
	[ "$(cat "$root/.certwiz-root" 2>/dev/null)" = "${RELEASE_SUITE[$rel]} ${RELEASE_PACKAGES[$rel]}" ] || return 1
	[ "$rel" != 5 ] || grep -q 'certwiz sandbox' "$root/usr/lib/ruby/vendor_ruby/puppet/network/http/response.rb" || return 1
	root_has_tools "$rel"
}
root_has_tools() {
	local rel=$1 root t
	root=$(release_root "$rel")
	for t in ${RELEASE_TOOLS[$rel]}; do [ -x "$root/usr/bin/$t" ] || return 1; done
	[ -x "$root/usr/bin/ruby" ]
}

# Debian 11 pairs Puppet 5.5.22 with Ruby 2.7, where nil.to_s is a frozen "": puppet
# master then answers every certificate request it has stored with a 500 ("can't modify
# frozen String"), and the agent, taking the request as failed, deletes its local copy.
# Puppet's AIO packages of 5.5 bring their own Ruby and never meet this; the sandbox's
# Puppet 5 root gets the one-line fix (encode a copy), recorded in README.
root_patch() {
	local rel=$1 root=$2 f
	[ "$rel" = 5 ] || return 0
	f=$root/usr/lib/ruby/vendor_ruby/puppet/network/http/response.rb
	grep -q 'body.encode!(charset)' "$f" || die "the Puppet 5 root's $f has changed; review root_patch"
	sed -i 's/body\.encode!(charset)/body = body.encode(charset) # certwiz sandbox: Ruby 2.7 frozen ""/' "$f"
}

# renumber_account REL ROOT NAME UID GID: give an account of the root (and its files) the
# uid and gid this machine uses for it, so both see the same owners.
renumber_account() {
	local rel=$1 new=$2 n=$3 u=$4 g=$5 ou og
	ou=$(awk -F: -v n="$n" '$1 == n { print $3 }' "$new/etc/passwd")
	og=$(awk -F: -v n="$n" '$1 == n { print $3 }' "$new/etc/group")
	[ -n "$ou" ] && [ -n "$og" ] || die "the Puppet $rel root has no $n user"
	[ "$ou" != "$u" ] || [ "$og" != "$g" ] || return 0
	awk -F: -v u="$u" -v n="$n" '$3 == u && $1 != n { bad = 1 } END { exit bad }' "$new/etc/passwd" &&
		awk -F: -v g="$g" -v n="$n" '$3 == g && $1 != n { bad = 1 } END { exit bad }' "$new/etc/group" ||
		die "the Puppet $rel root uses uid $u or gid $g for another account; cannot renumber its $n user"
	find "$new" -xdev \( -uid "$ou" -o -gid "$og" \) -print0 | while IFS= read -r -d '' f; do
		chown -h "$( [ "$(stat -c %u "$f")" = "$ou" ] && echo "$u" || stat -c %u "$f")":"$( [ "$(stat -c %g "$f")" = "$og" ] && echo "$g" || stat -c %g "$f")" "$f"
	done
	sed -i "s/^$n:x:$ou:$og:/$n:x:$u:$g:/" "$new/etc/passwd"
	sed -i "s/^$n:x:$og:/$n:x:$g:/" "$new/etc/group"
}

# Build the root of a release once (mmdebstrap from Debian's archive, about a minute),
# with its puppet user and group renumbered to this machine's: both see the same files.
ensure_root() {
	local rel=$1 root new u g ou og
	root=$(release_root "$rel")
	[ -n "$root" ] || return 0
	root_ok "$rel" && return 0
	# Roots shared with other state dirs ($CERTWIZ_SANDBOX_ROOTS) may be in use by another
	# sandbox (its mounts are not visible here): only sandbox/prepare rebuilds a stale one; `up`
	# uses it as it is when it has the release's tools, and says what it lacks.
	if [ "${ROOTS_REBUILD:-}" != 1 ] && [ "$ROOTS" != "$STATE/roots" ] && root_has_tools "$rel"; then
		warn "the Puppet $rel root $root was built with '$(cat "$root/.certwiz-root" 2>/dev/null)', not '${RELEASE_SUITE[$rel]} ${RELEASE_PACKAGES[$rel]}'; shared roots are rebuilt by sandbox/prepare only: using it as it is"
		return 0
	fi
	command -v mmdebstrap >/dev/null 2>&1 || {
		say "installing mmdebstrap (builds the Puppet $rel root)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null ||
			die "apt-get install mmdebstrap failed"
	}
	# A root some namespace still uses cannot be replaced under it.
	grep -q " $root/" /proc/self/mountinfo 2>/dev/null && die "the Puppet $rel root $root is in use (sandbox/down first)"
	say "building the Puppet $rel root: Debian ${RELEASE_SUITE[$rel]} with ${RELEASE_PACKAGES[$rel]} (about a minute, once)"
	new=$root.new
	rm -rf "$new" "$root"
	mkdir -p "$ROOTS" "$STATE/logs"
	mmdebstrap --variant=minbase --include="${RELEASE_PACKAGES[$rel]}" "${RELEASE_SUITE[$rel]}" "$new" \
		>>"$STATE/logs/root-$rel.log" 2>&1 ||
		{ tail -n 20 "$STATE/logs/root-$rel.log" >&2; die "building the Puppet $rel root failed (log: $STATE/logs/root-$rel.log)"; }
	renumber_account "$rel" "$new" puppet "$(id -u puppet)" "$(id -g puppet)"
	local acct
	for acct in ${RELEASE_ACCOUNTS[$rel]:-}; do
		renumber_account "$rel" "$new" "${acct%%:*}" "${acct#*:}" "${acct#*:}"
	done
	root_patch "$rel" "$new"
	echo "${RELEASE_SUITE[$rel]} ${RELEASE_PACKAGES[$rel]}" >"$new/.certwiz-root"
	mv "$new" "$root"
	root_ok "$rel" || die "the Puppet $rel root was built but lacks its tools: ${RELEASE_TOOLS[$rel]}"
	say "Puppet $rel root ready: $(du -sh "$root" | cut -f1)"
}

# ---------------------------------------------------------------- host trees

install_dir() { # path owner mode
	install -d -o "${2%:*}" -g "${2#*:}" -m "$3" "$1"
}

# Debian builds Puppet 6+ with ssldir and cadir fixed under /var/lib/puppet and
# /etc/puppet whatever the confdir; Puppet's AIO packages derive them from /etc/puppetlabs.
# An AIO host of such a release says so in puppet.conf (as an AIO operator may, too).
aio_paths_conf() {
	aio_layout && [ "$(host_release "$1")" -ge 6 ] || return 0
	printf '# Debian-built Puppet %s with the AIO layout: its paths said explicitly.\nssldir = %s\n' \
		"$(host_release "$1")" "$(host_path "$1" ssldir)"
	if is_primary "$1"; then printf 'cadir = %s\n' "$(host_path "$1" cadir)"; fi
}

write_puppet_conf() {
	local h=$1 f
	f="$(host_fs "$h")$(host_path "$h" confdir)/puppet.conf"
	if is_primary "$h" && ! has_puppetserver "$h"; then
		cat >"$f" <<EOT
# certwiz sandbox: $PRIMARY_FQDN ($PRIMARY_ADDR), primary server and CA, Puppet $(host_release "$h").
# $(sandbox_layout) layout: ssldir $(host_path "$h" ssldir), cadir $(host_path "$h" cadir).
[main]
certname = $PRIMARY_FQDN
server = $PRIMARY_FQDN
dns_alt_names = $PRIMARY_ALT_NAMES

[master]
# puppet master (WEBrick) serves on the primary's own address only.
bindaddress = $PRIMARY_ADDR
# No autosign.conf: requests are signed explicitly with 'puppet cert sign'.
EOT
	elif is_primary "$h"; then
		cat >"$f" <<EOT
# certwiz sandbox: $PRIMARY_FQDN ($PRIMARY_ADDR), primary server and CA, Puppet $(host_release "$h").
# $(sandbox_layout) layout: ssldir $(host_path "$h" ssldir), cadir $(host_path "$h" cadir).
[main]
certname = $PRIMARY_FQDN
server = $PRIMARY_FQDN
dns_alt_names = $PRIMARY_ALT_NAMES
$(aio_paths_conf "$h")

[server]
# No autosign.conf: requests are signed explicitly with 'puppetserver ca sign'.
EOT
	else
		cat >"$f" <<EOT
# certwiz sandbox: $(host_fqdn "$h") ($(host_addr "$h")), an agent, Puppet $(host_release "$h").
[main]
certname = $(host_fqdn "$h")
server = $PRIMARY_FQDN
$(aio_paths_conf "$h")
EOT
	fi
}

write_server_conf() {
	local fs conf sconf
	fs=$(host_fs "$PRIMARY")
	sconf=$(host_path "$PRIMARY" serverconf)
	conf=$fs$sconf/conf.d
	cat >"$conf/webserver.conf" <<EOT
webserver: {
    access-log-config: $sconf/request-logging.xml
    client-auth: want
    ssl-host: $PRIMARY_ADDR
    ssl-port: 8140
    # TLS 1.3 between Ruby's Net::HTTP and Jetty on JDK 17 stalls the first
    # request after a CSR for about 30 s (PUPPET7-NOTES.md).
    ssl-protocols: [TLSv1.2]
}
EOT
	cat >"$conf/ca.conf" <<'EOT'
certificate-authority: {
    # allow CA to sign certificate requests that have subject alternative names.
    allow-subject-alt-names: true

    # allow CA to sign certificate requests that have authorization extensions.
    allow-authorization-extensions: true

    # enable the separate CRL for Puppet infrastructure nodes
    # enable-infra-crl: false
}
EOT
	cat >"$conf/sandbox.conf" <<'EOT'
# certwiz sandbox: nothing may leave loopback.
product: {
    check-for-updates: false
}
dropsonde: {
    enabled: false
}
EOT
	# One JRuby: 256 MB of heap and 2 cores.
	sed -i 's/^\([[:space:]]*\)#[[:space:]]*max-active-instances:.*/\1max-active-instances: 1/' \
		"$conf/puppetserver.conf"
	grep -q '^[[:space:]]*max-active-instances: 1' "$conf/puppetserver.conf" ||
		warn "could not set max-active-instances in puppetserver.conf"
	if aio_layout; then
		# Puppet Server's own directories where Puppet's AIO packages put them.
		sed -i -e "s|server-conf-dir: .*|server-conf-dir: $(host_path "$PRIMARY" confdir)|" \
			-e "s|server-code-dir: .*|server-code-dir: /etc/puppetlabs/code|" \
			-e "s|server-var-dir: .*|server-var-dir: $(host_path "$PRIMARY" servervar)|" \
			-e "s|server-log-dir: .*|server-log-dir: $(host_path "$PRIMARY" serverlog)|" \
			-e "s|gem-home: .*|gem-home: $(host_path "$PRIMARY" servervar)/jruby-gems|" "$conf/puppetserver.conf"
		sed -i "s|/etc/puppet/puppetserver|$sconf|g" "$conf"/*.conf "$fs$sconf"/services.d/*.cfg 2>/dev/null || true
	fi

	# JVM flags: /etc/default/puppetserver is bind-mounted from here.
	local def=$fs/etc/default/puppetserver args pkgdef
	pkgdef="$(host_root "$PRIMARY")/etc/default/puppetserver"
	args="$PUPPETSERVER_JAVA_ARGS -Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger"
	if grep -q '^JAVA_ARGS=' "$pkgdef"; then
		sed "s|^JAVA_ARGS=.*|JAVA_ARGS=\"$args\"|" "$pkgdef" >"$def"
	else
		{ cat "$pkgdef"; echo "JAVA_ARGS=\"$args\""; } >"$def"
	fi
	aio_layout && sed -i "s|/etc/puppet/puppetserver|$sconf|g" "$def"
	return 0
}

# The site manifest: the smallest catalog that proves an agent can fetch one.
write_site_pp() {
	local env
	env="$(host_fs "$PRIMARY")$(dirname "$(host_path "$PRIMARY" confdir)")"
	if aio_layout; then env=$env/code/environments/production
	else env=$env/puppet/code/environments/production; fi
	install -d -m 0755 "$env/manifests" "$env/modules"
	cat >"$env/manifests/site.pp" <<EOT
# certwiz sandbox: the smallest catalog that proves an agent can fetch one.
# The file converges, so the first run exits 2 (changes) and later runs 0.
node default {
  file { '$(host_path "$PRIMARY" vardir)/sandbox-catalog.txt':
    ensure  => file,
    mode    => '0644',
    content => "catalog for \${trusted['certname']} from the certwiz sandbox\\n",
  }
}
EOT
}

# Build a host's Puppet tree once: its release's packaged /etc/puppet (no CA, no ssl,
# no server config on agents) and empty var directories owned like the packages'.
init_host_tree() {
	local h=$1 hd fs excl=() pkgetc conf
	hd=$(host_dir "$h")
	fs=$(host_fs "$h")
	[ -e "$hd/initialized" ] && return 0
	rm -rf "$fs"
	pkgetc="$(host_root "$h")/etc"
	excl=(--exclude=puppet/puppetserver/ca --exclude=puppet/ssl --exclude=puppet/puppet.conf)
	is_primary "$h" || excl+=(--exclude=puppet/puppetserver)
	if aio_layout; then
		# AIO: /etc/puppetlabs/puppet holds what Debian keeps in /etc/puppet; code and
		# vardir as Puppet's own packages have them.
		install -d -m 0755 "$fs/etc/puppetlabs" "$fs/etc/puppetlabs/code"
		tar -C "$pkgetc" "${excl[@]}" --exclude=puppet/code -cf - puppet | tar -C "$fs/etc/puppetlabs" -xpf -
		# Puppet Server's configuration: /etc/puppetlabs/puppetserver, beside the confdir.
		if [ -d "$fs/etc/puppetlabs/puppet/puppetserver" ]; then
			mv "$fs/etc/puppetlabs/puppet/puppetserver" "$fs/etc/puppetlabs/puppetserver"
		fi
		install_dir "$fs/opt/puppetlabs/puppet/cache" puppet:puppet 0750
		install -d -m 0755 "$fs/var/log/puppetlabs"
		install_dir "$fs/var/log/puppetlabs/puppet" puppet:puppet 0750
	else
		mkdir -p "$fs/etc" "$fs/var/lib" "$fs/var/cache" "$fs/var/log"
		tar -C "$pkgetc" "${excl[@]}" -cf - puppet | tar -C "$fs/etc" -xpf -
		install_dir "$fs/var/lib/puppet" puppet:puppet 0750
		install_dir "$fs/var/cache/puppet" puppet:puppet 0751
		install_dir "$fs/var/log/puppet" puppet:puppet 0750
	fi
	if is_primary "$h" && has_puppetserver "$h"; then
		install_dir "$fs$(host_path "$h" servervar)" puppet:puppet 0750
		install_dir "$fs$(host_path "$h" servervar)/jruby-gems" root:root 0755
		install_dir "$fs$(host_path "$h" serverlog)" puppet:puppet 0750
		install_dir "$fs/etc/default" root:root 0755
		write_server_conf
	fi
	is_primary "$h" && write_site_pp
	# PE's server-side data (PuppetDB's, PostgreSQL's, the console's) on every PE host.
	if pe_host "$h"; then install -d -m 0755 "$fs/opt/puppetlabs/server/data"; fi
	if is_primary "$h" && puppetdb_sandbox; then
		# Debian's packaged /etc/puppetdb (its database.ini holds the password its postinst
		# made), and PuppetDB's and PostgreSQL's directories owned as in the root.
		local root ids d
		root=$(host_root "$h")
		tar -C "$root/etc" -cf - puppetdb | tar -C "$fs/etc" -xpf -
		for d in var/lib/puppetdb:puppetdb var/log/puppetdb:puppetdb var/lib/postgresql:postgres; do
			ids=$(awk -F: -v n="${d#*:}" '$1 == n { print $3 ":" $4 }' "$root/etc/passwd")
			install_dir "$fs/${d%:*}" "$ids" 0755
		done
	fi
	write_puppet_conf "$h"
	touch "$hd/initialized"
}

# "source target" pairs bind-mounted inside a host's namespace.
host_mounts() {
	local h=$1 fs hd d
	fs=$(host_fs "$h")
	hd=$(host_dir "$h")
	while read -r d; do echo "$fs/$d /$d"; done < <(puppet_dirs "$h"; log_dirs "$h")
	is_primary "$h" && has_puppetserver "$h" && echo "$fs/etc/default/puppetserver /etc/default/puppetserver"
	echo "$STATE/etc/hosts /etc/hosts"
	# Login records of the host's sshd stay in the host.
	for d in wtmp btmp lastlog; do
		[ -f "/var/log/$d" ] && [ -f "$hd/log/$d" ] && echo "$hd/log/$d /var/log/$d"
	done
	return 0
}

# What a host of another release than this machine's, or of the AIO layout, needs on
# top of its bind mounts, as lines for start_host's inner script:
#   overlay DIR    a private writable overlay on this machine's DIR (nothing written
#                  reaches the machine: the upper layer lives in the host's state)
#   mkdir DIR      a mount point inside such an overlay
#   hide DIR       remove DIR in the overlay (this machine's own Puppet 7 files)
#   bind SRC DST   a bind mount (DST created in the release root when missing)
#   proc DIR       procfs for the release root
host_release_mounts() {
	local h=$1 rel root layout src dst tool bindir d
	rel=$(host_release "$h")
	root=$(host_root "$h")
	layout=$(sandbox_layout)
	if [ "$layout" != debian ]; then
		echo "overlay /etc"
		echo "overlay /opt"
		echo "overlay /var/log"
		echo "hide /etc/puppet"
		while read -r d; do echo "mkdir /$d"; done < <(puppet_dirs "$h"; log_dirs "$h")
		echo "mkdir /opt/puppetlabs/bin"
		echo "mkdir /opt/puppetlabs/puppet/lib/ruby/vendor_ruby"
	fi
	[ -n "$root" ] || return 0
	# The release's Puppet sees the same files at the same paths: everything bind-mounted
	# into the host is bind-mounted into its root too (in this namespace only).
	while read -r src dst; do echo "bind $src $root$dst"; done < <(host_mounts "$h")
	# PuppetDB's and PostgreSQL's files (up --puppetdb): the primary's own, at Debian's paths in
	# the root only (the machine has none of them).
	if is_primary "$h" && puppetdb_sandbox; then
		for d in "${PUPPETDB_DIRS[@]}"; do echo "bind $(host_fs "$h")/$d $root/$d"; done
	fi
	# A PE host whose PuppetDB and PostgreSQL run from another root than its Puppet (Puppet 5:
	# roots/8-pe): the same binds into that root too.
	local sroot
	sroot=$(host_services_root "$h")
	if [ -n "$sroot" ] && [ "$sroot" != "$root" ]; then
		while read -r src dst; do echo "bind $src $sroot$dst"; done < <(host_mounts "$h")
		echo "proc $sroot/proc"
		for d in /dev /sys /run /tmp; do echo "bind $d $sroot$d"; done
	fi
	# Debian's Puppet Server hard-codes /etc/puppet/puppetserver in its start script: an
	# AIO host's Puppet Server configuration is shown to it there too (in its root only).
	if [ "$layout" != debian ] && is_primary "$h" && has_puppetserver "$h"; then
		echo "bind $(host_fs "$h")$(layout_path aio "$rel" serverconf) $root/etc/puppet/puppetserver"
	fi
	echo "proc $root/proc"
	for d in /dev /sys /run /tmp; do echo "bind $d $root$d"; done
	# Which Puppet the host's commands run: the release's, through a wrapper; tools the
	# release does not have answer "command not found".
	bindir=$(layout_path "$layout" "$rel" bindir)
	for tool in puppet facter puppetserver; do
		if [[ " ${RELEASE_TOOLS[$rel]} " == *" $tool "* ]]; then src=$SANDBOX_ROOT/bin/release-tool
		else src=$SANDBOX_ROOT/bin/not-installed; fi
		echo "bind $src $bindir/$tool"
		[ "$bindir" = /usr/bin ] || echo "bind $SANDBOX_ROOT/bin/not-installed /usr/bin/$tool"
	done
	# Discovery reads the release's version from where its packages put version.rb.
	if [ "$layout" != debian ]; then
		echo "bind $root/usr/lib/ruby/vendor_ruby /opt/puppetlabs/puppet/lib/ruby/vendor_ruby"
	else
		echo "bind $root/usr/lib/ruby/vendor_ruby/puppet/version.rb /usr/lib/ruby/vendor_ruby/puppet/version.rb"
	fi
}

# What the host's wrappers and service scripts read: /run/certwiz-sandbox.env inside it.
host_env() {
	local h=$1 rel layout args=""
	rel=$(host_release "$h")
	layout=$(sandbox_layout)
	if [ "$layout" != debian ]; then
		args="--confdir=/etc/puppetlabs/puppet --codedir=/etc/puppetlabs/code --vardir=/opt/puppetlabs/puppet/cache"
		args="$args --rundir=/var/run/puppetlabs --logdir=/var/log/puppetlabs/puppet"
	fi
	cat <<EOT
SANDBOX_HOST=$h
SANDBOX_RELEASE=$rel
SANDBOX_LAYOUT=$layout
SANDBOX_RELEASE_ROOT=$(host_root "$h")
SANDBOX_SERVICES_ROOT=$(host_services_root "$h")
SANDBOX_PUPPET_ARGS="$args"
SANDBOX_BINDIR=$(layout_path "$layout" "$rel" bindir)
SANDBOX_CONFDIR=$(layout_path "$layout" "$rel" confdir)
SANDBOX_SERVERCONF=$(layout_path "$layout" "$rel" serverconf)
SANDBOX_SERVERLOG=$(layout_path "$layout" "$rel" serverlog)
SANDBOX_CA_CONFIG=$([ "$layout" != debian ] && echo "$(layout_path "$layout" "$rel" confdir)/puppet.conf")
SANDBOX_RUNDIR=$(layout_path "$layout" "$rel" rundir)
SANDBOX_LOGDIR=$(layout_path "$layout" "$rel" logdir)
SANDBOX_ADDR=$(host_addr "$h")
SANDBOX_CERTNAME=$(host_fqdn "$h")
EOT
	if puppetdb_sandbox && is_primary "$h"; then
		printf 'SANDBOX_PUPPETDB=1\nSANDBOX_PGDATA=%s\n' "$PUPPETDB_PGDATA"
	fi
	if pe_host "$h"; then
		printf 'SANDBOX_PE_VERSION="%s"\nSANDBOX_PE_PGDATA=%s\nSANDBOX_PE_CONSOLE_CERTDIR=%s\n' \
			"$(pe_data PE_VERSION)" "$(pe_data PE_PGDATA)" "$(pe_data PE_CONSOLE_CERTDIR)"
		printf 'SANDBOX_PE_INTERNAL_CERTS="%s"\n' "$(pe_data PE_INTERNAL_CERTS)"
		printf 'SANDBOX_PE_ROLE=%s\nSANDBOX_PE_SERVICES="%s"\n' "$(pe_role "$h")" "$(pe_role_services "$(pe_role "$h")")"
	elif pe_layout; then
		# Every other node of a PE install runs PE's agent-side services (pxp-agent; MCollective
		# too on PE 2018): certwiz stops and starts them on each agent.
		printf 'SANDBOX_PE_ROLE=\nSANDBOX_PE_SERVICES="%s"\n' "$(pe_role_services agent)"
	fi
}

# ---------------------------------------------------------------- ssh material

ensure_client_key() {
	install -d -m 0700 "$STATE/ssh"
	if [ ! -s "$STATE/ssh/id_ed25519" ]; then
		rm -f "$STATE/ssh/id_ed25519" "$STATE/ssh/id_ed25519.pub"
		ssh-keygen -q -t ed25519 -N '' -C "certwiz-sandbox-client" -f "$STATE/ssh/id_ed25519"
	fi
	printf 'from="127.0.0.0/8" %s\n' "$(cat "$STATE/ssh/id_ed25519.pub")" >"$STATE/ssh/authorized_keys"
	chmod 0600 "$STATE/ssh/authorized_keys"
}

ensure_host_ssh() {
	local h=$1 hd addr d
	hd=$(host_dir "$h")
	addr=$(host_addr "$h")
	install -d -m 0700 "$hd/ssh"
	install -d -m 0755 "$hd/log"
	if [ ! -s "$hd/ssh/ssh_host_ed25519_key" ]; then
		rm -f "$hd/ssh/ssh_host_ed25519_key" "$hd/ssh/ssh_host_ed25519_key.pub"
		ssh-keygen -q -t ed25519 -N '' -C "root@$(host_fqdn "$h")" -f "$hd/ssh/ssh_host_ed25519_key"
	fi
	for d in wtmp btmp lastlog; do
		[ -f "$hd/log/$d" ] || install -m 0664 -o root -g utmp /dev/null "$hd/log/$d" 2>/dev/null ||
			install -m 0664 /dev/null "$hd/log/$d"
	done
	cat >"$hd/ssh/sshd_config" <<EOT
# certwiz sandbox: sshd of $(host_fqdn "$h"), run inside its namespace.
ListenAddress $addr:22
HostKey $hd/ssh/ssh_host_ed25519_key
PidFile $hd/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $STATE/ssh/authorized_keys
# The state directory may sit below a world-writable one (tests use /tmp).
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
# certwiz opens many sessions at once.
MaxStartups 100:30:200
MaxSessions 50
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOT
}

write_hosts_file() {
	local h
	install -d -m 0755 "$STATE/etc"
	# Rewritten in place: the file is bind-mounted by inode.
	{
		echo "# certwiz sandbox hosts: bind-mounted on /etc/hosts inside every sandbox host"
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
		while read -r h; do
			printf '%s\t%s %s\n' "$(host_addr "$h")" "$(host_fqdn "$h")" "$(host_short "$h")"
		done < <(all_hosts)
	} >"$STATE/etc/hosts"
	chmod 0644 "$STATE/etc/hosts"
}

write_known_hosts() {
	local h key name
	{
		while read -r h; do
			key=$(cut -d' ' -f1,2 "$(host_dir "$h")/ssh/ssh_host_ed25519_key.pub")
			for name in "$(host_fqdn "$h")" "$(host_short "$h")" "$(host_addr "$h")"; do
				echo "$name $key"
			done
		done < <(all_hosts)
	} >"$STATE/known_hosts"
	chmod 0644 "$STATE/known_hosts"
}

write_ssh_config() {
	local h
	{
		echo "# certwiz sandbox: ssh -F $STATE/ssh/config agent1"
		while read -r h; do
			echo "Host $(host_fqdn "$h") $(host_short "$h") $h"
			echo "    HostName $(host_addr "$h")"
			echo "    HostKeyAlias $(host_fqdn "$h")"
		done < <(all_hosts)
		cat <<EOT
Host *
    User root
    IdentityFile $STATE/ssh/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $STATE/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
EOT
	} >"$STATE/ssh/config"
	chmod 0644 "$STATE/ssh/config"
}

# ---------------------------------------------------------------- namespaces

host_mounts_ok() { # host keeper-pid
	local a b d
	d=$(puppet_dirs "$1" | head -n 1)
	a=$(stat -L -c %d:%i "/proc/$2/root/$d" 2>/dev/null) || return 1
	b=$(stat -c %d:%i "$(host_fs "$1")/$d" 2>/dev/null) || return 1
	[ "$a" = "$b" ] && [ "$(cat "/proc/$2/root/run/certwiz-sandbox.env" 2>/dev/null)" = "$(host_env "$1")" ]
}

start_host() {
	local h=$1 kp i pairs=() src dst
	if kp=$(keeper_pid "$h"); then
		if host_mounts_ok "$h" "$kp"; then
			echo "$kp" >"$(host_dir "$h")/ns.pid"
			return 0
		fi
		warn "$h: namespace $kp does not show this state directory; recreating it"
		stop_host "$h"
	fi
	local ops=() kind a b root
	mapfile -t ops < <(host_release_mounts "$h")
	local aio=0; aio_layout && aio=1
	while read -r src dst; do
		[ -e "$dst" ] || [ "$aio" = 1 ] || die "$h: mount point $dst is missing on this machine (is the package installed?)"
		pairs+=("$src" "$dst")
	done < <(host_mounts "$h")
	# Mount points in a release root are made from outside (the root is ours).
	local sroot
	root=$(host_root "$h") sroot=$(host_services_root "$h")
	for op in "${ops[@]}"; do
		read -r kind a b <<<"$op"
		if [ "$kind" = bind ] && [ ! -e "$b" ] &&
			{ { [ -n "$root" ] && [[ "$b" == "$root"/* ]]; } || { [ -n "$sroot" ] && [[ "$b" == "$sroot"/* ]]; }; }; then
			if [ -d "$a" ]; then mkdir -p "$b"; else mkdir -p "$(dirname "$b")"; touch "$b"; fi
		fi
	done
	host_env "$h" >"$(host_dir "$h")/env"
	printf '%s\n' "${ops[@]}" >"$(host_dir "$h")/ops"
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid unshare -m -u --propagation private -- \
		bash -c 'exec -a "$0" sleep infinity' "certwiz-sandbox-$h" </dev/null >/dev/null 2>&1 &
	kp=$!
	for ((i = 0; i < 50; i++)); do
		tr '\0' ' ' <"/proc/$kp/cmdline" 2>/dev/null | grep -q "^certwiz-sandbox-$h " && break
		sleep 0.1
	done
	proc_alive "$kp" || die "$h: unshare failed"
	record_pid "$(host_dir "$h")/keeper.pid" "$kp"
	echo "$kp" >"$(host_dir "$h")/ns.pid"  # plain, for `nsenter -t "$(cat ns.pid)" -m`
	# shellcheck disable=SC2016 # expanded by the inner bash
	# Order: overlays (so AIO mount points can be made), the Puppet binds, then the
	# release's own mounts (its root sees the host's binds).
	# shellcheck disable=SC2016 # expanded by the inner bash
	nsenter -t "$kp" -m -u -- /bin/bash -euc '
		hostname "$1"; hd=$2; shift 2
		mount -n -t tmpfs -o mode=0755,nosuid,nodev,size=64m certwiz-sandbox-run /run
		install -d -m 0755 /run/sshd
		install -d -m 1777 /run/lock
		ln -s /dev/shm /run/shm
		cp "$hd/env" /run/certwiz-sandbox.env
		late=()
		while read -r kind a b; do
			case "$kind" in
			overlay) o=$hd/overlay${a//\//_}; mkdir -p "$o/upper" "$o/work"
			         mount -n -t overlay certwiz-sandbox-overlay \
			               -o "lowerdir=$a,upperdir=$o/upper,workdir=$o/work" "$a" ;;
			mkdir) mkdir -p "$a" ;;
			hide) rm -rf "$a" ;;
			*) late+=("$kind" "$a" "${b:-}") ;;
			esac
		done <"$hd/ops"
		while [ $# -ge 2 ]; do mount -n --bind "$1" "$2"; shift 2; done
		set -- "${late[@]}"
		while [ $# -ge 3 ]; do
			case "$1" in
			bind)
				# A missing mount point is made only inside an overlay (never on the machine).
				if [ ! -e "$3" ] && [ "$(stat -f -c %T "$(dirname "$3")" 2>/dev/null)" = overlayfs ]; then
					if [ -d "$2" ]; then mkdir -p "$3"; else touch "$3"; fi
				fi
				mount -n --bind "$2" "$3" ;;
			proc) mount -n -t proc certwiz-sandbox-proc "$2" ;;
			esac
			shift 3
		done
	' _ "$(host_short "$h")" "$(host_dir "$h")" "${pairs[@]}" || { kill "$kp"; die "$h: mounts failed"; }
}

start_sshd() {
	local h=$1 hd addr pid i
	sshd_pid "$h" >/dev/null && return 0
	hd=$(host_dir "$h")
	addr=$(host_addr "$h")
	if ss -Hltn "sport = :22" | awk '{print $4}' | grep -qxE "(0\.0\.0\.0|\*|\[::\]|$addr):22"; then
		die "$h: $addr:22 is already taken by another sshd: $(ss -Hltnp "sport = :22" | grep -E "(0\.0\.0\.0|\*|\[::\]|$addr):22")"
	fi
	rm -f "$hd/sshd.pid"
	in_host "$h" /usr/sbin/sshd -t -f "$hd/ssh/sshd_config" || die "$h: sshd config invalid"
	in_host "$h" /usr/sbin/sshd -f "$hd/ssh/sshd_config" -E "$hd/log/sshd.log" ||
		die "$h: sshd did not start (see $hd/log/sshd.log)"
	for ((i = 0; i < 50; i++)); do
		[ -s "$hd/sshd.pid" ] && ss -Hltn "sport = :22" | awk '{print $4}' | grep -qx "$addr:22" && break
		sleep 0.1
	done
	read -r pid <"$hd/sshd.pid" || die "$h: sshd wrote no pid file"
	record_pid "$hd/sshd.pid.rec" "$pid"
	sshd_pid "$h" >/dev/null || die "$h: sshd (pid $pid) is not running (see $hd/log/sshd.log)"
}

# Stop everything in a host: services gracefully, then sshd, then whatever
# else still lives in its namespace, then the keeper.
stop_host() {
	local h=$1 hd kp pid p left
	hd=$(host_dir "$h")
	if kp=$(keeper_pid "$h"); then
		host_services_stop "$h" || true
		if is_primary "$h"; then in_host "$h" "$SANDBOX_ROOT/service/puppetserver" stop || true; fi
		in_host "$h" "$SANDBOX_ROOT/service/puppet" stop >/dev/null || true
		if pid=$(sshd_pid "$h"); then kill -TERM "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; fi
		left=$(ns_pids "$h" | grep -vx "$kp" || true)
		if [ -n "$left" ]; then
			for p in $left; do
				warn "$h: stopping leftover process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
				kill -TERM "$p" 2>/dev/null || true
			done
			for p in $left; do wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null || true; done
		fi
		kill -TERM "$kp" 2>/dev/null || true
		wait_gone "$kp" 5 || kill -KILL "$kp" 2>/dev/null || true
	fi
	rm -f "$hd/keeper.pid" "$hd/ns.pid" "$hd/sshd.pid" "$hd/sshd.pid.rec"
}

# Hosts that have a directory in the state dir (agents first, primary last).
existing_hosts() {
	local d
	[ -d "$STATE/hosts" ] || return 0
	for d in "$STATE"/hosts/agent*; do [ -d "$d" ] && basename "$d"; done | sort -V
	for d in "${!PE_HOST_ADDR[@]}"; do [ -d "$STATE/hosts/$d" ] && echo "$d"; done
	[ -d "$STATE/hosts/$PRIMARY" ] && echo "$PRIMARY"
	return 0
}

# ---------------------------------------------------------------- puppet

# up and reset allow a slow start (a loaded 2-core machine has taken 80 s);
# certwiz gets the script's own default.
server_start() {
	PUPPETSERVER_START_TIMEOUT=${PUPPETSERVER_START_TIMEOUT:-300} \
		in_host "$PRIMARY" "$SANDBOX_ROOT/service/puppetserver" start
}
server_stop() { in_host "$PRIMARY" "$SANDBOX_ROOT/service/puppetserver" stop; }
# The services a host runs besides Puppet's own, in start order: its PE role's (pe layout:
# every PE service on the monolithic primary, pe-split's on the PuppetDB and console hosts),
# or PostgreSQL and PuppetDB on the primary of `up --puppetdb`; none otherwise.
host_services() {
	local r
	r=$(pe_role "$1")
	if [ -n "$r" ]; then printf '%s\n' $(pe_role_services "$r")
	elif is_primary "$1" && puppetdb_sandbox; then printf '%s\n' "${PUPPETDB_SERVICES[@]}"; fi
}
primary_services() { host_services "$PRIMARY"; }
# Started in that order after Puppet Server, stopped in the reverse order.
host_services_start() {
	local s
	for s in $(host_services "$1"); do
		in_host "$1" "$SANDBOX_ROOT/service/$s" start || die "$s did not start on $1 (its log: sandbox/service/$s there says where)"
	done
}
host_services_stop() {
	local s
	for s in $(host_services "$1" | tac); do
		in_host "$1" "$SANDBOX_ROOT/service/$s" stop >/dev/null
	done
}
# At rest the primary's run (the pe layout's monolithic primary; PuppetDB's); stopping stops
# those of every host that is up (pe-split's PuppetDB and console hosts' too).
primary_services_start() { host_services_start "$PRIMARY"; }
primary_services_stop() {
	local h
	for h in "$PRIMARY" $(pe_split_hosts); do
		if [ -n "$(host_services "$h")" ] && keeper_pid "$h" >/dev/null; then host_services_stop "$h"; fi
	done
}
server_running() { in_host "$PRIMARY" "$SANDBOX_ROOT/service/puppetserver" status >/dev/null 2>&1; }

# parallel_on LABEL "HOST..." CMD ARGS...: run CMD in several hosts at once,
# output appended to $STATE/logs/HOST.log.  Exit codes listed in OK_CODES
# (default "0") count as success and are left in PAR_RC[HOST]; for the
# others the log's tail is printed and the function returns 1.
parallel_on() {
	local label=$1 hosts h pids=() rc fail=0 i ok c
	read -r -a hosts <<<"$2"
	shift 2
	mkdir -p "$STATE/logs"
	for h in "${hosts[@]}"; do
		{
			printf '==== %s %s: %s\n' "$(date -Is)" "$label" "$*"
			in_host "$h" "$@"
		} >>"$STATE/logs/$h.log" 2>&1 </dev/null &
		pids+=($!)
	done
	for i in "${!hosts[@]}"; do
		rc=0
		wait "${pids[$i]}" || rc=$?
		ok=0
		for c in ${OK_CODES:-0}; do [ "$rc" = "$c" ] && ok=1; done
		PAR_RC[${hosts[$i]}]=$rc
		if [ "$ok" = 0 ]; then
			fail=1
			echo "---- ${hosts[$i]}: '$label' failed with exit code $rc; last lines of $STATE/logs/${hosts[$i]}.log:" >&2
			tail -n 15 "$STATE/logs/${hosts[$i]}.log" >&2
		fi
	done
	return "$fail"
}
# shellcheck disable=SC2034 # read by the callers
declare -gA PAR_RC=()

# Manifest of what a server restart depends on: the primary's config and SSL.
primary_ssl_manifest() {
	local fs
	fs=$(host_fs "$PRIMARY")
	local dirs=(etc/puppet var/lib/puppet)
	aio_layout && dirs=(etc/puppetlabs)
	(
		cd "$fs" || exit 1
		find "${dirs[@]}" -printf '%y %m %U:%G %p\n' | LC_ALL=C sort
		find "${dirs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -d' ' -f1
}

snapshot_valid() {
	local h
	[ -s "$STATE/pristine/hosts" ] || return 1
	[ "$(cat "$STATE/pristine/hosts")" = "$(all_hosts)" ] || return 1
	while read -r h; do [ -s "$STATE/pristine/$h.tar" ] || return 1; done < <(all_hosts)
}

snapshot_take() {
	local h new=$STATE/pristine.new dirs
	rm -rf "$new"
	mkdir -p "$new"
	while read -r h; do
		mapfile -t dirs < <(puppet_dirs "$h")
		tar -C "$(host_fs "$h")" --numeric-owner -cpf "$new/$h.tar" "${dirs[@]}"
	done < <(all_hosts)
	primary_ssl_manifest >"$new/primary.manifest"
	fingerprint "$(host_cert "$PRIMARY")" >"$new/server.fingerprint"
	all_hosts >"$new/hosts"
	rm -rf "$STATE/pristine"
	mv "$new" "$STATE/pristine"
}

# Put a host's Puppet directories (all, or those named) back as in the
# snapshot.  The directories themselves stay (they are mount sources); only
# their contents change.
snapshot_restore() {
	local h=$1 fs d dirs
	shift
	fs=$(host_fs "$h")
	if [ $# -gt 0 ]; then dirs=("$@"); else mapfile -t dirs < <(puppet_dirs "$h"); fi
	# Files go; directories the snapshot has stay (one may be a mount source elsewhere: an
	# AIO primary's /etc/puppetlabs/puppetserver is bind-mounted into its release root).
	local keep p
	keep=$(tar -tf "$STATE/pristine/$h.tar" "${dirs[@]}" | sed -n 's|/$||p')
	for d in "${dirs[@]}"; do
		[ -d "$fs/$d" ] || continue
		find "$fs/$d" -mindepth 1 ! -type d -delete
		find "$fs/$d" -mindepth 1 -depth -type d -printf '%P\n' | while IFS= read -r p; do
			grep -qxF "$d/$p" <<<"$keep" || rmdir "$fs/$d/$p"
		done
	done
	tar -C "$fs" --numeric-owner -xpf "$STATE/pristine/$h.tar" "${dirs[@]}"
}

# ---------------------------------------------------------------- summary

print_summary() {
	local h ca server_name=puppetserver list_cmd="puppetserver ca list --all"
	ca=$(ca_cert)
	has_puppetserver || { server_name="puppet master"; list_cmd="puppet cert list --all"; }
	echo
	echo "certwiz sandbox  (state: $STATE)"
	printf '  %-8s %-22s %-12s %s\n' HOST NAME ADDRESS ROLE
	while read -r h; do
		if is_primary "$h"; then
			printf '  %-8s %-22s %-12s %s\n' "$h" "$(host_fqdn "$h")" "$(host_addr "$h")" \
				"primary server + CA, Puppet $(host_release "$h") ($server_name on :8140), alt names $PRIMARY_ALT_NAMES"
		else
			printf '  %-8s %-22s %-12s %s\n' "$h" "$(host_fqdn "$h")" "$(host_addr "$h")" \
				"agent, Puppet $(host_release "$h"), cert until $(enddate "$(host_cert "$h")")"
		fi
	done < <(all_hosts)
	echo "  CA SHA-256  $(fingerprint "$ca")"
	echo
	echo "  layout:            $(sandbox_layout) (ssldir $(host_path "$PRIMARY" ssldir), cadir $(host_path "$PRIMARY" cadir))"
	echo "  run on a host:     $SANDBOX_ROOT/exec primary -- $list_cmd"
	echo "                     $SANDBOX_ROOT/exec agent1 -- puppet agent -t"
	echo "  shell on a host:   $SANDBOX_ROOT/exec primary        (certwiz runs there)"
	echo "  ssh to a host:     ssh -F $STATE/ssh/config agent1"
	echo "  services (inside): $SANDBOX_ROOT/service/puppetserver start|stop|status"
	echo "                     $SANDBOX_ROOT/service/puppet start|stop|status"
	local s
	for s in $(primary_services); do echo "                     $SANDBOX_ROOT/service/$s start|stop|status   (primary)"; done
	echo "  health:            $SANDBOX_ROOT/status"
	echo "  back to pristine:  $SANDBOX_ROOT/reset"
	echo "  tear down:         $SANDBOX_ROOT/down    (--purge also deletes $STATE)"
}
