#!/bin/sh
# Installs the Debian packages granite builds against, when they are missing.
# Called by `make`; safe to run again (it does nothing when all are present).
set -e
# binutils (GNU as: assembly input), g++ and pkg-config (the install test
# builds outside C/C++ programs), python3 (the Python module and its tests);
# docs/install.md says why each is there.
PKGS="libzydis-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-openmp-dev binutils g++ pkg-config python3"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "granite: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $missing
