"""Builds small POP3 captures for the --dedup and --evidence tests: each
session is a list of (time in microseconds, frame) made with the frame
builder of bench/gen_pcap.py (Ethernet, IPv4, TCP with correct checksums);
sessions are merged in time order and written as a classic pcap. Also a
reader of classic pcap files, independent of mailspill."""
import importlib.util
import os
import struct

_spec = importlib.util.spec_from_file_location(
    "gen_pcap", os.path.join(os.path.dirname(__file__), "..", "..", "bench", "gen_pcap.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

LINKTYPE_ETHERNET = 1


def ip(s):
    return bytes(int(x) for x in s.split("."))


def session(cli, cport, srv, sport, t0_us, lines, close="fin", gap_us=1000):
    """lines: ("c", bytes) client to server, ("s", bytes) server to client.
    A handshake first; then each line in its own segment, each acknowledged
    by the next; close: "fin" (FIN both ways, then the client's last ACK),
    "rst" (the client resets after the last line) or None (left open)."""
    out = []
    t = [t0_us]
    c, s = [1000], [7000000]
    ci, si = ip(cli), ip(srv)

    def c2s(flags, data=b""):
        out.append((t[0], gen.frame(ci, si, cport, sport, c[0], s[0], flags, data)))
        c[0] += len(data) + (1 if flags & 0x03 else 0)
        t[0] += gap_us

    def s2c(flags, data=b""):
        out.append((t[0], gen.frame(si, ci, sport, cport, s[0], c[0], flags, data)))
        s[0] += len(data) + (1 if flags & 0x03 else 0)
        t[0] += gap_us

    c2s(0x02)
    s2c(0x12)
    c2s(0x10)
    for who, data in lines:
        (c2s if who == "c" else s2c)(0x18, data)
    if close == "fin":
        c2s(0x11)
        s2c(0x11)
        c2s(0x10)
    elif close == "rst":
        c2s(0x04)
    return out


def login_lines(user, password, ok=True, extra=()):
    return [("s", b"+OK POP3 ready.\r\n"), ("c", b"USER " + user + b"\r\n"), ("s", b"+OK\r\n"),
            ("c", b"PASS " + password + b"\r\n"),
            ("s", b"+OK Logged in.\r\n" if ok else b"-ERR [AUTH] Authentication failed.\r\n"),
            *extra, ("c", b"QUIT\r\n"), ("s", b"+OK Logging out.\r\n")]


def write_pcap(path, sessions):
    """Writes every session's frames in time order (ties keep their order)."""
    pkts = sorted((p for sess in sessions for p in sess), key=lambda p: p[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for ts, fr in pkts:
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)))
            f.write(fr)
    return pkts


def read_pcap(path):
    """(linktype, [(ts_us, frame bytes)]) of a classic pcap file (either
    byte order, microsecond or nanosecond magic)."""
    data = open(path, "rb").read()
    assert len(data) >= 24, f"{path}: {len(data)} bytes, no pcap header"
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
        assert magic in (0xa1b2c3d4, 0xa1b23c4d), f"{path}: bad magic {data[:4].hex()}"
    nano = magic == 0xa1b23c4d
    major, minor, _, _, _, linktype = struct.unpack(e + "HHiIII", data[4:24])
    assert (major, minor) == (2, 4), (major, minor)
    out, at = [], 24
    while at < len(data):
        assert at + 16 <= len(data), f"{path}: truncated record header at {at}"
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[at:at + 16])
        assert incl <= orig and at + 16 + incl <= len(data), f"{path}: bad record at {at}"
        out.append((sec * 1000000 + (frac // 1000 if nano else frac), data[at + 16:at + 16 + incl]))
        at += 16 + incl
    return linktype, out


def tuple_of(frame):
    """The unordered TCP 5-tuple of an Ethernet/IPv4 frame."""
    ihl = (frame[14] & 0x0f) * 4
    src, dst = frame[26:30], frame[30:34]
    sport, dport = struct.unpack("!HH", frame[14 + ihl:14 + ihl + 4])
    return frozenset([(src, sport), (dst, dport)])


def tcp_flags(frame):
    ihl = (frame[14] & 0x0f) * 4
    return frame[14 + ihl + 13]


def read_pcapng(path):
    """[(interface id, link type, frame bytes)] of the enhanced packet blocks
    of a little- or big-endian pcapng file (one section), in file order."""
    data = open(path, "rb").read()
    at, e, links, out = 0, "<", [], []
    while at + 12 <= len(data):
        btype = struct.unpack(e + "I", data[at:at + 4])[0]
        if btype == 0x0a0d0d0a:
            e = "<" if data[at + 8:at + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[at + 4:at + 8])[0]
        assert blen >= 12 and at + blen <= len(data), f"{path}: bad block at {at}"
        body = data[at + 8:at + blen - 4]
        if btype == 1:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6:
            iface, _, _, caplen = struct.unpack(e + "IIII", body[:16])
            out.append((iface, links[iface], body[20:20 + caplen]))
        at += blen
    return out
