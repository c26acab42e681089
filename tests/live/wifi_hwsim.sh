#!/bin/bash
# WPA2-Personal over the air with the kernel's simulated radios
# (mac80211_hwsim): hostapd (WPA2-PSK, CCMP) in namespace msw-ap,
# wpa_supplicant in msw-sta, a POP3 login between them, and mailspill on a
# third radio in monitor mode (--monitor) with the passphrase. The login
# must be reported, with the client's station in ether, and the passphrase
# appear nowhere in mailspill's output.
#
# Hardware-dependent: it needs root, the mac80211_hwsim module (containers
# and most CI runners cannot load modules), hostapd, wpa_supplicant and iw;
# registered only with cmake -DMS_TEST_HWSIM=ON (tests/live/CMakeLists.txt).
# Without them it is skipped (77), also with MS_REQUIRE_ALL=1: what is
# missing is the kernel's, not the build's (README "Wi-Fi").
#
#   wifi_hwsim.sh MAILSPILL
set -u
BIN=$(readlink -f "$1")
SSID=mailspill-hwsim
PASS='hwsim passphrase: 42'
USER_=alice PW='Hwsim 2026!pw'

skip() {
    printf 'wifi_hwsim.sh: skipped (hardware-dependent): %s\n' "$*"
    exit 77
}
fail() {
    printf 'wifi_hwsim.sh: FAIL: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || skip "not root"
for t in hostapd wpa_supplicant iw ip python3; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
done
if [ ! -d /sys/module/mac80211_hwsim ]; then
    modprobe mac80211_hwsim radios=3 >/dev/null 2>&1 || skip "mac80211_hwsim cannot be loaded"
    LOADED=1
fi

WORK=$(mktemp -d /tmp/mailspill-hwsim.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del msw-ap 2>/dev/null
    ip netns del msw-sta 2>/dev/null
    [ -n "${LOADED:-}" ] && rmmod mac80211_hwsim 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# The hwsim radios, by their phy names.
mapfile -t PHYS < <(for p in /sys/class/ieee80211/*; do
    [ "$(basename "$(readlink -f "$p/device/driver")")" = mac80211_hwsim ] && basename "$p"
done)
[ "${#PHYS[@]}" -ge 3 ] || skip "fewer than 3 hwsim radios"
ip netns add msw-ap && ip netns add msw-sta || skip "network namespaces not allowed"
iw phy "${PHYS[0]}" set netns name msw-ap || fail "cannot move ${PHYS[0]} to msw-ap"
iw phy "${PHYS[1]}" set netns name msw-sta || fail "cannot move ${PHYS[1]} to msw-sta"
AP_IF=$(ip netns exec msw-ap ls /sys/class/net | grep -v '^lo$' | head -1)
STA_IF=$(ip netns exec msw-sta ls /sys/class/net | grep -v '^lo$' | head -1)
MON_IF=$(ls "/sys/class/ieee80211/${PHYS[2]}/device/net" | head -1)
[ -n "$AP_IF" ] && [ -n "$STA_IF" ] && [ -n "$MON_IF" ] || fail "interfaces not found"

# The capture radio: monitor mode on channel 1, before the client joins
# (its 4-way handshake must be captured).
ip link set "$MON_IF" down
iw dev "$MON_IF" set type monitor || fail "cannot set $MON_IF to monitor"
ip link set "$MON_IF" up
iw dev "$MON_IF" set channel 1 || fail "cannot tune $MON_IF"
"$BIN" -i "$MON_IF" --monitor --wpa-passphrase "$SSID:$PASS" --show-passwords \
    -o "$WORK/eve.json" 2>"$WORK/mailspill.err" &
MS=$!
PIDS+=("$MS")

cat >"$WORK/hostapd.conf" <<CONF
interface=$AP_IF
driver=nl80211
ssid=$SSID
hw_mode=g
channel=1
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=$PASS
CONF
cat >"$WORK/wpa.conf" <<CONF
network={
    ssid="$SSID"
    psk="$PASS"
    key_mgmt=WPA-PSK
    proto=RSN
    pairwise=CCMP
}
CONF
ip netns exec msw-ap ip addr add 10.77.0.1/24 dev "$AP_IF"
ip netns exec msw-ap ip link set "$AP_IF" up
ip netns exec msw-ap hostapd "$WORK/hostapd.conf" >"$WORK/hostapd.log" 2>&1 &
PIDS+=("$!")
sleep 2
ip netns exec msw-sta ip addr add 10.77.0.2/24 dev "$STA_IF"
ip netns exec msw-sta ip link set "$STA_IF" up
ip netns exec msw-sta wpa_supplicant -i "$STA_IF" -c "$WORK/wpa.conf" >"$WORK/wpa.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 40); do
    grep -q CTRL-EVENT-CONNECTED "$WORK/wpa.log" && break
    sleep 0.25
done
grep -q CTRL-EVENT-CONNECTED "$WORK/wpa.log" || fail "the station did not connect: $(tail -3 "$WORK/wpa.log")"

# A POP3 login from the station to a one-shot server on the AP.
ip netns exec msw-ap python3 - >/dev/null 2>&1 <<'PY' &
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.1", 110)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); f = c.makefile("rb")
c.sendall(b"+OK hwsim POP3\r\n")
for reply in (b"+OK\r\n", b"+OK Logged in.\r\n", b"+OK Bye\r\n"):
    if not f.readline():
        break
    c.sendall(reply)
c.close()
PY
PIDS+=("$!")
sleep 1
ip netns exec msw-sta python3 - "$USER_" "$PW" <<'PY' || fail "the POP3 client failed"
import socket, sys
c = socket.create_connection(("10.77.0.1", 110), timeout=10); f = c.makefile("rb")
f.readline()
for line in (b"USER " + sys.argv[1].encode(), b"PASS " + sys.argv[2].encode(), b"QUIT"):
    c.sendall(line + b"\r\n"); f.readline()
PY
sleep 2
kill -INT "$MS"
wait "$MS" || fail "mailspill exited $?: $(cat "$WORK/mailspill.err")"

python3 - "$WORK/eve.json" "$USER_" "$PW" "$PASS" <<'PY' || exit 1
import json, sys
path, user, pw, passphrase = sys.argv[1:]
raw = open(path, encoding="utf-8").read()
if passphrase in raw:
    sys.exit("wifi_hwsim.sh: FAIL: the passphrase is in the output")
evs = [json.loads(l) for l in raw.splitlines() if l.strip()]
alerts = [e for e in evs if e["event_type"] == "alert"
          and e["credential"].get("username") == user and e["credential"].get("password") == pw]
if not alerts:
    sys.exit("wifi_hwsim.sh: FAIL: the login was not decrypted: %s" % raw[-800:])
if not alerts[0].get("ether", {}).get("bssid"):
    sys.exit("wifi_hwsim.sh: FAIL: no ether on the login: %s" % alerts[0])
st = [e for e in evs if e["event_type"] == "stats"][-1]["stats"]
print("wifi_hwsim.sh: ok: login decrypted; %d frames decrypted, %d handshakes"
      % (st["decoder"]["wifi_decrypted"], st["wpa"]["handshakes"]))
PY
