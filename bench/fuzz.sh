#!/usr/bin/env bash
# bench/fuzz.sh SECONDS [TARGET...]: fuzz every target (or those named) for SECONDS each, one
# after another at nice 19 (the short tier of tests/run-all.sh is the same with 15 s).
exec "$(dirname "$0")/../tests/fuzz/run.sh" "$@"
