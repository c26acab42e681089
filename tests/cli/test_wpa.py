#!/usr/bin/python3
"""WPA2-Personal decryption from the command line (README, "Reading a
WPA2 hotspot"), end to end on the captures of pcaps/wifi
(pcaps/gen/wpa_gen.py; tshark checks them, test_wpa_oracle.py):

- with the passphrase (--wpa-passphrase SSID:PASSPHRASE, the same in a
  --wpa-passphrase-file, or the PMK as --wpa-psk HEX computed here with
  hashlib), every login and every message of the decryptable clients, the
  ones their source captures' expected files list, each event with the
  `ether` object (client MAC, gateway MAC, BSSID) the generator gave;
- without it, or with a passphrase of another network only: no login, no
  message; the frames counted as not decrypted (no_passphrase when a
  secret was given for other networks);
- with a wrong passphrase: no login, a wifi_wrong_passphrase anomaly for
  each client whose handshake was captured, naming the client, and none
  naming a group address (the group frames) as a client;
- the client whose handshake is not in the capture: one wifi_no_handshake
  anomaly naming it, none of its traffic;
- the passphrase split at the first colon not escaped: a passphrase with a
  colon (the rest of the argument as is), an SSID with "\\:" and "\\\\",
  on a capture made here with wpa_gen.py's functions;
- bad secrets are usage errors (exit 2): a passphrase of fewer than 8 or
  more than 63 characters, no colon, a PSK not of 64 hex digits; an
  unreadable passphrase file exits 1 (README, exit status);
- --threads 2 writes the same events as one thread;
- the passphrase never appears in any output or log: JSON in every
  --passwords mode, --text, stderr, usage errors.

  test_wpa.py MAILSPILL REPO"""
import collections
import hashlib
import json
import os
import subprocess
import sys
import tempfile

BIN, REPO = sys.argv[1], sys.argv[2]
WIFI = os.path.join(REPO, "pcaps", "wifi")
CCMP = os.path.join(WIFI, "wpa2-ccmp.pcap")
AMSDU = os.path.join(WIFI, "wpa2-amsdu.pcap")
WRONG = os.path.join(WIFI, "wpa2-wrong-passphrase.pcap")
SHA256 = os.path.join(WIFI, "wpa2-psk-sha256.pcap")
CAFE = ("Cafe Corner", "espresso at the counter, 42")
FIVE = ("Cafe Corner 5G", "Cafe 5G: ask at the bar!")
BACK_REAL = ("Cafe Back Room", "the real one is on the sign")
BSSID = "00:1a:2b:3c:4d:5e"
GW = "00:1a:2b:3c:4d:01"
CLIENT_A, CLIENT_B, CLIENT_C = "d8:3a:dd:10:20:0a", "d8:3a:dd:10:20:0b", "d8:3a:dd:10:20:0c"
SECRETS = [CAFE[1], FIVE[1], BACK_REAL[1], "the one someone guessed", "transition mode, psk-sha256"]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run(args, show=True):
    argv = [BIN] + (["--show-passwords"] if show else []) + args
    r = subprocess.run(argv, capture_output=True, timeout=120)
    evs = []
    for line in r.stdout.decode("utf-8", errors="replace").splitlines():
        try:
            evs.append(json.loads(line))
        except ValueError:
            pass
    for s in SECRETS:
        for blob, where in ((r.stdout, "stdout"), (r.stderr, "stderr")):
            check(s.encode() not in blob and json.dumps(s)[1:-1].encode() not in blob,
                  f"{' '.join(args)[:120]}: the passphrase {s!r} is in its {where}")
    return r.returncode, evs, r.stderr.decode(errors="replace")


def pw(ssid, passphrase):
    return ["--wpa-passphrase", f"{ssid}:{passphrase}"]


def content(evs):
    """The logins and messages, as facts independent of run details."""
    out = collections.Counter()
    for e in evs:
        if e.get("event_type") == "alert":
            c = e["credential"]
            out[("alert", e["src_ip"], e["src_port"], e["dest_port"], c.get("username"),
                 c.get("password"), c.get("outcome"))] += 1
        elif e.get("event_type") == "email":
            out[("email", e["src_ip"], e["src_port"], e["dest_port"], e["email"].get("sha256"),
                 e["email"].get("size"))] += 1
    return out


def expected(capture):
    with open(capture.rsplit(".", 1)[0] + ".expected.json", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def stats(evs):
    s = [e for e in evs if e.get("event_type") == "stats"]
    return s[-1]["stats"] if s else {}


def anomalies(evs, code):
    return [e for e in evs if e.get("event_type") == "anomaly"
            and e.get("anomaly", {}).get("event") == code]


def names_client(e, client):
    """The anomaly names the client: in its ether object or its text."""
    return e.get("ether", {}).get("src_mac") == client or \
        client in e.get("anomaly", {}).get("detail", "")


def test_decrypts(tmp):
    want = content(expected(CCMP))
    check(len(want) == 7, f"wpa2-ccmp.expected.json lists {len(want)} logins and messages, not 7")
    psk_file = os.path.join(tmp, "secrets")
    with open(psk_file, "w", encoding="utf-8") as f:
        f.write("# the café's sign\n" + f"{CAFE[0]}:{CAFE[1]}\n")
    pmk = hashlib.pbkdf2_hmac("sha1", CAFE[1].encode(), CAFE[0].encode(), 4096, 32).hex()
    runs = {}
    for how, args in (("--wpa-passphrase", pw(*CAFE)), ("--wpa-passphrase-file", ["--wpa-passphrase-file", psk_file]),
                      ("--wpa-psk", ["--wpa-psk", pmk]), ("--wpa-psk upper case", ["--wpa-psk", pmk.upper()])):
        rc, evs, err = run(args + ["-r", CCMP])
        check(rc == 0, f"{how}: exit {rc}: {err[-300:]}")
        check(content(evs) == want, f"{how}: logins and messages {sorted(content(evs))} != {sorted(want)}")
        for e in evs:
            if e.get("event_type") in ("alert", "email"):
                client = CLIENT_A if e["src_ip"] == "10.0.0.5" else CLIENT_C
                check(e.get("ether") == {"src_mac": client, "dest_mac": GW, "bssid": BSSID},
                      f"{how}: ether {e.get('ether')} on {e['event_type']} of port {e['src_port']}")
        nh = anomalies(evs, "wifi_no_handshake")
        check(len(nh) == 1 and names_client(nh[0], CLIENT_B),
              f"{how}: wifi_no_handshake anomalies {nh} (one, for {CLIENT_B})")
        check(not any(names_client(e, CLIENT_A) or names_client(e, CLIENT_C)
                      for e in evs if e.get("event_type") == "anomaly"),
              f"{how}: an anomaly about a client that was decrypted")
        st = stats(evs).get("decoder", {})
        check(st.get("wifi_decrypted", 0) > 80, f"{how}: decoder.wifi_decrypted {st.get('wifi_decrypted')}")
        check(st.get("wifi_undecrypted", {}).get("no_handshake", 0) >= 10,
              f"{how}: decoder.wifi_undecrypted {st.get('wifi_undecrypted')} (client B's 20 frames)")
        runs[how] = evs
    return runs["--wpa-passphrase"]


def test_without(evs_with):
    for how, args in (("no secret", []), ("another network's passphrase", pw("Library", "books and more books"))):
        rc, evs, err = run(args + ["-r", CCMP])
        check(rc == 0, f"{how}: exit {rc}: {err[-300:]}")
        check(not content(evs), f"{how}: {sum(content(evs).values())} logins or messages")
        st = stats(evs).get("decoder", {})
        check(not st.get("wifi_decrypted"), f"{how}: decoder.wifi_decrypted {st.get('wifi_decrypted')}")
        if args:
            check(st.get("wifi_undecrypted", {}).get("no_passphrase", 0) > 50,
                  f"{how}: decoder.wifi_undecrypted {st.get('wifi_undecrypted')}")
            np = anomalies(evs, "wifi_no_passphrase")
            check(np and not any(CAFE[1] in json.dumps(e) for e in np),
                  f"{how}: wifi_no_passphrase anomalies {np}")


def test_wrong():
    rc, evs, err = run(pw(CAFE[0], "a wrong passphrase here") + ["-r", CCMP])
    check(rc == 0, f"wrong passphrase: exit {rc}: {err[-300:]}")
    check(not content(evs), f"wrong passphrase: {sum(content(evs).values())} logins or messages")
    wrong = anomalies(evs, "wifi_wrong_passphrase")
    for client in (CLIENT_A, CLIENT_C):
        check(sum(1 for e in wrong if names_client(e, client)) == 1,
              f"wrong passphrase: wifi_wrong_passphrase for {client}: {wrong}")
    check(all("a wrong passphrase here" not in json.dumps(e) for e in evs), "wrong passphrase echoed")
    # The group-addressed frames (under a GTK nobody could unwrap) belong
    # to no client: no anomaly may name a group address as one.
    groups = [e for e in evs if e.get("event_type") == "anomaly"
              and int(e.get("ether", {}).get("src_mac", "00")[:2], 16) & 1]
    check(not groups, f"wrong passphrase: anomalies naming a group address as a client: {groups}")
    # The capture whose hotspot.psk line is wrong; its real passphrase reads it.
    rc, evs, _ = run(["--wpa-passphrase-file", os.path.join(WIFI, "hotspot.psk"), "-r", WRONG])
    check(len(anomalies(evs, "wifi_wrong_passphrase")) == 1 and not content(evs),
          f"wpa2-wrong-passphrase with hotspot.psk: {evs[:3]}")
    rc, evs, _ = run(pw(*BACK_REAL) + ["-r", WRONG])
    check(sum(content(evs).values()) == 2 and not anomalies(evs, "wifi_wrong_passphrase"),
          f"wpa2-wrong-passphrase with its real passphrase: {sorted(content(evs))}")


def test_split(tmp):
    """A colon in the passphrase; "\\:" and "\\\\" in the SSID."""
    rc, evs, err = run(pw(*FIVE) + ["-r", AMSDU])
    check(rc == 0 and content(evs) == content(expected(AMSDU)),
          f"a passphrase with a colon: {sorted(content(evs))}: {err[-200:]}")
    sys.path.insert(0, os.path.join(REPO, "pcaps", "gen"))
    try:
        import wpa_gen
    except ImportError as e:
        check(os.environ.get("MS_REQUIRE_ALL") != "1", f"wpa_gen.py cannot be imported: {e}")
        return
    ssid, passphrase = "Lobby:Guest\\Net", "back\\slash:colon"
    net = wpa_gen.Network(ssid, "00:1a:2b:3c:4d:99")
    cl = wpa_gen.Client(net, "d8:3a:dd:10:20:99", wpa_gen.GW, passphrase)
    wpa_gen.one_client(tmp, "lobby", net, cl, "pop3/nonstandard-port-2110.pcap", "10.0.0.5",
                       1767240000 * 10**6)
    cap = os.path.join(tmp, "lobby.pcap")
    want = content(wpa_gen.source_events("pop3/nonstandard-port-2110.pcap", {}))
    rc, evs, err = run(["--wpa-passphrase", "Lobby\\:Guest\\\\Net:" + passphrase, "-r", cap])
    check(rc == 0 and content(evs) == want and want,
          f"SSID {ssid!r} escaped: {sorted(content(evs))} != {sorted(want)}: {err[-200:]}")
    rc, evs, _ = run(["--wpa-passphrase", "Lobby:Guest\\\\Net:" + passphrase, "-r", cap])
    check(not content(evs), "an unescaped colon in the SSID still split there")


def test_non_qos(tmp):
    """Plain (non-QoS) data frames, as legacy stations and many APs send:
    CCMP's AAD then has no QoS field and the nonce's priority is 0."""
    sys.path.insert(0, os.path.join(REPO, "pcaps", "gen"))
    try:
        import wpa_gen
    except ImportError as e:
        check(os.environ.get("MS_REQUIRE_ALL") != "1", f"wpa_gen.py cannot be imported: {e}")
        return
    net = wpa_gen.Network("Legacy", "00:1a:2b:3c:4d:98")
    cl = wpa_gen.Client(net, "d8:3a:dd:10:20:98", wpa_gen.GW, "plain data 2026")
    cl.qos = False
    wpa_gen.one_client(tmp, "legacy", net, cl, "pop3/nonstandard-port-2110.pcap", "10.0.0.5",
                       1767240000 * 10**6)
    want = content(wpa_gen.source_events("pop3/nonstandard-port-2110.pcap", {}))
    rc, evs, err = run(["--wpa-passphrase", "Legacy:plain data 2026", "-r",
                        os.path.join(tmp, "legacy.pcap")])
    check(rc == 0 and want and content(evs) == want,
          f"non-QoS data frames: {sorted(content(evs))} != {sorted(want)}: {err[-200:]}")


def test_usage():
    for args in (pw("Cafe Corner", "short"), pw("Cafe Corner", "x" * 64), ["--wpa-passphrase", "nocolon"],
                 ["--wpa-psk", "abcd"], ["--wpa-psk", "g" * 64]):
        rc, evs, err = run(args + ["-r", CCMP])
        check(rc == 2 and not evs, f"{args}: exit {rc}, not a usage error (2): {err[-200:]}")
        check(args[-1] not in err, f"{args}: the secret is echoed in the error: {err[-200:]}")
    # A file that cannot be read is like a --hash-key that cannot: exit 1
    # (README, exit status), before any event.
    rc, evs, err = run(["--wpa-passphrase-file", "/nonexistent/x", "-r", CCMP])
    check(rc == 1 and not evs and "--wpa-passphrase-file" in err,
          f"an unreadable --wpa-passphrase-file: exit {rc}, {len(evs)} events: {err[-200:]}")


def test_modes_and_threads(base):
    for mode in ("redact", "mask", "hash"):
        for text in ([], ["--text"]):
            with tempfile.TemporaryDirectory() as tmp:
                extra = []
                if mode == "hash":
                    key = os.path.join(tmp, "key")
                    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
                    os.write(fd, b"test_wpa: an HMAC key of 32 bytes or more\n")
                    os.close(fd)
                    extra = ["--hash-key", key]
                rc, _, err = run(["--passwords", mode] + extra + text + pw(*CAFE) + ["-r", CCMP],
                                 show=False)
                check(rc == 0, f"--passwords {mode} {text}: exit {rc}: {err[-200:]}")
    one = [json.dumps(e, sort_keys=True) for e in base if e["event_type"] != "stats"]
    rc1, evs1, _ = run(["--threads", "1"] + pw(*CAFE) + pw(*FIVE) + ["-r", CCMP, "-r", AMSDU])
    for n in (2, 3):
        rc, evs, err = run(["--threads", str(n)] + pw(*CAFE) + pw(*FIVE) + ["-r", CCMP, "-r", AMSDU])
        a = collections.Counter(json.dumps(e, sort_keys=True) for e in evs1 if e["event_type"] != "stats")
        b = collections.Counter(json.dumps(e, sort_keys=True) for e in evs if e["event_type"] != "stats")
        check(rc == 0 and a == b and sum(a.values()) > len(one),
              f"--threads {n}: {sum((a - b).values())} events only with one thread, "
              f"{sum((b - a).values())} only with {n}: {err[-200:]}")


def main():
    for c in (CCMP, AMSDU, WRONG, SHA256):
        if not os.path.exists(c):
            print(f"FAIL: {c} is missing (pcaps/gen/wpa_gen.py)")
            return 1
    with tempfile.TemporaryDirectory(prefix="mailspill-wpa-") as tmp:
        base = test_decrypts(tmp)
        test_without(base)
        test_wrong()
        test_split(tmp)
        test_non_qos(tmp)
        test_usage()
        test_modes_and_threads(base)
    print("wpa: " + ("FAILED" if failures else "every check passed"))
    return 1 if failures else 0


sys.exit(main())
