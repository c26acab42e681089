#!/usr/bin/python3
"""Builds the capture-layer test captures (pcaps/capture/) with scapy.

One POP3 session -- USER/PASS (success) and RETR of a small message with an
attachment -- is written as IP packets once, then carried over every link
type and encapsulation mailspill decodes, fragmented, given extension
headers or bad checksums. Each capture gets a <name>.expected.json written
from the transcript this script put into it (the login it typed, the reply
it made the server give, the message bytes and the attachment it generated),
never from running mailspill: whole events, every key the README's event
tables give them, and a stats line with the counters the file was built to
produce (the same ones counters.json gives tests/unit/test_decode.c).

Usage: /usr/bin/python3 pcaps/gen/capture_cases.py [OUTDIR]
       (default OUTDIR: pcaps/capture next to this script's directory)
       --split DIR   also write the Ethernet session cut into two files,
                     part1.pcap and part2.pcap, to check "-r a -r b"
Needs python3-scapy (Debian 12: 2.5). Runs in a second, no root, no network.
"""
import email
import email.policy
import hashlib
import ipaddress
import json
import os
import struct
import sys
from email.message import EmailMessage

from scapy.all import IP, IPv6, TCP, Raw, IPv6ExtHdrHopByHop, \
    IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, PadN  # noqa: E402
import gencommon  # noqa: E402  (same directory)

CLI4, SRV4 = "10.30.0.5", "10.30.0.1"
CLI6, SRV6 = "fd00:30::5", "fd00:30::1"


def eve_ip(a):
    """An address as mailspill's JSON writes it: IPv6 with every group in
    full, Suricata's default form."""
    return ipaddress.ip_address(a).exploded
SPORT, DPORT = 49152, 110
USER, PASSWORD = "erin", "Capture 2026!pw"
LOGIN_OK = b"+OK Logged in."
T0 = 1767225600  # 2026-01-01T00:00:00Z, fixed so the files are stable
MSS = 600        # server segments; the message spans several of them

# anomaly.detail of the codes these captures raise, as the README's "Anomaly
# codes" table gives each code's sentence (the table is generated from the
# source's one list, so it is the documented text of the event).
ANOMALY_DETAIL = {
    "frag_overlap_different_data":
        "overlapping IP fragments carry different bytes; the first-arrived ones were kept",
}

# ---------------------------------------------------------------------------
# The transcript


def attachment_bytes():
    out = bytearray()
    i = 0
    while len(out) < 300:
        out += hashlib.sha256(b"mailspill capture data.bin %d" % i).digest()
        i += 1
    return bytes(out[:300])


def build_message():
    m = EmailMessage(policy=email.policy.default)
    m["From"] = "Dave Sender <dave@example.net>"
    m["To"] = "Erin Example <erin@example.org>"
    m["Subject"] = "Capture layer test"
    m["Date"] = "Thu, 01 Jan 2026 00:00:00 +0000"
    m["Message-ID"] = "<capture-test.1@example.net>"
    m.set_content("Hi Erin,\n\nthe data file is attached.\n\nDave\n")
    att = attachment_bytes()
    m.add_attachment(att, maintype="application", subtype="octet-stream",
                     filename="data.bin")
    m.set_boundary("=_mailspill-capture_boundary")
    for part in m.iter_parts():
        del part["MIME-Version"]
    raw = m.as_bytes(policy=email.policy.SMTP)  # CRLF line ends
    return raw, [{"filename": "data.bin", "content_type": "application/octet-stream",
                  "size": len(att), "sha256": hashlib.sha256(att).hexdigest()}]


MESSAGE, ATTACHMENTS = build_message()


def dot_stuff(raw):
    lines = raw.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


# (direction, bytes): "c" client to server, "s" server to client.
TRANSCRIPT = [
    ("s", b"+OK POP3 capture-test ready.\r\n"),
    ("c", b"USER " + USER.encode() + b"\r\n"),
    ("s", b"+OK\r\n"),
    ("c", b"PASS " + PASSWORD.encode() + b"\r\n"),
    ("s", LOGIN_OK + b"\r\n"),
    ("c", b"RETR 1\r\n"),
    ("s", b"+OK %d octets\r\n" % len(MESSAGE) + dot_stuff(MESSAGE) + b".\r\n"),
    ("c", b"QUIT\r\n"),
    ("s", b"+OK Logging out.\r\n"),
]


def expected_events(cli, srv):
    """From the transcript above: the login and the message it carries, whole
    (every key mailspill writes for them, as the README's event tables
    describe it; null marks a key that must be absent)."""
    msg = email.message_from_bytes(MESSAGE, policy=email.policy.default)
    flow = {"app_proto": "pop3", "src_ip": eve_ip(cli), "src_port": SPORT,
            "dest_ip": eve_ip(srv), "dest_port": DPORT}
    cred = {"event_type": "alert", **flow, "credential": {
        "command": "USER", "mechanism": "USER", "username": USER,
        "password": PASSWORD, "outcome": "success",
        "server_reply": LOGIN_OK.decode(),
        # A cleartext session; no CAPA was sent, so the server's
        # capabilities were never seen: starttls_offered is unknown.
        "tls": False, "starttls_offered": None,
        # USER and PASS both seen in full, nothing cut.
        "incomplete": None}}
    mail = {"event_type": "email", **flow, "email": {
        "command": "RETR", "subject": str(msg["Subject"]),
        "from": str(msg["From"]),
        "to": [str(a) for a in msg["To"].addresses],
        "cc": [str(a) for a in msg["Cc"].addresses] if msg["Cc"] else None,
        "date": str(msg["Date"]),
        "message_id": str(msg["Message-ID"]),
        "attachment": [a["filename"] for a in ATTACHMENTS],
        "size": len(MESSAGE), "sha256": hashlib.sha256(MESSAGE).hexdigest(),
        "attachments": ATTACHMENTS,
        # RETR moved the whole message and the capture holds all of it.
        "partial": None, "truncated": False,
        # The text part has no URL.
        "url": None}}
    return [cred, mail]


# ---------------------------------------------------------------------------
# TCP session as IP packets (bytes)


def session(v6=False, ext=None, bad_csum_client=False):
    """The transcript as a list of (direction, IP packet bytes).
    ext: IPv6 extension headers to put on every packet (scapy layers).
    bad_csum_client: every client segment gets a wrong TCP checksum, as a
    capture on a host with checksum offload shows."""
    cli, srv = (CLI6, SRV6) if v6 else (CLI4, SRV4)
    seq = {"c": 1000, "s": 5000}
    pkts = []

    def ip(d):
        s, t = (cli, srv) if d == "c" else (srv, cli)
        if v6:
            l3 = IPv6(src=s, dst=t, hlim=64)
            if ext is not None:
                l3 = l3 / ext()
            return l3
        return IP(src=s, dst=t, ttl=64, id=0x3000 + len(pkts), flags="DF")

    def tcp(d, flags, payload=b""):
        sp, dp = (SPORT, DPORT) if d == "c" else (DPORT, SPORT)
        o = "s" if d == "c" else "c"
        t = TCP(sport=sp, dport=dp, seq=seq[d], ack=seq[o], flags=flags, window=64240)
        pkt = ip(d) / t
        if payload:
            pkt = pkt / Raw(payload)
        b = bytearray(bytes(pkt))
        if bad_csum_client and d == "c":
            # The TCP checksum field: 16 bytes into the TCP header.
            off = len(b) - len(payload) - 20
            b[off + 16] ^= 0x5a
        pkts.append((d, bytes(b)))
        seq[d] = (seq[d] + len(payload) + (1 if ("S" in flags or "F" in flags) else 0)) & 0xffffffff

    tcp("c", "S")
    tcp("s", "SA")
    tcp("c", "A")
    for d, data in TRANSCRIPT:
        for i in range(0, len(data), MSS):
            tcp(d, "PA", data[i:i + MSS])
            tcp("s" if d == "c" else "c", "A")
    tcp("s", "FA")
    tcp("c", "FA")
    tcp("s", "A")
    return pkts


# ---------------------------------------------------------------------------
# Link layers: functions from (direction, IP bytes) to a frame

MAC_C = bytes.fromhex("020000000005")
MAC_S = bytes.fromhex("020000000001")
BSSID = bytes.fromhex("02000000aaaa")


def ethertype_of(ipb):
    return 0x86DD if ipb[0] >> 4 == 6 else 0x0800


def eth(d, ipb, etype=None, inner=b""):
    dst, src = (MAC_S, MAC_C) if d == "c" else (MAC_C, MAC_S)
    t = etype if etype is not None else ethertype_of(ipb)
    return dst + src + struct.pack(">H", t) + inner + ipb


def l_eth(d, ipb):
    return eth(d, ipb)


def l_vlan(d, ipb):
    return eth(d, ipb, 0x8100, struct.pack(">HH", 30, ethertype_of(ipb)))


def l_qinq(d, ipb):
    # 802.1ad service tag 100, then 802.1Q customer tag 30.
    return eth(d, ipb, 0x88A8, struct.pack(">HHHH", 100, 0x8100, 30, ethertype_of(ipb)))


def l_sll(d, ipb):
    # packet type (0 to us, 4 outgoing), ARPHRD_ETHER, address length, address (8), protocol.
    ptype = 4 if d == "c" else 0
    mac = MAC_C if d == "c" else MAC_S
    return struct.pack(">HHH", ptype, 1, 6) + mac + b"\0\0" + struct.pack(">H", ethertype_of(ipb)) + ipb


def l_sll2(d, ipb):
    # protocol, reserved, interface index, ARPHRD, packet type, address length, address (8).
    ptype = 4 if d == "c" else 0
    mac = MAC_C if d == "c" else MAC_S
    return struct.pack(">HHIHBB", ethertype_of(ipb), 0, 2, 1, ptype, 6) + mac + b"\0\0" + ipb


def l_raw(d, ipb):
    return ipb


def l_null(d, ipb):
    return struct.pack("<I", 2) + ipb   # AF_INET in the writer's (little-endian) order


def l_loop(d, ipb):
    return struct.pack(">I", 2) + ipb   # AF_INET in network order


def l_pppoe(d, ipb):
    ppp = struct.pack(">H", 0x0021) + ipb
    hdr = struct.pack(">BBHH", 0x11, 0, 0x1234, len(ppp))
    return eth(d, b"", 0x8864, hdr + ppp)


def l_mpls(d, ipb):
    # Two labels: 1001 (TTL 64), then 2002 with bottom of stack.
    lab = struct.pack(">II", (1001 << 12) | 64, (2002 << 12) | 0x100 | 64)
    return eth(d, b"", 0x8847, lab + ipb)


def outer_ipv4(inner_proto, payload, ident):
    return bytes(IP(src="192.0.2.1", dst="192.0.2.2", ttl=64, id=ident, proto=inner_proto)
                 / Raw(payload))


def l_gre(d, ipb):
    # GRE with checksum, key and sequence number present (RFC 2784/2890).
    l_gre.n += 1
    body = struct.pack(">HH", 0x8000 | 0x2000 | 0x1000, 0x0800)
    opt = struct.pack(">HHII", 0, 0, 0xC0FFEE, l_gre.n) + ipb
    ck = inet_csum(body + opt)
    gre = body + struct.pack(">H", ck) + opt[2:]
    return eth(d, outer_ipv4(47, gre, l_gre.n))


l_gre.n = 0


def l_gre_teb(d, ipb):
    # GRE carrying a whole Ethernet frame (0x6558, transparent bridging).
    l_gre_teb.n += 1
    gre = struct.pack(">HH", 0, 0x6558) + eth(d, ipb)
    return eth(d, outer_ipv4(47, gre, l_gre_teb.n))


l_gre_teb.n = 0


def l_ipip(d, ipb):
    l_ipip.n += 1
    return eth(d, outer_ipv4(4 if ipb[0] >> 4 == 4 else 41, ipb, l_ipip.n))


l_ipip.n = 0


def l_vxlan(d, ipb):
    # VXLAN (RFC 7348), as cloud traffic mirroring sends: UDP to 4789
    # (checksum 0, allowed over IPv4), I flag, VNI 42, the mirrored frame.
    l_vxlan.n += 1
    inner = eth(d, ipb)
    vx = struct.pack(">BBHI", 0x08, 0, 0, 42 << 8) + inner
    udp = struct.pack(">HHHH", 49153, 4789, 8 + len(vx), 0) + vx
    return eth(d, outer_ipv4(17, udp, l_vxlan.n))


l_vxlan.n = 0


def inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


LLC_SNAP = b"\xaa\xaa\x03\x00\x00\x00"


def dot11(d, ipb, qos=False, htc=False, wds=False, protected=False, seqno=0):
    """An 802.11 data frame: client -> AP (To DS) or AP -> client (From DS);
    wds: both bits and four addresses."""
    subtype = 8 if qos else 0
    fc0 = (subtype << 4) | (2 << 2)
    if wds:
        fc1 = 0x03
        a1, a2, a3 = (BSSID, MAC_C, MAC_S) if d == "c" else (BSSID, MAC_S, MAC_C)
    elif d == "c":
        fc1 = 0x01
        a1, a2, a3 = BSSID, MAC_C, MAC_S
    else:
        fc1 = 0x02
        a1, a2, a3 = MAC_C, BSSID, MAC_S
    if htc:
        fc1 |= 0x80
    if protected:
        fc1 |= 0x40
    h = struct.pack("<BBH", fc0, fc1, 0) + a1 + a2 + a3 + struct.pack("<H", (seqno & 0xfff) << 4)
    if wds:
        h += MAC_C if d == "c" else MAC_S
    if qos:
        h += struct.pack("<H", 0)      # TID 0, no A-MSDU
        if htc:
            h += b"\x00\x00\x00\x00"
    body = LLC_SNAP + struct.pack(">H", ethertype_of(ipb)) + ipb
    # A protected frame keeps its body readable here, without the CCMP
    # header a real one starts with: a decoder that ignored the Protected
    # bit would take it as LLC/SNAP + IP, which is what the test catches.
    return h + body


def mac_str(m):
    return ":".join("%02x" % b for b in m)


def with_ether(events, bssid=True):
    """The events of a flow seen over 802.11: Suricata's ether object, the
    client's and the server's stations the way src_ip and dest_ip go, and
    the access point (none on a WDS link)."""
    ether = {"src_mac": mac_str(MAC_C), "dest_mac": mac_str(MAC_S)}
    if bssid:
        ether["bssid"] = mac_str(BSSID)
    return [dict(e, ether=ether) for e in events]


def l_wifi(d, ipb):
    l_wifi.n += 1
    return dot11(d, ipb, qos=True, seqno=l_wifi.n)


l_wifi.n = 0


def radiotap():
    # version 0, length 18: present = TSFT | Flags | Rate (TSFT at 8, flags 0).
    return struct.pack("<BBHI", 0, 0, 18, 0x7) + struct.pack("<Q", 0) + bytes([0x00, 0x02])


def l_radiotap(d, ipb):
    l_radiotap.n += 1
    return radiotap() + dot11(d, ipb, qos=True, htc=True, seqno=l_radiotap.n)


l_radiotap.n = 0


def l_ppi(d, ipb):
    l_ppi.n += 1
    return struct.pack("<BBHI", 0, 0, 8, 105) + dot11(d, ipb, wds=True, seqno=l_ppi.n)


l_ppi.n = 0

# ---------------------------------------------------------------------------
# Writers


def write_pcap(path, linktype, frames, first=0):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for i, fr in enumerate(frames, first):
            ts = T0 * 1000000 + i * 1000
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)))
            f.write(fr)


def ng_block(bo, btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(bo + "II", btype, n) + body + struct.pack(bo + "I", n)


def write_pcapng(path, ifaces, packets, big_endian=False):
    """ifaces: [(linktype, tsresol byte)]; packets: [(iface, frame)]."""
    bo = ">" if big_endian else "<"
    out = ng_block(bo, 0x0A0D0D0A, struct.pack(bo + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt, res in ifaces:
        opts = b""
        if res != 6:
            opts = struct.pack(bo + "HH", 9, 1) + bytes([res, 0, 0, 0]) + struct.pack(bo + "HH", 0, 0)
        out += ng_block(bo, 1, struct.pack(bo + "HHI", lt, 0, 262144) + opts)
    for i, (ifc, fr) in enumerate(packets):
        us = T0 * 1000000 + i * 1000
        res = ifaces[ifc][1]
        if res & 0x80:
            units = (us << (res & 0x7f)) // 1000000
        else:
            units = us * 10 ** (res - 6) if res >= 6 else us // 10 ** (6 - res)
        body = struct.pack(bo + "IIIII", ifc, units >> 32, units & 0xffffffff, len(fr), len(fr)) + fr
        out += ng_block(bo, 6, body)
    with open(path, "wb") as f:
        f.write(out)


# counters.json name -> the stats event's key (README, "Run statistics").
STATS_KEYS = {"packets": "decoder.pkts", "truncated": "decoder.truncated",
              "malformed": "decoder.malformed", "unsupported": "decoder.unsupported",
              "wifi_protected": "decoder.wifi_protected", "fragments": "decoder.fragments",
              "frag_reassembled": "defrag.reassembled", "frag_overlaps": "defrag.overlaps",
              "frag_dropped": "defrag.dropped", "tcp_bad_csum": "tcp.checksum_errors"}


def stats_event(counters, events):
    """The stats line of a capture (matched partially by the golden check):
    the capture-layer counters the file was built to produce, one POP3 flow
    in the clear, and one output record per expected event (and one
    fileinfo per attachment)."""
    st = {}
    for name, key in STATS_KEYS.items():
        group, leaf = key.split(".")
        st.setdefault(group, {})[leaf] = counters[name]
    st["flow"] = {"created": 1}
    st["app_layer"] = {"flow": {"pop3": 1, "imap": 0, "smtp": 0, "encrypted": 0, "other": 0}}
    kinds = [e["event_type"] for e in events]
    st["output"] = {k: kinds.count(k) for k in ("alert", "email", "anomaly")}
    st["output"]["fileinfo"] = sum(len(e["email"].get("attachments", []))
                                   for e in events if e["event_type"] == "email")
    return {"event_type": "stats", "stats": st}


def write_expected(path, events, counters=None):
    """events, then (counters given) the stats line they make."""
    if counters is not None:
        events = events + [stats_event(counters, events)]
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(gencommon.with_alert(e), ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------
# Fragmentation


def frag4(ipb, pieces, order=None):
    """Splits an IPv4 packet's payload at the byte offsets given (multiples
    of 8); returns the fragments in the order asked (indexes)."""
    ihl = (ipb[0] & 15) * 4
    hdr, pay = bytearray(ipb[:ihl]), ipb[ihl:]
    cuts = [0] + list(pieces) + [len(pay)]
    out = []
    for a, b in zip(cuts, cuts[1:]):
        h = bytearray(hdr)
        mf = 0x2000 if b < len(pay) else 0
        struct.pack_into(">H", h, 2, ihl + b - a)
        struct.pack_into(">H", h, 6, mf | (a // 8))
        struct.pack_into(">H", h, 10, 0)
        struct.pack_into(">H", h, 10, inet_csum(bytes(h)))
        out.append(bytes(h) + pay[a:b])
    return [out[i] for i in order] if order else out


def frag6(ipb, pieces, ident, order=None):
    """Same for IPv6 (no extension headers before): inserts a fragment
    header (RFC 8200 4.5)."""
    nh, pay = ipb[6], ipb[40:]
    cuts = [0] + list(pieces) + [len(pay)]
    out = []
    for a, b in zip(cuts, cuts[1:]):
        h = bytearray(ipb[:40])
        h[6] = 44
        struct.pack_into(">H", h, 4, 8 + b - a)
        fh = struct.pack(">BBHI", nh, 0, a | (1 if b < len(pay) else 0), ident)
        out.append(bytes(h) + fh + pay[a:b])
    return [out[i] for i in order] if order else out


def first_with(pkts, needle):
    for i, (d, b) in enumerate(pkts):
        if needle in b:
            return i
    raise SystemExit("capture_cases.py: no packet carries %r" % needle)


# ---------------------------------------------------------------------------
# Cases


def main():
    args = sys.argv[1:]
    split_dir = None
    if "--split" in args:
        i = args.index("--split")
        split_dir = args[i + 1]
        del args[i:i + 2]
    here = os.path.dirname(os.path.abspath(__file__))
    out = args[0] if args else os.path.join(here, "..", "capture")
    os.makedirs(out, exist_ok=True)
    v4 = session()
    exp4 = expected_events(CLI4, SRV4)
    exp6 = expected_events(CLI6, SRV6)
    written = []
    counters = {}

    def count(fname, nframes, **extra):
        """What the capture layer must count on this file (checked by
        tests/unit/test_decode.c through the pipeline's stats): known from
        how the file was built."""
        c = {"packets": nframes, "truncated": 0, "malformed": 0, "unsupported": 0,
             "wifi_protected": 0, "tcp_bad_csum": 0, "fragments": 0,
             "frag_reassembled": 0, "frag_overlaps": 0, "frag_dropped": 0}
        c.update(extra)
        counters[fname] = c
        return c

    def emit(name, linktype, frames, expected, **extra):
        path = os.path.join(out, name + ".pcap")
        write_pcap(path, linktype, frames)
        c = count(name + ".pcap", len(frames), **extra)
        write_expected(os.path.join(out, name + ".expected.json"), expected, c)
        written.append((path, len(frames)))

    simple = [
        ("eth", 1, l_eth), ("vlan-8021q", 1, l_vlan), ("qinq-8021ad", 1, l_qinq),
        ("linux-sll", 113, l_sll), ("linux-sll2", 276, l_sll2), ("raw-ip", 101, l_raw),
        ("bsd-null", 0, l_null), ("bsd-loop", 108, l_loop), ("pppoe", 1, l_pppoe),
        ("mpls", 1, l_mpls), ("gre-csum-key-seq", 1, l_gre), ("gre-teb", 1, l_gre_teb),
        ("ipip", 1, l_ipip), ("vxlan", 1, l_vxlan), ("wifi-qos-llc", 105, l_wifi),
        ("wifi-radiotap-htc", 127, l_radiotap), ("wifi-ppi-wds", 192, l_ppi),
    ]
    for name, lt, fn in simple:
        # Flows over 802.11 carry the stations (ether); the WDS link of the
        # PPI capture names no BSS.
        exp = with_ether(exp4, bssid=name != "wifi-ppi-wds") if name.startswith("wifi") else exp4
        emit(name, lt, [fn(d, b) for d, b in v4], exp)

    v6 = session(v6=True)
    emit("raw-ipv6", 101, [b for d, b in v6], exp6)
    emit("6in4", 1, [l_ipip(d, b) for d, b in v6], exp6)

    # 802.11 with radiotap: a beacon, a protected data frame, then the
    # session. The protected frame carries (as if decrypted) the PASS
    # segment with a different password, before the real one: a decoder
    # that did not skip encrypted frames would report the wrong password.
    frames = []
    beacon = struct.pack("<BBH", 0x80, 0, 0) + b"\xff" * 6 + BSSID + BSSID + b"\0\0" + b"\0" * 12
    frames.append(radiotap() + beacon)
    ipass = first_with(v4, b"PASS ")
    for i, (d, b) in enumerate(v4):
        if i == ipass:
            fake = b.replace(PASSWORD.encode(), b"X" * len(PASSWORD))
            frames.append(radiotap() + dot11(d, fake, qos=True, protected=True, seqno=999))
        frames.append(l_radiotap(d, b))
    # No passphrase was given: the run says once that protected frames were
    # skipped, naming the first one's sender (the client, To DS) and its
    # access point; a link-layer anomaly, no IP addresses.
    notice = {"event_type": "anomaly", "src_ip": None, "dest_ip": None,
              "src_port": None, "dest_port": None, "app_proto": None,
              "ether": {"src_mac": mac_str(MAC_C), "bssid": mac_str(BSSID)},
              "anomaly": {"type": "decode", "event": "wifi_no_passphrase",
                          "app_proto": None, "layer": None}}
    emit("wifi-radiotap-protected", 127, frames, with_ether(exp4) + [notice], wifi_protected=1)

    # pcapng: client packets on an Ethernet interface (microseconds), server
    # packets on a Linux SLL interface (nanoseconds); then the same in a
    # big-endian section with binary (2^-20 s) timestamps on SLL2.
    for name, ifaces, big in (("pcapng-eth-sll", [(1, 6), (113, 9)], False),
                              ("pcapng-bigendian-raw-sll2", [(101, 6), (276, 0x94)], True)):
        wrap = {1: l_eth, 113: l_sll, 101: l_raw, 276: l_sll2}
        pk = [(0 if d == "c" else 1, wrap[ifaces[0 if d == "c" else 1][0]](d, b)) for d, b in v4]
        path = os.path.join(out, name + ".pcapng")
        write_pcapng(path, ifaces, pk, big_endian=big)
        c = count(name + ".pcapng", len(pk))
        write_expected(os.path.join(out, name + ".expected.json"), exp4, c)
        written.append((path, len(pk)))

    # IPv4 fragments: the PASS segment cut inside the password, and the
    # segments of the message, in order and in reverse order.
    def fragmented(order_fn):
        frames, nfrag, ndgram = [], 0, 0
        for d, b in v4:
            payload = len(b) - 40
            if b"PASS " in b or payload > 400:
                fr = frag4(b, [32] if b"PASS " in b else [8, 200, 400])
                frames += [l_eth(d, f) for f in order_fn(fr)]
                nfrag += len(fr)
                ndgram += 1
            else:
                frames.append(l_eth(d, b))
        return frames, nfrag, ndgram

    for name, order_fn in (("frag-ipv4-in-order", lambda x: x),
                           ("frag-ipv4-reversed", lambda x: x[::-1])):
        frames, nfrag, ndgram = fragmented(order_fn)
        emit(name, 1, frames, exp4, fragments=nfrag, frag_reassembled=ndgram)

    # IPv6 fragments, out of order (last first).
    frames, nfrag, ndgram = [], 0, 0
    for i, (d, b) in enumerate(v6):
        payload = len(b) - 60
        if b"PASS " in b or payload > 400:
            fr = frag6(b, [24] if b"PASS " in b else [8, 200, 400], 0x600 + i)
            frames += [l_eth(d, f) for f in fr[1:] + fr[:1]]
            nfrag += len(fr)
            ndgram += 1
        else:
            frames.append(l_eth(d, b))
    emit("frag-ipv6", 1, frames, exp6, fragments=nfrag, frag_reassembled=ndgram)

    # Overlapping IPv4 fragments with different data. The PASS segment in
    # three fragments [0,16) [16,32) [32,end); the real [16,32) arrives
    # first, then a forged copy of it, then the rest. First arrival wins
    # (capture/defrag.c), so the login is the real one, with an anomaly.
    frames = []
    for d, b in v4:
        if b"PASS " in b:
            f = frag4(b, [16, 32])
            forged = bytearray(f[1])
            for k in range(len(forged) - 8, len(forged)):
                forged[k] = ord("Z")
            frames += [l_eth(d, x) for x in (f[1], bytes(forged), f[2], f[0])]
        else:
            frames.append(l_eth(d, b))
    # A decode anomaly belongs to no flow: addresses only (README, "Anomalies");
    # its detail is the code's sentence in the README's "Anomaly codes" table.
    anomaly = {"event_type": "anomaly", "src_ip": eve_ip(CLI4), "dest_ip": eve_ip(SRV4),
               "src_port": None, "dest_port": None, "app_proto": None,
               "anomaly": {"type": "decode", "event": "frag_overlap_different_data",
                           "app_proto": None, "layer": None,
                           "detail": ANOMALY_DETAIL["frag_overlap_different_data"]}}
    emit("frag-ipv4-overlap-different", 1, frames, exp4 + [anomaly], fragments=4,
         frag_reassembled=1, frag_overlaps=1)

    # IPv6 with extension headers on every packet: hop-by-hop (PadN),
    # destination options, routing (type 0 header with no segments left).
    ext = lambda: (IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")])
                   / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])
                   / IPv6ExtHdrRouting(type=0, segleft=0, addresses=[])
                   / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")]))
    emit("ipv6-ext-headers", 1, [l_eth(d, b) for d, b in session(v6=True, ext=ext)], exp6)

    # Bad TCP checksums on every client segment (offload): still processed.
    bad = session(bad_csum_client=True)
    emit("tcp-bad-checksum", 1, [l_eth(d, b) for d, b in bad], exp4,
         tcp_bad_csum=sum(1 for d, b in bad if d == "c"))

    if split_dir:
        os.makedirs(split_dir, exist_ok=True)
        frames = [l_eth(d, b) for d, b in v4]
        cut = first_with(v4, b"PASS ") + 1
        write_pcap(os.path.join(split_dir, "part1.pcap"), 1, frames[:cut])
        write_pcap(os.path.join(split_dir, "part2.pcap"), 1, frames[cut:], cut)
        write_expected(os.path.join(split_dir, "expected.json"), exp4)

    with open(os.path.join(out, "counters.json"), "w", encoding="utf-8") as f:
        json.dump(counters, f, indent=1, sort_keys=True)
        f.write("\n")

    for path, n in written:
        print("%-60s %3d frames %6d bytes" % (os.path.relpath(path), n, os.path.getsize(path)))


if __name__ == "__main__":
    main()
