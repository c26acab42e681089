#!/bin/bash
# Rebuilds every capture in pcaps/ from real servers and clients (root).
#   pcaps/gen/regenerate.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "regenerate.sh: must run as root (network namespaces, servers, tcpdump)" >&2; exit 1; }
"$HERE/install-deps.sh"
"$HERE/pop3_capture.sh" "$HERE/../pop3"
echo "regenerate.sh: done; review with: git status pcaps/ && git diff --stat pcaps/"
