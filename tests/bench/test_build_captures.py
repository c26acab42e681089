#!/usr/bin/python3
"""The benchmark's capture builder (bench/build_captures.py) re-addresses
the recorded sessions correctly: its --tiny captures are valid pcaps whose
every IPv4 and TCP checksum is right and whose times never go back, many
sessions are in flight at once, and mailspill finds in them exactly the
logins of the truth file the builder wrote (per session: addresses, ports,
protocol, mechanism, user, secret, outcome), no more, with no gap, no
midstream pickup and no checksum error: so the shifted sequence numbers,
acknowledgements and checksums hold together.

  test_build_captures.py MAILSPILL BUILDER
"""
import collections
import json
import os
import struct
import subprocess
import sys
import tempfile


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def wsum(b):
    if len(b) & 1:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def check_frames(path):
    """Checksums and time order, computed here from the bytes."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data, 0)
    assert magic == 0xa1b2c3d4 and link == 1, "not a microsecond Ethernet pcap"
    off, last, n = 24, 0, 0
    while off < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        off += 16
        fr = data[off:off + incl]
        off += incl
        assert len(fr) == incl == orig, "truncated record %d" % n
        t = sec * 1000000 + usec
        assert t >= last, "time goes back at record %d" % n
        last = t
        assert fr[12:14] == b"\x08\x00", "record %d: not IPv4" % n
        ihl = (fr[14] & 15) * 4
        assert fold(wsum(fr[14:14 + ihl])) == 0xffff, "record %d: IPv4 checksum" % n
        tot = struct.unpack_from("!H", fr, 16)[0]
        seg = fr[14 + ihl:14 + tot]
        if fr[23] == 6:
            pseudo = fr[26:34] + struct.pack("!BBH", 0, 6, len(seg))
            assert fold(wsum(pseudo + seg)) == 0xffff, "record %d: TCP checksum" % n
        n += 1
    return n


def main():
    mailspill, builder = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="ms-bench-test.") as d:
        subprocess.run(["/usr/bin/python3", builder, "--tiny", "--dir", d], check=True,
                       stdout=subprocess.DEVNULL)
        for kind, min_peak in (("mail", 50), ("mixed", 5)):
            pcap = os.path.join(d, "%s-tiny.pcap" % kind)
            truth_path = os.path.join(d, "%s-tiny.truth.jsonl" % kind)
            npkts = check_frames(pcap)
            want = collections.Counter()
            with open(truth_path, encoding="utf-8") as f:
                for line in f:
                    t = json.loads(line)
                    want[(t["client"][0], t["client"][1], t["server"][0], t["server"][1],
                          t["proto"], t["mechanism"], t["user"], t["secret"], t["outcome"])] += 1
            assert sum(want.values()) >= (300 if kind == "mail" else 3), \
                "%s: only %d logins in the truth" % (kind, sum(want.values()))
            p = subprocess.run([mailspill, "--show-passwords", "-r", pcap], check=True,
                               stdout=subprocess.PIPE)
            got, stats = collections.Counter(), None
            for line in p.stdout.decode("utf-8").splitlines():
                ev = json.loads(line)
                if ev["event_type"] == "stats":
                    stats = ev["stats"]
                elif ev["event_type"] == "alert" and "credential" in ev:
                    c = ev["credential"]
                    secret = c.get("password") or c.get("token") or c.get("response")
                    got[(ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"],
                         ev["app_proto"], c.get("mechanism"), c.get("username"), secret,
                         c.get("outcome"))] += 1
            missing, extra = want - got, got - want
            assert not missing and not extra, "%s: missing %s, extra %s" % (
                kind, list(missing)[:3], list(extra)[:3])
            assert stats["decoder"]["pkts"] == npkts
            for k in ("checksum_errors", "midstream", "direction_swapped", "reassembly_gap",
                      "overlap", "port_reuse"):
                assert stats["tcp"][k] == 0, "%s: tcp.%s = %d" % (kind, k, stats["tcp"][k])
            assert stats["flow"]["active_peak"] >= min_peak, \
                "%s: only %d flows at once" % (kind, stats["flow"]["active_peak"])
            print("%s: %d packets, %d logins matched, %d flows at most at once"
                  % (kind, npkts, sum(want.values()), stats["flow"]["active_peak"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
