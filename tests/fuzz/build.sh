#!/usr/bin/env bash
# tests/fuzz/build.sh [OUTDIR]: build every fuzz target with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer (UBSan stops at its first finding), linking the project's own
# core/ sources. OUTDIR defaults to build/fuzz. Needs clang and libclang-rt-dev
# (scripts/install-deps installs them).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/fuzz}
cc=${CC_FUZZ:-$(command -v clang-14 || command -v clang || true)}
[ -n "$cc" ] || { echo "fuzz: clang not found: apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
mkdir -p "$out/obj"
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
pkgs="openssl libssh2 libconfig libarchive json-c"
cflags=(-g -O1 -std=gnu11 -D_GNU_SOURCE "${san[@]}" -I"$top/core" -DCW_DATADIR='"/nonexistent"'
        -DCW_SRCDIR="\"$top\"" -DCW_SYSCONFDIR='"/nonexistent"' -DCW_FUZZ_SRCDIR="\"$top\""
        $(pkg-config --cflags $pkgs))
libs=($(pkg-config --libs $pkgs) -lpthread)
objs=()
for src in "$top"/core/*.c; do
  o="$out/obj/$(basename "${src%.c}").o"
  if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find "$top/core" -name '*.h' -newer "$o")" ]; then
    "$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$o"
  fi
  objs+=("$o")
done
for t in "$top"/tests/fuzz/fuzz_*.c; do
  name=$(basename "${t%.c}")
  if [ ! -e "$out/$name" ] || [ "$t" -nt "$out/$name" ] || [ "$top/tests/fuzz/fuzz.h" -nt "$out/$name" ] ||
     [ -n "$(find "$out/obj" -name '*.o' -newer "$out/$name")" ]; then
    "$cc" "${cflags[@]}" -fsanitize=fuzzer "$t" "${objs[@]}" "${libs[@]}" -o "$out/$name"
  fi
done
echo "fuzz: targets in $out: $(cd "$out" && ls fuzz_* | tr '\n' ' ')"
