#!/usr/bin/python3
"""Builds the TCP stream test captures in pcaps/stream/ with scapy, and
their expected events.

Each capture carries POP3 sessions whose bytes this script writes itself
(a transcript: what the client sent, what the server answered), cut into
TCP segments and then damaged the way real captures are: segments
reordered, duplicated, overlapping with different bytes, lost (a gap),
sequence numbers wrapping past 2^32, a capture that starts mid-session,
ports reused after a close, a connection reset. The expected events are
written from the transcript and from what a receiving TCP would have
delivered (first copy wins on overlaps), never from running mailspill.

Usage: stream_gen.py [OUTDIR]   (default: pcaps/stream next to this script)
Nothing is sent on any network: packets are only written to files.
"""
import hashlib
import json
import os
import sys

from scapy.all import Ether, IP, TCP, wrpcap  # noqa: E402

CLI_IP, SRV_IP = "10.77.0.5", "10.77.0.1"
CLI_MAC, SRV_MAC = "02:00:00:77:00:05", "02:00:00:77:00:01"
T0 = 1795000000.0          # fixed capture time: reproducible output
USER, PASSWORD = "alice", "Stream 2026!pw"


def message(n):
    """A small message with a line the server must dot-stuff."""
    lines = [
        "From: Bob Sender <bob@example.net>",
        "To: Alice Example <alice@example.org>",
        "Subject: Stream case %d" % n,
        "Message-ID: <stream-%d@example.net>" % n,
        "Date: Tue, 01 Oct 2024 09:30:00 +0000",
        "",
    ]
    for i in range(40):
        lines.append("Line %02d of the body of stream test message %d, some filler text." % (i, n))
    lines.append(".a line starting with a dot")
    lines.append("End.")
    return ("\r\n".join(lines) + "\r\n").encode()


def stuffed(raw):
    out = []
    for line in raw.split(b"\r\n")[:-1]:
        out.append(b"." + line if line.startswith(b".") else line)
    return b"\r\n".join(out) + b"\r\n.\r\n"


class Conn:
    """One TCP connection: builds packets with tracked sequence numbers.
    Packets are returned, not stored, so a case can reorder or drop them."""

    def __init__(self, cport=40000, sport=110, cisn=1000, sisn=500000):
        self.cport, self.sport = cport, sport
        self.seq = {True: cisn, False: sisn}   # next sequence number per side

    def pkt(self, from_client, flags, data=b"", seq=None):
        s = self.seq[from_client] if seq is None else seq
        ack = self.seq[not from_client] & 0xffffffff
        if from_client:
            e, ip, tcp = Ether(src=CLI_MAC, dst=SRV_MAC), IP(src=CLI_IP, dst=SRV_IP), \
                TCP(sport=self.cport, dport=self.sport)
        else:
            e, ip, tcp = Ether(src=SRV_MAC, dst=CLI_MAC), IP(src=SRV_IP, dst=CLI_IP), \
                TCP(sport=self.sport, dport=self.cport)
        tcp.flags, tcp.seq, tcp.window = flags, s & 0xffffffff, 65535
        if "A" not in flags:
            tcp.ack = 0
        else:
            tcp.ack = ack
        return e / ip / tcp / data if data else e / ip / tcp

    def handshake(self):
        p = [self.pkt(True, "S")]
        self.seq[True] += 1
        p.append(self.pkt(False, "SA"))
        self.seq[False] += 1
        p.append(self.pkt(True, "A"))
        return p

    def send(self, from_client, data, cuts=()):
        """data cut at the given offsets: one packet per piece, in order."""
        out, start = [], 0
        for end in list(cuts) + [len(data)]:
            out.append(self.pkt(from_client, "PA", data[start:end], self.seq[from_client] + start))
            start = end
        self.seq[from_client] += len(data)
        return out

    def ack(self, from_client):
        return self.pkt(from_client, "A")

    def fin(self, from_client):
        p = self.pkt(from_client, "FA")
        self.seq[from_client] += 1
        return p


def pop3_session(c, retr=1, cuts=None, banner=True):
    """A POP3 login and RETR as a list of (label, packets): the case picks
    packets by label to damage them. cuts: label -> offsets."""
    cuts = cuts or {}
    raw = message(retr)
    steps = []
    if banner:
        steps.append(("banner", c.send(False, b"+OK POP3 ready.\r\n", cuts.get("banner", ()))))
    steps.append(("user", c.send(True, b"USER %s\r\n" % USER.encode(), cuts.get("user", ()))))
    steps.append(("user_ok", c.send(False, b"+OK\r\n")))
    steps.append(("pass", c.send(True, b"PASS %s\r\n" % PASSWORD.encode(), cuts.get("pass", ()))))
    steps.append(("pass_ok", c.send(False, b"+OK Logged in.\r\n")))
    steps.append(("retr", c.send(True, b"RETR %d\r\n" % retr)))
    body = b"+OK %d octets\r\n" % len(raw) + stuffed(raw)
    steps.append(("message", c.send(False, body, cuts.get("message", ()))))
    steps.append(("msg_ack", [c.ack(True)]))
    steps.append(("quit", c.send(True, b"QUIT\r\n")))
    steps.append(("bye", c.send(False, b"+OK Logging out.\r\n")))
    return steps, raw


def flat(steps):
    return [p for _, ps in steps for p in ps]


def alert(c, outcome="success", reply="+OK Logged in.", **extra):
    cred = {"command": "USER", "mechanism": "USER", "password": PASSWORD, "outcome": outcome,
            "server_reply": reply}
    cred.update(extra)
    if "username" not in cred:
        cred["username"] = USER
    if cred["username"] is None:
        del cred["username"]
    return {"event_type": "alert", "app_proto": "pop3", "src_ip": CLI_IP, "src_port": c.cport,
            "dest_ip": SRV_IP, "dest_port": c.sport, "credential": cred}


def email_ev(c, raw, truncated=False):
    subject = [l for l in raw.split(b"\r\n") if l.startswith(b"Subject: ")][0][9:].decode()
    e = {"command": "RETR", "subject": subject, "from": "Bob Sender <bob@example.net>",
         "truncated": truncated}
    if not truncated:
        e["size"] = len(raw)
        e["sha256"] = hashlib.sha256(raw).hexdigest()
    return {"event_type": "email", "app_proto": "pop3", "src_ip": CLI_IP, "src_port": c.cport,
            "dest_ip": SRV_IP, "dest_port": c.sport, "email": e}


def close(c):
    return [c.fin(True), c.fin(False), c.ack(True)]


# ---- cases -------------------------------------------------------------------

def case_reorder():
    """Commands cut into segments that arrive out of order."""
    c = Conn(cport=40001)
    hs = c.handshake()
    steps, raw = pop3_session(c, 1, cuts={"user": (2, 7), "pass": (3, 9, 14),
                                          "message": (100, 900, 1700, 2500)})
    d = dict(steps)
    u, p, m = d["user"], d["pass"], d["message"]
    d["user"] = [u[2], u[0], u[1]]
    d["pass"] = [p[3], p[1], p[2], p[0]]
    d["message"] = [m[1], m[4], m[0], m[3], m[2]]
    pkts = hs + [x for k, _ in steps for x in d[k]] + close(c)
    return pkts, [alert(c), email_ev(c, raw)], "segments reordered"


def case_duplicate():
    """Every segment twice (and the SYN): retransmissions with the same
    bytes are dropped silently."""
    c = Conn(cport=40002)
    hs = c.handshake()
    steps, raw = pop3_session(c, 2, cuts={"message": (1000, 2000)})
    pkts = [hs[0], hs[0]] + hs[1:]
    for p in flat(steps):
        pkts += [p, p.copy()]
    return pkts + close(c), [alert(c), email_ev(c, raw)], "segments duplicated"


def case_overlap():
    """The PASS line in two segments; the second arrives first and waits
    (out of order); then a forged copy of the whole line fills the hole and
    runs over the waiting segment with other bytes; then the real first
    segment and a second forged copy come as retransmissions. A receiver
    keeps one copy of each byte: mailspill keeps the first that arrived, so
    the real password is reported, with one overlap anomaly."""
    c = Conn(cport=40003)
    hs = c.handshake()
    steps, raw = pop3_session(c, 3, cuts={"pass": (5,)})
    d = dict(steps)
    p0, p1 = d["pass"]
    start = p0[TCP].seq
    n = len(bytes(p0[TCP].payload)) + len(bytes(p1[TCP].payload))
    forged = c.pkt(True, "PA", b"PASS Forged 9999!pw\r\n"[:n], start)
    forged2 = c.pkt(True, "PA", b"PASS Other# 1234!pw\r\n"[:n], start)
    # First arrivals per byte: "PASS " from forged (same bytes as p0), the
    # rest from p1: the real line.
    d["pass"] = [p1, forged, p0, forged2]
    pkts = hs + [x for k, _ in steps for x in d[k]] + close(c)
    anomaly = {"event_type": "anomaly", "src_ip": CLI_IP, "src_port": c.cport,
               "anomaly": {"type": "stream", "event": "reassembly_overlap_different_data"}}
    return pkts, [alert(c), email_ev(c, raw), anomaly], "overlap with different data"


def case_gap():
    """A segment of the RETR reply never captured (the client acknowledged
    it): the message is reported truncated; the login is whole."""
    c = Conn(cport=40004)
    hs = c.handshake()
    steps, raw = pop3_session(c, 4, cuts={"message": (800, 1600)})
    d = dict(steps)
    d["message"] = [d["message"][0], d["message"][2]]
    pkts = hs + [x for k, _ in steps for x in d[k]] + close(c)
    return pkts, [alert(c), email_ev(c, raw, truncated=True)], "a gap in the message"


def case_wrap():
    """Initial sequence numbers just below 2^32: both directions wrap."""
    c = Conn(cport=40005, cisn=0xffffffff - 20, sisn=0xffffffff - 700)
    hs = c.handshake()
    steps, raw = pop3_session(c, 5, cuts={"message": (500, 1500)})
    pkts = hs + flat(steps) + close(c)
    return pkts, [alert(c), email_ev(c, raw)], "sequence numbers wrap"


def case_midstream():
    """Two captures started mid-session. (1) The server listens on 60110
    and the client uses 40000, so ports alone would take the server for the
    client; the capture starts after USER: the first packet is the server's
    +OK. The login is reported incomplete (no user name). (2) Port 110, the
    capture starts after the handshake: the server's banner comes first."""
    a = Conn(cport=40000, sport=60110, cisn=7000, sisn=900000)
    steps, raw_a = pop3_session(a, 6, banner=True)
    d = dict(steps)
    pkts = [x for k, _ in steps if k not in ("banner", "user") for x in d[k]] + close(a)
    b = Conn(cport=50006, sport=110, cisn=3000, sisn=400000)
    steps_b, raw_b = pop3_session(b, 7)
    pkts += flat(steps_b) + close(b)
    exp = [alert(a, username=None, incomplete=True), email_ev(a, raw_a),
           alert(b), email_ev(b, raw_b)]
    return pkts, exp, "mid-session start"


def case_port_reuse():
    """The client closes its side, the server's FIN is never seen, and the
    same client port opens a new connection (new ISN) that logs in with a
    wrong password: two flows, two logins."""
    c = Conn(cport=40007, cisn=1000, sisn=500000)
    hs = c.handshake()
    steps, raw = pop3_session(c, 8)
    pkts = hs + flat(steps) + [c.fin(True), c.ack(False)]
    c2 = Conn(cport=40007, cisn=88000000, sisn=99000000)
    pkts += c2.handshake()
    pkts += c2.send(False, b"+OK POP3 ready.\r\n")
    pkts += c2.send(True, b"USER %s\r\n" % USER.encode())
    pkts += c2.send(False, b"+OK\r\n")
    pkts += c2.send(True, b"PASS wrong-password\r\n")
    pkts += c2.send(False, b"-ERR [AUTH] Authentication failed.\r\n")
    pkts += close(c2)
    exp = [alert(c), email_ev(c, raw),
           alert(c2, outcome="failure", reply="-ERR [AUTH] Authentication failed.",
                 password="wrong-password")]
    return pkts, exp, "port reuse after close"


def case_rst():
    """The client resets the connection after PASS, before any reply: the
    login is reported with outcome unknown. A second connection ends with
    FIN both ways after QUIT."""
    c = Conn(cport=40008)
    pkts = c.handshake()
    pkts += c.send(False, b"+OK POP3 ready.\r\n")
    pkts += c.send(True, b"USER %s\r\n" % USER.encode())
    pkts += c.send(False, b"+OK\r\n")
    pkts += c.send(True, b"PASS %s\r\n" % PASSWORD.encode())
    pkts.append(c.pkt(True, "RA"))
    # Data after the reset is not delivered by a receiver, nor by us.
    pkts += c.send(False, b"+OK Logged in.\r\n")
    c2 = Conn(cport=40009)
    hs = c2.handshake()
    steps, raw = pop3_session(c2, 9)
    pkts += hs + flat(steps) + close(c2)
    exp = [alert(c, outcome="unknown", reply=None), alert(c2), email_ev(c2, raw)]
    return pkts, exp, "RST and FIN"


CASES = {
    "reorder": case_reorder,
    "duplicate": case_duplicate,
    "overlap-diff": case_overlap,
    "gap": case_gap,
    "seq-wrap": case_wrap,
    "midstream": case_midstream,
    "port-reuse": case_port_reuse,
    "rst-fin": case_rst,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "stream")
    os.makedirs(outdir, exist_ok=True)
    for name, fn in CASES.items():
        pkts, expected, what = fn()
        for i, p in enumerate(pkts):
            p.time = T0 + i * 0.001
        path = os.path.join(outdir, name + ".pcap")
        wrpcap(path, pkts)
        with open(os.path.join(outdir, name + ".expected.json"), "w", encoding="utf-8") as f:
            for e in expected:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        print("%-14s %3d packets, %d events: %s" % (name, len(pkts), len(expected), what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
