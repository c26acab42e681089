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
# Each client connects from a port picked here (SPORT_*), so the captures'
# connections, and the README's demo output, keep their ports from run to
# run; the expected src_port is read back from poplib's socket and from
# curl's -w '%{local_port}'.
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
# Client ports, one per connection (no two alike: a port still in TIME_WAIT
# could not be bound again).
SPORT_DEMO_GOOD=44524
SPORT_DEMO_WRONG=44530
SPORT_DEMO_CURL=44534
SPORT_ALT=45278

PROG=pop3_capture.sh
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/netns_lib.sh"
gen_begin mailspill-pop3gen

# ---------------------------------------------------------------- preflight
require_tools ip tcpdump curl ethtool "$PY" /usr/sbin/dovecot
[ -x /usr/lib/dovecot/pop3 ] || die "dovecot-pop3d is not installed: run pcaps/gen/install-deps.sh"
require_dovecot_users
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

drop_stale_ns
make_workdir mailspill-pop3gen

# ---------------------------------------------------------------- network
log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP)"
netns_up

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
$(dovecot_conf_common mailspill-pop3gen)
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
$(dovecot_conf_users %u %u)
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
start_dovecot "$T/dovecot.conf"
wait_listening 2 110 "$ALT_PORT" \
    || die "dovecot does not listen on $SRV_IP:110 and :$ALT_PORT (see $T/dovecot.log)"

# ---------------------------------------------------------------- capture
# $1 port, $2 client port, $3 expected file, rest: pop3_gen.py options
poplib_session() {
    local port=$1 sport=$2 exp=$3
    shift 3
    cli "$PY" "$GEN" poplib --host "$SRV_IP" --port "$port" --src-port "$sport" \
        --user "$MAIL_USER" --meta "$T/meta.json" --expected "$exp" "$@"
}

# ---- capture 1: the demo ----------------------------------------------------
NAME=demo-userpass-retr
PCAP=$T/$NAME.pcap EXP=$T/$NAME.expected.json
: > "$EXP"
log "capture $NAME"
start_capture "$PCAP"

log "  poplib: good login, LIST, RETR 1, RETR 2, QUIT"
poplib_session 110 "$SPORT_DEMO_GOOD" "$EXP" --password "$MAIL_PASS" --list --retr 1 --retr 2

log "  poplib: wrong password, QUIT"
poplib_session 110 "$SPORT_DEMO_WRONG" "$EXP" --password "$WRONG_PASS" --expect-failure

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
CURL_PORT=$(cli curl -sS --max-time 20 --login-options "$CURL_LOGIN_OPTIONS" \
    --local-port "$SPORT_DEMO_CURL" -w '%{local_port}' \
    -u "$MAIL_USER:$MAIL_PASS" --trace-ascii "$T/curl.trace" \
    -o "$T/curl-body.eml" "pop3://$SRV_IP/1") \
    || die "curl failed (trace: $T/curl.trace)"
"$PY" "$GEN" curl-events --host "$SRV_IP" --port 110 --src-port "$CURL_PORT" \
    --user "$MAIL_USER" --password "$MAIL_PASS" --meta "$T/meta.json" \
    --trace "$T/curl.trace" --body "$T/curl-body.eml" --expected "$EXP"

finish_capture

# ---- capture 2: POP3 on a non-standard port ---------------------------------
NAME2=nonstandard-port-$ALT_PORT
PCAP2=$T/$NAME2.pcap EXP2=$T/$NAME2.expected.json
: > "$EXP2"
log "capture $NAME2"
start_capture "$PCAP2"
log "  poplib: good login, RETR 1, QUIT on port $ALT_PORT"
poplib_session "$ALT_PORT" "$SPORT_ALT" "$EXP2" --password "$MAIL_PASS" --retr 1
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

install_outputs "$OUT" "$PCAP" "$EXP" "$PCAP2" "$EXP2"
log "wrote:"
ls -l "$OUT/$NAME.pcap" "$OUT/$NAME.expected.json" "$OUT/$NAME2.pcap" "$OUT/$NAME2.expected.json"
OK=1
