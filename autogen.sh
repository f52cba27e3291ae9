#!/bin/sh
# autogen.sh: generate ./configure from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p m4 # aclocal looks here (ACLOCAL_AMFLAGS); git keeps no empty folder
autoreconf --install --force --warnings=all
# configure's tests and its exit trap clean up core dumps with `rm -f core`, which meets our
# core/ source folder (in the tree, and in a build tree once the dependency folders exist) and
# prints "rm: cannot remove 'core': Is a directory". The tests make no core dumps to clean.
sed 's/rm -f core /rm -f /' configure >configure.tmp
cat configure.tmp >configure
rm -f configure.tmp
