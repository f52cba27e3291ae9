# tests/cli/ca-site.sh: sourced by the CLI tests of a CA procedure (crl-refresh.sh, ca-renew.sh).
# ca_site PROCEDURE [MORE_VARS] prints the answers file of a batch run on this host: stand-in
# services (tests/screen/bin/fake-service, state in $tmp/state) and the Puppet directories under
# $tmp, the CA in $ca. MORE_VARS is added inside vars = { ... } (e.g. 'ca_renew_days = 0;').
ca_site() {
  fake=$SRCDIR/tests/screen/bin/fake-service
  cat <<EOF
operator = "tester";
procedure = "$1";
confirm_destructive = true;
services = {
  backend = "command";
  start = ["$fake", "$tmp/state", "start", "\${service}"];
  stop = ["$fake", "$tmp/state", "stop", "\${service}"];
  status = ["$fake", "$tmp/state", "status", "\${service}"];
};
vars = { confdir = "$tmp/conf"; ssldir = "$tmp/ssl"; cadir = "$ca"; client_datadir = "$tmp/cd"; ${2:-} };
EOF
}
