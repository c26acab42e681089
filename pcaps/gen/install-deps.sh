#!/bin/bash
# Installs what pcaps/gen/ needs to regenerate the captures (Debian 12, root).
set -euo pipefail
PKGS=(dovecot-core dovecot-pop3d tcpdump curl iproute2 ethtool python3 dovecot-imapd openssl python3-scapy
      postfix swaks dovecot-lmtpd)
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: must run as root" >&2; exit 1; }
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps.sh: all present: ${PKGS[*]}"
    exit 0
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix: install unconfigured, no system instance (smtp_capture.sh runs its own).
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
