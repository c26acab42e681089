#!/usr/bin/python3
"""Helper for pcaps/gen/pop3_capture.sh: builds the test messages, runs the
poplib client sessions and writes the expected NDJSON events.

The expected events are derived ONLY from what the clients sent, what the
server answered as the clients saw it, the RETR bytes the clients received and
the bytes this script generated -- never from the capture or from mailspill.

Subcommands:
  messages MAILDIR META        write the fixed messages into MAILDIR/new and
                               describe them (attachments, hashes) in META
  poplib --host H --port P --user U --password PW [--list] [--retr N ...]
         --meta META --expected OUT
                               one POP3 session with poplib; appends events
  curl-events --host H --port P --meta META --trace TRACE --body BODY
         --expected OUT        events of a finished curl session, from curl's
                               --trace-ascii log and its output file
  check-pcap --pcap F --expected E --port P --sessions N [--want CMD ...]
         [--refuse CMD ...]    sanity check of a finished capture (checksums,
                               no truncation/retransmission, the commands the
                               client sent); it never feeds the expected events
"""
import argparse
import base64
import email
import email.policy
import hashlib
import json
import os
import poplib
import struct
import sys
from email.message import EmailMessage

CLIENT_IP = "10.0.0.5"

# Deterministic content -------------------------------------------------------

ATTACHMENT_NAME = "report.pdf"
ATTACHMENT_TYPE = "application/pdf"
ATTACHMENT_SIZE = 3000


def attachment_bytes():
    """A few KB of deterministic pseudo-random bytes that look like a PDF."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    counter = 0
    while len(out) < ATTACHMENT_SIZE:
        out += hashlib.sha256(b"mailspill report.pdf %d" % counter).digest()
        counter += 1
    return bytes(out[:ATTACHMENT_SIZE])


def build_messages():
    """Returns [(maildir file name, message bytes with LF endings, meta)]."""
    msgs = []

    # 1: multipart/mixed, small text body + base64 application/pdf attachment.
    m = EmailMessage(policy=email.policy.default)
    m["From"] = "Bob Sender <bob@example.net>"
    m["To"] = "Alice Example <alice@example.org>"
    m["Cc"] = "Carol Copy <carol@example.org>"
    m["Subject"] = "Quarterly report \u2013 Q3 \u2713"
    m["Date"] = "Tue, 01 Oct 2024 09:30:00 +0000"
    m["Message-ID"] = "<q3-report.1@example.net>"
    m.set_content("Hi Alice,\n\nthe Q3 report is attached.\n\nBob\n")
    att = attachment_bytes()
    m.add_attachment(att, maintype="application", subtype="pdf",
                     filename=ATTACHMENT_NAME)
    # Fixed boundary (the library picks a random one) and no redundant
    # MIME-Version header in the part, so the message is byte-for-byte stable.
    m.set_boundary("=_mailspill-gen_q3_boundary")
    for part in m.iter_parts():
        del part["MIME-Version"]
    msgs.append(("1727775000.M1P1.mailspill-gen", m, [{
        "filename": ATTACHMENT_NAME,
        "content_type": ATTACHMENT_TYPE,
        "size": len(att),
        "sha256": hashlib.sha256(att).hexdigest(),
    }]))

    # 2: plain text, with lines starting with "." (dot-stuffed on the wire).
    m = EmailMessage(policy=email.policy.default)
    m["From"] = "Carol Copy <carol@example.org>"
    m["To"] = "Alice Example <alice@example.org>"
    m["Subject"] = "Meeting notes"
    m["Date"] = "Wed, 02 Oct 2024 14:05:00 +0000"
    m["Message-ID"] = "<notes.2@example.org>"
    m.set_content(
        "Notes from today:\n"
        ".hidden line that starts with a dot\n"
        "..two dots here\n"
        ".\n"
        "The line above is a single dot; it must not end the message.\n"
        "-- \nCarol\n",
        cte="7bit")
    msgs.append(("1727877900.M2P2.mailspill-gen", m, []))

    out = []
    for name, msg, atts in msgs:
        raw = msg.as_bytes()
        out.append((name, raw, {
            "message_id": msg["Message-ID"],
            "subject": str(msg["Subject"]),
            "attachments": atts,
        }))
    return out


def cmd_messages(args):
    new = os.path.join(args.maildir, "new")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(args.maildir, sub), exist_ok=True)
    meta = {}
    for name, raw, info in build_messages():
        with open(os.path.join(new, name), "wb") as f:
            f.write(raw)
        meta[info["message_id"]] = info
    with open(args.meta, "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


# Expected events -------------------------------------------------------------

def credential_event(host, port, user, password, reply):
    reply = reply.decode("utf-8")
    return {
        "event_type": "alert",
        "app_proto": "pop3",
        "src_ip": CLIENT_IP,
        "dest_ip": host,
        "dest_port": port,
        "credential": {
            "command": "USER",
            "mechanism": "USER",
            "username": user,
            "password": password,
            "outcome": "success" if reply.startswith("+OK") else "failure",
            "server_reply": reply,
        },
    }


def email_event(host, port, raw, meta):
    """raw: the message as transferred after dot-unstuffing (CRLF lines)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = str(msg["Message-ID"])
    if mid not in meta:
        die("RETR returned an unknown message %r" % mid)
    info = meta[mid]
    # Sanity: the attachments the client received are the ones we generated.
    got = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True)
        got.append({"filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()})
    if got != info["attachments"]:
        die("attachments of %s differ from the generated ones: %r" % (mid, got))
    if str(msg["Subject"]) != info["subject"]:
        die("subject of %s decodes to %r" % (mid, str(msg["Subject"])))
    return {
        "event_type": "email",
        "app_proto": "pop3",
        "src_ip": CLIENT_IP,
        "dest_ip": host,
        "dest_port": port,
        "email": {
            "command": "RETR",
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": [str(a) for a in msg["To"].addresses],
            "size": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "attachments": info["attachments"],
        },
    }


def die(text):
    print("pop3_gen.py: error: " + text, file=sys.stderr)
    sys.exit(1)


def append_events(path, events):
    with open(path, "a", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")


def load_meta(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cmd_poplib(args):
    meta = load_meta(args.meta)
    events = []
    pop = poplib.POP3(args.host, args.port, timeout=20)
    print("  S: " + pop.getwelcome().decode())
    print("  C: USER " + args.user + "  ->  " + pop.user(args.user).decode())
    try:
        reply = pop.pass_(args.password)
    except poplib.error_proto as e:
        reply = e.args[0]
        if not isinstance(reply, bytes):
            die("unexpected poplib error %r" % (e,))
    print("  C: PASS " + args.password + "  ->  " + reply.decode())
    events.append(credential_event(args.host, args.port, args.user,
                                   args.password, reply))
    logged_in = reply.startswith(b"+OK")
    if logged_in != args.expect_success:
        die("login %s, expected %s" % ("succeeded" if logged_in else "failed",
                                       "success" if args.expect_success
                                       else "failure"))
    if logged_in:
        if args.list:
            resp, lines, _ = pop.list()
            print("  C: LIST  ->  %s %s" % (resp.decode(),
                                            [l.decode() for l in lines]))
        for n in args.retr:
            resp, lines, _ = pop.retr(n)
            raw = b"\r\n".join(lines) + b"\r\n"
            print("  C: RETR %d  ->  %s (%d bytes)" % (n, resp.decode(),
                                                      len(raw)))
            events.append(email_event(args.host, args.port, raw, meta))
    print("  C: QUIT  ->  " + pop.quit().decode())
    append_events(args.expected, events)


def read_curl_trace(path):
    """curl --trace-ascii log -> [(">" sent | "<" received, line)].
    For POP3 every "Send header" block is one command line and every
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


def cmd_curl_events(args):
    """Events of one finished curl session: the login as curl sent it and the
    server answered it (from curl's trace), and the message curl wrote out."""
    meta = load_meta(args.meta)
    lines = read_curl_trace(args.trace)
    cred = None
    for i, (d, text) in enumerate(lines):
        if d != ">":
            continue
        verb = text.split(" ", 1)[0].upper()
        if verb == "PASS":
            user = [t[5:] for dd, t in lines[:i] if dd == ">" and
                    t.upper().startswith("USER ")][-1]
            cred = ("USER", "USER", user, text[5:], i)
        elif verb == "AUTH":
            parts = text.split(" ")
            mech = parts[1].upper()
            if mech != "PLAIN":
                die("curl used AUTH %s: not handled here" % mech)
            if len(parts) > 2:                  # initial response (--sasl-ir)
                b64, last = parts[2], i
            else:                               # "+ " then the response line
                b64, last = lines[i + 2][1], i + 2
                if lines[i + 1][0] != "<" or not lines[i + 1][1].startswith("+"):
                    die("no continuation after curl's AUTH PLAIN")
            authzid, authcid, passwd = base64.b64decode(b64).split(b"\0")
            cred = ("AUTH", "PLAIN", authcid.decode("utf-8"),
                    passwd.decode("utf-8"), last)
        if cred:
            break
    if cred is None:
        die("curl sent no login (trace %s)" % args.trace)
    command, mech, user, password, last = cred
    replies = [t for dd, t in lines[last + 1:] if dd == "<"]
    if not replies:
        die("no reply to curl's login in the trace")
    reply = replies[0]
    if user != args.user or password != args.password:
        die("curl logged in as %r / %r" % (user, password))
    print("  curl: %s %s (user %s, password %s)  ->  %s"
          % (command, mech, user, password, reply))
    ev = credential_event(args.host, args.port, user, password,
                          reply.encode("utf-8"))
    ev["credential"]["command"] = command
    ev["credential"]["mechanism"] = mech
    events = [ev]
    with open(args.body, "rb") as f:
        raw = f.read()
    events.append(email_event(args.host, args.port, raw, meta))
    append_events(args.expected, events)


# Capture sanity check (verification only: never feeds the expected events) --

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        die("%s: not a classic pcap file" % path)
    _, _, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII", data[4:24])
    if linktype != 1:
        die("%s: link type %d, expected Ethernet" % (path, linktype))
    off = 24
    while off < len(data):
        _, _, caplen, wirelen = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield caplen, wirelen, data[off:off + caplen]
        off += caplen


def cmd_check_pcap(args):
    problems = []
    streams = {}            # (src, sport, dst, dport) -> bytearray
    next_seq = {}
    syns = fins = rsts = 0
    npkt = 0
    for caplen, wirelen, pkt in read_pcap(args.pcap):
        npkt += 1
        if caplen != wirelen:
            problems.append("packet %d truncated (%d of %d bytes)"
                            % (npkt, caplen, wirelen))
            continue
        if struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            problems.append("packet %d is not IPv4" % npkt)
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        ip = ip[:tot]
        if _csum(ip[:ihl]) != 0xFFFF:
            problems.append("packet %d: bad IP checksum" % npkt)
        if ip[9] != 6:
            problems.append("packet %d is not TCP" % npkt)
            continue
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:]
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        if _csum(pseudo + tcp) != 0xFFFF:
            problems.append("packet %d: bad TCP checksum" % npkt)
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        payload = tcp[(tcp[12] >> 4) * 4:]
        key = (".".join(map(str, src)), sport, ".".join(map(str, dst)), dport)
        if flags & 0x02:                       # SYN
            if not flags & 0x10:
                syns += 1
                if dport != args.port:
                    problems.append("connection to port %d" % dport)
            next_seq[key] = (seq + 1) & 0xFFFFFFFF
            streams.setdefault(key, bytearray())
            continue
        if key not in next_seq:
            problems.append("packet %d: flow without SYN" % npkt)
            continue
        if payload:
            if seq != next_seq[key]:
                problems.append("packet %d: %s seq %d, expected %d "
                                "(retransmission, reordering or loss)"
                                % (npkt, key, seq, next_seq[key]))
            else:
                streams[key] += payload
                next_seq[key] = (seq + len(payload)) & 0xFFFFFFFF
        if flags & 0x04:                       # RST
            rsts += 1
        if flags & 0x01:                       # FIN
            fins += 1
            if seq == next_seq[key]:
                next_seq[key] = (seq + 1) & 0xFFFFFFFF
    if syns != args.sessions:
        problems.append("%d TCP connections, expected %d" % (syns, args.sessions))
    if args.allow_rst and fins + rsts >= 2 * syns:
        pass    # a TLS peer's close_notify after the other side's FIN
    elif fins != 2 * syns:
        problems.append("%d FINs for %d connections: not all closed cleanly"
                        % (fins, syns))
    client = b"".join(bytes(v) for k, v in sorted(streams.items())
                      if k[0] == CLIENT_IP)
    client_lines = client.decode("utf-8", "replace").split("\r\n")
    for want in args.want:
        if not any(l == want or l.startswith(want + " ") for l in client_lines):
            problems.append("the client never sent %r" % want)
    for refuse in args.refuse:
        if any(l.startswith(refuse) for l in client_lines):
            problems.append("the client sent %r" % refuse)
    with open(args.expected, encoding="utf-8") as f:
        events = [json.loads(l) for l in f if l.strip()]
    size = os.path.getsize(args.pcap)
    print("    %s: %d packets, %d bytes, %d connections, %d expected events"
          % (os.path.basename(args.pcap), npkt, size, syns, len(events)))
    if problems:
        die("%s:\n  " % args.pcap + "\n  ".join(problems))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("messages")
    p.add_argument("maildir")
    p.add_argument("meta")
    p.set_defaults(func=cmd_messages)
    for name, func in (("poplib", cmd_poplib), ("curl-events", cmd_curl_events)):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--user", required=True)
        p.add_argument("--password", required=True)
        p.add_argument("--meta", required=True)
        p.add_argument("--expected", required=True)
        p.set_defaults(func=func)
        if name == "poplib":
            p.add_argument("--list", action="store_true")
            p.add_argument("--retr", type=int, action="append", default=[])
            p.add_argument("--expect-failure", dest="expect_success",
                           action="store_false")
        else:
            p.add_argument("--trace", required=True)
            p.add_argument("--body", required=True)
    p = sub.add_parser("check-pcap")
    p.add_argument("--pcap", required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--want", action="append", default=[])
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--allow-rst", action="store_true",
                   help="a connection may end with a RST (TLS sessions)")
    p.set_defaults(func=cmd_check_pcap)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
