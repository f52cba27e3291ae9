#!/bin/bash
# tests/package/run.sh: the Debian package, as an operator meets it. Builds the .deb from this
# tree with `dpkg-buildpackage -us -uc -b`, runs lintian on it, installs it with
# `dpkg --root` into a scratch root, then runs the installed certwiz at its real paths
# (/usr/bin/certwiz reading /etc/certwiz/certwiz.cfg and /usr/share/certwiz) in a private
# mount namespace where the scratch root is laid over /etc and /usr (overlayfs): this
# machine's own /etc and /usr are never written. Needs root, debhelper, lintian, man-db.
# Usage: tests/package/run.sh [DIR]   (DIR keeps the .deb and the logs; default: a temp dir)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
keep=${1:-}
work=$(mktemp -d /tmp/certwiz-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; passes=$((passes + 1)); }
[ "$(id -u)" = 0 ] || { echo "package: needs root (dpkg --root, mount namespaces)"; exit 77; }
for tool in dpkg-buildpackage dh lintian man unshare; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (scripts/install-deps)"; exit 1; }
done

# 1. Build from a copy of the tracked and new files (no build products of this tree).
version=$(sed -n '1s/^certwiz (\([^)]*\)).*/\1/p' "$top/debian/changelog")
src=$work/certwiz-$version
mkdir -p "$src"
(cd "$top" && git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T -) | tar -xf - -C "$src"
start=$SECONDS
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"
  bad "dpkg-buildpackage -us -uc -b failed (log above)"
  exit 1
fi
deb=$(ls "$work"/certwiz_"$version"_*.deb)
ok "dpkg-buildpackage built ${deb##*/} in $((SECONDS - start)) s"
[ -n "$keep" ] && mkdir -p "$keep" && cp "$deb" "$work/build.log" "$keep/"

# 2. What the package holds.
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$work/files"
for f in /usr/bin/certwiz /etc/certwiz/certwiz.cfg /usr/share/man/man1/certwiz.1.gz \
         /usr/share/man/man5/certwiz.cfg.5.gz /usr/share/bash-completion/completions/certwiz \
         /usr/share/certwiz/config/procedures/oss-ca.cfg /usr/share/certwiz/config/profiles/oss-debian.cfg \
         /usr/share/doc/certwiz/copyright; do
  grep -qx "$f" "$work/files" || bad "the package has no $f"
done
dpkg-deb -f "$deb" Depends | grep -q libssh2 || bad "Depends does not name libssh2: $(dpkg-deb -f "$deb" Depends)"
mkdir -p "$work/ctrl" && dpkg-deb -e "$deb" "$work/ctrl"
grep -qx /etc/certwiz/certwiz.cfg "$work/ctrl/conffiles" 2>/dev/null || bad "/etc/certwiz/certwiz.cfg is not a conffile"
[ $fails = 0 ] && ok "the package holds the program, data, manual pages, completion and the conffile"

# 3. lintian: errors fail the test; warnings are shown (README says why those that remain do).
lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" >"$work/lintian.log" 2>&1
lrc=$?
sed 's/^/    lintian: /' "$work/lintian.log"
[ $lrc = 0 ] && ok "lintian: no errors ($(grep -c '^W:' "$work/lintian.log") warnings)" || bad "lintian found errors"

# 4. Install into a scratch root with dpkg's own database there.
root=$work/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status"
if dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >"$work/install.log" 2>&1 &&
   [ -x "$root/usr/bin/certwiz" ]; then
  ok "dpkg --root installed it ($(dpkg --root="$root" -s certwiz | sed -n 's/^Status: //p'))"
else
  cat "$work/install.log"
  bad "dpkg --root could not install ${deb##*/}"
  exit 1
fi
rm -rf "$src" # the installed certwiz must not find the build tree's data

# 5. The installed certwiz at its real paths: the scratch root over /etc and /usr, privately.
# in_root CMD...: run CMD with the package's files in place; optional $extra_etc over /etc too.
in_root() {
  local etc="$root/etc:/etc"
  [ -n "${extra_etc:-}" ] && etc="$extra_etc:$etc"
  env -u CERTWIZ_DATADIR HOME="$work/home" unshare -m --propagation private sh -c '
    mount -t overlay certwiz-etc -o lowerdir="$1" /etc &&
    mount -t overlay certwiz-usr -o lowerdir="$2/usr:/usr" /usr || exit 99
    shift 2
    cd / && exec "$@"' _ "$etc" "$root" "$@"
}
mkdir -p "$work/home" "$root/etc" "$root/usr" # overlayfs needs every lower folder, even an empty one
fixture=$top/tests/cli/root
if in_root certwiz list >"$work/list.out" 2>&1 && grep -q '^  oss-ca ' "$work/list.out" &&
   grep -q '^  oss-debian ' "$work/list.out"; then
  ok "installed: certwiz list shows the procedures and profiles of /usr/share/certwiz"
else
  bad "installed: certwiz list: $(head -5 "$work/list.out")"
fi
if in_root certwiz plan -p agent -a web1.example.com --profile oss-debian --root "$fixture" >"$work/plan.out" 2>&1 &&
   grep -q '\$ puppetserver ca clean --certname web1.example.com' "$work/plan.out"; then
  ok "installed: certwiz plan prints the agent procedure"
else
  bad "installed: certwiz plan: $(head -5 "$work/plan.out")"
fi
# /etc/certwiz/certwiz.cfg is what it reads: a setting it does not know there is an error naming it
mkdir -p "$work/etc2/certwiz"
printf 'frobnicate = 1;\n' >"$work/etc2/certwiz/certwiz.cfg"
extra_etc=$work/etc2 in_root certwiz plan -p agent -a web1.example.com --profile oss-debian --root "$fixture" \
  >"$work/cfg.out" 2>&1
rc=$?
if [ $rc = 3 ] && grep -q "/etc/certwiz/certwiz.cfg:1: unknown setting 'frobnicate'" "$work/cfg.out"; then
  ok "installed: certwiz reads /etc/certwiz/certwiz.cfg"
else
  bad "installed: a bad /etc/certwiz/certwiz.cfg gave exit $rc: $(head -3 "$work/cfg.out")"
fi
# to a file, not a pipe: with pipefail, grep -q leaving early would fail certwiz's
# second write (the help is over 4 KiB) with SIGPIPE, now and then
in_root certwiz --help >"$work/help.out" 2>&1
if grep -q -- '--config FILE .*default /etc/certwiz/certwiz.cfg' "$work/help.out"; then
  ok "installed: --help names /etc/certwiz/certwiz.cfg"
else
  bad "installed: --help does not name /etc/certwiz/certwiz.cfg: $(grep -- --config "$work/help.out")"
fi
if in_root sh -c 'MANWIDTH=80 man certwiz 2>/dev/null | grep -q "^EXIT STATUS" && man 5 certwiz.cfg 2>/dev/null | grep -q report_dir'; then
  ok "installed: man certwiz and man 5 certwiz.cfg"
else
  bad "installed: man certwiz does not show the page"
fi
if [ -r /usr/share/bash-completion/bash_completion ] &&
   in_root bash -c 'source /usr/share/bash-completion/bash_completion; source /usr/share/bash-completion/completions/certwiz
     COMP_WORDS=(certwiz plan --procedure pe-); COMP_CWORD=3
     COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _certwiz certwiz pe- --procedure; echo "${COMPREPLY[*]}"' |
   grep -qx 'pe-monolithic pe-split'; then
  ok "installed: bash completion names the installed procedures"
else
  bad "installed: bash completion does not complete --procedure pe-"
fi
[ -e /etc/certwiz ] || [ -e /usr/share/certwiz ] || [ -e /usr/bin/certwiz ] && bad "this machine's /etc or /usr was changed"

echo "package: $passes passed, $fails failed ($SECONDS s)"
[ $fails = 0 ]
