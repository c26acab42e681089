#!/usr/bin/python3
"""Builds the TCP stream test captures in pcaps/stream/ with scapy, and
their expected events.

Each capture carries POP3 sessions whose bytes this script writes itself
(a transcript: what the client sent, what the server answered), cut into
TCP segments and then damaged the way real captures are: segments
reordered, duplicated, overlapping with different bytes, lost (a gap),
sequence numbers wrapping past 2^32, a capture that starts mid-session,
ports reused after a close, a connection reset; and (the later cases,
with an SMTP submission among them) what taps and SPAN ports do to a
healthy connection: packets captured late (after their ACK, after the
reply, hundreds of packets or seconds late, after the FINs), captured
twice, retransmitted cut differently, keepalive probes, one direction
only. The expected events are written from the transcript and from what
a receiving TCP would have delivered (first copy wins on overlaps), never
from running mailspill; see "cases of taps and SPAN ports" for the rules
and for pcap_cnt.

Usage: stream_gen.py [OUTDIR]   (default: pcaps/stream next to this script)
Nothing is sent on any network: packets are only written to files.
"""
import base64
import email
import email.policy
import hashlib
import json
import os
import random
import sys

from scapy.all import Ether, IP, TCP, wrpcap  # noqa: E402
import gencommon  # noqa: E402  (same directory)

CLI_IP, SRV_IP = "10.77.0.5", "10.77.0.1"
CLI_MAC, SRV_MAC = "02:00:00:77:00:05", "02:00:00:77:00:01"
T0 = 1795000000.0          # fixed capture time: reproducible output
USER, PASSWORD = "alice", "Stream 2026!pw"


def message(n, nlines=40, subject=None):
    """A small message with a line the server must dot-stuff (nlines body
    lines: more for the cases that need many segments)."""
    lines = [
        "From: Bob Sender <bob@example.net>",
        "To: Alice Example <alice@example.org>",
        "Subject: " + (subject or "Stream case %d" % n),
        "Message-ID: <stream-%d@example.net>" % n,
        "Date: Tue, 01 Oct 2024 09:30:00 +0000",
        "",
    ]
    for i in range(nlines):
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
        self.sent = {True: bytearray(), False: bytearray()}   # the transcript

    def pkt(self, from_client, flags, data=b"", seq=None, ack=None):
        s = self.seq[from_client] if seq is None else seq
        ack = (self.seq[not from_client] if ack is None else ack) & 0xffffffff
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
        self.sent[from_client] += data
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


def alert(c, outcome="success", reply="+OK Logged in.", pcap_cnt=None, **extra):
    """A POP3 USER/PASS login of flow c. No session here sends CAPA, so
    starttls_offered is never known; every login is in the clear (tls)."""
    cred = {"command": "USER", "mechanism": "USER", "password": PASSWORD, "outcome": outcome,
            "server_reply": reply, "tls": False}
    cred.update(extra)
    if "username" not in cred:
        cred["username"] = USER
    if cred["username"] is None:
        del cred["username"]
    return with_cnt({"event_type": "alert", "app_proto": "pop3", "src_ip": CLI_IP,
                     "src_port": c.cport, "dest_ip": SRV_IP, "dest_port": c.sport},
                    pcap_cnt, "credential", cred)


def with_cnt(ev, pcap_cnt, key, value):
    """ev + pcap_cnt (when given: only the newer cases carry it) + key: value."""
    if pcap_cnt is not None:
        ev["pcap_cnt"] = pcap_cnt
    ev[key] = value
    return ev


def headers(raw):
    """The header keys of an email event, from the message this script
    wrote (README "A message": values decoded, To/Cc as address lists;
    a header the message lacks gives no key)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {}
    for key, name in (("from", "From"), ("subject", "Subject"), ("date", "Date"),
                      ("message_id", "Message-ID")):
        if msg[name] is not None:
            out[key] = str(msg[name])
    for key, name in (("to", "To"), ("cc", "Cc")):
        if msg[name] is not None:
            out[key] = [str(a) for a in msg[name].addresses]
    return out


def kept_after_gap(raw, hole):
    """The message bytes a line-based reader keeps when the RETR reply
    (retr_body(raw)) loses bytes hole = (start, end) of it (README,
    Streams, "what a gap means"): it resynchronises on lines, so the line
    the hole cuts is lost whole (its head waits for a line end that never
    comes, its tail is skipped as the rest of a cut line), unless the hole
    ends right where a line that plainly starts one begins (for a message
    only its terminator). The reply's status line and terminator are not
    message bytes; the rest is dot-unstuffed."""
    body = retr_body(raw)
    start, end = hole
    resume = end
    if not (body[end - 2:end] == b"\r\n" and body[end:].startswith(b".\r\n")):
        resume = body.index(b"\r\n", end) + 2
    lines, at = [], 0
    while at < len(body):
        nxt = body.index(b"\r\n", at) + 2
        if nxt <= start or at >= resume:
            lines.append(body[at:nxt])
        at = nxt
    assert lines[0].startswith(b"+OK ") and lines[-1] == b".\r\n"
    return b"".join(l[1:] if l.startswith(b"..") else l for l in lines[1:-1])


def email_ev(c, raw, truncated=False, pcap_cnt=None, hole=None):
    """The RETR of message raw on flow c. A truncated message (hole: the
    bytes of the RETR reply never delivered, see kept_after_gap) is
    described by what was kept of it: its size and hash, the headers that
    survived."""
    assert truncated == (hole is not None)
    kept = kept_after_gap(raw, hole) if truncated else raw
    e = {"command": "RETR"}
    e.update(headers(kept))
    e.update({"size": len(kept), "sha256": hashlib.sha256(kept).hexdigest(),
              "truncated": truncated})
    return with_cnt({"event_type": "email", "app_proto": "pop3", "src_ip": CLI_IP,
                     "src_port": c.cport, "dest_ip": SRV_IP, "dest_port": c.sport},
                    pcap_cnt, "email", e)


def hole_of(steps_pkts, p):
    """(start, end) of packet p's bytes within its step, whose packets are
    steps_pkts (the first one carries the step's first byte)."""
    start = (p[TCP].seq - steps_pkts[0][TCP].seq) & 0xffffffff
    return start, start + len(bytes(p[TCP].payload))


# anomaly.detail: the wording is mailspill's own (it is not part of the
# README's contract, only that a gap's detail gives the missing byte count);
# the facts in it -- which side, how many bytes -- are what this script put
# into the capture.
SIDE = {True: "client", False: "server"}


def stream_anomaly(c, event, detail, app_proto="pop3"):
    """A stream anomaly of flow c (flow events name the client as src
    whichever direction it is about)."""
    return {"event_type": "anomaly", "app_proto": app_proto, "src_ip": CLI_IP,
            "src_port": c.cport, "dest_ip": SRV_IP, "dest_port": c.sport,
            "anomaly": {"type": "stream", "event": event, "app_proto": app_proto,
                        "detail": detail}}


def gap_anomaly(c, missing, from_client=False):
    """The one reassembly_gap anomaly of a direction of flow c: `missing`
    bytes of that direction were never captured (the first hole)."""
    return stream_anomaly(c, "reassembly_gap",
                          "%d bytes of the %s's stream were never captured: what spans them "
                          "is reported incomplete or truncated" % (missing, SIDE[from_client]))


def overlap_anomaly(c, from_client):
    """The one reassembly_overlap_different_data anomaly of a direction of
    flow c: a copy of bytes it had sent carried other bytes."""
    return stream_anomaly(c, "reassembly_overlap_different_data",
                          "%s retransmitted different bytes; the first copy is kept"
                          % SIDE[from_client])


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
    return pkts, [alert(c), email_ev(c, raw), overlap_anomaly(c, True)], \
        "overlap with different data"


def case_gap():
    """A segment of the RETR reply never captured (the client acknowledged
    it): the message is reported truncated, with one reassembly_gap anomaly
    (the hole never fills: it becomes a gap when the window passes or the
    capture ends); the login is whole."""
    c = Conn(cport=40004)
    hs = c.handshake()
    steps, raw = pop3_session(c, 4, cuts={"message": (800, 1600)})
    d = dict(steps)
    lost = d["message"][1]
    hole = hole_of(d["message"], lost)
    d["message"] = [d["message"][0], d["message"][2]]
    pkts = hs + [x for k, _ in steps for x in d[k]] + close(c)
    return pkts, [alert(c), email_ev(c, raw, truncated=True, hole=hole),
                  gap_anomaly(c, hole[1] - hole[0])], "a gap in the message"


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


# ---- cases of taps and SPAN ports ----------------------------------------------
#
# The cases below model what a passive tap or a SPAN port does to a capture
# while both ends see a healthy connection: a packet copied late (after its
# peer's acknowledgement, or after the peer's reply), copied twice,
# retransmissions cut differently, keepalive probes, a one-sided capture.
# The rules the expected files encode (the reassembly engine's):
#   - an ACK past a hole is a hint, not a loss: a segment that arrives later
#     within the window (2048 packets of the flow, 10 s of capture time, 1 MiB
#     buffered per direction) is delivered in order; past the window the
#     hole is a gap (message truncated, one reassembly_gap anomaly per
#     direction of the flow) and a segment arriving after that is dropped;
#   - the directions are delivered in conversation order: a segment whose
#     ACK covers peer bytes not yet delivered waits for them;
#   - keepalive probes (seq = next-1 with one byte, or no byte) and copies
#     with the same bytes raise nothing;
#   - after FIN both ways a hole still open is waited for (same window);
#   - a one-sided capture holds nothing back.
# Their events carry pcap_cnt: the 1-based index of the packet whose
# processing completed the event (delivered the last byte of the reply line
# or of the message). With nothing late that is the packet carrying that
# byte; when a late packet fills a hole or releases a waiting reply, it is
# the late packet. `Model` replays the written packet list under the rules
# above to compute it, and checks that each direction delivers exactly the
# transcript. Events completed by a gap or by the end of the flow (a
# truncated message, a login never answered) are listed without pcap_cnt.

MASK = 0xffffffff
F_FIN, F_SYN, F_RST, F_ACK = 0x01, 0x02, 0x04, 0x10


def dirkey(p):
    return (p[IP].src, p[TCP].sport, p[IP].dst, p[TCP].dport)


def payload(p):
    return bytes(p[TCP].payload)


class Half:
    def __init__(self):
        self.base = None       # sequence number of relative 0
        self.next = 0          # relative: first byte not yet delivered
        self.pend = []         # (rel seq, data, fin, ack or None)
        self.ranges = []       # (start, end, packet index) delivered
        self.stream = bytearray()
        self.fin = False
        self.gaps = []         # (start, end) skipped


class Model:
    """Replays packets in capture order through the delivery rules listed
    above. gaps_before: {packet index: [direction keys]}: the window of a
    hole in that direction has passed by then (the case knows where it put
    the time jump or the 2048 packets): its hole becomes a gap."""

    def __init__(self, pkts, gaps_before=None):
        self.halves = {}
        gaps_before = gaps_before or {}
        for idx, p in enumerate(pkts):
            for key in gaps_before.get(idx, ()):
                self._gap(self.halves[key])
            self._packet(p)
            self._run(idx)

    @staticmethod
    def _rel(h, seq):
        r = (seq - h.base) & MASK
        return r - (1 << 32) if r >= (1 << 31) else r

    def _packet(self, p):
        t = p[TCP]
        h = self.halves.setdefault(dirkey(p), Half())
        if int(t.flags) & F_SYN:
            if h.base is None:
                h.base, h.next = t.seq, 1
            return
        if h.base is None:
            h.base, h.next = t.seq, 0
        data, fin = payload(p), bool(int(t.flags) & F_FIN)
        if data or fin:
            h.pend.append((self._rel(h, t.seq), data, fin,
                           t.ack if int(t.flags) & F_ACK else None))

    def _acked(self, key, ack):
        peer = self.halves.get((key[2], key[3], key[0], key[1]))
        if peer is None or peer.base is None:
            return True          # peer never captured: nothing to wait for
        return self._rel(peer, ack) <= peer.next

    def _run(self, idx):
        changed = True
        while changed:
            changed = False
            for key, h in self.halves.items():
                for seg in list(h.pend):
                    rel, data, fin, ack = seg
                    end = rel + len(data)
                    if end < h.next or (end == h.next and (not fin or h.fin)):
                        h.pend.remove(seg)      # nothing new: copy, keepalive, late
                        continue
                    if rel > h.next or (ack is not None and not self._acked(key, ack)):
                        continue
                    if end > h.next:
                        h.ranges.append((h.next, end, idx))
                        h.stream += data[h.next - rel:]
                        h.next = end
                    if fin and h.next == end and not h.fin:
                        h.fin = True
                        h.next += 1
                    h.pend.remove(seg)
                    changed = True

    @staticmethod
    def _gap(h):
        ahead = [rel for rel, _, _, _ in h.pend if rel > h.next]
        assert ahead, "no hole to declare"
        h.gaps.append((h.next, min(ahead)))
        h.next = min(ahead)

    def cnt(self, p):
        """pcap_cnt of the event completed by the last byte of packet p."""
        h = self.halves[dirkey(p)]
        b = self._rel(h, p[TCP].seq) + len(payload(p)) - 1
        for start, end, idx in h.ranges:
            if start <= b < end:
                return idx + 1
        raise AssertionError("byte never delivered")

    def check(self, *conns, holes=()):
        """Each captured direction delivered its whole transcript (minus the
        holes given as packets) and nothing waits at the end."""
        for c in conns:
            for fc in (True, False):
                key = (CLI_IP, c.cport, SRV_IP, c.sport) if fc else \
                    (SRV_IP, c.sport, CLI_IP, c.cport)
                h = self.halves.get(key)
                if h is None:
                    continue
                want = bytes(c.sent[fc])
                for hp in sorted((p for p in holes if dirkey(p) == key),
                                 key=lambda p: -p[TCP].seq):
                    off = self._rel(h, hp[TCP].seq) - 1
                    want = want[:off] + want[off + len(payload(hp)):]
                assert not h.pend, ("still waiting", key, [s[0] for s in h.pend])
                assert bytes(h.stream) == want, ("stream differs", key)
                assert len(h.gaps) == len([p for p in holes if dirkey(p) == key]), key


def add_steps(c, P, steps, cuts):
    """steps: (name, from_client, data) in conversation order. Adds to P
    the packets of each step by name (data cut as cuts[name] gives, one
    packet per piece), plus for every step "ack_<name>": the peer's pure
    ACK of it, and "acks_<name>": the peer's ACK of each piece (of pieces
    0..i), built right after it (a case includes them or not: a pure ACK
    changes no sequence number)."""
    for name, fc, data in steps:
        P[name] = c.send(fc, data, cuts.get(name, ()))
        P["ack_" + name] = [c.ack(not fc)]
        P["acks_" + name] = [c.pkt(not fc, "A", ack=p[TCP].seq + len(payload(p)))
                             for p in P[name]]
    return P


def build_steps(c, steps, cuts):
    """Handshake ("hs"), the steps (add_steps), FIN both ways ("close")."""
    P = add_steps(c, {"hs": c.handshake()}, steps, cuts)
    P["close"] = close(c)
    return P


def timeline(pkts, jumps):
    """Capture times: 1 ms apart, plus jumps[id(p)] seconds before p."""
    times, t = [], 0.0
    for i, p in enumerate(pkts):
        t += jumps.get(id(p), 0.0) + (0.001 if i else 0.0)
        times.append(t)
    return times


def retr_body(raw):
    return b"+OK %d octets\r\n" % len(raw) + stuffed(raw)


def pop3_build(c, retrs, cuts=None):
    """A POP3 session (banner, USER/PASS, RETR n for each (n, raw) of
    retrs, QUIT) as named packets: steps banner, user, user_ok, pass,
    pass_ok, retr<n>, msg<n>, quit, bye, and the ACKs of build_steps."""
    steps = [("banner", False, b"+OK POP3 ready.\r\n"),
             ("user", True, b"USER %s\r\n" % USER.encode()),
             ("user_ok", False, b"+OK\r\n"),
             ("pass", True, b"PASS %s\r\n" % PASSWORD.encode()),
             ("pass_ok", False, b"+OK Logged in.\r\n")]
    for n, raw in retrs:
        steps += [("retr%d" % n, True, b"RETR %d\r\n" % n),
                  ("msg%d" % n, False, retr_body(raw))]
    steps += [("quit", True, b"QUIT\r\n"), ("bye", False, b"+OK Logging out.\r\n")]
    return build_steps(c, steps, cuts or {})


SMTP_USER = "alice@example.org"
SMTP_QUEUED = "250 2.0.0 Ok: queued as 4F2A1B3C5D"
SMTP_HELO = "client.example.net"


def smtp_build(c, raw, cuts=None):
    """An SMTP submission: banner, EHLO (no STARTTLS offered), AUTH PLAIN
    with the initial response, MAIL, RCPT, DATA, the message, QUIT."""
    plain = base64.b64encode(b"\0" + SMTP_USER.encode() + b"\0" + PASSWORD.encode())
    steps = [("banner", False, b"220 mail.example.org ESMTP ready\r\n"),
             ("ehlo", True, b"EHLO %s\r\n" % SMTP_HELO.encode()),
             ("ehlo_ok", False, b"250-mail.example.org\r\n250-PIPELINING\r\n"
                                b"250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"),
             ("auth", True, b"AUTH PLAIN " + plain + b"\r\n"),
             ("auth_ok", False, b"235 2.7.0 Authentication successful\r\n"),
             ("mail", True, b"MAIL FROM:<bob@example.net>\r\n"),
             ("mail_ok", False, b"250 2.1.0 Ok\r\n"),
             ("rcpt", True, b"RCPT TO:<alice@example.org>\r\n"),
             ("rcpt_ok", False, b"250 2.1.5 Ok\r\n"),
             ("data", True, b"DATA\r\n"),
             ("data_go", False, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
             ("body", True, stuffed(raw)),
             ("queued", False, SMTP_QUEUED.encode() + b"\r\n"),
             ("quit", True, b"QUIT\r\n"),
             ("bye", False, b"221 2.0.0 Bye\r\n")]
    return build_steps(c, steps, cuts or {})


def smtp_alert(c, pcap_cnt):
    return with_cnt({"event_type": "alert", "app_proto": "smtp", "src_ip": CLI_IP,
                     "src_port": c.cport, "dest_ip": SRV_IP, "dest_port": c.sport}, pcap_cnt,
                    "credential", {"command": "AUTH", "mechanism": "PLAIN", "username": SMTP_USER,
                                   "password": PASSWORD, "outcome": "success",
                                   "server_reply": "235 2.7.0 Authentication successful",
                                   "tls": False, "starttls_offered": False})


def smtp_email(c, raw, pcap_cnt):
    """The DATA message of smtp_build: the envelope and EHLO name it sent."""
    e = {"command": "DATA", "accepted": True, "server_reply": SMTP_QUEUED}
    e.update(headers(raw))
    e.update({"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(), "truncated": False})
    return with_cnt({"event_type": "email", "app_proto": "smtp", "src_ip": CLI_IP,
                     "src_port": c.cport, "dest_ip": SRV_IP, "dest_port": c.sport,
                     "smtp": {"helo": SMTP_HELO, "mail_from": "<bob@example.net>",
                              "rcpt_to": ["<alice@example.org>"]}},
                    pcap_cnt, "email", e)


def pick(P, spec):
    """Packets named by spec: "name" (all its packets), "name[i]",
    "name[i:j]", separated by spaces."""
    out = []
    for tok in spec.split():
        if "[" not in tok:
            out += P[tok]
            continue
        name, idx = tok[:-1].split("[")
        if ":" in idx:
            a, b = idx.split(":")
            out += P[name][int(a) if a else None:int(b) if b else None]
        else:
            out.append(P[name][int(idx)])
    return out


def with_acks(P, name, every=2):
    """The pieces of step name with the peer's ACK after every `every`
    pieces and after the last (as a receiver acknowledges)."""
    out, segs = [], P[name]
    for i, p in enumerate(segs):
        out.append(p)
        if (i + 1) % every == 0 or i == len(segs) - 1:
            out.append(P["acks_" + name][i])
    return out


def index_of(lst, p):
    return next(i for i, x in enumerate(lst) if x is p)


def delay(lst, p, k):
    """Packet p captured k packets (of this list) later than its place."""
    i = index_of(lst, p)
    del lst[i]
    assert i + k <= len(lst), "not enough packets to delay over"
    lst.insert(i + k, p)


def mix(*flows):
    """Flows interleaved packet by packet (each keeps its own order)."""
    out, iters = [], [iter(f) for f in flows]
    while iters:
        for it in list(iters):
            p = next(it, None)
            if p is None:
                iters.remove(it)
            else:
                out.append(p)
    return out


def even_cuts(n, lo, hi, seed):
    """Offsets cutting n bytes into pieces of lo..hi bytes (seeded)."""
    rnd, cuts, at = random.Random(seed), [], 0
    while True:
        at += rnd.randint(lo, hi)
        if at >= n:
            return tuple(cuts)
        cuts.append(at)


def rexmit(p_first, data, base, start, end):
    """A retransmission of data[start:end] (data: a step's bytes starting at
    sequence number base) with the same header as the step's first
    packet (its ACK: retransmissions are sent before the peer answers)."""
    q = p_first.copy()
    q[TCP].seq = (base + start) & MASK
    q[TCP].remove_payload()
    return q / data[start:end]


def step_bytes(P, name):
    return b"".join(payload(p) for p in P[name]), P[name][0][TCP].seq


def case_ack_before_data():
    """The peer's pure ACK captured before the data it acknowledges (a tap
    with two capture paths, one of them slower): the server's ACK of PASS
    before PASS, the client's ACK of message pieces before those pieces,
    the client's ACK of the banner before the banner, the server's ACK of
    USER before USER; and one data packet, the client's QUIT, whose ACK
    covers the message's last piece, captured before that piece (QUIT
    waits for it). Nothing is lost: everything whole, no anomaly."""
    a = Conn(cport=41010, cisn=11000, sisn=611000)
    raw_a = message(10)
    A = pop3_build(a, [(10, raw_a)], cuts={"msg10": (700, 1400, 2100)})
    fa = pick(A, "hs banner user user_ok ack_pass pass pass_ok retr10 msg10[0] acks_msg10[1]"
                 " msg10[1] acks_msg10[3] msg10[2] quit msg10[3] bye close")
    b = Conn(cport=41011, cisn=22000, sisn=722000)
    raw_b = message(11)
    B = pop3_build(b, [(11, raw_b)], cuts={"msg11": (900, 1800)})
    fb = pick(B, "hs ack_banner banner ack_user user user_ok pass ack_pass_ok pass_ok retr11"
                 " acks_msg11[2] msg11[0] acks_msg11[0] msg11[1] msg11[2] ack_quit quit bye close")
    pkts = mix(fa, fb)
    m = Model(pkts)
    m.check(a, b)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg10"][-1])),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw_b, pcap_cnt=m.cnt(B["msg11"][-1]))]
    return pkts, exp, "ACKs captured before the data they acknowledge"


def case_reply_before_request():
    """The server's reply captured before the client's request it answers,
    with peer packets in between: POP3 +OK before USER, +OK Logged in.
    before PASS, the whole RETR reply before RETR, the goodbye before QUIT.
    An SMTP submission (port 25): 354 before DATA, "250 ... queued" before
    the body's last piece. Each reply waits for its request; events come
    out whole, completed by the request's (or the body piece's) packet."""
    a = Conn(cport=41020, cisn=33000, sisn=833000)
    raw_a = message(12)
    A = pop3_build(a, [(12, raw_a)], cuts={"msg12": (1000, 2000)})
    fa = pick(A, "hs banner user_ok ack_banner user pass_ok ack_user_ok pass msg12 ack_pass_ok"
                 " retr12 acks_msg12[2] bye quit close")
    s = Conn(cport=41021, sport=25, cisn=44000, sisn=944000)
    raw_s = message(13, subject="Stream SMTP case 13")
    S = smtp_build(s, raw_s, cuts={"body": (900, 1800)})
    fs = pick(S, "hs banner ehlo ehlo_ok auth auth_ok mail mail_ok rcpt_ok ack_mail_ok rcpt"
                 " data_go data body[0] body[1] queued body[2] quit bye close")
    pkts = mix(fa, fs)
    m = Model(pkts)
    m.check(a, s)
    # the reply waits for its request: completed by the request's packet
    assert m.cnt(A["pass_ok"][-1]) == index_of(pkts, A["pass"][-1]) + 1
    assert m.cnt(A["msg12"][-1]) == index_of(pkts, A["retr12"][-1]) + 1
    assert m.cnt(S["queued"][-1]) == index_of(pkts, S["body"][-1]) + 1
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg12"][-1])),
           smtp_alert(s, m.cnt(S["auth_ok"][-1])),
           smtp_email(s, raw_s, m.cnt(S["queued"][-1]))]
    return pkts, exp, "server replies captured before their requests"


def case_late_segments():
    """Pieces captured 2, 3, 5 and 8 packets of their flow late (after
    the peer's replies and ACKs): USER's first piece 2 late, PASS's middle
    piece 3 late, message pieces 5 and 8 late (flow 1, the client
    acknowledging every second piece); RETR's first piece 3 late, message
    pieces 2 and 5 late (flow 2, the client acknowledging each piece). The
    message pieces stay before QUIT."""
    a = Conn(cport=41030, cisn=55000, sisn=155000)
    raw_a = message(14)
    cuts_a = {"user": (5,), "pass": (4, 12),
              "msg14": even_cuts(len(retr_body(raw_a)), 150, 220, 14)}
    A = pop3_build(a, [(14, raw_a)], cuts=cuts_a)
    fa = pick(A, "hs banner user user_ok pass pass_ok retr14") + with_acks(A, "msg14") + \
        pick(A, "quit bye close")
    delay(fa, A["user"][0], 2)
    delay(fa, A["pass"][1], 3)
    delay(fa, A["msg14"][3], 5)
    delay(fa, A["msg14"][9], 8)
    b = Conn(cport=41031, cisn=66000, sisn=266000)
    raw_b = message(15)
    B = pop3_build(b, [(15, raw_b)], cuts={"retr15": (3,), "msg15": tuple(range(300, 2900, 300))})
    fb = pick(B, "hs banner user user_ok pass pass_ok retr15") + with_acks(B, "msg15", 1) + \
        pick(B, "quit bye close")
    delay(fb, B["retr15"][0], 3)
    delay(fb, B["msg15"][2], 2)
    delay(fb, B["msg15"][5], 5)
    assert all(index_of(fa, A["msg14"][i]) < index_of(fa, A["quit"][0]) for i in (3, 9))
    assert all(index_of(fb, B["msg15"][i]) < index_of(fb, B["quit"][0]) for i in (2, 5))
    pkts = mix(fa, fb)
    m = Model(pkts)
    m.check(a, b)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg14"][-1])),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw_b, pcap_cnt=m.cnt(B["msg15"][-1]))]
    return pkts, exp, "pieces 2-8 packets late"


def case_late_500():
    """A ~127 KB message in pieces of 200-400 bytes, the client
    acknowledging every second piece; piece 20 is captured 500 packets of
    the flow late (about 100 KB buffered behind it: within the window)."""
    a = Conn(cport=41040, cisn=77000, sisn=377000)
    raw = message(16, nlines=1800)
    A = pop3_build(a, [(16, raw)], cuts={"msg16": even_cuts(len(retr_body(raw)), 200, 400, 16)})
    fa = pick(A, "hs banner user user_ok pass pass_ok retr16") + with_acks(A, "msg16") + \
        pick(A, "quit bye close")
    delay(fa, A["msg16"][20], 500)
    m = Model(fa)
    m.check(a)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw, pcap_cnt=m.cnt(A["msg16"][-1]))]
    return fa, exp, "a piece 500 packets late"


def case_late_beyond_time():
    """Flow 1: the third of six pieces of RETR 17's reply is held back; the
    other pieces and the client's ACK of all of them come; then only flow
    2 (a whole session) for 21 s of capture time, 1.2 s apart; then flow
    1 goes on: RETR 18 and its reply, the late piece arriving among that
    reply's pieces. Past 10 s the hole is a gap: message 17 truncated, one
    reassembly_gap anomaly for flow 1; the late piece is dropped; flow 1's
    login and message 18 and all of flow 2 whole."""
    a = Conn(cport=41050, cisn=88000, sisn=488000)
    raw17, raw18 = message(17), message(18)
    A = pop3_build(a, [(17, raw17), (18, raw18)],
                   cuts={"msg17": (500, 1000, 1500, 2000, 2500), "msg18": (1000, 2000)})
    b = Conn(cport=41051, cisn=99000, sisn=599000)
    raw19 = message(19)
    B = pop3_build(b, [(19, raw19)], cuts={"msg19": (1400,)})
    a1 = pick(A, "hs banner user user_ok pass pass_ok retr17 msg17[0] msg17[1] msg17[3:]"
                 " acks_msg17[5]")
    fb = pick(B, "hs banner user user_ok pass pass_ok retr19 msg19 acks_msg19[1] quit bye close")
    a2 = pick(A, "retr18 msg18[0] msg17[2] msg18[1:] acks_msg18[2] quit bye close")
    pkts = a1 + fb + a2
    times, t = [], 0.0
    for i, p in enumerate(pkts):
        t += 1.2 if len(a1) <= i < len(a1) + len(fb) else 0.001
        times.append(t - 0.001)
    # the late piece's successors were captured more than 20 s before flow 1 goes on
    assert times[len(a1) + len(fb)] - times[len(a1) - 1] > 20
    # any moment between the 10 s and RETR 18 will do: say at RETR 18
    m = Model(pkts, gaps_before={len(a1) + len(fb): [(SRV_IP, 110, CLI_IP, a.cport)]})
    m.check(a, b, holes=[A["msg17"][2]])
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw17, truncated=True, hole=hole_of(A["msg17"], A["msg17"][2])),
           email_ev(a, raw18, pcap_cnt=m.cnt(A["msg18"][-1])),
           gap_anomaly(a, len(payload(A["msg17"][2]))),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw19, pcap_cnt=m.cnt(B["msg19"][-1]))]
    return pkts, exp, "a piece more than 10 s late: gap", times


def case_late_beyond_packets():
    """Flow 1: RETR 20's ~245 KB reply in 100-byte pieces (the client
    acknowledging every 8th); piece 20 is captured after 2250 more pieces
    of the server (2531 packets of the flow; ~225 KB buffered: under
    1 MiB, and 2.7 s: under 10 s). Past 2048 packets the hole is a gap:
    message 20 truncated, one reassembly_gap anomaly; the late piece is
    dropped; the login, a following RETR 21 and flow 2 (a whole session
    interleaved with flow 1's start) whole."""
    a = Conn(cport=41052, cisn=111000, sisn=711000)
    raw20, raw21 = message(20, nlines=3500), message(21)
    A = pop3_build(a, [(20, raw20), (21, raw21)],
                   cuts={"msg20": tuple(range(100, len(retr_body(raw20)), 100)),
                         "msg21": (1400,)})
    fa = pick(A, "hs banner user user_ok pass pass_ok retr20") + with_acks(A, "msg20", 8) + \
        pick(A, "retr21 msg21 acks_msg21[1] quit bye close")
    late = A["msg20"][20]
    fa.remove(late)
    fa.insert(index_of(fa, A["msg20"][20 + 2251]), late)
    between = fa[index_of(fa, A["msg20"][21]):index_of(fa, late)]
    assert len(between) > 2048 and sum(1 for p in between if p[IP].src == SRV_IP) > 2048
    b = Conn(cport=41053, cisn=222000, sisn=822000)
    raw22 = message(22)
    B = pop3_build(b, [(22, raw22)])
    fb = pick(B, "hs banner user user_ok pass pass_ok retr22 msg22 acks_msg22[0] quit bye close")
    pkts = mix(fa[:40], fb) + fa[40:]
    m = Model(pkts, gaps_before={index_of(pkts, late): [(SRV_IP, 110, CLI_IP, a.cport)]})
    m.check(a, b, holes=[late])
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw20, truncated=True, hole=hole_of(A["msg20"], late)),
           email_ev(a, raw21, pcap_cnt=m.cnt(A["msg21"][-1])),
           gap_anomaly(a, len(payload(late))),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw22, pcap_cnt=m.cnt(B["msg22"][-1]))]
    return pkts, exp, "a piece more than 2048 packets late: gap"


def span_copies(flow, delays):
    """Every packet of a flow twice, as a SPAN port mirrors both the
    ingress and the egress of a switch: the copy right after the packet or
    1-3 packets of the flow later (delays, cycled). Handshake and closing
    packets get their copy right after."""
    keyed = []
    for i, p in enumerate(flow):
        d = delays[i % len(delays)]
        if int(p[TCP].flags) & (F_SYN | F_FIN) or i == len(flow) - 1:
            d = 0
        keyed += [(i, 0, p), (i + d, 1, p.copy())]
    return [p for _, _, p in sorted(keyed, key=lambda x: (x[0], x[1]))]


def case_span_duplicates():
    """Two sessions, every packet captured twice; the second copy right
    after or 1-3 packets of the flow later (after the peer's packets). The
    copies carry the same bytes: nothing to report."""
    a = Conn(cport=41060, cisn=123000, sisn=523000)
    raw_a = message(23)
    A = pop3_build(a, [(23, raw_a)], cuts={"user": (4,), "msg23": (700, 1400, 2100)})
    fa = pick(A, "hs banner ack_banner user user_ok ack_user_ok pass pass_ok ack_pass_ok"
                 " retr23") + \
        with_acks(A, "msg23") + pick(A, "quit bye close")
    b = Conn(cport=41061, cisn=234000, sisn=634000)
    raw_b = message(24)
    B = pop3_build(b, [(24, raw_b)], cuts={"pass": (9,), "msg24": (1000, 2000)})
    fb = pick(B, "hs banner user user_ok pass pass_ok retr24") + with_acks(B, "msg24", 1) + \
        pick(B, "quit bye close")
    pkts = mix(span_copies(fa, (0, 1, 3, 0, 2, 0, 1, 2, 3)), span_copies(fb, (2, 0, 0, 3, 1)))
    m = Model(pkts)
    m.check(a, b)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg23"][-1])),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw_b, pcap_cnt=m.cnt(B["msg24"][-1]))]
    return pkts, exp, "every packet twice (SPAN)"


def case_retransmit_split():
    """Retransmissions cut at other offsets than the first transmission,
    overlapping it with the same bytes; some come before the original
    pieces they overlap (overlap with buffered bytes), some after
    (overlap with delivered bytes), some bridge both. Flow 1: the client's
    USER and PASS, the server's message; flow 2: the server's replies and
    message, the client's QUIT. Same bytes everywhere: no anomaly."""
    a = Conn(cport=41070, cisn=345000, sisn=745000)
    raw_a = message(25)
    A = pop3_build(a, [(25, raw_a)], cuts={"user": (3, 7), "pass": (8,),
                                           "msg25": (700, 1400, 2100)})
    d, base = step_bytes(A, "user")
    u = A["user"]
    user = [rexmit(u[0], d, base, 2, 9), u[1], u[0], u[2], rexmit(u[0], d, base, 0, len(d))]
    d, base = step_bytes(A, "pass")
    p = A["pass"]
    pas = [rexmit(p[0], d, base, 5, 15), p[1], p[0], rexmit(p[0], d, base, 0, len(d))]
    d, base = step_bytes(A, "msg25")
    o = A["msg25"]
    msg = [o[0], rexmit(o[0], d, base, 1200, 1900), o[1], rexmit(o[0], d, base, 300, 1000),
           rexmit(o[0], d, base, 1850, 2500), o[2], rexmit(o[0], d, base, 2600, len(d)), o[3],
           rexmit(o[0], d, base, 1000, 2400)]
    fa = pick(A, "hs banner") + user + pick(A, "user_ok") + pas + pick(A, "pass_ok retr25") + \
        msg + pick(A, "acks_msg25[3] quit bye close")
    b = Conn(cport=41071, cisn=456000, sisn=856000)
    raw_b = message(26)
    B = pop3_build(b, [(26, raw_b)], cuts={"user_ok": (2,), "pass_ok": (4, 10),
                                           "msg26": (600, 1200, 1800, 2400), "quit": (2,)})
    d, base = step_bytes(B, "user_ok")
    uo = B["user_ok"]
    user_ok = [rexmit(uo[0], d, base, 1, 5), uo[0], uo[1]]
    d, base = step_bytes(B, "pass_ok")
    po = B["pass_ok"]
    pass_ok = [po[0], rexmit(po[0], d, base, 2, 16), po[2], po[1]]
    d, base = step_bytes(B, "msg26")
    o = B["msg26"]
    msg = [rexmit(o[0], d, base, 500, 1300), o[0], o[2], o[1], rexmit(o[0], d, base, 1700, len(d)),
           o[3], rexmit(o[0], d, base, 2300, 2500), o[4]]
    d, base = step_bytes(B, "quit")
    q = B["quit"]
    quit_ = [q[1], rexmit(q[0], d, base, 0, 4), q[0]]
    fb = pick(B, "hs banner user") + user_ok + pick(B, "pass") + pass_ok + pick(B, "retr26") + \
        msg + pick(B, "acks_msg26[4]") + quit_ + pick(B, "bye close")
    pkts = mix(fa, fb)
    m = Model(pkts)
    m.check(a, b)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg25"][-1])),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw_b, pcap_cnt=m.cnt(B["msg26"][-1]))]
    return pkts, exp, "retransmissions cut elsewhere, same bytes"


def keepalives(c):
    """Both sides probe an idle connection, each probe answered by a pure
    ACK: a probe with one garbage byte at seq next-1 (Linux, Windows), then
    one with no byte at seq next-1."""
    out = []
    for fc in (True, False):
        out += [c.pkt(fc, "A", b"\x00", seq=c.seq[fc] - 1), c.ack(not fc),
                c.pkt(fc, "A", seq=c.seq[fc] - 1), c.ack(not fc)]
    return out


def case_keepalive():
    """After the login (before RETR) and after the message (before QUIT)
    the connection idles: 15 s later the client probes (garbage byte, then
    no byte; each answered by the server's ACK), 15 s later the server
    probes, 15 s later the next command. The garbage byte differs from the
    byte it overlaps: a probe, not an overlap: no anomaly, all whole."""
    a = Conn(cport=41080, cisn=567000, sisn=967000)
    raw = message(27)
    A = add_steps(a, {"hs": a.handshake()},
                  [("banner", False, b"+OK POP3 ready.\r\n"),
                   ("user", True, b"USER %s\r\n" % USER.encode()),
                   ("user_ok", False, b"+OK\r\n"),
                   ("pass", True, b"PASS %s\r\n" % PASSWORD.encode()),
                   ("pass_ok", False, b"+OK Logged in.\r\n")], {})
    idle1 = keepalives(a)
    add_steps(a, A, [("retr27", True, b"RETR 27\r\n"), ("msg27", False, retr_body(raw))],
              {"msg27": (1400,)})
    idle2 = keepalives(a)
    add_steps(a, A, [("quit", True, b"QUIT\r\n"), ("bye", False, b"+OK Logging out.\r\n")], {})
    A["close"] = close(a)
    pkts = pick(A, "hs banner user user_ok pass pass_ok ack_pass_ok") + idle1 + \
        pick(A, "retr27 msg27 acks_msg27[1]") + idle2 + pick(A, "quit bye close")
    jumps = {id(p): 15.0 for p in (idle1[0], idle1[4], idle2[0], idle2[4],
                                   A["retr27"][0], A["quit"][0])}
    m = Model(pkts)
    m.check(a)
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw, pcap_cnt=m.cnt(A["msg27"][-1]))]
    return pkts, exp, "keepalive probes while idle", timeline(pkts, jumps)


def case_late_after_fin():
    """Flow 1: the server answers QUIT with "+OK Logging out." and closes;
    that reply is captured after the server's FIN, the client's FIN and
    the last ACK. Flow 2: the last piece of the RETR reply is captured
    after QUIT, the goodbye and FIN both ways. Both are delivered: the
    flow waits for its hole; the email is whole, no anomaly."""
    a = Conn(cport=41090, cisn=678000, sisn=178000)
    raw_a = message(28)
    A = pop3_build(a, [(28, raw_a)], cuts={"msg28": (1400,)})
    # the server closes first here: rebuild the close after the goodbye
    a.seq[True] -= 1
    a.seq[False] -= 1
    s_fin = a.fin(False)
    c_fin = a.fin(True)
    s_last = a.ack(False)
    fa = pick(A, "hs banner user user_ok pass pass_ok retr28 msg28 acks_msg28[1] quit") + \
        [s_fin, c_fin, s_last] + pick(A, "bye")
    b = Conn(cport=41091, cisn=789000, sisn=289000)
    raw_b = message(29)
    B = pop3_build(b, [(29, raw_b)], cuts={"msg29": (700, 1400, 2100)})
    fb = pick(B, "hs banner user user_ok pass pass_ok retr29 msg29[0:3] acks_msg29[3] quit bye"
                 " close msg29[3]")
    pkts = mix(fa, fb)
    m = Model(pkts)
    m.check(a, b)
    assert m.cnt(B["msg29"][-1]) == index_of(pkts, B["msg29"][-1]) + 1
    exp = [alert(a, pcap_cnt=m.cnt(A["pass_ok"][-1])),
           email_ev(a, raw_a, pcap_cnt=m.cnt(A["msg28"][-1])),
           alert(b, pcap_cnt=m.cnt(B["pass_ok"][-1])),
           email_ev(b, raw_b, pcap_cnt=m.cnt(B["msg29"][-1]))]
    return pkts, exp, "data captured after FIN both ways"


def case_one_sided():
    """Only the client's packets captured (asymmetric routing: the replies
    take a path the tap does not see): (1) handshake, USER/PASS, RETR,
    QUIT, FIN; (2) the capture starts after the handshake: USER, PASS in
    two pieces captured in reverse order, QUIT. The client's ACKs cover
    server bytes never captured: nothing is held back for them and no gap
    is reported. Each login with outcome unknown and no reply (never
    answered: reported when the flow ends, so no pcap_cnt); no email."""
    a = Conn(cport=41100, cisn=890000, sisn=390000)
    A = pop3_build(a, [(30, message(30))], cuts={"msg30": (1400,)})
    fa = pick(A, "hs user pass retr30 acks_msg30[0] acks_msg30[1] quit close")
    b = Conn(cport=41101, cisn=901000, sisn=401000)
    B = pop3_build(b, [], cuts={"pass": (9,)})
    fb = pick(B, "banner ack_banner user user_ok ack_user_ok pass[1] pass[0] pass_ok ack_pass_ok"
                 " quit bye close")
    pkts = [p for p in mix(fa, fb) if p[IP].src == CLI_IP]
    m = Model(pkts)
    for key in m.halves:
        assert key[0] == CLI_IP
    m.check(a, b)
    exp = [alert(a, outcome="unknown", reply=None), alert(b, outcome="unknown", reply=None)]
    return pkts, exp, "client side only"


def login_only(c, pw=PASSWORD.encode(), user=USER.encode()):
    """Banner, USER, +OK, PASS, +OK Logged in., as (label, packets)."""
    return [("banner", c.send(False, b"+OK POP3 ready.\r\n")),
            ("user", c.send(True, b"USER %s\r\n" % user)),
            ("user_ok", c.send(False, b"+OK\r\n")),
            ("pass", c.send(True, b"PASS %s\r\n" % pw)),
            ("pass_ok", c.send(False, b"+OK Logged in.\r\n"))]


def case_stale_fin_rst():
    """Found by review: a FIN or RST at any sequence number was taken, and
    cut the stream. (1) after USER, a FIN 3,000,000 bytes behind the
    client's stream; (2) a RST as far behind; (3) a RST 3,000,000 bytes
    ahead. None can be real (RFC 5961 section 3): each is ignored and
    counted, each login is whole, no gap is invented."""
    pkts, exp = [], []
    for i, (flags, delta) in enumerate((("FA", -3000000), ("R", -3000000), ("R", 3000000))):
        c = Conn(cport=41110 + i, cisn=1000 + i * 7, sisn=500000 + i * 11)
        hs = c.handshake()
        steps = login_only(c)
        d = dict(steps)
        bogus = c.pkt(True, flags, seq=c.seq[True] - len(b"PASS %s\r\n" % PASSWORD.encode()) + delta)
        pkts += hs + d["banner"] + d["user"] + d["user_ok"] + [bogus] + d["pass"] + \
            d["pass_ok"] + close(c)
        exp.append(alert(c))
    exp.append({"event_type": "stats", "stats": {"tcp": {"invalid_fin_rst": 3, "reassembly_gap": 0}}})
    return pkts, exp, "FIN/RST far behind or ahead ignored"


def case_midstream_reply_first():
    """Found by review: a capture that starts mid-session, and a tap that
    recorded the server's +OK to USER before the USER itself. Before the
    client's first packet, nothing told when its bytes start: the reply
    was parsed first and every later reply went to the wrong command (the
    wrong password reported accepted). Now a reply waits for the peer's
    first packet (one window at most)."""
    c = Conn(cport=41120, cisn=7000, sisn=900000)
    c.send(False, b"+OK POP3 ready.\r\n")  # before the capture began
    user = c.send(True, b"USER %s\r\n" % USER.encode())
    user_ok = c.send(False, b"+OK\r\n")
    pass1 = c.send(True, b"PASS wrongpass\r\n")
    fail = c.send(False, b"-ERR [AUTH] Authentication failed.\r\n")
    user2 = c.send(True, b"USER %s\r\n" % USER.encode())
    ok2 = c.send(False, b"+OK\r\n")
    pass2 = c.send(True, b"PASS %s\r\n" % PASSWORD.encode())
    ok3 = c.send(False, b"+OK Logged in.\r\n")
    pkts = user_ok + user + pass1 + fail + user2 + ok2 + pass2 + ok3 + close(c)
    exp = [alert(c, outcome="failure", reply="-ERR [AUTH] Authentication failed.",
                 password="wrongpass"),
           alert(c)]
    return pkts, exp, "mid-session start, reply before its request"


def case_reuse_without_close():
    """Found by review: the same client port connects again 30 s later with
    a new ISN, the first connection's FIN and RST never captured. The SYN
    on a flow that was not closing was ignored, and the second login lost.
    A bare SYN with a new ISN after 10 s of silence is port reuse."""
    a = Conn(cport=41130, cisn=1000, sisn=500000)
    b = Conn(cport=41130, cisn=3000000000, sisn=2000000000)
    first = a.handshake() + flat(login_only(a, pw=b"firstpw"))
    second = b.handshake() + flat(login_only(b, pw=b"secondpw")) + close(b)
    times = [i * 0.001 for i in range(len(first))] + [30 + i * 0.001 for i in range(len(second))]
    exp = [alert(a, password="firstpw"), alert(b, password="secondpw"),
           {"event_type": "stats", "stats": {"tcp": {"port_reuse": 1, "reassembly_gap": 0}}}]
    return first + second, exp, "port reused after a close the capture missed", times


CASES = {
    "reorder": case_reorder,
    "duplicate": case_duplicate,
    "overlap-diff": case_overlap,
    "gap": case_gap,
    "seq-wrap": case_wrap,
    "midstream": case_midstream,
    "port-reuse": case_port_reuse,
    "rst-fin": case_rst,
    "ack-before-data": case_ack_before_data,
    "reply-before-request": case_reply_before_request,
    "late-segments": case_late_segments,
    "late-500": case_late_500,
    "late-beyond-time": case_late_beyond_time,
    "late-beyond-packets": case_late_beyond_packets,
    "span-duplicates": case_span_duplicates,
    "retransmit-split-overlap": case_retransmit_split,
    "keepalive": case_keepalive,
    "late-after-fin": case_late_after_fin,
    "one-sided": case_one_sided,
    "stale-fin-rst": case_stale_fin_rst,
    "midstream-reply-first": case_midstream_reply_first,
    "reuse-without-close": case_reuse_without_close,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "stream")
    os.makedirs(outdir, exist_ok=True)
    for name, fn in CASES.items():
        pkts, expected, what, *times = fn()
        # 1 ms apart unless the case sets its own times (seconds after T0)
        times = times[0] if times else [i * 0.001 for i in range(len(pkts))]
        assert len(times) == len(pkts) and times == sorted(times)
        for p, t in zip(pkts, times):
            p.time = T0 + t
        path = os.path.join(outdir, name + ".pcap")
        wrpcap(path, pkts)
        with open(os.path.join(outdir, name + ".expected.json"), "w", encoding="utf-8") as f:
            for e in expected:
                f.write(json.dumps(gencommon.with_alert(e), ensure_ascii=False) + "\n")
        print("%-24s %4d packets, %d events: %s" % (name, len(pkts), len(expected), what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
