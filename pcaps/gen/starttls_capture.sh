#!/bin/bash
# Generates pcaps/starttls/: real servers that offer STARTTLS, and a man in
# the middle that strips it. dovecot (POP3 110 and IMAP 143 with ssl = yes,
# POP3S 995, IMAPS 993) and postfix (SMTP 25 with smtpd_tls_security_level =
# may, SMTPS 465 with smtpd_tls_wrappermode), a self-signed certificate made
# here with openssl. The servers listen on 127.0.0.1 in the server's
# namespace; starttls_gen.py's proxy listens on the server address and
# forwards, so that every session goes to the same server address and port:
# for each protocol the first connection (STARTTLS offered, the client logs
# in in the clear anyway) and the second (the client uses STARTTLS) pass
# untouched, the third has STARTTLS stripped from the listing and the client
# logs in in the clear. Then one implicit-TLS session of each.
#
#   pcaps/gen/starttls_capture.sh [OUTDIR]   (root; OUTDIR defaults to pcaps/starttls)
#
# The expected events come from the clients (what they sent, what the
# servers answered) and the bytes of each session from the capture, read
# by starttls_gen.py; never from mailspill.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../starttls}
PY=/usr/bin/python3
GEN=$HERE/starttls_gen.py

PROG=starttls_capture.sh
NS_CLI=ms-stls-cli
NS_SRV=ms-stls-srv
VETH_CLI=ms-stls-c
VETH_SRV=ms-stls-s
CLI_IP=10.44.8.5
SRV_IP=10.44.8.1
MAIL_UID=65534
MAIL_GID=65534
PASS='Strip me 2026'
STOP_SERVERS=stop_servers
FAIL_LOGS=(dovecot.log postfix.log proxy.log)
PROXY_PID=""

# shellcheck source=netns_lib.sh
. "$HERE/netns_lib.sh"

stop_servers() {
    [ -n "$T" ] || return 0
    if [ -n "$PROXY_PID" ]; then
        kill -TERM "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=""
    fi
    if [ -f "$T/postfix/main.cf" ]; then
        /usr/sbin/postfix -c "$T/postfix" stop >/dev/null 2>&1 || true
    fi
    stop_dovecot
}

gen_begin mailspill-stlsgen "network namespaces, dovecot, postfix, tcpdump"
require_tools ip tcpdump ethtool openssl "$PY" /usr/sbin/dovecot /usr/sbin/postfix
require_dovecot_users
getent passwd postfix >/dev/null || die "the postfix user is missing: reinstall postfix"
getent group postdrop >/dev/null || die "the postdrop group is missing: reinstall postfix"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
drop_stale_ns
make_workdir mailspill-stlsgen
netns_up
ip -n "$NS_SRV" link set lo up

log "mailbox and self-signed certificate"
mkdir -p "$T/run" "$T/state" "$T/mail/alice/Maildir/"{new,cur,tmp} "$T/tls"
printf 'alice:{PLAIN}%s\n' "$PASS" > "$T/users"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
chmod 644 "$T/users"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.mailspill.test \
    -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
chmod 644 "$T/tls/cert.pem" "$T/tls/key.pem"   # postfix reads it as its own user here

cat > "$T/dovecot.conf" <<EOC
# Written by pcaps/gen/starttls_capture.sh; not used outside this run.
protocols = pop3 imap
listen = 127.0.0.1
$(dovecot_conf_common mailspill-stlsgen)
auth_mechanisms = plain login
disable_plaintext_auth = no
ssl = yes
ssl_cert = <$T/tls/cert.pem
ssl_key = <$T/tls/key.pem
$(dovecot_conf_users %n %n)
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
EOC
start_dovecot "$T/dovecot.conf"

mkdir -p "$T/postfix" "$T/spool" "$T/data"
chown postfix "$T/data"
cat > "$T/postfix/main.cf" <<EOC
# Written by pcaps/gen/starttls_capture.sh; not used outside this run.
compatibility_level = 3.6
queue_directory = $T/spool
data_directory = $T/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP Postfix
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file_prefixes = $T
maillog_file = $T/postfix.log
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $T/run/auth-postfix
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/tls/cert.pem
smtpd_tls_key_file = $T/tls/key.pem
smtpd_tls_auth_only = no
smtputf8_enable = no
EOC
{
    awk '/^[a-z]/ && $2 ~ /^(unix|unix-dgram|fifo|pass)$/ && $8 !~ /^(pipe)$/ {
             if ($5 == "y") $5 = "n"; print; next }' /usr/share/postfix/master.cf.dist
    echo "smtp      inet  n       -       n       -       -       smtpd"
    echo "465       inet  n       -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes"
} > "$T/postfix/master.cf"
ip netns exec "$NS_SRV" /usr/sbin/postfix -c "$T/postfix" start >/dev/null 2>&1 \
    || die "postfix did not start (see $T/postfix.log)"

log "stripping proxy on $SRV_IP"
ip netns exec "$NS_SRV" "$PY" "$GEN" proxy --listen "$SRV_IP" --upstream 127.0.0.1 \
    --plan 110=pass,pass,strip --plan 143=pass,pass,strip --plan 25=pass,pass,strip \
    --plan 995=pass --plan 993=pass --plan 465=pass > "$T/proxy.log" 2>&1 &
PROXY_PID=$!
wait_listening 12 110 143 25 995 993 465 \
    || die "servers or proxy not listening (see $T)"

NAME=starttls-stripping
start_capture "$T/$NAME.pcap"
: > "$T/$NAME.expected.json"
log "clients: clear after an offer, STARTTLS, stripped; implicit TLS"
cli "$PY" "$GEN" clients --host "$SRV_IP" --expected "$T/$NAME.expected.json" --pass "$PASS"
finish_capture
"$PY" "$GEN" bytes --pcap "$T/$NAME.pcap" --expected "$T/$NAME.expected.json"
install_outputs "$OUT" "$T/$NAME.pcap" "$T/$NAME.expected.json"
OK=1
log "wrote $OUT/$NAME.pcap"
