#!/bin/sh
# Installs the Debian 12 packages mailspill needs, only those missing, so a
# prepared machine does not touch the network.
#
#   scripts/install-deps.sh [build] [test] [lint] [clang] [pcaps] [bench]   (no argument: build test)
#
#   build  compile mailspill (make build, make demo); hiredis for the redis sinks,
#          libmicrohttpd for --web
#   test   run the suite (make test, make test-san): cmocka (unit tests),
#          python3 and jsonschema (golden, cli, schema tests), zstd (the cli
#          test compresses captures; gzip and xz are Python's), iproute2 and
#          dovecot (live test; it starts its own dovecot in a namespace),
#          redis-server (the redis sink tests start their own on loopback),
#          postfix, openssl and scapy (session and STARTTLS tests),
#          chromium and python3-websocket (the --web page test drives a
#          headless chromium over its DevTools protocol), tshark (the
#          oracle of the WPA2 captures, tests/cli/test_wpa_oracle.py) and
#          python3-cryptography (tests/cli/test_wpa.py builds captures with
#          pcaps/gen/wpa_gen.py; scapy only recommends it)
#   lint   scripts/lint.sh (make lint): cppcheck, clang-tidy, clang-format, and the cmocka
#          headers, since the unit tests are analysed too
#   clang  the suite built with clang too (make test-san-clang, make fuzz):
#          clang and its libFuzzer/sanitizer runtimes
#   pcaps  regenerating the captures (make pcaps, pcaps/gen/): the servers
#          (dovecot, postfix) and clients the generators run in namespaces;
#          python3-cryptography for the WPA2 captures' CCMP (wpa_gen.py)
#   bench  the peers make bench times beside mailspill (bench/bench.py):
#          tshark, ettercap (text only), dsniff, ndpiReader (libndpi-bin)
#
# wireshark-common asks whether non-root users may capture: preseeded to
# no, so the install stays non-interactive and adds no setuid dumpcap.
# Installing must leave no daemon behind: Debian's dovecot starts a POP3 and
# IMAP server on install and at every boot. So apt-get runs with a
# policy-rc.d that forbids starting any service (the previous policy-rc.d
# is put back afterwards, also on failure), and the units of the packages
# this run installed are then disabled (stopped too when systemd runs).
# A dovecot that was already installed is left as it was.
set -eu
BUILD_PKGS="build-essential cmake pkg-config libpcap-dev libndpi-dev libjson-c-dev libssl-dev
            libbsd-dev zlib1g-dev liblzma-dev libzstd-dev libhiredis-dev
            libmicrohttpd-dev"
TEST_PKGS="libcmocka-dev python3 python3-jsonschema zstd
           iproute2 dovecot-core dovecot-pop3d dovecot-imapd dovecot-submissiond
           redis-server postfix openssl python3-scapy chromium python3-websocket tshark
           python3-cryptography"
LINT_PKGS="cppcheck clang-tidy clang-format libcmocka-dev"
CLANG_PKGS="clang libclang-rt-14-dev"
# libnet-ssleay-perl: swaks --tls (smtp/starttls-no-credential) needs it, and
# swaks only recommends it, which --no-install-recommends below skips.
PCAPS_PKGS="dovecot-core dovecot-pop3d dovecot-imapd dovecot-lmtpd tcpdump curl iproute2 ethtool
            python3 openssl python3-scapy postfix swaks libnet-ssleay-perl python3-cryptography"
BENCH_PKGS="tshark ettercap-text-only dsniff libndpi-bin"
POLICY=/usr/sbin/policy-rc.d
SAVED=$POLICY.mailspill-saved
MARK="# written by mailspill scripts/install-deps.sh while it installs"

[ $# -gt 0 ] || set -- build test
PKGS=""
for group in "$@"; do
    case $group in
    build) PKGS="$PKGS $BUILD_PKGS" ;;
    test) PKGS="$PKGS $TEST_PKGS" ;;
    lint) PKGS="$PKGS $LINT_PKGS" ;;
    clang) PKGS="$PKGS $CLANG_PKGS" ;;
    pcaps) PKGS="$PKGS $PCAPS_PKGS" ;;
    bench) PKGS="$PKGS $BENCH_PKGS" ;;
    *)
        echo "usage: $0 [build] [test] [lint] [clang] [pcaps] [bench]" >&2
        exit 2
        ;;
    esac
done
missing=""
for p in $PKGS; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "mailspill: missing packages:$missing" >&2
    echo "run as root, or: sudo apt-get install -y$missing" >&2
    exit 1
fi

# Puts back the policy-rc.d that was there before (or none). Also run first:
# a run killed with SIGKILL leaves its own in place.
restore_policy() {
    if [ -e "$SAVED" ] || [ -L "$SAVED" ]; then
        mv -f "$SAVED" "$POLICY"
    elif grep -qsF "$MARK" "$POLICY"; then
        rm -f "$POLICY"
    fi
}

# Disables the services that the packages "$@" ship (systemd services and
# sockets, SysV init scripts): stopped and disabled when systemd runs;
# otherwise (a container, a chroot) nothing runs, and only the links that
# would start them at boot go.
quiet_services() {
    files=$(dpkg -L "$@" 2>/dev/null) || true
    units=$(printf '%s\n' "$files" |
        sed -n 's@^\(/usr\)\{0,1\}/lib/systemd/system/\([^/@]*\.\(service\|socket\)\)$@\2@p' |
        sort -u | tr '\n' ' ')
    scripts=$(printf '%s\n' "$files" | sed -n 's@^/etc/init\.d/\([^/]*\)$@\1@p' | sort -u)
    [ -n "$units$scripts" ] || return 0
    if [ -d /run/systemd/system ] && [ -n "$units" ]; then
        echo "install-deps.sh: stopping and disabling $units"
        # shellcheck disable=SC2086
        systemctl disable --now $units
    elif command -v systemctl >/dev/null; then
        # No systemd running: offline, links only (SysV ones too).
        # shellcheck disable=SC2086
        [ -z "$units" ] || systemctl disable $units >/dev/null 2>&1 ||
            echo "install-deps.sh: warning: could not disable $units" >&2
    else
        # shellcheck disable=SC2086
        [ -z "$units" ] || ! command -v deb-systemd-helper >/dev/null ||
            deb-systemd-helper disable $units ||
            echo "install-deps.sh: warning: could not disable $units" >&2
        for sc in $scripts; do
            ! command -v update-rc.d >/dev/null || update-rc.d "$sc" disable >/dev/null 2>&1 ||
                echo "install-deps.sh: warning: could not disable /etc/init.d/$sc" >&2
        done
    fi
}

# One install at a time (make -j, two checkouts): they share policy-rc.d.
lockdir=/run/lock
[ -d "$lockdir" ] || lockdir=/tmp
exec 9>"$lockdir/mailspill-install-deps.lock"
flock -w 900 9 || { echo "install-deps.sh: another install holds the lock" >&2; exit 1; }
restore_policy
trap restore_policy EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
    mv -f "$POLICY" "$SAVED"
fi
printf '#!/bin/sh\n%s\nexit 101\n' "$MARK" >"$POLICY.new"
chmod 755 "$POLICY.new"
mv -f "$POLICY.new" "$POLICY"

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix: installed unconfigured, no system instance (the capture scripts
# run their own inside a namespace).
case " $missing " in
*" postfix "*) echo 'postfix postfix/main_mailer_type select No configuration' |
    debconf-set-selections ;;
esac
case " $missing " in
*" tshark "*) echo 'wireshark-common wireshark-common/install-setuid boolean false' |
    debconf-set-selections ;;
esac
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
restore_policy
trap - EXIT HUP INT TERM
# shellcheck disable=SC2086
quiet_services $missing
