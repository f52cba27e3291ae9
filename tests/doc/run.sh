#!/bin/bash
# tests/doc/run.sh: the documentation says what the program does. Every option of
# `certwiz --help` is in README.md and in certwiz(1); every exit code the program can return is
# in README's table and in certwiz(1)'s EXIT STATUS (and no other); both manual pages render
# with `man -l` without warnings; bash completion offers the commands, options, procedures and
# profiles. Run by `make check` with CERTWIZ, SRCDIR and BUILDDIR set.
set -u
: "${CERTWIZ:?}" "${SRCDIR:?}" "${BUILDDIR:?}"
export LC_ALL=C.UTF-8 MANWIDTH=100
unset CERTWIZ_DATADIR
tmp=$(mktemp -d /tmp/certwiz-doc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { passes=$((passes + 1)); }

readme=$SRCDIR/README.md
for page in certwiz.1 certwiz.cfg.5; do
  if ! man --warnings -l "$BUILDDIR/man/$page" >"$tmp/$page.txt" 2>"$tmp/$page.err" || [ -s "$tmp/$page.err" ]; then
    bad "man -l $page: $(head -5 "$tmp/$page.err")"
  elif ! grep -q "^NAME" "$tmp/$page.txt"; then
    bad "man -l $page rendered no NAME section"
  else
    ok
  fi
done
man1=$tmp/certwiz.1.txt

# Options: "-p, --procedure" pairs and lone long options, as --help lists them.
"$CERTWIZ" --help >"$tmp/help"
sed -n '/^Options:/,/^$/p' "$tmp/help" | grep -oE -- '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' | sed 's/^ *//' >"$tmp/opts"
[ "$(wc -l <"$tmp/opts")" -ge 20 ] || bad "found only $(wc -l <"$tmp/opts") options in certwiz --help"
while read -r opt; do
  long=${opt##* }
  grep -qF -- "\`$opt" "$readme" || grep -qF -- "$opt " "$readme" || bad "README.md does not list $opt (from certwiz --help)"
  grep -qE -- "^ +${opt}( |\$)" "$man1" || bad "certwiz(1) does not list $opt under OPTIONS"
  ok
done <"$tmp/opts"

# Exit codes the program can return: the status table of core/error.h, the numbers cli.c,
# batch.c and the wizard return themselves, and certwiz check's 0, 1, 2.
{
  grep -oE 'X\(CW_[A-Z]+, [0-9]+' "$SRCDIR/core/error.h" | grep -oE '[0-9]+$'
  grep -hoE '(return|rc =) [0-9]+;' "$SRCDIR"/tui/*.c "$SRCDIR/screens/app.c" | grep -oE '[0-9]+'
  grep -oE 'EXIT_USAGE [0-9]+' "$SRCDIR/tui/cli.c" | grep -oE '[0-9]+$'
  printf '0\n1\n2\n'
} | sort -un >"$tmp/codes"
sed -n '/^## Exit codes/,/^## /p' "$readme" | grep -oE '^\| [0-9]+ \|' | grep -oE '[0-9]+' | sort -un >"$tmp/readme-codes"
sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$man1" | grep -oE '^ +[0-9]+ ' | grep -oE '[0-9]+' | sort -un >"$tmp/man-codes"
for where in readme man; do
  if ! cmp -s "$tmp/codes" "$tmp/$where-codes"; then
    bad "$where's exit codes ($(tr '\n' ' ' <"$tmp/$where-codes")) are not those the program returns ($(tr '\n' ' ' <"$tmp/codes"))"
  else
    ok
  fi
done

# certwiz.cfg(5) names every setting the configuration loader accepts.
sed -n '/^cw_status site_load/,/^}/p; /^static cw_status load_host/,/^}/p' "$SRCDIR/core/config.c" |
  sed -n '/keys\[\] = {/,/};/p' | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u >"$tmp/settings"
[ "$(wc -l <"$tmp/settings")" -ge 30 ] || bad "found only $(wc -l <"$tmp/settings") settings in core/config.c"
while read -r key; do
  grep -qE "(^|[^a-z_])$key([^a-z_]|\$)" "$tmp/certwiz.cfg.5.txt" || bad "certwiz.cfg(5) does not name the setting $key"
done <"$tmp/settings"
ok

# Bash completion, with the procedures and profiles of the data directory.
bc=/usr/share/bash-completion/bash_completion
if [ ! -r "$bc" ]; then
  echo "SKIP: bash completion ($bc is not installed: apt-get install bash-completion)"
else
  complete_line() { # complete_line WORDS...: what TAB offers for the last word
    bash -c '
      source "$1" && source "$2" || exit 1
      shift 2
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
      COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      _certwiz certwiz "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
      printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$bc" "$BUILDDIR/completion/certwiz" "$@"
  }
  expect_completion() { # WANT WORDS...
    want=$1
    shift
    got=$(complete_line "$@")
    if [ "$got" != "$want" ]; then bad "completing '$*': got '$got', want '$want'"; else ok; fi
  }
  expect_completion "plan " certwiz pl
  expect_completion "agent ca-renew crl-refresh oss-ca pe-monolithic pe-split primary " certwiz plan --datadir "$SRCDIR" --procedure ""
  expect_completion "oss-aio oss-aio-5 oss-debian " certwiz plan --datadir "$SRCDIR" -P oss
  expect_completion "--on-failure --operator " certwiz run --o
  expect_completion "rollback " certwiz run --on-failure r
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
