#!/bin/bash
# Generates mailspill's POP3 test captures from a real server and real clients.
#
#   pcaps/gen/pop3_capture.sh [OUTDIR]      (root; OUTDIR defaults to pcaps/pop3)
#
# Two network namespaces joined by a veth pair (client 10.0.0.5, server
# 10.0.0.1: the addresses exist only inside the namespaces); Debian's dovecot
# (pop3d) runs in the server namespace from a config in a temp dir; tcpdump
# captures on the client's veth end while python3 poplib and curl talk to it.
# Beside each capture it writes <name>.expected.json (NDJSON), derived only
# from what the clients sent and received and from the generated messages.
#
# Produces:
#   demo-userpass-retr.pcap     poplib USER/PASS, LIST, RETR 1, RETR 2, QUIT;
#                               poplib wrong password, QUIT;
#                               curl AUTH PLAIN, RETR 1, QUIT (see below why)
#   nonstandard-port-2110.pcap  poplib login, RETR 1, QUIT on port 2110
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../pop3}
PY=/usr/bin/python3
GEN=$HERE/pop3_gen.py

NS_CLI=mailspill-gen-cli
NS_SRV=mailspill-gen-srv
VETH_CLI=msgen-cli          # interface names: at most 15 characters
VETH_SRV=msgen-srv
CLI_IP=10.0.0.5
SRV_IP=10.0.0.1
ALT_PORT=2110

MAIL_USER=alice
MAIL_PASS='Summer 2026!pw'  # POP3 PASS takes the rest of the line, spaces included
WRONG_PASS='Summer 2025!pw'
MAIL_UID=65534              # static uid/gid of the mail user (nobody/nogroup)
MAIL_GID=65534

T=""
TCPDUMP_PID=""
OK=0

log() { printf '==> %s\n' "$*"; }
die() { printf 'pop3_capture.sh: error: %s\n' "$*" >&2; exit 1; }

on_err() {
    printf 'pop3_capture.sh: error: command failed (exit %s) at line %s: %s\n' \
        "$1" "$2" "$3" >&2
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

# Kills what runs inside one of our namespaces (only processes this script
# started: the namespaces are private to it), then deletes the namespace.
# Deleting a namespace also deletes its end of the veth pair and so the pair.
drop_ns() {
    local ns=$1 why=${2:-} pids
    local all
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
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
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

stop_dovecot() {
    [ -n "$T" ] && [ -f "$T/run/master.pid" ] || return 0
    local pid
    pid=$(cat "$T/run/master.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$T/run/master.pid"
}

cleanup() {
    local rc=$?
    trap - ERR
    set +e
    stop_tcpdump 2>/dev/null
    stop_dovecot
    drop_ns "$NS_CLI"
    drop_ns "$NS_SRV"
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$OK" = 1 ]; then
            rm -rf "$T"
        else
            echo "pop3_capture.sh: FAILED (exit $rc); work files kept in $T" >&2
            if [ -s "$T/dovecot.log" ]; then
                echo "---- last lines of $T/dovecot.log ----" >&2
                tail -n 20 "$T/dovecot.log" >&2
            fi
        fi
    fi
    [ "$OK" = 1 ] || [ "$rc" != 0 ] || rc=1
    exit "$rc"
}
# One run at a time: a second one would tear down the first's namespaces.
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, dovecot, tcpdump)"
exec 9>/run/lock/mailspill-pop3gen.lock
flock -n 9 || die "another pop3_capture.sh run is in progress"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- preflight
for tool in ip tcpdump curl ethtool "$PY" /usr/sbin/dovecot; do
    command -v "$tool" >/dev/null || die "missing $tool: run pcaps/gen/install-deps.sh"
done
[ -x /usr/lib/dovecot/pop3 ] || die "dovecot-pop3d is not installed: run pcaps/gen/install-deps.sh"
if ! getent passwd dovecot >/dev/null || ! getent passwd dovenull >/dev/null; then
    die "dovecot's system users are missing: reinstall dovecot-core"
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Leftovers of an earlier run that crashed before its trap could clean up.
drop_ns "$NS_CLI" "a stale"
drop_ns "$NS_SRV" "a stale"

T=$(mktemp -d /tmp/mailspill-pop3gen.XXXXXX)
chmod 755 "$T"              # dovecot's unprivileged processes read the users file

# ---------------------------------------------------------------- network
log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP)"
ip netns add "$NS_CLI"
ip netns add "$NS_SRV"
ip link add "$VETH_CLI" netns "$NS_CLI" type veth peer name "$VETH_SRV" netns "$NS_SRV"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$VETH_CLI"
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$VETH_SRV"
for pair in "$NS_CLI:$VETH_CLI" "$NS_SRV:$VETH_SRV"; do
    ns=${pair%%:*} dev=${pair#*:}
    # No checksum/segmentation offload: the capture then holds correct
    # checksums and MTU-sized segments, as on a real wire.
    ip netns exec "$ns" ethtool -K "$dev" tx off sg off tso off gso off gro off >/dev/null 2>&1 \
        || ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up
done

# ---------------------------------------------------------------- mailbox
log "maildir with the test messages"
mkdir -p "$T/run" "$T/state" "$T/mail/$MAIL_USER"
"$PY" "$GEN" messages "$T/mail/$MAIL_USER/Maildir" "$T/meta.json"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
printf '%s:{PLAIN}%s::::::\n' "$MAIL_USER" "$MAIL_PASS" > "$T/users"
chmod 644 "$T/users"

# ---------------------------------------------------------------- dovecot
cat > "$T/dovecot.conf" <<EOF
# Written by pcaps/gen/pop3_capture.sh; not used outside this run.
protocols = pop3
listen = $SRV_IP
base_dir = $T/run
state_dir = $T/state
instance_name = mailspill-pop3gen
log_path = $T/dovecot.log
info_log_path = $T/dovecot.log
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$T/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
  inet_listener pop3-alt {
    port = $ALT_PORT
  }
}
EOF

log "dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) in $NS_SRV on ports 110 and $ALT_PORT (log: $T/dovecot.log)"
/usr/sbin/dovecot -c "$T/dovecot.conf" -n >/dev/null \
    || die "dovecot rejects the generated config $T/dovecot.conf"
ip netns exec "$NS_SRV" /usr/sbin/dovecot -c "$T/dovecot.conf"
for _ in $(seq 100); do
    listening=$(ip netns exec "$NS_SRV" ss -Hltn "( sport = :110 or sport = :$ALT_PORT )" | wc -l)
    [ "$listening" -ge 2 ] && break
    sleep 0.1
done
[ "$listening" -ge 2 ] || die "dovecot does not listen on $SRV_IP:110 and :$ALT_PORT (see $T/dovecot.log)"

# ---------------------------------------------------------------- capture
start_capture() {           # $1: pcap path
    local _
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
    sleep 0.5               # let the last FIN/ACKs reach the interface
    stop_tcpdump || die "tcpdump failed: $(cat "$T/tcpdump.err")"
    sed -n -E 's/^([0-9]+ packets? (captured|dropped by kernel))$/    tcpdump: \1/p' "$T/tcpdump.err"
    if grep -qE '^[1-9][0-9]* packets? dropped by kernel' "$T/tcpdump.err"; then
        die "tcpdump dropped packets"
    fi
}

cli() { ip netns exec "$NS_CLI" "$@"; }

poplib_session() {          # $1 port, $2 expected file, rest: pop3_gen.py options
    local port=$1 exp=$2
    shift 2
    cli "$PY" "$GEN" poplib --host "$SRV_IP" --port "$port" --user "$MAIL_USER" \
        --meta "$T/meta.json" --expected "$exp" "$@"
}

# ---- capture 1: the demo ----------------------------------------------------
NAME=demo-userpass-retr
PCAP=$T/$NAME.pcap EXP=$T/$NAME.expected.json
: > "$EXP"
log "capture $NAME"
start_capture "$PCAP"

log "  poplib: good login, LIST, RETR 1, RETR 2, QUIT"
poplib_session 110 "$EXP" --password "$MAIL_PASS" --list --retr 1 --retr 2

log "  poplib: wrong password, QUIT"
poplib_session 110 "$EXP" --password "$WRONG_PASS" --expect-failure

# curl cannot be made to send USER/PASS to this server. Dovecot advertises
# "SASL PLAIN LOGIN" in CAPA (its USER/PASS needs the PLAIN mechanism enabled:
# without it PASS gets "-ERR [AUTH] Unsupported authentication mechanism."),
# and curl (7.88) then always logs in with SASL. Its POP3 login options
# (RFC 2384) are AUTH=* | AUTH=<SASL mechanism> | AUTH=+APOP; AUTH=+LOGIN is
# IMAP's (RFC 5092) and makes curl exit 3 (URL malformed); a mechanism the
# server does not offer ends in "No known authentication mechanisms
# supported". So the curl session logs in with AUTH PLAIN, pinned here so a
# change of curl's preference cannot silently change the capture.
CURL_LOGIN_OPTIONS='AUTH=PLAIN'
log "  curl: AUTH PLAIN (--login-options '$CURL_LOGIN_OPTIONS'), RETR 1, QUIT"
cli curl -sS --max-time 20 --login-options "$CURL_LOGIN_OPTIONS" \
    -u "$MAIL_USER:$MAIL_PASS" --trace-ascii "$T/curl.trace" \
    -o "$T/curl-body.eml" "pop3://$SRV_IP/1" \
    || die "curl failed (trace: $T/curl.trace)"
"$PY" "$GEN" curl-events --host "$SRV_IP" --port 110 --user "$MAIL_USER" \
    --password "$MAIL_PASS" --meta "$T/meta.json" --trace "$T/curl.trace" \
    --body "$T/curl-body.eml" --expected "$EXP"

finish_capture

# ---- capture 2: POP3 on a non-standard port ---------------------------------
NAME2=nonstandard-port-$ALT_PORT
PCAP2=$T/$NAME2.pcap EXP2=$T/$NAME2.expected.json
: > "$EXP2"
log "capture $NAME2"
start_capture "$PCAP2"
log "  poplib: good login, RETR 1, QUIT on port $ALT_PORT"
poplib_session "$ALT_PORT" "$EXP2" --password "$MAIL_PASS" --retr 1
finish_capture

stop_dovecot

# ---------------------------------------------------------------- checks
log "checking the captures"
check() {                   # $1 pcap, $2 expected, rest: checks for pop3_gen.py
    local pcap=$1 exp=$2
    shift 2
    "$PY" "$GEN" check-pcap --pcap "$pcap" --expected "$exp" "$@"
}
check "$PCAP" "$EXP" --port 110 --sessions 3 \
    --want "USER $MAIL_USER" --want "PASS $MAIL_PASS" --want "PASS $WRONG_PASS" \
    --want "RETR 1" --want "RETR 2" --want "LIST" --want "AUTH PLAIN" --want QUIT
check "$PCAP2" "$EXP2" --port "$ALT_PORT" --sessions 1 \
    --want "USER $MAIL_USER" --want "PASS $MAIL_PASS" --want "RETR 1" --want QUIT --refuse "AUTH "

for f in "$PCAP" "$EXP" "$PCAP2" "$EXP2"; do
    install -m 644 "$f" "$OUT/$(basename "$f")"
done
log "wrote:"
ls -l "$OUT/$NAME.pcap" "$OUT/$NAME.expected.json" "$OUT/$NAME2.pcap" "$OUT/$NAME2.expected.json"
OK=1
