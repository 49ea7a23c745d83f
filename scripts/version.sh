#!/usr/bin/env bash
# Prints prpkit's version, MAJOR.MINOR.PATCH, as written once in include/prpkit.h.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(sed -n 's/^#define PRPKIT_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/prpkit.h | paste -sd. -)
[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version: include/prpkit.h lacks PRPKIT_VERSION_*" >&2; exit 1; }
echo "$v"
