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

T=""
TCPDUMP_PID=""
OK=0

log() { printf '==> %s\n' "$*"; }
die() { printf 'smtp_capture.sh: error: %s\n' "$*" >&2; exit 1; }

on_err() {
    printf 'smtp_capture.sh: error: command failed (exit %s) at line %s: %s\n' "$1" "$2" "$3" >&2
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

# Kills what runs inside one of our namespaces (only what this script
# started: the namespaces are private to it), then deletes the namespace
# (and with it its end of the veth pair, and so the pair).
drop_ns() {
    local ns=$1 why=${2:-} pids all
    all=$(ip netns list 2>/dev/null | awk '{print $1}') || all=""
    grep -qxF -- "$ns" <<<"$all" || return 0
    [ -z "$why" ] || log "removing $why network namespace $ns"
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 50); do
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            [ -z "$pids" ] && break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns delete "$ns" 2>/dev/null || true
}

stop_tcpdump() {
    [ -n "$TCPDUMP_PID" ] || return 0
    local pid=$TCPDUMP_PID rc=0
    TCPDUMP_PID=""
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    return "$rc"
}

stop_servers() {
    [ -n "$T" ] || return 0
    if [ -f "$T/postfix/main.cf" ]; then
        /usr/sbin/postfix -c "$T/postfix" stop >/dev/null 2>&1 || true
    fi
    if [ -f "$T/run/master.pid" ]; then
        local pid
        pid=$(cat "$T/run/master.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$T/run/master.pid"
    fi
}

cleanup() {
    local rc=$?
    trap - ERR
    set +e
    stop_tcpdump 2>/dev/null
    stop_servers
    drop_ns "$NS_CLI"
    drop_ns "$NS_SRV"
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$OK" = 1 ]; then
            rm -rf "$T"
        else
            echo "smtp_capture.sh: FAILED (exit $rc); work files kept in $T" >&2
            for f in dovecot.log postfix.log; do
                [ -s "$T/$f" ] || continue
                echo "---- last lines of $T/$f ----" >&2
                tail -n 15 "$T/$f" >&2
            done
        fi
    fi
    [ "$OK" = 1 ] || [ "$rc" != 0 ] || rc=1
    exit "$rc"
}

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, servers, tcpdump)"
exec 9>/run/lock/mailspill-smtpgen.lock
flock -n 9 || die "another smtp_capture.sh run is in progress"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- preflight
for tool in ip tcpdump curl swaks ethtool openssl "$PY" /usr/sbin/dovecot /usr/sbin/postfix; do
    command -v "$tool" >/dev/null || die "missing $tool: run pcaps/gen/install-deps.sh"
done
for bin in pop3 imap lmtp; do
    [ -x /usr/lib/dovecot/$bin ] || die "dovecot's $bin is not installed: run pcaps/gen/install-deps.sh"
done
getent passwd postfix >/dev/null || die "the postfix user is missing: reinstall postfix"
getent group postdrop >/dev/null || die "the postdrop group is missing: reinstall postfix"
mkdir -p "$OUT" "$OUT_CHAIN"
OUT=$(cd "$OUT" && pwd)
OUT_CHAIN=$(cd "$OUT_CHAIN" && pwd)

drop_ns "$NS_CLI" "a stale"
drop_ns "$NS_SRV" "a stale"

T=$(mktemp -d /tmp/mailspill-smtpgen.XXXXXX)
chmod 755 "$T"

# ---------------------------------------------------------------- network
log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP)"
ip netns add "$NS_CLI"
ip netns add "$NS_SRV"
ip link add "$VETH_CLI" netns "$NS_CLI" type veth peer name "$VETH_SRV" netns "$NS_SRV"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$VETH_CLI"
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$VETH_SRV"
for pair in "$NS_CLI:$VETH_CLI" "$NS_SRV:$VETH_SRV"; do
    ns=${pair%%:*} dev=${pair#*:}
    # No offloads: correct checksums and MTU-sized segments, as on a wire.
    ip netns exec "$ns" ethtool -K "$dev" tx off sg off tso off gso off gro off >/dev/null 2>&1 \
        || ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
done

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
base_dir = $T/run
state_dir = $T/state
instance_name = mailspill-smtpgen
log_path = $T/dovecot.log
info_log_path = $T/dovecot.log
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
# Allow any byte in user names (spaces, quotes, UTF-8).
auth_username_chars =
# ... and keep their case (dovecot lower-cases them by default).
auth_username_format = %u
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$T/mail/%n allow_all_users=yes
}
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
/usr/sbin/dovecot -c "$T/dovecot.conf" -n >/dev/null || die "dovecot rejects $T/dovecot.conf"
ip netns exec "$NS_SRV" /usr/sbin/dovecot -c "$T/dovecot.conf"

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
for _ in $(seq 100); do
    listening=$(ip netns exec "$NS_SRV" ss -Hltn | grep -cE ':(25|587|2525|110|143)\b' || true)
    [ "$listening" -ge 5 ] && break
    sleep 0.1
done
[ "$listening" -ge 5 ] || die "servers not listening on 25/587/2525/110/143 (see $T)"
log "postfix $(/usr/sbin/postconf -d -h mail_version) and dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) in $NS_SRV"

# ---------------------------------------------------------------- capture
start_capture() {           # $1: pcap path
    : > "$T/tcpdump.err"
    ip netns exec "$NS_CLI" tcpdump -i "$VETH_CLI" -s 0 -U --immediate-mode -n -Z root -w "$1" tcp \
        2>"$T/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$T/tcpdump.err" && return 0
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$T/tcpdump.err" >&2
    die "tcpdump did not start"
}

finish_capture() {
    sleep 0.5
    stop_tcpdump || die "tcpdump failed: $(cat "$T/tcpdump.err")"
    if grep -qE '^[1-9][0-9]* packets? dropped by kernel' "$T/tcpdump.err"; then
        die "tcpdump dropped packets"
    fi
}

cli() { ip netns exec "$NS_CLI" "$@"; }
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
gen swaks "$E1" --port 25 --user plain --auth PLAIN
log "  swaks AUTH LOGIN (UTF-8 user), message with a PNG"
gen swaks "$E1" --port 25 --user login --auth LOGIN --attach chart.png
log "  swaks AUTH CRAM-MD5"
gen swaks "$E1" --port 25 --user cram --auth CRAM-MD5 --quit-after-auth
log "  swaks AUTH PLAIN and AUTH LOGIN with wrong passwords"
gen swaks "$E1" --port 25 --user plain --auth PLAIN --wrong
gen swaks "$E1" --port 25 --user login --auth LOGIN --wrong
log "  smtplib AUTH PLAIN on 587 (STARTTLS offered, not used), two messages"
gen smtplib "$E1" --port 587 --user alice --mech PLAIN --msg plain --msg html
log "  smtplib AUTH LOGIN wrong password (smtplib sends ASCII only), CRAM-MD5 good"
gen smtplib "$E1" --port 587 --user alice --mech LOGIN --wrong
gen smtplib "$E1" --port 25 --user cram --mech CRAM-MD5
log "  curl AUTH=LOGIN, message with attachments"
gen curl "$E1" --port 25 --user login --mech LOGIN --msg attach
finish_capture

# ---- smtp/nonstandard-port-2525 ----------------------------------------------
NAME2=nonstandard-port-2525
P2=$T/$NAME2.pcap E2=$T/$NAME2.expected.json
: > "$E2"
log "capture smtp/$NAME2"
start_capture "$P2"
gen swaks "$E2" --port 2525 --user plain --auth PLAIN --attach "Résumé – 2026 ✓.pdf"
finish_capture

# ---- smtp/starttls-no-credential ---------------------------------------------
NAME3=starttls-no-credential
P3=$T/$NAME3.pcap E3=$T/$NAME3.expected.json
: > "$E3"
log "capture smtp/$NAME3 (swaks --tls: nothing may be reported)"
start_capture "$P3"
cli swaks --server "$SRV_IP" --port 587 --tls --auth PLAIN --auth-user "alice@example.test" \
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
gen smtplib "$CE1" --port 25 --user alice --mech PLAIN --msg plain --msg html --msg attach --msg long
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
gen poplib "$CE2" --port 110 --user alice
finish_capture
log "capture chain/3-fetch-imap"
start_capture "$C3"
gen imaplib "$CE3" --port 143 --user alice
finish_capture

stop_servers

# ---------------------------------------------------------------- checks
log "checking the captures"
check --pcap "$P1" --ports 25,587 --sessions 9 --want "AUTH PLAIN" --want "AUTH LOGIN" \
    --want "AUTH CRAM-MD5" --want "MAIL FROM" --want DATA
check --pcap "$P2" --ports 2525 --sessions 1 --want "AUTH PLAIN" --want DATA
check --pcap "$P3" --ports 587 --sessions 1 --want STARTTLS --no-fin-check
check --pcap "$C1" --ports 25 --sessions 1 --want "AUTH PLAIN" --want DATA
check --pcap "$C2" --ports 110 --sessions 1 --want USER --want "RETR 4"
check --pcap "$C3" --ports 143 --sessions 1

for f in "$P1" "$E1" "$P2" "$E2" "$P3" "$E3"; do
    install -m 644 "$f" "$OUT/$(basename "$f")"
done
for f in "$C1" "$CE1" "$C2" "$CE2" "$C3" "$CE3"; do
    install -m 644 "$f" "$OUT_CHAIN/$(basename "$f")"
done
log "wrote:"
ls -l "$OUT" "$OUT_CHAIN"
OK=1
