#!/bin/bash
# Generates mailspill's IMAP test captures from a real server and real clients.
#
#   pcaps/gen/imap_capture.sh [OUTDIR]      (root; OUTDIR defaults to pcaps/imap)
#
# Two network namespaces joined by a veth pair (client 10.44.3.5, server
# 10.44.3.1 without TLS and 10.44.3.2 with STARTTLS; the addresses exist only
# inside the namespaces); Debian's dovecot (imapd) runs in the server
# namespace from a config in a temp dir, with auth_mechanisms plain login
# cram-md5 digest-md5 and PLAIN passwords in a passwd-file (so that CRAM-MD5
# and DIGEST-MD5 work); tcpdump captures on the client's veth end while
# python3 imaplib, curl and a raw-socket client (imap_gen.py) talk to it.
# Beside each capture it writes <name>.expected.json (NDJSON), derived only
# from what the clients sent and received and from the generated messages.
# Each client connects from a port picked here (the second argument of gen
# and curl_session), so the connections keep their ports from run to run
# (tap_reorder.py names one); the expected src_port is read back from the
# client's socket and from curl's -w '%{local_port}'.
#
# Produces:
#   logins-fetch-append.pcap   port 143: imaplib LOGIN (quoted, UTF-8,
#                              escapes), SELECT, FETCH BODY.PEEK[] x2, APPEND
#                              to Sent; imaplib wrong password; curl
#                              AUTHENTICATE PLAIN (+ UID FETCH), LOGIN and
#                              CRAM-MD5 (AUTH=+LOGIN: curl 7.88 exits 3, "URL
#                              using bad/illegal format"); raw LOGIN with
#                              synchronizing literals (230-char password),
#                              LOGIN with LITERAL+, AUTHENTICATE PLAIN with
#                              SASL-IR, AUTHENTICATE DIGEST-MD5
#   nonstandard-port-1143.pcap imaplib LOGIN + FETCH on port 1143
#   starttls-no-credential.pcap imaplib STARTTLS, then LOGIN, FETCH, APPEND
#                              inside TLS: no credential, no message
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/../imap}
PY=/usr/bin/python3
GEN=$HERE/imap_gen.py

NS_CLI=ms-imap-cli
NS_SRV=ms-imap-srv
VETH_CLI=ms-imap-c          # interface names: at most 15 characters
VETH_SRV=ms-imap-s
CLI_IP=10.44.3.5
SRV_IP=10.44.3.1
TLS_IP=10.44.3.2
ALT_PORT=1143
MAIL_UID=65534              # static uid/gid of the mail users (nobody/nogroup)
MAIL_GID=65534

PROG=imap_capture.sh
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/netns_lib.sh"
gen_begin mailspill-imapgen

# ---------------------------------------------------------------- preflight
require_tools ip tcpdump curl ethtool openssl "$PY" /usr/sbin/dovecot
[ -x /usr/lib/dovecot/imap ] || die "dovecot-imapd is not installed: run pcaps/gen/install-deps.sh"
require_dovecot_users
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

drop_stale_ns
make_workdir mailspill-imapgen

# ---------------------------------------------------------------- network
log "network namespaces $NS_CLI ($CLI_IP) <-> $NS_SRV ($SRV_IP, $TLS_IP)"
netns_up "$TLS_IP"

# ---------------------------------------------------------------- users, mail, TLS
log "users, maildir, self-signed certificate"
mkdir -p "$T/run" "$T/state" "$T/mail"
"$PY" "$GEN" setup "$T"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
chmod 644 "$T/users"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=imap.mailspill.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
chmod 644 "$T/cert.pem"
chmod 600 "$T/key.pem"

# ---------------------------------------------------------------- dovecot
cat > "$T/dovecot.conf" <<EOC
# Written by pcaps/gen/imap_capture.sh; not used outside this run.
protocols = imap
listen = $SRV_IP, $TLS_IP
$(dovecot_conf_common mailspill-imapgen)
auth_failure_delay = 0
auth_username_chars =
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 digest-md5
# TLS (STARTTLS) only on $TLS_IP: on $SRV_IP the server offers none.
ssl = yes
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
local $SRV_IP {
  ssl = no
}
# curl's DIGEST-MD5 gives up on an empty realm in the challenge.
auth_realms = mailspill.test
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    auto = create
    special_use = \Sent
  }
}
$(dovecot_conf_users %n %n)
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
  inet_listener imap-alt {
    port = $ALT_PORT
  }
}
EOC

log "dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) in $NS_SRV (log: $T/dovecot.log)"
start_dovecot "$T/dovecot.conf"
# Two listeners (143 and the other port) on each of the two addresses.
wait_listening 4 143 "$ALT_PORT" \
    || die "dovecot does not listen on ports 143 and $ALT_PORT (see $T/dovecot.log)"

# ---------------------------------------------------------------- capture
# $1 subcommand, $2 client port, $3 host, $4 port, $5 expected, rest: options
gen() {
    local sub=$1 sport=$2 host=$3 port=$4 exp=$5
    shift 5
    cli "$PY" "$GEN" "$sub" --src-port "$sport" --host "$host" --port "$port" \
        --meta "$T/meta.json" --expected "$exp" "$@"
}
user_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][sys.argv[2]]["user"])' "$T/meta.json" "$1"; }
pass_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][sys.argv[2]]["password"])' "$T/meta.json" "$1"; }

# curl session: $1 expected, $2 client port, $3 user key, $4 login options, $5 URL path,
# [$6 body file]
CURL_N=0
curl_session() {
    local exp=$1 sport=$2 key=$3 opts=$4 path=$5 body=${6:-} port
    CURL_N=$((CURL_N + 1))
    local trace=$T/curl$CURL_N.trace
    local out=${body:-/dev/null}
    log "  curl --login-options '$opts' imap://$SRV_IP/$path"
    port=$(cli curl -sS --max-time 20 --login-options "$opts" \
        -u "$(user_of "$key"):$(pass_of "$key")" --local-port "$sport" -w '%{local_port}' \
        --trace-ascii "$trace" -o "$out" "imap://$SRV_IP/$path") \
        || die "curl failed (trace: $trace)"
    if [ -n "$body" ]; then
        "$PY" "$GEN" curl-events --host "$SRV_IP" --port 143 --src-port "$port" \
            --meta "$T/meta.json" --expected "$exp" --user-key "$key" --trace "$trace" \
            --body "$body"
    else
        "$PY" "$GEN" curl-events --host "$SRV_IP" --port 143 --src-port "$port" \
            --meta "$T/meta.json" --expected "$exp" --user-key "$key" --trace "$trace"
    fi
}

# ---- capture 1: logins, FETCH, APPEND on port 143 ----------------------------
NAME=logins-fetch-append
PCAP=$T/$NAME.pcap EXP=$T/$NAME.expected.json
: > "$EXP"
log "capture $NAME"
start_capture "$PCAP"
log "  imaplib: LOGIN, SELECT, FETCH 1 and 2 (BODY.PEEK[]), APPEND to Sent, LOGOUT"
gen imaplib 50106 "$SRV_IP" 143 "$EXP" --user-key main --fetch 1 --fetch 2 --append
log "  imaplib: wrong password"
gen imaplib 50120 "$SRV_IP" 143 "$EXP" --user-key main --wrong-password
curl_session "$EXP" 50132 main 'AUTH=PLAIN' 'INBOX/;UID=1' "$T/curl-body.eml"
curl_session "$EXP" 50140 utf8 'AUTH=LOGIN' ''
curl_session "$EXP" 50152 cram 'AUTH=CRAM-MD5' ''
log "  raw: LOGIN with synchronizing literals (230-character password)"
gen raw 45404 "$SRV_IP" 143 "$EXP" --user-key long --mode sync-literal
log "  raw: LOGIN quoted user + LITERAL+ password"
gen raw 45406 "$SRV_IP" 143 "$EXP" --user-key utf8 --mode literal-plus
log "  raw: AUTHENTICATE PLAIN with SASL-IR"
gen raw 45418 "$SRV_IP" 143 "$EXP" --user-key long --mode sasl-ir
# curl 7.88 cannot do DIGEST-MD5 with dovecot (curl issue #11369).
log "  raw: AUTHENTICATE DIGEST-MD5"
gen raw 45424 "$SRV_IP" 143 "$EXP" --user-key digest --mode digest-md5
finish_capture

# ---- capture 2: non-standard port ----------------------------------------------
NAME2=nonstandard-port-$ALT_PORT
PCAP2=$T/$NAME2.pcap EXP2=$T/$NAME2.expected.json
: > "$EXP2"
log "capture $NAME2"
start_capture "$PCAP2"
log "  imaplib: LOGIN, FETCH 2, LOGOUT on port $ALT_PORT"
gen imaplib 47938 "$SRV_IP" "$ALT_PORT" "$EXP2" --user-key main --fetch 2
finish_capture

# ---- capture 3: STARTTLS ---------------------------------------------------------
NAME3=starttls-no-credential
PCAP3=$T/$NAME3.pcap EXP3=$T/$NAME3.expected.json
# Nothing may come out of TLS; the session is counted as IMAP and, once
# upgraded, as encrypted (README, Protocols), so an empty run fails.
printf '%s\n' '{"event_type": "stats", "stats": {"flow": {"created": 1}, "app_layer": {"flow": {"pop3": 0, "imap": 1, "smtp": 0, "encrypted": 1, "other": 0}}, "output": {"alert": 0, "email": 0, "fileinfo": 0, "anomaly": 0}}}' \
    > "$EXP3"
log "capture $NAME3"
start_capture "$PCAP3"
log "  imaplib: STARTTLS, then LOGIN, FETCH 1, APPEND inside TLS"
gen imaplib 37640 "$TLS_IP" 143 "$EXP3" --user-key main --starttls --fetch 1 --append
finish_capture

stop_dovecot

# ---------------------------------------------------------------- checks
log "checking the captures"
check() { "$PY" "$GEN" check-pcap --pcap "$1" --expected "$2" "${@:3}"; }
check "$PCAP" "$EXP" --port 143 --sessions 9 \
    --want "LOGIN {" --want "AUTHENTICATE PLAIN" --want "AUTHENTICATE LOGIN" \
    --want "AUTHENTICATE CRAM-MD5" --want "AUTHENTICATE DIGEST-MD5" --want "+}" \
    --want "BODY.PEEK[]" --want "APPEND Sent"
check "$PCAP2" "$EXP2" --port "$ALT_PORT" --sessions 1 --want "LOGIN " --want "BODY.PEEK[]"
check "$PCAP3" "$EXP3" --port 143 --sessions 1 --want "STARTTLS" --tls-close --refuse "LOGIN" \
    --refuse "APPEND"

install_outputs "$OUT" "$PCAP" "$EXP" "$PCAP2" "$EXP2" "$PCAP3" "$EXP3"
log "wrote:"
ls -l "$OUT"
OK=1
