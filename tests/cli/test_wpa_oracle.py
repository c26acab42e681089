#!/usr/bin/python3
"""Wireshark is the independent oracle of the WPA2 captures of pcaps/wifi
(made by pcaps/gen/wpa_gen.py with its own crypto): tshark, given the
secrets the captures' .args sidecars give mailspill (the passphrase file
pcaps/wifi/hotspot.psk, a PSK), must decrypt them to exactly the TCP
segments of the recorded sessions they were made from -- every segment of
every connection, addresses, ports, raw sequence and acknowledgement
numbers, flags and payload bytes, in the same order, nothing else -- and
must read nothing of the traffic the generator encrypted under keys no
capture holds (a client whose handshake was not captured) or under another
passphrase (wpa2-wrong-passphrase.pcap, which the real passphrase, stated
in pcaps/README.md, must decrypt whole). tshark decrypting also checks the
handshakes themselves: it takes a passphrase only when message 2's MIC
verifies, unwraps the group key from message 3 (the group-addressed ARP and
mDNS frames must come out), follows the re-key inside CCMP, and reads
A-MSDUs and PSK-SHA256 (AKM 6: KDF-SHA256, AES-CMAC MICs; tshark 4.0 of
Debian 12 decrypts it). The FCS of every frame must be good.

Both sides are read by tshark's own dissectors, never by this project's
code. Exits 77 (skip) without tshark, 1 then with MS_REQUIRE_ALL=1 (CI).

  test_wpa_oracle.py REPO"""
import os
import shutil
import subprocess
import sys
import urllib.parse

REPO = sys.argv[1]
sys.path.insert(0, os.path.join(REPO, "tests", "golden"))
from capture_args import capture_args  # noqa: E402

WIFI = os.path.join(REPO, "pcaps", "wifi")
# capture: (source sessions it must decrypt to, source sessions it must not
# show, a key it must not be read without)
CASES = {
    "wpa2-ccmp.pcap": (["pop3/demo-userpass-retr.pcap", "pop3/auth-plain-authzid.pcap"],
                       ["imap/nonstandard-port-1143.pcap"]),
    "wpa2-amsdu.pcap": (["imap/logins-fetch-append.pcap"], []),
    "wpa2-psk-sha256.pcap": (["smtp/auth-mechanisms.pcap"], []),
    "wpa2-wrong-passphrase.pcap": ([], ["pop3/nonstandard-port-2110.pcap"]),
}
# The real passphrase of the network hotspot.psk gets wrong on purpose.
REAL = {"wpa2-wrong-passphrase.pcap": ("Cafe Back Room", "the real one is on the sign")}
FIELDS = ("ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
          "tcp.flags", "tcp.len", "tcp.payload")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def keys_of(args):
    """tshark's 80211_keys records for mailspill's secrets arguments: a
    passphrase file's SSID:PASSPHRASE lines (split at the first colon, the
    passphrase the rest of the line), a PSK as such."""
    out = []
    it = iter(args)
    for a in it:
        if a == "--wpa-passphrase-file":
            with open(next(it), encoding="utf-8") as f:
                for line in f:
                    line = line.rstrip("\n")
                    if line.strip() and not line.lstrip().startswith("#"):
                        ssid, pw = line.split(":", 1)
                        out.append(("wpa-pwd", pw, ssid))
        elif a == "--wpa-psk":
            out.append(("wpa-psk", next(it), None))
    return out


def uat(keys):
    opts = ["-o", "wlan.enable_decryption:TRUE"]
    for kind, secret, ssid in keys:
        # tshark's "passphrase:ssid", each percent-encoded (a colon in it).
        v = secret if ssid is None else \
            urllib.parse.quote(secret, safe=" !,") + ":" + urllib.parse.quote(ssid, safe=" ")
        opts += ["-o", f'uat:80211_keys:"{kind}","{v}"']
    return opts


SOURCES = {}


def source(rel):
    """segments() of a source capture of pcaps/, read once."""
    if rel not in SOURCES:
        SOURCES[rel] = segments(os.path.join(REPO, "pcaps", rel))
    return SOURCES[rel]


def segments(capture, opts=()):
    """Every TCP segment tshark reads in capture, in order: (src, dst,
    sport, dport, seq, ack, flags, payload hex); several per frame in an
    A-MSDU."""
    r = subprocess.run(["tshark", "-n", "-r", capture, *opts, "-Y", "tcp", "-T", "fields",
                        "-E", "occurrence=a", "-E", "aggregator=;"]
                       + sum((["-e", f] for f in FIELDS), []),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        check(False, f"tshark -r {capture}: exit {r.returncode}: {r.stderr[-500:]}")
        return []
    out = []
    for line in r.stdout.splitlines():
        cols = [c.split(";") if c else [] for c in line.split("\t")]
        payloads = iter(cols[8])
        for i in range(len(cols[7])):
            n = int(cols[7][i])
            out.append(tuple(cols[k][i] for k in range(7)) + (next(payloads) if n else "",))
    return out


def fields(capture, opts, filt, *names):
    r = subprocess.run(["tshark", "-n", "-r", capture, *opts, "-Y", filt, "-T", "fields"]
                       + sum((["-e", f] for f in names), []),
                       capture_output=True, text=True, timeout=120)
    return [line.split("\t") for line in r.stdout.splitlines()]


def tuples(segs):
    return {s[:4] for s in segs}


def main():
    if shutil.which("tshark") is None:
        if os.environ.get("MS_REQUIRE_ALL") == "1":
            print("FAIL: tshark is missing (scripts/install-deps.sh test), and MS_REQUIRE_ALL=1")
            return 1
        print("SKIP: tshark is missing (Debian package tshark)")
        return 77
    found = sorted(f for f in os.listdir(WIFI) if f.endswith(".pcap"))
    check(found == sorted(CASES), f"pcaps/wifi holds {found}, this test knows {sorted(CASES)}")
    for name, (readable, unreadable) in sorted(CASES.items()):
        cap = os.path.join(WIFI, name)
        if not os.path.exists(cap):
            continue
        keys = keys_of(capture_args(cap))
        check(keys, f"{name}: no secret in its .args")
        opts = uat(keys)
        got = segments(cap, opts)
        # 802.11 retransmissions (Retry, same sequence number) are the same
        # frame captured twice: each copy must decrypt when its original
        # does (CCMP's AAD leaves Retry out), to the same segments.
        frames = fields(cap, opts, "wlan.fc.type == 2 && wlan.fc.protected == 1", "wlan.fc.retry",
                        "wlan.ta", "wlan.seq", "ip.src")
        orig, retries = {}, []
        for retry, ta, sn, ip in frames:
            if retry == "0":
                orig[(ta, sn)] = bool(ip)
            else:
                check((ta, sn) in orig and orig[(ta, sn)] == bool(ip),
                      f"{name}: a retransmission from {ta} (sequence {sn}) "
                      f"{'decrypts' if ip else 'does not decrypt'}, unlike its original")
                if ip:
                    retries.append(sn)
        check(len(frames) - len(orig) >= 3 or name in ("wpa2-amsdu.pcap", "wpa2-wrong-passphrase.pcap"),
              f"{name}: only {len(frames) - len(orig)} retransmitted protected frames")
        want = []
        for src in readable:
            want += source(src)
        kept, seen = [], set()
        for s in got:
            if s in seen:
                continue
            seen.add(s)
            kept.append(s)
        check(len(got) - len(kept) == len(retries),
              f"{name}: {len(got) - len(kept)} repeated segments, {len(retries)} 802.11 retransmissions")
        for src in readable:
            mine = source(src)
            ts = tuples(mine)
            theirs = [s for s in kept if s[:4] in ts]
            check(theirs == mine, f"{name}: tshark decrypts {len(theirs)} segments of {src}'s "
                                  f"connections, the source has {len(mine)}"
                                  + ("" if len(theirs) != len(mine) else " (different ones)"))
        check(set(kept) == set(want), f"{name}: {len(set(kept) - set(want))} decrypted segments "
                                      f"belong to no source session")
        for src in unreadable:
            ts = tuples(source(src))
            check(ts and not (ts & tuples(got)), f"{name}: tshark reads {src} without its key")
            if name in REAL:
                ssid, pw = REAL[name]
                real = segments(cap, uat([("wpa-pwd", pw, ssid)]))
                check(real == source(src),
                      f"{name}: the real passphrase does not decrypt {src} whole")
        bad = fields(cap, ["-o", "wlan.check_checksum:TRUE"], "wlan.fcs.status != 1", "frame.number")
        check(not bad, f"{name}: {len(bad)} frames with a bad or no FCS")
        hs = fields(cap, opts, "eapol.keydes.type == 2", "wlan.sa", "wlan.da")
        check(len(hs) >= (3 if name != "wpa2-wrong-passphrase.pcap" else 4),
              f"{name}: {len(hs)} EAPOL-Key frames")
        print(f"{name}: {len(kept)} segments decrypted ({len(got) - len(kept)} retransmitted "
              f"copies), {len(hs)} EAPOL-Key frames")
    # wpa2-ccmp: the group frames under the GTK and the re-key inside CCMP.
    cap = os.path.join(WIFI, "wpa2-ccmp.pcap")
    if os.path.exists(cap):
        opts = uat(keys_of(capture_args(cap)))
        arp = fields(cap, opts, "arp && wlan.da == ff:ff:ff:ff:ff:ff && wlan.fc.protected == 1",
                     "arp.src.proto_ipv4", "arp.dst.proto_ipv4")
        check(arp == [["10.0.0.1", "10.0.0.5"]], f"wpa2-ccmp: the GTK frame's ARP reads {arp}")
        mdns = fields(cap, opts, "mdns && wlan.fc.protected == 1", "wlan.ra", "ip.src")
        check(sorted(mdns) == [["00:1a:2b:3c:4d:5e", "10.0.0.5"], ["01:00:5e:00:00:fb", "10.0.0.5"]],
              f"wpa2-ccmp: mDNS under the PTK and the GTK read {mdns}")
        rekey = fields(cap, opts, "eapol && wlan.fc.protected == 1", "wlan_rsna_eapol.keydes.msgnr")
        check([r[0] for r in rekey] == ["1", "2", "3", "4"],
              f"wpa2-ccmp: the re-key inside CCMP reads as messages {rekey}")
        plain = fields(cap, [], "eapol", "wlan.sa")
        check(len(plain) == 9, f"wpa2-ccmp: {len(plain)} EAPOL frames in the clear "
                               "(A: 1, 1 again, 2, 3, 4; C: 1, 2, 3, 3 again)")
    print("tshark oracle: " + ("FAILED" if failures else "every capture decrypts to its sources"))
    return 1 if failures else 0


sys.exit(main())
