#!/usr/bin/python3
"""What real air captures vary, applied to pcaps/wifi/wpa2-ccmp.pcap and
wpa2-amsdu.pcap, rewritten here at the byte level (no scapy): the same
logins and messages (their .expected.json), with the same stations, must
come out of each variant, and never another account:
- DLT 105 without radiotap (airodump-ng), radiotap without FCS, radiotap
  with three chained present words and TSFT/rate/channel/antenna fields;
- PPI (Kismet), with and without an FCS its 802.11-Common flags announce;
- a corrupted copy of every protected data frame before it, flagged bad
  FCS (radiotap 0x40): dropped, the original still decrypted;
- message 4 dropped; everything before message 2 dropped (a capture that
  starts mid-handshake, beacons and message 1 missed).

usage: test_wpa_air.py BINARY REPO"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

BIN, REPO = sys.argv[1], sys.argv[2]
WIFI = os.path.join(REPO, "pcaps", "wifi")


def read_pcap(path):
    with open(path, "rb") as f:
        b = f.read()
    magic, _, _, _, _, _, lt = struct.unpack("<IHHiIII", b[:24])
    assert magic == 0xA1B2C3D4, "little-endian microsecond pcap expected"
    out, o = [], 24
    while o < len(b):
        s, us, cl, _ = struct.unpack("<IIII", b[o:o + 16])
        out.append((s, us, b[o + 16:o + 16 + cl]))
        o += 16 + cl
    return lt, out


def write_pcap(path, lt, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt))
        for s, us, d in pkts:
            f.write(struct.pack("<IIII", s, us, len(d), len(d)) + d)


def frame_of(d):
    """The 802.11 frame behind the generator's radiotap, without its FCS."""
    rlen, present = struct.unpack("<HI", d[2:8])
    assert present & 3 == 3 and not present & 0x80000000, hex(present)
    flags = d[16]  # after TSFT (8 bytes at offset 8)
    fr = d[rlen:]
    return fr[:-4] if flags & 0x10 else fr


def fcs(fr):
    return struct.pack("<I", zlib.crc32(fr) & 0xFFFFFFFF)


def radiotap(fr, flags=0x10, many=False):
    if many:
        words = struct.pack("<III", 0xA000082F, 0xA0000820, 0x00000820)
        fields = struct.pack("<QBBHHbBbBbB", 123456, flags, 0x0C, 2437, 0x00A0, -48, 0, -50, 1, -52, 2)
        hdr = words + fields  # TSFT lands at 16: aligned to 8
    else:
        hdr = struct.pack("<IB", 0x2, flags)
    hdr = struct.pack("<BBH", 0, 0, 4 + len(hdr)) + hdr
    return hdr + fr + (fcs(fr) if flags & 0x10 else b"")


def ppi(fr, with_fcs):
    common = struct.pack("<QHHHHBBbb", 0, 1 if with_fcs else 0, 0, 2437, 0x00A0, 0, 0, -40, -90)
    field = struct.pack("<HH", 2, len(common)) + common
    return struct.pack("<BBHI", 0, 0, 8 + len(field), 105) + field + fr + (fcs(fr) if with_fcs else b"")


def eapol_msg(fr):
    """1-4 for a pairwise EAPOL-Key message in the clear, else None."""
    if (fr[0] >> 2) & 3 != 2 or fr[1] & 0x40:
        return None
    body = fr[24 + (2 if fr[0] & 0x80 else 0):]
    if body[:8] != bytes.fromhex("aaaa03000000888e"):
        return None
    ki = struct.unpack(">H", body[13:15])[0]
    if not ki & 0x8:
        return None
    ack, mic, secure = ki & 0x80, ki & 0x100, ki & 0x200
    return 1 if ack and not mic else 3 if ack else 2 if not secure else 4


def protected_data(fr):
    return (fr[0] >> 2) & 3 == 2 and fr[1] & 0x40


def variants(pkts):
    fr = [(s, us, frame_of(d)) for s, us, d in pkts]
    m2 = next(i for i, (_, _, f) in enumerate(fr) if eapol_msg(f) == 2)
    dups = []
    for s, us, f in fr:
        if protected_data(f):
            bad = bytearray(f)
            bad[-10] ^= 0xFF
            dups.append((s, us, radiotap(bytes(bad), 0x50)))
        dups.append((s, us, radiotap(f)))
    return {
        "dlt105": (105, [(s, us, f) for s, us, f in fr]),
        "radiotap-no-fcs": (127, [(s, us, radiotap(f, 0)) for s, us, f in fr]),
        "radiotap-extended": (127, [(s, us, radiotap(f, many=True)) for s, us, f in fr]),
        "ppi": (192, [(s, us, ppi(f, False)) for s, us, f in fr]),
        "ppi-fcs": (192, [(s, us, ppi(f, True)) for s, us, f in fr]),
        "bad-fcs-copies": (127, dups),
        "no-m4": (127, [(s, us, radiotap(f)) for s, us, f in fr if eapol_msg(f) != 4]),
        "from-m2": (127, [(s, us, radiotap(f)) for s, us, f in fr[m2:]]),
    }


def content(events):
    out = set()
    for e in events:
        if e.get("event_type") in ("alert", "email"):
            c, m = e.get("credential") or {}, e.get("email") or {}
            out.add((e["event_type"], e.get("src_ip"), e.get("src_port"), c.get("username"),
                     c.get("password"), m.get("message_id"), json.dumps(e.get("ether"), sort_keys=True)))
    return out


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("wpa2-ccmp", "wpa2-amsdu"):
            with open(os.path.join(WIFI, name + ".args")) as f:
                args = f.read().split()
            with open(os.path.join(WIFI, name + ".expected.json")) as f:
                want = content(json.loads(l) for l in f if l.strip())
            assert want, name
            lt, pkts = read_pcap(os.path.join(WIFI, name + ".pcap"))
            assert lt == 127
            for v, (vlt, vp) in variants(pkts).items():
                path = os.path.join(tmp, "%s-%s.pcap" % (name, v))
                write_pcap(path, vlt, vp)
                r = subprocess.run([BIN, "--passwords", "clear", "-r", path] + args,
                                   capture_output=True, timeout=120, cwd=REPO)
                evs = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
                got = content(evs)
                ok = r.returncode == 0 and got == want
                print("ok  " if ok else "FAIL", name, v,
                      "" if ok else "exit %d, missing %s, extra %s" % (r.returncode, sorted(want - got)[:2],
                                                                       sorted(got - want)[:2]))
                failed += not ok
    print("%d failed" % failed)
    return 1 if failed else 0


sys.exit(main())
