#!/bin/bash
# Generates mailspill's tap-aggregator captures: real servers and real
# clients, recorded the way a tap aggregator records them -- in order within
# each direction, not across the two (a reply often before the request it
# answers, an ACK before the data it acknowledges).
#
#   pcaps/gen/tap_capture.sh [OUTDIR]       (root; OUTDIR defaults to pcaps/stream)
#
# Three network namespaces: the clients in ms-tap-cli (10.66.0.5), the
# servers in ms-tap-srv (10.66.0.1), and between them ms-tap-mid, with no
# address, where tap_forwarder.py bridges the two veth ends in userspace
# (AF_PACKET) and writes the capture through two independently delayed FIFO
# queues, one per direction (see tap_forwarder.py). Offloads are off on all
# four veth ends, so the frames are real MTU-sized segments. In the server
# namespace: dovecot (POP3 110, IMAP 143, SASL for postfix, LMTP delivery)
# and postfix (smtpd on 25 and 587, AUTH through dovecot, delivering by LMTP
# into dovecot), configured as smtp_capture.sh does, without TLS. The
# clients (tap_gen.py: python3 smtplib, poplib, imaplib, swaks, curl) run 12
# sessions, two or three at once; tap_gen.py writes the expected events from
# what they sent and received. tcpdump also records the client's veth end
# (kept in the work dir, for comparison: a plain in-order capture of the same
# traffic); the check compares the two.
#
# Produces (see pcaps/README.md, section "Tap aggregator captures"):
#   tap-aggregator.pcap     seed 1, profile walk  (+ .expected.json)
#   tap-aggregator-2.pcap   seed 2, profile burst (+ .expected.json)
# Environment: KEEP_PLAIN_DIR=DIR also copies each client-veth capture there
# as <name>-client-veth.pcap, with the same expected events beside it, and
# the forwarder's counters as <name>.forwarder.json (never into pcaps/:
# every .pcap there is a golden test).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../stream}
PY=/usr/bin/python3
GEN=$HERE/tap_gen.py
FWD=$HERE/tap_forwarder.py

NS_CLI=ms-tap-cli
NS_MID=ms-tap-mid
NS_SRV=ms-tap-srv
VETH_CLI=ms-tap-c           # client end        } one veth pair
VETH_MID_CLI=ms-tap-mc      # middle, client side }
VETH_MID_SRV=ms-tap-ms      # middle, server side } the other pair
VETH_SRV=ms-tap-s           # server end          }
CLI_IP=10.66.0.5
SRV_IP=10.66.0.1
MAIL_UID=65534              # the mailbox owner (nobody/nogroup)
MAIL_GID=65534
SESSIONS=12
MIN_INVERSIONS=200          # the forwarder must have reordered at least this much

PROG=tap_capture.sh
STOP_SERVERS=stop_all
FAIL_LOGS=(dovecot.log postfix.log forwarder.log)
FAIL_TAIL=15
TCPDUMP_STATS=1
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/netns_lib.sh"

FWD_PID=""

stop_forwarder() {          # SIGTERM: it writes what it still holds and prints its counters
    [ -n "$FWD_PID" ] || return 0
    local pid=$FWD_PID rc=0
    FWD_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    return "$rc"
}

# Everything the EXIT trap (cleanup) stops besides tcpdump and the client and
# server namespaces: the forwarder, postfix, dovecot, the middle namespace.
stop_all() {
    stop_forwarder || true
    if [ -n "$T" ] && [ -f "$T/postfix/main.cf" ]; then
        local pid="" state
        read -r pid 2>/dev/null < "$T/spool/pid/master.pid" || true
        /usr/sbin/postfix -c "$T/postfix" stop >/dev/null 2>&1 || true
        for _ in $(seq 50); do      # postfix stop returns before master has exited
            [ -n "$pid" ] || break
            read -r _ _ state _ 2>/dev/null < "/proc/$pid/stat" || break
            [ "$state" != Z ] || break
            sleep 0.1
        done
    fi
    stop_dovecot
    drop_ns "$NS_MID"
}

gen_begin mailspill-tapgen "network namespaces, servers, tcpdump, AF_PACKET"

# ---------------------------------------------------------------- preflight
require_tools ip tcpdump curl swaks ethtool "$PY" /usr/sbin/dovecot /usr/sbin/postfix
for bin in pop3 imap lmtp; do
    [ -x /usr/lib/dovecot/$bin ] || die "dovecot's $bin is not installed: run pcaps/gen/install-deps.sh"
done
require_dovecot_users
getent passwd postfix >/dev/null || die "the postfix user is missing: reinstall postfix"
getent group postdrop >/dev/null || die "the postdrop group is missing: reinstall postfix"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

drop_stale_ns
drop_ns "$NS_MID" "a stale"
make_workdir mailspill-tapgen

# ---------------------------------------------------------------- network
# client [VETH_CLI] == [VETH_MID_CLI] middle [VETH_MID_SRV] == [VETH_SRV] server
log "namespaces $NS_CLI ($CLI_IP) <-> $NS_MID (userspace bridge, no address) <-> $NS_SRV ($SRV_IP)"
for ns in "$NS_CLI" "$NS_MID" "$NS_SRV"; do
    ip netns add "$ns"
    # No IPv6: nothing but the sessions on the wire, and a silent middle.
    ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 &&
                               echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
    ip -n "$ns" link set lo up
done
ip link add "$VETH_CLI" netns "$NS_CLI" type veth peer name "$VETH_MID_CLI" netns "$NS_MID"
ip link add "$VETH_SRV" netns "$NS_SRV" type veth peer name "$VETH_MID_SRV" netns "$NS_MID"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$VETH_CLI"
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$VETH_SRV"
for pair in "$NS_CLI:$VETH_CLI" "$NS_MID:$VETH_MID_CLI" "$NS_MID:$VETH_MID_SRV" "$NS_SRV:$VETH_SRV"; do
    ns=${pair%%:*} dev=${pair#*:}
    # No checksum/segmentation/receive offload: correct checksums and
    # MTU-sized segments, as on a real wire, and no merged frames.
    ip netns exec "$ns" ethtool -K "$dev" rx off tx off sg off tso off gso off gro off >/dev/null
    on=$(ip netns exec "$ns" ethtool -k "$dev" | grep -E '^(rx-checksumming|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): on' || true)
    [ -z "$on" ] || die "offloads still on for $dev: $on"
    ip -n "$ns" link set "$dev" up
done
# The bridge takes every frame, whatever its destination MAC.
ip -n "$NS_MID" link set "$VETH_MID_CLI" promisc on
ip -n "$NS_MID" link set "$VETH_MID_SRV" promisc on

# ---------------------------------------------------------------- content
log "users, attachments and messages"
"$PY" "$GEN" setup "$T"
chmod 644 "$T/users"
mkdir -p "$T/run" "$T/state" "$T/mail"
chown "$MAIL_UID:$MAIL_GID" "$T/mail"

# ---------------------------------------------------------------- dovecot
# As in smtp_capture.sh: SASL for postfix, LMTP delivery, POP3 and IMAP;
# no TLS at all here.
cat > "$T/dovecot.conf" <<EOF
# Written by pcaps/gen/tap_capture.sh; not used outside this run.
protocols = pop3 imap lmtp
listen = $SRV_IP
$(dovecot_conf_common mailspill-tapgen)
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_chars =
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
# No auth penalty: the sessions with a wrong password would otherwise
# delay the next logins from the client's address by 2-15 s, depending on
# which login the server happened to see first -- timing that changes from
# run to run and that tap_reorder.py's re-recordings of this capture
# depend on. (A failed login's reply is still delayed by 2 s.)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
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
# As in smtp_capture.sh (config, queue and sockets in the temp dir, chroot
# off, SASL through dovecot, LMTP delivery), listening on 25 and 587 without TLS.
mkdir -p "$T/postfix" "$T/spool" "$T/data"
chown postfix "$T/data"
cat > "$T/postfix/main.cf" <<EOF
# Written by pcaps/gen/tap_capture.sh; not used outside this run.
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
smtputf8_enable = no
message_size_limit = 10240000
EOF
{
    awk '/^[a-z]/ && $2 ~ /^(unix|unix-dgram|fifo|pass)$/ && $8 !~ /^(pipe)$/ {
             if ($5 == "y") $5 = "n"; print; next }' /usr/share/postfix/master.cf.dist
    echo "smtp      inet  n       -       n       -       -       smtpd"
    echo "587       inet  n       -       n       -       -       smtpd"
} > "$T/postfix/master.cf"
/usr/sbin/postfix -c "$T/postfix" check 2>&1 | grep -v '^postfix/postfix-script: warning' >&2 || true
ip netns exec "$NS_SRV" /usr/sbin/postfix -c "$T/postfix" start >/dev/null 2>&1 \
    || die "postfix did not start (see $T/postfix.log)"
wait_listening 4 25 587 110 143 || die "servers not listening on 25/587/110/143 (see $T)"
log "postfix $(/usr/sbin/postconf -d -h mail_version) and dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) in $NS_SRV"

# ---------------------------------------------------------------- capture
start_forwarder() {         # $1 pcap, $2 seed, $3 profile, $4 stats file
    rm -f "$T/forwarder.ready"
    ip netns exec "$NS_MID" "$PY" "$FWD" --iface-a "$VETH_MID_CLI" --iface-b "$VETH_MID_SRV" \
        --name-a client --name-b server --out "$1" --seed "$2" --profile "$3" \
        --max-delay-ms 25 --stats "$4" --ready "$T/forwarder.ready" >> "$T/forwarder.log" 2>&1 &
    FWD_PID=$!
    for _ in $(seq 100); do
        [ -s "$T/forwarder.ready" ] && return 0
        kill -0 "$FWD_PID" 2>/dev/null || break
        sleep 0.1
    done
    die "tap_forwarder.py did not start (see $T/forwarder.log)"
}

wait_delivered() {          # $1: messages expected in alice's Maildir/new
    local n=0
    for _ in $(seq 150); do
        n=$(find "$T/mail/alice/Maildir/new" -type f 2>/dev/null | wc -l)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.1
    done
    die "only $n of $1 messages delivered (see $T/postfix.log)"
}

capture() {                 # $1 name, $2 seed, $3 profile, $4 client port base
    local name=$1 seed=$2 profile=$3 base=$4
    local pcap=$T/$name.pcap exp=$T/$name.expected.json plain=$T/$name-client-veth.pcap
    local stats=$T/$name.forwarder.json lines
    : > "$exp"
    rm -rf "$T/mail/alice"  # each capture fetches exactly its own messages
    log "capture stream/$name (forwarder seed $seed, profile $profile; clients from ports $((base + 1))-$((base + SESSIONS)))"
    start_capture "$plain"
    start_forwarder "$pcap" "$seed" "$profile" "$stats"
    log "  submit: (s1 smtplib PLAIN 2 messages | s2 swaks LOGIN | s3 curl PLAIN), (s4 smtplib LOGIN | s5 smtplib wrong password | s12 imaplib wrong password)"
    cli "$PY" "$GEN" submit "$T" --host "$SRV_IP" --port-base "$base" --expected "$exp"
    log "  waiting for LMTP delivery into alice's Maildir"
    wait_delivered 5
    log "  fetch: (s6 poplib RETR all | s7 imaplib FETCH all | s8 poplib wrong password), (s9 curl POP3 AUTH PLAIN | s10 imaplib AUTHENTICATE PLAIN | s11 poplib AUTH PLAIN)"
    cli "$PY" "$GEN" fetch "$T" --host "$SRV_IP" --port-base "$base" --expected "$exp"
    sleep 0.5               # the last FIN/ACKs
    lines=$(wc -l < "$T/forwarder.log")
    stop_forwarder || die "tap_forwarder.py failed (see $T/forwarder.log)"
    tail -n +"$((lines + 1))" "$T/forwarder.log" | sed 's/^/    /'
    finish_capture
    "$PY" "$GEN" check-pcap --tap "$pcap" --plain "$plain" --stats "$stats" \
        --ports 25,587,110,143 --sessions "$SESSIONS" --expected "$exp" \
        --min-inversions "$MIN_INVERSIONS"
}

capture tap-aggregator 1 walk 41000
capture tap-aggregator-2 2 burst 42000

stop_all

for name in tap-aggregator tap-aggregator-2; do
    size=$(stat -c %s "$T/$name.pcap")
    [ "$size" -lt 3500000 ] || die "$name.pcap is $size bytes (keep it under ~3 MB)"
done
install_outputs "$OUT" "$T/tap-aggregator.pcap" "$T/tap-aggregator.expected.json" \
    "$T/tap-aggregator-2.pcap" "$T/tap-aggregator-2.expected.json"
if [ -n "${KEEP_PLAIN_DIR:-}" ]; then
    mkdir -p "$KEEP_PLAIN_DIR"
    for name in tap-aggregator tap-aggregator-2; do
        install -m 644 "$T/$name-client-veth.pcap" "$KEEP_PLAIN_DIR/$name-client-veth.pcap"
        install -m 644 "$T/$name.expected.json" "$KEEP_PLAIN_DIR/$name-client-veth.expected.json"
        install -m 644 "$T/$name.forwarder.json" "$KEEP_PLAIN_DIR/$name.forwarder.json"
    done
    log "client-veth captures kept in $KEEP_PLAIN_DIR"
fi
log "wrote:"
ls -l "$OUT"/tap-aggregator*
OK=1
