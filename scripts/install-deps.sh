#!/bin/sh
# Installs the Debian 12 packages mailspill needs to build and test, only
# those missing, so a prepared machine does not touch the network.
set -eu
PKGS="build-essential cmake pkg-config libpcap-dev libndpi-dev libjson-c-dev libssl-dev
      libcmocka-dev libbsd-dev python3 python3-jsonschema jq
      iproute2 dovecot-core dovecot-pop3d dovecot-imapd dovecot-submissiond"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "mailspill: missing packages:$missing" >&2
    echo "run as root, or: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
