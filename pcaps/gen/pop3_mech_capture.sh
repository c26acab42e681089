#!/bin/bash
# Generates mailspill's POP3 captures of the challenge/response and SASL
# logins from a real server and real clients.
#
#   pcaps/gen/pop3_mech_capture.sh [OUTDIR]   (root; OUTDIR defaults to pcaps/pop3)
#
# Same shape as pop3_capture.sh: two network namespaces of our own
# (ms-sasl-cli 10.44.4.5, ms-sasl-srv 10.44.4.1; the addresses exist only
# inside them) joined by a veth pair with offloads off; Debian's dovecot
# (pop3d) from a config in a temp dir, with every mechanism it offers over
# POP3 (plain login apop cram-md5 digest-md5, passwords stored in plaintext
# as APOP/CRAM-MD5/DIGEST-MD5 need) and STLS with a throw-away self-signed
# certificate; tcpdump on the client's veth end; curl and python3's poplib as
# clients. Accounts are random but seeded (pop3_mech_gen.py users): user
# names with a space, a quote and UTF-8; passwords with spaces, quotes,
# backslashes, UTF-8 and one of 230 characters. Beside each capture it writes
# <name>.expected.json from curl's --trace-ascii log and poplib's replies,
# after checking every digest against the account's password. Each client
# connects from a port picked here (its last argument below), so the
# connections keep their ports from run to run; the expected src_port is
# read back from poplib's socket and from curl's -w '%{local_port}'.
#
# Produces:
#   mech-cram-digest-login-apop.pcap
#       curl AUTH=CRAM-MD5 (accepted), curl AUTH=CRAM-MD5 wrong password
#       (refused), poplib CAPA + AUTH DIGEST-MD5 (accepted), curl AUTH=LOGIN with the
#       230-character password (accepted), curl AUTH=+APOP (accepted), poplib
#       APOP with a wrong password (refused); every curl session sends CAPA
#       (which offers STLS), LISTs and QUITs. curl 7.88 cannot do DIGEST-MD5
#       with dovecot (it cancels on algorithm="md5-sess" quoted).
#   stls-no-credential.pcap
#       curl --ssl-reqd: CAPA, STLS, then TLS carrying AUTH PLAIN and LIST:
#       no credential may be reported.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../pop3}
PY=/usr/bin/python3
GEN=$HERE/pop3_mech_gen.py

NS_CLI=ms-sasl-cli
NS_SRV=ms-sasl-srv
VETH_CLI=ms-sasl-c          # interface names: at most 15 characters
VETH_SRV=ms-sasl-s
CLI_IP=10.44.4.5
SRV_IP=10.44.4.1
MAIL_UID=65534
MAIL_GID=65534

PROG=pop3_mech_capture.sh
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/netns_lib.sh"
gen_begin mailspill-pop3mechgen

require_tools ip tcpdump curl ethtool openssl "$PY" /usr/sbin/dovecot
[ -x /usr/lib/dovecot/pop3 ] || die "dovecot-pop3d is not installed: run pcaps/gen/install-deps.sh"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
drop_stale_ns
make_workdir mailspill-pop3mechgen

log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP)"
netns_up

log "accounts, empty maildirs, self-signed certificate"
mkdir -p "$T/run" "$T/state" "$T/mail"
"$PY" "$GEN" users "$T/users" "$T/accounts.json"
chmod 644 "$T/users"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$SRV_IP" \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
chmod 644 "$T/cert.pem" "$T/key.pem"

cat > "$T/dovecot.conf" <<DOVECOT_CONF
# Written by pcaps/gen/pop3_mech_capture.sh; not used outside this run.
protocols = pop3
listen = $SRV_IP
$(dovecot_conf_common mailspill-pop3mechgen)
ssl = yes
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login apop cram-md5 digest-md5
auth_username_chars =
auth_username_format = %u
$(dovecot_conf_users %u %u)
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
DOVECOT_CONF

log "dovecot in $NS_SRV (log: $T/dovecot.log)"
start_dovecot "$T/dovecot.conf"
wait_listening 1 110 || die "dovecot does not listen on $SRV_IP:110"

acct() {                    # $1 account, $2 user|password
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]], end="")' \
        "$T/accounts.json" "$1" "$2"
}

N=0
curl_login() {              # $1 account, $2 login options, $3 expected, $4 client port, [$5 wrong]
    local acc=$1 opts=$2 exp=$3 sport=$4 wrong=${5:-} user pass rc=0 port
    local extra=()
    user=$(acct "$acc" user)
    pass=$(acct "$acc" password)
    N=$((N + 1))
    if [ -n "$wrong" ]; then
        pass="$pass-wrong"
        extra=(--expect-failure)
    fi
    log "  curl --login-options '$opts' as $acc${wrong:+ (wrong password)}"
    port=$(cli curl -sS --max-time 20 --login-options "$opts" -u "$user:$pass" \
        --local-port "$sport" -w '%{local_port}' \
        --trace-ascii "$T/curl$N.trace" -o /dev/null "pop3://$SRV_IP/") || rc=$?
    # A refused login is curl's exit 67 (CURLE_LOGIN_DENIED).
    if [ -n "$wrong" ]; then
        [ "$rc" = 67 ] || die "curl exit $rc, expected 67 (trace: $T/curl$N.trace)"
    else
        [ "$rc" = 0 ] || die "curl failed ($rc; trace: $T/curl$N.trace)"
    fi
    "$PY" "$GEN" curl-events --trace "$T/curl$N.trace" --account "$acc" \
        --accounts "$T/accounts.json" --host "$SRV_IP" --port 110 --src-port "$port" \
        --expected "$exp" "${extra[@]}"
}

# ---- capture 1: every mechanism dovecot offers ----------------------------
NAME=mech-cram-digest-login-apop
PCAP=$T/$NAME.pcap EXP=$T/$NAME.expected.json
: > "$EXP"
log "capture $NAME"
start_capture "$PCAP"
curl_login cram 'AUTH=CRAM-MD5' "$EXP" 55728
curl_login cram 'AUTH=CRAM-MD5' "$EXP" 55740 wrong
# curl 7.88 cancels DIGEST-MD5 against dovecot (see pop3_mech_gen.py
# poplib-digest): the DIGEST-MD5 session is poplib's.
log "  poplib CAPA, AUTH DIGEST-MD5"
cli "$PY" "$GEN" poplib-digest --account digest --accounts "$T/accounts.json" \
    --host "$SRV_IP" --port 110 --src-port 55746 --expected "$EXP"
curl_login login 'AUTH=LOGIN' "$EXP" 57568
curl_login apop 'AUTH=+APOP' "$EXP" 57576
log "  poplib APOP, wrong password"
cli "$PY" "$GEN" poplib-apop --account apop --accounts "$T/accounts.json" \
    --host "$SRV_IP" --port 110 --src-port 57580 --expected "$EXP" --wrong-password
finish_capture

# ---- capture 2: STLS, then nothing in the clear ----------------------------
NAME2=stls-no-credential
PCAP2=$T/$NAME2.pcap EXP2=$T/$NAME2.expected.json
# Nothing may come out of TLS; the session is counted as POP3 and, once
# upgraded, as encrypted (README, Protocols), so an empty run fails.
printf '%s\n' '{"event_type": "stats", "stats": {"flow": {"created": 1}, "app_layer": {"flow": {"pop3": 1, "imap": 0, "smtp": 0, "encrypted": 1, "other": 0}}, "output": {"alert": 0, "email": 0, "fileinfo": 0, "anomaly": 0}}}' \
    > "$EXP2"
log "capture $NAME2"
start_capture "$PCAP2"
log "  curl --ssl-reqd (STLS), AUTH PLAIN and LIST inside TLS"
cli curl -sS --max-time 20 --ssl-reqd -k --login-options 'AUTH=PLAIN' --local-port 57596 \
    -u "$(acct login user):$(acct login password)" --trace-ascii "$T/curl-stls.trace" \
    -o /dev/null "pop3://$SRV_IP/" || die "curl over STLS failed (trace: $T/curl-stls.trace)"
grep -q '^0000: STLS' "$T/curl-stls.trace" || die "curl did not send STLS"
finish_capture

stop_dovecot

log "checking the captures"
check() {
    local pcap=$1 exp=$2
    shift 2
    "$PY" "$GEN" check-pcap --pcap "$pcap" --expected "$exp" "$@"
}
check "$PCAP" "$EXP" --port 110 --sessions 6 --want CAPA --want "AUTH CRAM-MD5" \
    --want "AUTH DIGEST-MD5" --want "AUTH LOGIN" --want "APOP $(acct apop user)" --want QUIT
# After TLS, the client's close_notify can reach a server that already
# closed: a RST then ends the connection.
check "$PCAP2" "$EXP2" --port 110 --sessions 1 --want CAPA --want STLS --refuse "AUTH" --allow-rst

install_outputs "$OUT" "$PCAP" "$EXP" "$PCAP2" "$EXP2"
log "wrote:"
ls -l "$OUT/$NAME.pcap" "$OUT/$NAME.expected.json" "$OUT/$NAME2.pcap" "$OUT/$NAME2.expected.json"
OK=1
