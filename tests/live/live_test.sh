#!/bin/bash
# Live capture test: mailspill -i on one end of a veth pair joining two
# network namespaces, real logins across it (python's poplib, imaplib,
# smtplib against a real dovecot: POP3, IMAP, and SMTP AUTH on dovecot's
# submission service when dovecot-submissiond is installed), then SIGTERM.
#
#   tests/live/live_test.sh MAILSPILL
#
# Checks: -Z drops privileges (uid, gid and groups of the running process);
# SIGUSR1 writes a stats event with the kernel's counters; SIGHUP reopens
# the -o file after it was moved away (logrotate); SIGTERM flushes the
# session in progress (a login whose reply never came: outcome "unknown")
# and exits 0; every login the clients made is reported with the user,
# password and outcome they saw. POP3 is always required; IMAP and SMTP
# only when `mailspill --list-dissectors` lists them.
# Exit 77 (ctest SKIP) when not root, when network namespaces cannot be
# created, or when dovecot is missing (scripts/install-deps.sh installs it);
# exit 1 in those cases when MS_REQUIRE_ALL=1 (CI).
# Namespaces ms-flow-cli/ms-flow-srv, addresses 10.213.7.0/24 inside them
# only: no traffic leaves the two namespaces.
set -Eeuo pipefail

BIN=$(readlink -f "$1")
shift
EXTRA=("$@") # more mailspill options (--threads 2: the same logins from the workers)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
HELPER=$HERE/live_clients.py
NS_CLI=ms-flow-cli
NS_SRV=ms-flow-srv
VETH_CLI=msflow-c
VETH_SRV=msflow-s
CLI_IP=10.213.7.5
SRV_IP=10.213.7.1
HANG_PORT=1110
RUN_AS=nobody
MAIL_UID=65534
MAIL_GID=65534

PROG=live_test.sh
# The capture generators' namespace/veth/dovecot helpers (drop_ns, veth_up,
# wait_listening, stop_dovecot, log); die and cleanup are this test's own.
# shellcheck source=pcaps/gen/netns_lib.sh
. "$HERE/../../pcaps/gen/netns_lib.sh"
PIDS=()

# MS_REQUIRE_ALL=1 (set by .ci/run, where root and namespaces are there):
# a skip would hide a missing prerequisite, so it fails instead.
skip() {
    if [ "${MS_REQUIRE_ALL:-}" = 1 ]; then
        printf 'live_test.sh: FAIL: would skip (%s), and MS_REQUIRE_ALL=1 forbids skipping\n' "$*" >&2
        exit 1
    fi
    printf 'SKIP: %s\n' "$*"; exit 77
}
die() { printf 'live_test.sh: FAIL: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$?
    set +e
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    stop_dovecot
    drop_ns "$NS_CLI"
    drop_ns "$NS_SRV"
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$OK" = 1 ]; then
            rm -rf "$T"
        else
            echo "live_test.sh: work files kept in $T" >&2
            for f in mailspill.err dovecot.log; do
                [ -s "$T/$f" ] && { echo "---- $f ----" >&2; tail -n 15 "$T/$f" >&2; }
            done
        fi
    fi
    [ "$OK" = 1 ] || [ "$rc" != 0 ] || rc=1
    exit "$rc"
}

# ---------------------------------------------------------------- preflight
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and live capture)"
command -v ip >/dev/null || skip "iproute2 is not installed"
for f in /usr/sbin/dovecot /usr/lib/dovecot/pop3 /usr/lib/dovecot/imap; do
    [ -x "$f" ] || skip "dovecot (core, pop3d, imapd) is not installed: run scripts/install-deps.sh"
done
getent passwd "$RUN_AS" >/dev/null || skip "no user $RUN_AS for -Z"
# One run at a time (the namespace names are fixed).
exec 9>/run/lock/mailspill-live-test.lock
flock -w 300 9 || die "another live test holds the lock"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
drop_ns "$NS_CLI"
drop_ns "$NS_SRV"
if ! ip netns add "$NS_CLI" 2>/dev/null; then
    skip "network namespaces are not allowed here (ip netns add failed)"
fi
ip netns add "$NS_SRV"

T=$(mktemp -d /tmp/mailspill-live.XXXXXX)
chmod 755 "$T"

# ---------------------------------------------------------------- network
ETHTOOL_OPTIONAL=1 veth_up

# ---------------------------------------------------------------- dovecot
SMTP=0
PROTOCOLS="pop3 imap"
if [ -x /usr/lib/dovecot/submission ] && "$PY" -c 'import smtpd' 2>/dev/null; then
    SMTP=1
    PROTOCOLS="$PROTOCOLS submission"
fi
mkdir -p "$T/run" "$T/state" "$T/mail/alice"
chown -R "$MAIL_UID:$MAIL_GID" "$T/mail"
printf 'alice:{PLAIN}Live 2026!pw::::::\n' > "$T/users"
chmod 644 "$T/users"
cat > "$T/dovecot.conf" <<CONF
protocols = $PROTOCOLS
listen = $SRV_IP
base_dir = $T/run
state_dir = $T/state
instance_name = mailspill-live-test
log_path = $T/dovecot.log
info_log_path = $T/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
hostname = mail.example
submission_relay_host = $SRV_IP
submission_relay_port = 2525
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$T/mail/%u
}
service pop3-login {
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imaps {
    port = 0
  }
}
CONF
if [ "$SMTP" = 1 ]; then
    cat >> "$T/dovecot.conf" <<CONF
service submission-login {
  inet_listener submission {
    port = 587
  }
}
CONF
    ip netns exec "$NS_SRV" "$PY" "$HELPER" relay --host "$SRV_IP" --port 2525 &
    PIDS+=($!)
fi
ip netns exec "$NS_SRV" /usr/sbin/dovecot -c "$T/dovecot.conf"
want=2
[ "$SMTP" = 1 ] && want=4
wait_listening "$want" 110 143 587 2525 || die "dovecot does not listen (see $T/dovecot.log)"
log "dovecot on $SRV_IP: $PROTOCOLS"

# ---------------------------------------------------------------- mailspill
mkdir -p "$T/out"
chown "$RUN_AS" "$T/out"      # -Z: the reopened file is created as $RUN_AS
EVENTS=$T/out/events.json
ip netns exec "$NS_CLI" "$BIN" -i "$VETH_CLI" -Z "$RUN_AS" -o "$EVENTS" --stats --show-passwords \
    --sensor-name ms-live-sensor "${EXTRA[@]}" tcp 2>"$T/mailspill.err" &
MS_PID=$!
PIDS+=("$MS_PID")
# The interface is open (and the signal handlers installed) once the
# process has given up root.
for _ in $(seq 100); do
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$MS_PID/status" 2>/dev/null || echo gone)
    [ "$uid" = "$MAIL_UID" ] && break
    [ "$uid" = gone ] && die "mailspill exited early: $(cat "$T/mailspill.err")"
    sleep 0.1
done
read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$MS_PID/status")
read -r _ rgid egid sgid fsgid < <(grep '^Gid:' "/proc/$MS_PID/status")
groups=$(awk '/^Groups:/ {$1=""; print}' "/proc/$MS_PID/status" | xargs)
for v in "$ruid" "$euid" "$suid" "$fsuid"; do [ "$v" = "$MAIL_UID" ] || die "-Z: uid is $v"; done
for v in "$rgid" "$egid" "$sgid" "$fsgid"; do [ "$v" = "$MAIL_GID" ] || die "-Z: gid is $v"; done
[ "$groups" = "$MAIL_GID" ] || die "-Z: supplementary groups are '$groups'"
log "mailspill (pid $MS_PID) capturing on $VETH_CLI as $RUN_AS"

# SIGUSR1: a stats event, at once.
kill -USR1 "$MS_PID"
for _ in $(seq 50); do
    grep -q '"event_type":"stats"' "$EVENTS" 2>/dev/null && break
    sleep 0.1
done
grep -q '"event_type":"stats".*"kernel_packets"' "$EVENTS" || die "no stats event after SIGUSR1"

# ---------------------------------------------------------------- logins
TRANSCRIPT=$T/transcript.json
: > "$TRANSCRIPT"
ip netns exec "$NS_SRV" "$PY" "$HELPER" hang-server --host "$SRV_IP" --port "$HANG_PORT" \
    --ready "$T/hang.ready" &
PIDS+=($!)
for _ in $(seq 50); do [ -f "$T/hang.ready" ] && break; sleep 0.1; done
ip netns exec "$NS_CLI" "$PY" "$HELPER" hang-client --host "$SRV_IP" --port "$HANG_PORT" \
    --transcript "$TRANSCRIPT" &
PIDS+=($!)
smtp_opt=()
[ "$SMTP" = 1 ] && smtp_opt=(--smtp)
ip netns exec "$NS_CLI" "$PY" "$HELPER" clients --host "$SRV_IP" --transcript "$TRANSCRIPT" \
    "${smtp_opt[@]}"
for _ in $(seq 50); do
    [ "$(wc -l < "$TRANSCRIPT")" -ge 1 ] && grep -q carol "$TRANSCRIPT" && break
    sleep 0.1
done
sleep 1                       # the last replies reach mailspill

# SIGHUP after the file was moved away: later events go to a new file.
mv "$EVENTS" "$T/out/events.1.json"
kill -HUP "$MS_PID"
kill -USR1 "$MS_PID"
for _ in $(seq 50); do
    [ -s "$EVENTS" ] && break
    sleep 0.1
done
[ -s "$EVENTS" ] || die "SIGHUP did not reopen $EVENTS"

# SIGTERM: flush (the hanging login), final stats event, exit 0.
kill -TERM "$MS_PID"
rc=0
for _ in $(seq 100); do
    kill -0 "$MS_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$MS_PID" 2>/dev/null && die "mailspill did not stop within 10 s of SIGTERM"
wait "$MS_PID" || rc=$?
[ "$rc" = 0 ] || die "mailspill exited $rc after SIGTERM: $(cat "$T/mailspill.err")"

DISSECTORS=$("$BIN" --list-dissectors | xargs)
log "dissectors in this build: $DISSECTORS"
"$PY" "$HELPER" check --events "$T/out/events.1.json" "$EVENTS" --transcript "$TRANSCRIPT" \
    --dissectors "$DISSECTORS" --iface "$VETH_CLI" --sensor ms-live-sensor || die "logins missing from mailspill's events"
OK=1
log "live test passed"
