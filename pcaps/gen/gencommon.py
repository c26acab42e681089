"""Shared helpers of the capture generators' python halves (pop3_gen.py,
pop3_mech_gen.py, imap_gen.py, smtp_gen.py): error exit, NDJSON output,
curl --trace-ascii reading, attachment descriptions, the email keys of a
message (README's event table), clients that connect from a chosen port, the
alert object, and the capture sanity check's pcap scan. Each generator keeps
its own policy (which commands the client must have sent, how a TLS session
may end); what is here is the part that is really the same.

The sanity check is verification only: it never feeds the expected events.
"""
import email
import email.policy
import hashlib
import imaplib
import json
import os
import poplib
import re
import socket
import struct
import sys


def die(text):
    """Error exit, prefixed with the running script's name."""
    print("%s: error: %s" % (os.path.basename(sys.argv[0]), text), file=sys.stderr)
    sys.exit(1)


def append_events(path, events):
    with open(path, "a", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def att_meta(name, ctype, data):
    """How an expected event describes one attachment."""
    return {"filename": name, "content_type": ctype, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def received_attachments(msg):
    """att_meta of every attachment of a parsed message (as the client got it)."""
    return [att_meta(part.get_filename(), part.get_content_type(),
                     part.get_payload(decode=True))
            for part in msg.iter_attachments()]


def read_curl_trace(path):
    """curl --trace-ascii log -> [(">" sent | "<" received, line)].
    For POP3 and IMAP every "Send header" block is one command line and every
    "Recv header" block one reply line (curl shows CRLF as a line break and
    wraps long lines at 64 characters: the pieces of a block are joined)."""
    blocks = []
    cur = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("=> Send header"):
                cur = [">", ""]
                blocks.append(cur)
            elif line.startswith("<= Recv header"):
                cur = ["<", ""]
                blocks.append(cur)
            elif line[:2] in ("=>", "<=", "=="):
                cur = None
            elif cur is not None and len(line) >= 6 and line[4:6] == ": ":
                cur[1] += line[6:]
    return [tuple(b) for b in blocks]


# Capture sanity check (verification only: never feeds the expected events) --

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def read_pcap(path):
    """(caplen, wirelen, frame) of every packet of a classic Ethernet pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        die("%s: not a classic pcap file" % path)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        die("%s: link type %d, expected Ethernet" % (path, linktype))
    off = 24
    while off < len(data):
        _, _, caplen, wirelen = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield caplen, wirelen, data[off:off + caplen]
        off += caplen


class Scan:
    """What scan_pcap found: problems so far, the packet count, the TCP
    connections opened (client SYNs), FIN and RST packets, the directions
    that sent a FIN, and each direction's in-order payload."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        self.npkt = 0
        self.syns = 0
        self.fins = 0
        self.rsts = 0
        self.fin_dirs = set()
        self.client_ports = []  # of each client SYN, in order
        self.streams = {}       # (src, sport, dst, dport) -> bytearray

    def client_bytes(self, client_ip):
        """Everything the client sent, connection after connection."""
        return b"".join(bytes(v) for k, v in sorted(self.streams.items())
                        if k[0] == client_ip)

    def finish(self, expected=None):
        """Prints the summary line; exits with the problems if there are any.
        expected: the expected-events file, whose event count is shown."""
        line = "    %s: %d packets, %d bytes, %d connections" % (
            os.path.basename(self.path), self.npkt, os.path.getsize(self.path), self.syns)
        if expected is not None:
            with open(expected, encoding="utf-8") as f:
                events = [json.loads(l) for l in f if l.strip()]
            line += ", %d expected events" % len(events)
            # The src_port the generator read from each client is a
            # connection of this capture (a check of the generator).
            for e in events:
                if "src_port" in e and e["src_port"] not in self.client_ports:
                    self.problems.append("expected src_port %d: no connection from it (%s)"
                                         % (e["src_port"], self.client_ports))
        print(line)
        if self.problems:
            die("%s:\n  " % self.path + "\n  ".join(self.problems))


def scan_pcap(path, ports, sessions, tolerate_retransmission=False):
    """Checks every packet of a capture: complete (not truncated), IPv4/TCP,
    correct IP and TCP checksums (offloads were off), every connection to
    one of `ports`, `sessions` connections, and each direction's payload in
    order without gaps. tolerate_retransmission: a segment that repeats
    bytes already seen is no problem (veth's tail loss probe)."""
    s = Scan(path)
    next_seq, isn = {}, {}
    for caplen, wirelen, pkt in read_pcap(path):
        s.npkt += 1
        npkt = s.npkt
        if caplen != wirelen:
            s.problems.append("packet %d truncated (%d of %d bytes)" % (npkt, caplen, wirelen))
            continue
        if struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            s.problems.append("packet %d is not IPv4" % npkt)
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        ip = ip[:struct.unpack("!H", ip[2:4])[0]]
        if _csum(ip[:ihl]) != 0xFFFF:
            s.problems.append("packet %d: bad IP checksum" % npkt)
        if ip[9] != 6:
            s.problems.append("packet %d is not TCP" % npkt)
            continue
        src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:]
        if _csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp) != 0xFFFF:
            s.problems.append("packet %d: bad TCP checksum" % npkt)
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        key = (".".join(map(str, src)), sport, ".".join(map(str, dst)), dport)
        if flags & 0x02:                       # SYN
            if not flags & 0x10:
                s.syns += 1
                s.client_ports.append(sport)
                if dport not in ports:
                    s.problems.append("connection to port %d" % dport)
            next_seq[key] = (seq + 1) & 0xFFFFFFFF
            isn[key] = (seq + 1) & 0xFFFFFFFF
            s.streams.setdefault(key, bytearray())
            continue
        if key not in next_seq:
            s.problems.append("packet %d: flow without SYN" % npkt)
            continue
        if payload:
            start = (seq - isn[key]) & 0xFFFFFFFF
            if (seq != next_seq[key] and tolerate_retransmission
                    and bytes(s.streams[key][start:start + len(payload)]) == payload):
                pass    # a retransmission of bytes already seen
            elif seq != next_seq[key]:
                s.problems.append("packet %d: %s seq %d, expected %d "
                                  "(retransmission, reordering or loss)"
                                  % (npkt, key, seq, next_seq[key]))
            else:
                s.streams[key] += payload
                next_seq[key] = (seq + len(payload)) & 0xFFFFFFFF
        if flags & 0x04:                       # RST
            s.rsts += 1
        if flags & 0x01:                       # FIN
            s.fins += 1
            s.fin_dirs.add(key)
            if seq == next_seq[key]:
                next_seq[key] = (seq + 1) & 0xFFFFFFFF
    if s.syns != sessions:
        s.problems.append("%d TCP connections, expected %d" % (s.syns, sessions))
    return s


# The README's alert table (alert.signature_id, alert.severity, the fixed
# keys), written from the documentation, not from mailspill's code: what a
# generator that knows the protocol, the login and the server's answer
# expects of the alert event.
SID_BASE = 1610000
SID_PROTO = {"pop3": 1, "imap": 2, "smtp": 3}
SID_MECH = {"USER": 1, "APOP": 2, "LOGIN command": 3, "PLAIN": 4, "LOGIN": 5, "CRAM-MD5": 6,
            "DIGEST-MD5": 7, "NTLM": 8, "XOAUTH2": 9, "OAUTHBEARER": 10}
CHALLENGE_RESPONSE = {"APOP", "CRAM-MD5", "DIGEST-MD5", "NTLM"}


def with_alert(ev):
    """ev with its "alert" object when it is an alert whose protocol,
    command, mechanism and outcome the generator wrote (unchanged else)."""
    c = ev.get("credential")
    if ev.get("event_type") != "alert" or "alert" in ev or not isinstance(c, dict) \
            or ev.get("app_proto") not in SID_PROTO \
            or not all(k in c for k in ("command", "mechanism", "outcome")):
        return ev
    mech = "LOGIN command" if c["command"] == "LOGIN" else c["mechanism"]
    if c["mechanism"] in CHALLENGE_RESPONSE:
        severity = 3
    else:
        # An incomplete login may be another account's: never severity 1.
        severity = 1 if c["outcome"] == "success" and not c.get("incomplete") else 2
    out = dict(ev)
    out["alert"] = {"action": "allowed", "gid": 1,
                    "signature_id": SID_BASE + 100 * SID_PROTO[ev["app_proto"]] + SID_MECH.get(mech, 99),
                    "rev": 1, "category": "Potential Corporate Privacy Violation",
                    "severity": severity}
    return out


# Clients ----------------------------------------------------------------------
# The capture generators connect every client from a port they pick (as
# tap_gen.py does), so a capture's connections keep their ports from run to
# run (the README's demo and tap_reorder.py's cases name them); the expected
# src_port is still read back from the client's own socket (or curl's
# %{local_port}), never from the capture.

class POP3From(poplib.POP3):
    """poplib.POP3 connecting from src = (address, port)."""

    def __init__(self, host, port, src, timeout=20):
        self._src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=self._src)


class IMAP4From(imaplib.IMAP4):
    """imaplib.IMAP4 connecting from src = (address, port)."""

    def __init__(self, host, port, src, timeout=20):
        self._src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=self._src)


def local_port(sock):
    """The client's port, as its socket has it."""
    return sock.getsockname()[1]


def curl_local_port(stdout):
    """curl -w '%{local_port}' output (what curl printed last)."""
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    m = re.search(r"(\d+)\s*$", text)
    if not m or not 0 < int(m.group(1)) < 65536:
        die("no local port in curl's output %r" % text[-80:])
    return int(m.group(1))


# Messages ---------------------------------------------------------------------
# README's "A message" table, from the bytes of a message the generator made
# or a client sent or received: what mailspill must report of it.

def _header(raw_msg, name):
    """A header's value as written (unfolded, trimmed), None when absent."""
    v = raw_msg[name]
    return None if v is None else re.sub(r"\r?\n(?=[ \t])", "", str(v)).strip()


# What would be a URL by README's rules (running-text http/https/ftp/mailto,
# any non-empty HTML href), once the URLs the generator knows are taken out.
_URLISH = re.compile(r"(?:https?|ftp)://|mailto:|href\s*=\s*(?:\"[^\"]|'[^']|[^\"'\s>])", re.I)


def message_fields(raw, urls=(), attachments=None):
    """The email object's message keys: from, subject, date, message_id
    (header values, RFC 2047 encoded words decoded; absent when the header
    is), to and cc (the addresses, each decoded), url (the URLs the
    generator put in the message's text, in order: the caller knows them;
    checked to be there, and that no other URL is), size and sha256 (of raw:
    the message as transferred), attachments (att_meta of each; default:
    parsed from raw) and truncated (false: the client got it whole)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    compat = email.message_from_bytes(raw)          # values as written
    out = {}
    if msg["From"] is not None:
        out["from"] = str(msg["From"])
    for key, name in (("to", "To"), ("cc", "Cc")):
        if msg[name] is not None:
            out[key] = [str(a) for a in msg[name].addresses]
    if msg["Subject"] is not None:
        out["subject"] = str(msg["Subject"])
    for key, name in (("date", "Date"), ("message_id", "Message-ID")):
        v = _header(compat, name)
        if v is not None:
            out[key] = v
    text = "".join(p.get_content() for p in msg.walk() if p.get_content_maintype() == "text")
    rest = text
    for u in urls:
        if u not in text:
            die("URL %r is not in the message %s" % (u, out.get("message_id")))
        rest = rest.replace(u, "")
    if _URLISH.search(rest):
        die("message %s holds a URL the generator does not know: %r"
            % (out.get("message_id"), _URLISH.search(rest).group(0)))
    if urls:
        out["url"] = list(urls)
    out["size"] = len(raw)
    out["sha256"] = hashlib.sha256(raw).hexdigest()
    out["attachments"] = received_attachments(msg) if attachments is None else attachments
    out["truncated"] = False
    return out
