#!/bin/bash
# Generates mailspill's SMTP captures and the end-to-end mail chain captures
# from real servers and real clients.
#
#   pcaps/gen/smtp_capture.sh [SMTP_OUTDIR [CHAIN_OUTDIR]]
#       (root; defaults pcaps/smtp and pcaps/chain)
#
# Two network namespaces joined by a veth pair (client 10.53.25.5, server
# 10.53.25.1: the addresses exist only inside the namespaces). In the server
# namespace: Debian's postfix (smtpd on 25, 587 with STARTTLS, 2525), run
# from a config in a temp dir with chroot off, authenticating through
# dovecot's SASL socket (smtpd_sasl_type = dovecot) and delivering over LMTP
# to dovecot, which also serves the mailbox over POP3 (110) and IMAP (143).
# tcpdump captures on the client's veth end while swaks, python3 smtplib,
# curl, poplib and imaplib talk to them. Beside each capture it writes
# <name>.expected.json (NDJSON) from what the clients sent and received and
# from the files and messages this generator made (pcaps/gen/smtp_gen.py).
# Each client connects from a port picked here (--src-port; no two alike, a
# port in TIME_WAIT could not be bound again), so the connections keep their
# ports from run to run: tap_reorder.py names two of them (41456, 54240).
#
# Produces (see pcaps/README.md, section SMTP):
#   smtp/auth-mechanisms.pcap        swaks/smtplib/curl: PLAIN, LOGIN, CRAM-MD5,
#                                    good and wrong passwords, messages
#   smtp/nonstandard-port-2525.pcap  swaks AUTH PLAIN + an attachment on 2525
#   smtp/starttls-no-credential.pcap swaks --tls AUTH PLAIN + message: nothing
#   chain/1-submit-smtp.pcap         smtplib submits 4 messages
#   chain/2-fetch-pop3.pcap          poplib fetches them back (RETR)
#   chain/3-fetch-imap.pcap          imaplib fetches them back (BODY.PEEK[])
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../smtp}
OUT_CHAIN=${2:-$HERE/../chain}
PY=/usr/bin/python3
GEN=$HERE/smtp_gen.py

NS_CLI=ms-smtp-cli
NS_SRV=ms-smtp-srv
VETH_CLI=ms-smtp-c          # interface names: at most 15 characters
VETH_SRV=ms-smtp-s
CLI_IP=10.53.25.5
SRV_IP=10.53.25.1
MAIL_UID=65534              # the mailbox owner (nobody/nogroup)
MAIL_GID=65534

PROG=smtp_capture.sh
STOP_SERVERS=stop_servers
FAIL_LOGS=(dovecot.log postfix.log)
FAIL_TAIL=15
TCPDUMP_STATS=0
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/netns_lib.sh"

# postfix (run from $T/postfix), then dovecot.
stop_servers() {
    [ -n "$T" ] || return 0
    if [ -f "$T/postfix/main.cf" ]; then
        /usr/sbin/postfix -c "$T/postfix" stop >/dev/null 2>&1 || true
    fi
    stop_dovecot
}

gen_begin mailspill-smtpgen "network namespaces, servers, tcpdump"

# ---------------------------------------------------------------- preflight
require_tools ip tcpdump curl swaks ethtool openssl "$PY" /usr/sbin/dovecot /usr/sbin/postfix
for bin in pop3 imap lmtp; do
    [ -x /usr/lib/dovecot/$bin ] || die "dovecot's $bin is not installed: run pcaps/gen/install-deps.sh"
done
getent passwd postfix >/dev/null || die "the postfix user is missing: reinstall postfix"
getent group postdrop >/dev/null || die "the postdrop group is missing: reinstall postfix"
mkdir -p "$OUT" "$OUT_CHAIN"
OUT=$(cd "$OUT" && pwd)
OUT_CHAIN=$(cd "$OUT_CHAIN" && pwd)

drop_stale_ns
make_workdir mailspill-smtpgen

# ---------------------------------------------------------------- network
log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP)"
netns_up

# ---------------------------------------------------------------- content
log "users, attachments and messages"
"$PY" "$GEN" setup "$T"
chmod 644 "$T/users"
mkdir -p "$T/run" "$T/state" "$T/mail" "$T/tls"
chown "$MAIL_UID:$MAIL_GID" "$T/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.example.test" \
    -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
chmod 644 "$T/tls/cert.pem"

# ---------------------------------------------------------------- dovecot
# SASL for postfix, LMTP delivery, POP3 and IMAP, from one config.
cat > "$T/dovecot.conf" <<EOF
# Written by pcaps/gen/smtp_capture.sh; not used outside this run.
protocols = pop3 imap lmtp
listen = $SRV_IP
$(dovecot_conf_common mailspill-smtpgen)
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
# Allow any byte in user names (spaces, quotes, UTF-8).
auth_username_chars =
# ... and keep their case (dovecot lower-cases them by default).
auth_username_format = %u
$(dovecot_conf_users %u %n allow_all_users=yes)
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
service lmtp {
  unix_listener lmtp-postfix {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.test
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
start_dovecot "$T/dovecot.conf"

# ---------------------------------------------------------------- postfix
mkdir -p "$T/postfix" "$T/spool" "$T/data"
chown postfix "$T/data"
cat > "$T/postfix/main.cf" <<EOF
# Written by pcaps/gen/smtp_capture.sh; not used outside this run.
compatibility_level = 3.6
queue_directory = $T/spool
data_directory = $T/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination =
inet_interfaces = $SRV_IP
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP Postfix
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file_prefixes = $T
maillog_file = $T/postfix.log
virtual_mailbox_domains = example.test
virtual_transport = lmtp:unix:$T/run/lmtp-postfix
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $T/run/auth-postfix
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_security_level = none
smtpd_tls_cert_file = $T/tls/cert.pem
smtpd_tls_key_file = $T/tls/key.pem
smtpd_tls_auth_only = no
smtputf8_enable = no
EOF
# Debian's master.cf with every service out of chroot (the config, sockets
# and queue live in the temp dir), listeners on 25, 587 (STARTTLS offered)
# and 2525, and no pipe transports.
{
    awk '/^[a-z]/ && $2 ~ /^(unix|unix-dgram|fifo|pass)$/ && $8 !~ /^(pipe)$/ {
             if ($5 == "y") $5 = "n"; print; next }' /usr/share/postfix/master.cf.dist
    echo "smtp      inet  n       -       n       -       -       smtpd"
    echo "587       inet  n       -       n       -       -       smtpd -o smtpd_tls_security_level=may"
    echo "2525      inet  n       -       n       -       -       smtpd"
} > "$T/postfix/master.cf"
/usr/sbin/postfix -c "$T/postfix" check 2>&1 | grep -v '^postfix/postfix-script: warning' >&2 || true
ip netns exec "$NS_SRV" /usr/sbin/postfix -c "$T/postfix" start >/dev/null 2>&1 \
    || die "postfix did not start (see $T/postfix.log)"
wait_listening 5 25 587 2525 110 143 \
    || die "servers not listening on 25/587/2525/110/143 (see $T)"
log "postfix $(/usr/sbin/postconf -d -h mail_version) and dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) in $NS_SRV"

# ---------------------------------------------------------------- capture
gen() {                     # $1 subcommand, $2 expected file, rest: options
    local sub=$1 exp=$2
    shift 2
    cli "$PY" "$GEN" "$sub" "$T" --host "$SRV_IP" --expected "$exp" "$@"
}
check() {
    "$PY" "$GEN" check-pcap --client "$CLI_IP" "$@"
}

# ---- smtp/auth-mechanisms ----------------------------------------------------
NAME=auth-mechanisms
P1=$T/$NAME.pcap E1=$T/$NAME.expected.json
: > "$E1"
log "capture smtp/$NAME"
start_capture "$P1"
log "  swaks AUTH PLAIN (240-character password), message"
gen swaks "$E1" --port 25 --src-port 41440 --user plain --auth PLAIN
log "  swaks AUTH LOGIN (UTF-8 user), message with a PNG"
gen swaks "$E1" --port 25 --src-port 41444 --user login --auth LOGIN --attach chart.png
log "  swaks AUTH CRAM-MD5"
gen swaks "$E1" --port 25 --src-port 41456 --user cram --auth CRAM-MD5 --quit-after-auth
log "  swaks AUTH PLAIN and AUTH LOGIN with wrong passwords"
gen swaks "$E1" --port 25 --src-port 41466 --user plain --auth PLAIN --wrong
gen swaks "$E1" --port 25 --src-port 43644 --user login --auth LOGIN --wrong
log "  smtplib AUTH PLAIN on 587 (STARTTLS offered, not used), two messages"
gen smtplib "$E1" --port 587 --src-port 33998 --user alice --mech PLAIN --msg plain --msg html
log "  smtplib AUTH LOGIN wrong password (smtplib sends ASCII only), CRAM-MD5 good"
gen smtplib "$E1" --port 587 --src-port 33718 --user alice --mech LOGIN --wrong
gen smtplib "$E1" --port 25 --src-port 58514 --user cram --mech CRAM-MD5
log "  curl AUTH=LOGIN, message with attachments"
gen curl "$E1" --port 25 --src-port 35322 --user login --mech LOGIN --msg attach
finish_capture

# ---- smtp/nonstandard-port-2525 ----------------------------------------------
NAME2=nonstandard-port-2525
P2=$T/$NAME2.pcap E2=$T/$NAME2.expected.json
: > "$E2"
log "capture smtp/$NAME2"
start_capture "$P2"
gen swaks "$E2" --port 2525 --src-port 44762 --user plain --auth PLAIN \
    --attach "Résumé – 2026 ✓.pdf"
finish_capture

# ---- smtp/starttls-no-credential ---------------------------------------------
NAME3=starttls-no-credential
P3=$T/$NAME3.pcap E3=$T/$NAME3.expected.json
# Nothing may come out of TLS; the session is counted as SMTP and, once
# upgraded, as encrypted (README, Protocols), so an empty run fails.
printf '%s\n' '{"event_type": "stats", "stats": {"flow": {"created": 1}, "app_layer": {"flow": {"pop3": 0, "imap": 0, "smtp": 1, "encrypted": 1, "other": 0}}, "output": {"alert": 0, "email": 0, "fileinfo": 0, "anomaly": 0}}}' \
    > "$E3"
log "capture smtp/$NAME3 (swaks --tls: nothing may be reported)"
start_capture "$P3"
cli swaks --server "$SRV_IP" --port 587 --local-port 54240 --tls --auth PLAIN \
    --auth-user "alice@example.test" \
    --auth-password "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["alice"]["password"])' "$T/users.json")" \
    --from sender@example.net --to alice@example.test --timeout 20 > "$T/swaks-tls.log" 2>&1 \
    || die "swaks --tls failed (see $T/swaks-tls.log)"
grep -q '^<~  235' "$T/swaks-tls.log" || die "swaks --tls did not log in over TLS"
finish_capture

# ---- chain: submit over SMTP, deliver, fetch over POP3 and IMAP --------------
# The earlier captures delivered messages to alice too; empty her mailbox so
# that the chain's mailbox holds exactly the chain's messages.
rm -rf "$T/mail/alice"
C1=$T/1-submit-smtp.pcap CE1=$T/1-submit-smtp.expected.json
C2=$T/2-fetch-pop3.pcap CE2=$T/2-fetch-pop3.expected.json
C3=$T/3-fetch-imap.pcap CE3=$T/3-fetch-imap.expected.json
: > "$CE1"; : > "$CE2"; : > "$CE3"
log "capture chain/1-submit-smtp"
start_capture "$C1"
gen smtplib "$CE1" --port 25 --src-port 35326 --user alice --mech PLAIN \
    --msg plain --msg html --msg attach --msg long
finish_capture
log "  waiting for LMTP delivery into alice's Maildir"
for _ in $(seq 100); do
    n=$(find "$T/mail/alice/Maildir/new" -type f 2>/dev/null | wc -l)
    [ "$n" -ge 4 ] && break
    sleep 0.1
done
[ "$n" -ge 4 ] || die "only $n of 4 messages delivered (see $T/postfix.log)"
log "capture chain/2-fetch-pop3"
start_capture "$C2"
gen poplib "$CE2" --port 110 --src-port 59444 --user alice
finish_capture
log "capture chain/3-fetch-imap"
start_capture "$C3"
gen imaplib "$CE3" --port 143 --src-port 57320 --user alice
finish_capture

stop_servers

# ---------------------------------------------------------------- checks
log "checking the captures"
check --pcap "$P1" --expected "$E1" --ports 25,587 --sessions 9 --want "AUTH PLAIN" \
    --want "AUTH LOGIN" --want "AUTH CRAM-MD5" --want "MAIL FROM" --want DATA
check --pcap "$P2" --expected "$E2" --ports 2525 --sessions 1 --want "AUTH PLAIN" --want DATA
check --pcap "$P3" --expected "$E3" --ports 587 --sessions 1 --want STARTTLS --no-fin-check
check --pcap "$C1" --expected "$CE1" --ports 25 --sessions 1 --want "AUTH PLAIN" --want DATA
check --pcap "$C2" --expected "$CE2" --ports 110 --sessions 1 --want USER --want "RETR 4"
check --pcap "$C3" --expected "$CE3" --ports 143 --sessions 1

install_outputs "$OUT" "$P1" "$E1" "$P2" "$E2" "$P3" "$E3"
install_outputs "$OUT_CHAIN" "$C1" "$CE1" "$C2" "$CE2" "$C3" "$CE3"
log "wrote:"
ls -l "$OUT" "$OUT_CHAIN"
OK=1
