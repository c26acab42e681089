#!/bin/bash
# Generates the implicit-TLS capture: a real dovecot serving POP3S and IMAPS
# (RFC 8314) on loopback, real python clients logging in and fetching over
# TLS. mailspill must report no credential and no message from it, and count
# every session as encrypted.
#
#   pcaps/gen/tls_capture.sh [OUTDIR]      (root; OUTDIR defaults to pcaps/tls)
#
# Loopback only: 127.0.0.1 ports 995, 993 and 10995 (implicit TLS on a port
# that says nothing, to show detection does not lean on port numbers).
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../tls}
PY=/usr/bin/python3
MAIL_UID=65534
MAIL_GID=65534
[ "$(id -u)" = 0 ] || { echo "tls_capture.sh: must run as root" >&2; exit 1; }
for tool in tcpdump openssl /usr/sbin/dovecot "$PY"; do
    command -v "$tool" >/dev/null || { echo "tls_capture.sh: $tool missing (pcaps/gen/install-deps.sh)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/mailspill-tlsgen.XXXXXX)
chmod 755 "$T"   # dovecot's unprivileged auth worker reads the users file
DOVECOT_UP=0
OK=0
TCPDUMP_PID=""
cleanup() {
    [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null && wait "$TCPDUMP_PID" 2>/dev/null || true
    if [ "$DOVECOT_UP" = 1 ]; then
        /usr/sbin/doveadm -c "$T/dovecot.conf" stop 2>/dev/null ||
            pkill -f "dovecot -c $T/dovecot.conf" || true
    fi
    if [ "$OK" = 1 ]; then rm -rf "$T"; else echo "tls_capture.sh: failed; kept $T" >&2; fi
}
trap cleanup EXIT

mkdir -p "$T/run" "$T/state" "$T/mail/alice/Maildir/new" "$T/mail/alice/Maildir/cur" "$T/mail/alice/Maildir/tmp"
printf 'alice:{PLAIN}Tls secret 2026\n' > "$T/users"
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
listen = 127.0.0.1
base_dir = $T/run
state_dir = $T/state
instance_name = mailspill-tlsgen
log_path = $T/dovecot.log
auth_mechanisms = plain login
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
ssl = required
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $T/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$T/mail/%n
}
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
/usr/sbin/dovecot -c "$T/dovecot.conf"
DOVECOT_UP=1
for _ in $(seq 50); do
    [ "$(ss -Hltn '( sport = :995 or sport = :993 or sport = :10995 )' | wc -l)" -ge 3 ] && break
    sleep 0.1
done

mkdir -p "$OUT"
tcpdump -i lo -U --immediate-mode -s 0 -w "$T/tls.pcap" \
    'tcp port 995 or tcp port 993 or tcp port 10995' 2>"$T/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 50); do grep -q 'listening on' "$T/tcpdump.err" && break; sleep 0.1; done

"$PY" - <<'EOP'
import imaplib, poplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for port in (995, 10995):
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx)
    p.user("alice"); p.pass_("Tls secret 2026"); p.retr(1); p.quit()
i = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx)
i.login("alice", "Tls secret 2026"); i.select("INBOX"); i.fetch("1", "(BODY.PEEK[])"); i.logout()
EOP
sleep 0.5
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
cp "$T/tls.pcap" "$OUT/implicit-tls-pop3s-imaps.pcap"
# What must come out: no credential, no message, no anomaly; three sessions
# counted as encrypted (the clients above made exactly three).
printf '%s\n' '{"event_type": "stats", "stats": {"app_layer": {"flow": {"encrypted": 3, "pop3": 0, "imap": 0, "smtp": 0}}, "output": {"alert": 0, "email": 0}}}' \
    > "$OUT/implicit-tls-pop3s-imaps.expected.json"
OK=1
echo "tls_capture.sh: wrote $OUT/implicit-tls-pop3s-imaps.pcap"
