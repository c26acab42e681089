#!/bin/sh
# Installs what pcaps/gen/ needs to regenerate the captures (Debian 12, root):
# the servers and clients the generators run inside their own network
# namespaces. The project's installer does it, so no daemon is left
# running or enabled on this machine (see scripts/install-deps.sh).
set -eu
exec "$(dirname "$0")/../../scripts/install-deps.sh" pcaps
