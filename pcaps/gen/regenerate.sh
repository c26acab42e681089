#!/bin/bash
# Rebuilds every capture in pcaps/ from real servers and clients (root).
#   pcaps/gen/regenerate.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "regenerate.sh: must run as root (network namespaces, servers, tcpdump)" >&2; exit 1; }
"$HERE/install-deps.sh"
"$HERE/pop3_capture.sh" "$HERE/../pop3"
"$HERE/pop3_mech_capture.sh" "$HERE/../pop3"
"$HERE/imap_capture.sh" "$HERE/../imap"
"$HERE/smtp_capture.sh" "$HERE/../smtp" "$HERE/../chain"
"$HERE/tls_capture.sh" "$HERE/../tls"
"$HERE/starttls_capture.sh" "$HERE/../starttls"
"$HERE/tap_capture.sh" "$HERE/../stream"
/usr/bin/python3 "$HERE/capture_cases.py" "$HERE/../capture"
/usr/bin/python3 "$HERE/stream_gen.py" "$HERE/../stream"
/usr/bin/python3 "$HERE/sasl_cases.py" "$HERE/.."
# After the captures it re-records (their bugs were found on these files).
/usr/bin/python3 "$HERE/tap_reorder.py" "$HERE/../stream"
# Truncated files and a parser anomaly, derived from the chain and POP3 captures.
/usr/bin/python3 "$HERE/eve_cases.py" "$HERE/../eve"
# STARTTLS stripping: sessions that must not raise the alert, and two that must.
/usr/bin/python3 "$HERE/stripping_cases.py" "$HERE/../stripping"
# WPA2-Personal hotspot captures, made from the POP3, IMAP and SMTP recordings.
/usr/bin/python3 "$HERE/wpa_gen.py" "$HERE/../wifi"
echo "regenerate.sh: done; review with: git status pcaps/ && git diff --stat pcaps/"
