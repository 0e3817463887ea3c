#!/bin/sh
# autogen.sh: generate ./configure from configure.ac and Makefile.am (a fresh clone has neither).
set -e
cd "$(dirname "$0")"
autoreconf --install --force >/dev/null
echo "autogen.sh: now run ./configure && make"
