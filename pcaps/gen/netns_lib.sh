# shellcheck shell=bash
# Shared plumbing of the capture generators (pcaps/gen/*_capture.sh), sourced
# by them; tests/live/live_test.sh uses the namespace and veth part.
#
#   . "$HERE/netns_lib.sh"
#
# The caller sets, before calling these functions:
#   PROG                 its name, for messages ("pop3_capture.sh")
#   NS_CLI, NS_SRV       its two network namespaces (names unique to it)
#   VETH_CLI, VETH_SRV   the two ends of the veth pair (at most 15 characters)
#   CLI_IP, SRV_IP       the addresses (/24) inside the namespaces
# and may set:
#   STOP_SERVERS         function cleanup calls to stop the servers
#                        (default stop_dovecot)
#   FAIL_LOGS, FAIL_TAIL files under $T shown on failure, and how many of
#                        their last lines (default dovecot.log, 20)
#   TCPDUMP_STATS        0: finish_capture does not print tcpdump's counters
#   MAIL_UID, MAIL_GID   the mail user, for dovecot_conf_common/_users
# State kept here: T (the work dir), TCPDUMP_PID, OK (1 once all succeeded).
# A generator's order: gen_begin LOCK (root, lock, traps), require_tools,
# drop_stale_ns, make_workdir, netns_up, start_dovecot + wait_listening,
# start_capture/finish_capture around each capture (clients run through cli),
# install_outputs, OK=1; the EXIT trap (cleanup) undoes everything.
# Nothing here sends traffic outside the caller's namespaces.

T=""
TCPDUMP_PID=""
OK=0

log() { printf '==> %s\n' "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

on_err() {                  # $1 status, $2 line, $3 command, $4 file of the line
    local where="line $2"
    [ "$(basename "${4:-}")" != netns_lib.sh ] || where="line $2 of netns_lib.sh"
    printf '%s: error: command failed (exit %s) at %s: %s\n' "$PROG" "$1" "$where" "$3" >&2
}

# Kills what runs inside one of our namespaces (only processes the caller
# started: the namespaces are private to it), then deletes the namespace.
# Deleting a namespace also deletes its end of the veth pair and so the pair.
drop_ns() {                 # $1 namespace, [$2 why: logged when given]
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

# A dovecot started with base_dir = $T/run.
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

# EXIT trap: stops what runs, deletes the namespaces; keeps the work dir
# (and shows the end of the server logs) unless the run succeeded.
cleanup() {
    local rc=$? f
    trap - ERR
    set +e
    stop_tcpdump 2>/dev/null
    "${STOP_SERVERS:-stop_dovecot}"
    drop_ns "$NS_CLI"
    drop_ns "$NS_SRV"
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$OK" = 1 ]; then
            rm -rf "$T"
        else
            echo "$PROG: FAILED (exit $rc); work files kept in $T" >&2
            for f in "${FAIL_LOGS[@]:-dovecot.log}"; do
                [ -s "$T/$f" ] || continue
                echo "---- last lines of $T/$f ----" >&2
                tail -n "${FAIL_TAIL:-20}" "$T/$f" >&2
            done
        fi
    fi
    [ "$OK" = 1 ] || [ "$rc" != 0 ] || rc=1
    exit "$rc"
}

# Root check, one run at a time, traps. $1: lock name, $2: what needs root.
# One run at a time: a second one would tear down the first's namespaces.
gen_begin() {
    local lock=$1 needs=${2:-network namespaces, dovecot, tcpdump}
    trap 'on_err $? $LINENO "$BASH_COMMAND" "${BASH_SOURCE[0]:-}"' ERR
    [ "$(id -u)" = 0 ] || die "must run as root ($needs)"
    exec 9>"/run/lock/$lock.lock"
    flock -n 9 || die "another $PROG run is in progress"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

require_tools() {           # commands on PATH (or absolute paths)
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "missing $tool: run pcaps/gen/install-deps.sh"
    done
}

require_dovecot_users() {
    if ! getent passwd dovecot >/dev/null || ! getent passwd dovenull >/dev/null; then
        die "dovecot's system users are missing: reinstall dovecot-core"
    fi
}

# Leftovers of an earlier run that crashed before its trap could clean up.
drop_stale_ns() {
    drop_ns "$NS_CLI" "a stale"
    drop_ns "$NS_SRV" "a stale"
}

make_workdir() {            # $1: name prefix under /tmp; sets T
    T=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$T"          # dovecot's unprivileged processes read the users file
}

# The veth pair between the two namespaces (which must exist), addresses,
# links up. $@: more addresses for the server end. ETHTOOL_OPTIONAL=1: no
# ethtool or a refusal is not an error (the live test).
veth_up() {
    local pair ns dev ip
    ip link add "$VETH_CLI" netns "$NS_CLI" type veth peer name "$VETH_SRV" netns "$NS_SRV"
    ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$VETH_CLI"
    ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$VETH_SRV"
    for ip in "$@"; do
        ip -n "$NS_SRV" addr add "$ip/24" dev "$VETH_SRV"
    done
    for pair in "$NS_CLI:$VETH_CLI" "$NS_SRV:$VETH_SRV"; do
        ns=${pair%%:*} dev=${pair#*:}
        # No checksum/segmentation offload: the capture then holds correct
        # checksums and MTU-sized segments, as on a real wire.
        if [ "${ETHTOOL_OPTIONAL:-0}" = 1 ]; then
            if command -v ethtool >/dev/null; then
                ip netns exec "$ns" ethtool -K "$dev" tx off sg off tso off gso off gro off \
                    >/dev/null 2>&1 || true
            fi
        else
            ip netns exec "$ns" ethtool -K "$dev" tx off sg off tso off gso off gro off \
                >/dev/null 2>&1 || ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null
        fi
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$dev" up
    done
}

# Both namespaces and the veth pair. $@: more server addresses.
# shellcheck disable=SC2120
netns_up() {
    ip netns add "$NS_CLI"
    ip netns add "$NS_SRV"
    veth_up "$@"
}

# Waits up to 10 s until at least $1 TCP sockets listen in the server
# namespace on the ports $2...; fails (status 1) otherwise.
wait_listening() {
    local want=$1 filter="" p n=0
    shift
    for p in "$@"; do
        filter="${filter:+$filter or }sport = :$p"
    done
    for _ in $(seq 100); do
        n=$(ip netns exec "$NS_SRV" ss -Hltn "( $filter )" | wc -l)
        [ "$n" -ge "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

# The part of a dovecot config every generator writes the same: everything
# (sockets, state, log) in the work dir, one mail uid, maildirs. $1: the
# instance name. Uses T, MAIL_UID.
dovecot_conf_common() {
    cat <<EOF
base_dir = $T/run
state_dir = $T/state
instance_name = $1
log_path = $T/dovecot.log
info_log_path = $T/dovecot.log
auth_verbose = yes
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
EOF
}

# Users from the passwd-file $T/users (PLAIN passwords, so that CRAM-MD5,
# DIGEST-MD5 and APOP work), all mapped to MAIL_UID/MAIL_GID with their home
# under $T/mail. $1: username_format of the lookup, $2: the home's last part
# (%u or %n), [$3: more userdb args].
dovecot_conf_users() {
    cat <<EOF
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=$1 $T/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$T/mail/$2${3:+ $3}
}
EOF
}

# Checks a generated dovecot config, then starts dovecot in the server
# namespace (it daemonizes; stop_dovecot stops it).
start_dovecot() {           # $1: config file
    /usr/sbin/dovecot -c "$1" -n >/dev/null || die "dovecot rejects the generated config $1"
    ip netns exec "$NS_SRV" /usr/sbin/dovecot -c "$1"
}

cli() { ip netns exec "$NS_CLI" "$@"; }

# tcpdump on the client's veth end, every TCP packet, written at once.
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
    if [ "${TCPDUMP_STATS:-1}" = 1 ]; then
        sed -n -E 's/^([0-9]+ packets? (captured|dropped by kernel))$/    tcpdump: \1/p' "$T/tcpdump.err"
    fi
    if grep -qE '^[1-9][0-9]* packets? dropped by kernel' "$T/tcpdump.err"; then
        die "tcpdump dropped packets"
    fi
}

install_outputs() {         # $1 directory, rest: files (mode 644)
    local dir=$1 f
    shift
    for f in "$@"; do
        install -m 644 "$f" "$dir/$(basename "$f")"
    done
}
