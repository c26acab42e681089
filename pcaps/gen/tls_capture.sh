#!/bin/bash
# Generates the implicit-TLS capture: a real dovecot serving POP3S and IMAPS
# (RFC 8314), real python clients logging in and fetching over TLS.
# mailspill must report no credential and no message from it, and count
# every session as encrypted.
#
#   pcaps/gen/tls_capture.sh [OUTDIR]      (root; OUTDIR defaults to pcaps/tls)
#
# Two network namespaces joined by a veth pair (client 10.44.6.5, server
# 10.44.6.1; the addresses exist only inside the namespaces). Ports 995, 993
# and 10995: implicit TLS on a port that says nothing, to show detection does
# not lean on port numbers.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../tls}
PY=/usr/bin/python3

PROG=tls_capture.sh
NS_CLI=ms-tls-cli
NS_SRV=ms-tls-srv
VETH_CLI=mstls-cli
VETH_SRV=mstls-srv
CLI_IP=10.44.6.5
SRV_IP=10.44.6.1
MAIL_UID=65534
MAIL_GID=65534
PASS='Tls secret 2026'

# shellcheck source=netns_lib.sh
. "$HERE/netns_lib.sh"

gen_begin mailspill-tlsgen
require_tools ip tcpdump ethtool openssl "$PY" /usr/sbin/dovecot
require_dovecot_users
drop_stale_ns
make_workdir mailspill-tlsgen
netns_up

log "mailbox and self-signed certificate"
mkdir -p "$T/run" "$T/state" "$T/mail/alice/Maildir/"{new,cur,tmp}
printf 'alice:{PLAIN}%s\n' "$PASS" > "$T/users"
printf 'From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: over TLS\r\n\r\nnot visible\r\n' \
    > "$T/mail/alice/Maildir/new/1.mailspill"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
chmod 644 "$T/users"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tls.mailspill.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
chmod 600 "$T/key.pem"

cat > "$T/dovecot.conf" <<EOC
# Written by pcaps/gen/tls_capture.sh; not used outside this run.
protocols = pop3 imap
listen = $SRV_IP
$(dovecot_conf_common mailspill-tlsgen)
auth_mechanisms = plain login
ssl = required
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
$(dovecot_conf_users %n %n)
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
  inet_listener pop3s-alt {
    port = 10995
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
EOC
log "dovecot in $NS_SRV (log: $T/dovecot.log)"
start_dovecot "$T/dovecot.conf"
wait_listening 3 995 993 10995 || die "dovecot does not listen on 995, 993 and 10995"

start_capture "$T/implicit-tls-pop3s-imaps.pcap"
log "clients: POP3S on 995 and 10995, IMAPS on 993"
cli env SRV="$SRV_IP" PASS="$PASS" "$PY" - <<'EOP'
import imaplib, os, poplib, ssl
srv, pw = os.environ["SRV"], os.environ["PASS"]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for port in (995, 10995):
    p = poplib.POP3_SSL(srv, port, context=ctx)
    p.user("alice"); p.pass_(pw); p.retr(1); p.quit()
i = imaplib.IMAP4_SSL(srv, 993, ssl_context=ctx)
i.login("alice", pw); i.select("INBOX"); i.fetch("1", "(BODY.PEEK[])"); i.logout()
EOP
finish_capture

# What must come out: no credential, no message, no file, no anomaly; the
# three connections the clients above made, each counted as encrypted and
# none as a cleartext protocol or as unknown.
printf '%s\n' '{"event_type": "stats", "stats": {"flow": {"created": 3}, "app_layer": {"flow": {"encrypted": 3, "pop3": 0, "imap": 0, "smtp": 0, "other": 0}}, "output": {"alert": 0, "email": 0, "fileinfo": 0, "anomaly": 0}}}' \
    > "$T/implicit-tls-pop3s-imaps.expected.json"
mkdir -p "$OUT"
install_outputs "$OUT" "$T/implicit-tls-pop3s-imaps.pcap" "$T/implicit-tls-pop3s-imaps.expected.json"
OK=1
log "wrote $OUT/implicit-tls-pop3s-imaps.pcap"
