#!/usr/bin/python3
"""Helper for pcaps/gen/imap_capture.sh: makes the users and messages, runs
the IMAP client sessions (python imaplib, a raw-socket client for literals and
SASL-IR) and writes the expected NDJSON events.

The expected events come ONLY from what the clients sent, what the server
answered as the clients saw it (tagged replies, FETCH literals), curl's
--trace-ascii log and the bytes this script generated -- never from the
capture or from mailspill. Each event is whole (every key of README's event
tables that the session determines): the client's port as its socket or
curl had it, the alert object, starttls_offered from the capabilities the
client saw, the challenge/response fields and hashcat line, the message's
header keys, size and hash.

Subcommands:
  setup DIR                    users (seeded random names and passwords),
                               Maildirs with the fixed messages, DIR/users
                               (dovecot passwd-file) and DIR/meta.json
  imaplib --host H --port P --src-port S --meta META --expected OUT
          --user-key K [--wrong-password] [--fetch N] [--append] [--starttls]
                               one imaplib session from port S; appends its
                               events
  raw --host H --port P --src-port S --meta META --expected OUT --user-key K
      --mode sync-literal|literal-plus|sasl-ir|digest-md5
                               one hand-made session over a socket
  curl-events --host H --port P --src-port S --meta META --expected OUT
      --user-key K --trace TRACE [--body FILE]
                               events of a finished curl session (S: the
                               port curl printed, -w '%{local_port}')
  check-pcap --pcap F --expected E --port P --sessions N [--want S ...]
             [--refuse S ...]  sanity check of a capture (verification only)
"""
import argparse
import base64
import email
import email.policy
import hashlib
import hmac
import imaplib
import json
import os
import random
import re
import socket
import ssl
from email.message import EmailMessage

import gencommon
from gencommon import append_events, att_meta, die, read_curl_trace

CLIENT_IP = "10.44.3.5"


# Users -----------------------------------------------------------------------

ASCII_PW = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            " \"\\'!#$%&()*+,-./;<=>?@[]^_`{|}~")


def make_password(rng, length, utf8=True):
    """Seeded random password with spaces, quotes, backslashes and UTF-8
    (never ':' or a line break: dovecot's passwd-file cannot hold them)."""
    alphabet = ASCII_PW + ("éüß€日本" if utf8 else "")
    pw = [rng.choice(alphabet) for _ in range(length)]
    # Make sure every kind of awkward character is in there.
    for i, c in enumerate((" ", "\"", "\\", "é" if utf8 else "'", "{", "}")):
        pw[(i * 7 + 3) % length] = c
    return "".join(pw)


def make_users():
    rng = random.Random(20261122)
    def name(prefix):
        return prefix + "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789")
                                for _ in range(6))
    return {
        # imaplib LOGIN (quoted strings), the mailbox with the messages
        "main": {"user": name("alice."), "password": make_password(rng, 24)},
        # 230 characters: the long one, sent as a synchronizing literal too
        "long": {"user": name("bob."), "password": make_password(rng, 230)},
        # UTF-8 and a space in the user name itself (SASL and quoted LOGIN)
        "utf8": {"user": "jörg " + name("m"), "password": make_password(rng, 40)},
        # curl CRAM-MD5
        "cram": {"user": name("carol."), "password": make_password(rng, 32)},
        # raw DIGEST-MD5: an ASCII password, since RFC 2831 2.1.2.1 would
        # have Latin-1-representable UTF-8 converted before hashing
        "digest": {"user": name("dave."), "password": make_password(rng, 28, utf8=False)},
    }


# Messages --------------------------------------------------------------------

ATTACHMENT_NAME = "Übersicht Q3.pdf"
ATTACHMENT_TYPE = "application/pdf"
APPEND_ATTACHMENT_NAME = "notes.txt"


def det_bytes(label, size):
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"mailspill imap %s %d" % (label.encode(), counter)).digest()
        counter += 1
    return bytes(out[:size])


def build_messages():
    """[(maildir name or None for APPEND, message bytes (CRLF), meta)]."""
    crlf = email.policy.default.clone(linesep="\r\n")
    out = []

    m = EmailMessage(policy=crlf)
    m["From"] = "Dana Sender <dana@example.net>"
    m["To"] = "Alice Example <alice@example.org>"
    m["Subject"] = "Rapport trimestriel \u2013 Q3 \u2713"
    m["Date"] = "Tue, 01 Oct 2024 09:30:00 +0000"
    m["Message-ID"] = "<imap-q3.1@example.net>"
    m.set_content("Hallo Alice,\n\nder Bericht ist angehängt.\n\nDana\n")
    att = det_bytes("q3", 2500)
    m.add_attachment(att, maintype="application", subtype="pdf", filename=ATTACHMENT_NAME)
    m.set_boundary("=_mailspill-imapgen_q3")
    for part in m.iter_parts():
        del part["MIME-Version"]
    out.append(("1727775000.M1P1.mailspill-imapgen", m.as_bytes(),
                [att_meta(ATTACHMENT_NAME, ATTACHMENT_TYPE, att)]))

    m = EmailMessage(policy=crlf)
    m["From"] = "Carol Copy <carol@example.org>"
    m["To"] = "Alice Example <alice@example.org>"
    m["Subject"] = "Meeting notes"
    m["Date"] = "Wed, 02 Oct 2024 14:05:00 +0000"
    m["Message-ID"] = "<imap-notes.2@example.org>"
    m.set_content("Notes from today:\n{5}\n) a line that looks like IMAP\n"
                  "* 3 FETCH (BODY[] {10}\n-- \nCarol\n", cte="7bit")
    out.append(("1727877900.M2P2.mailspill-imapgen", m.as_bytes(), []))

    m = EmailMessage(policy=crlf)
    m["From"] = "Alice Example <alice@example.org>"
    m["To"] = "Dana Sender <dana@example.net>"
    m["Subject"] = "Re: Rapport trimestriel"
    m["Date"] = "Thu, 03 Oct 2024 08:00:00 +0000"
    m["Message-ID"] = "<imap-sent.3@example.org>"
    m.set_content("Thanks, notes attached.\n")
    notes = ("line %d: numbers and words\n" % i for i in range(40))
    notes = "".join(notes).encode()
    m.add_attachment(notes, maintype="text", subtype="plain", filename=APPEND_ATTACHMENT_NAME)
    m.set_boundary("=_mailspill-imapgen_sent")
    for part in m.iter_parts():
        del part["MIME-Version"]
    out.append((None, m.as_bytes(), [att_meta(APPEND_ATTACHMENT_NAME, "text/plain", notes)]))
    return out


def cmd_setup(args):
    users = make_users()
    msgs = build_messages()
    meta = {"users": users, "messages": {}, "append": None}
    with open(os.path.join(args.dir, "users"), "w", encoding="utf-8") as f:
        for u in users.values():
            if ":" in u["user"] + u["password"]:
                die("':' in a user or password")
            f.write("%s:{PLAIN}%s::::::\n" % (u["user"], u["password"]))
    maildir = os.path.join(args.dir, "mail", users["main"]["user"], "Maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    for name, raw, atts in msgs:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        # No URL in any of the texts (message_fields checks there is none).
        info = {"message_id": str(msg["Message-ID"]), "subject": str(msg["Subject"]),
                "attachments": atts, "urls": [], "raw_b64": base64.b64encode(raw).decode()}
        if name is None:
            meta["append"] = info
            continue
        # Maildir files hold LF line ends; dovecot sends CRLF.
        with open(os.path.join(maildir, "new", name), "wb") as f:
            f.write(raw.replace(b"\r\n", b"\n"))
        meta["messages"][info["message_id"]] = info
    with open(os.path.join(args.dir, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


load_meta = gencommon.load_json


# Expected events -------------------------------------------------------------

def base_event(kind, host, port, src_port):
    return {"event_type": kind, "app_proto": "imap", "src_ip": CLIENT_IP, "src_port": src_port,
            "dest_ip": host, "dest_port": port}


def credential_event(host, port, src_port, command, mech, user, password, reply,
                     starttls_offered, extra=None):
    """The whole alert event (README's alert table). starttls_offered: from
    the capabilities the client saw (None: it saw none)."""
    ok = reply.split(" ", 2)[1].upper() == "OK"
    ev = base_event("alert", host, port, src_port)
    cred = {"command": command, "mechanism": mech, "username": user}
    if password is not None:
        cred["password"] = password
    cred.update(extra or {})
    cred.update({"outcome": "success" if ok else "failure", "server_reply": reply,
                 "tls": False})
    if starttls_offered is not None:
        cred["starttls_offered"] = starttls_offered
    ev["credential"] = cred
    return gencommon.with_alert(ev)


def cram_md5_fields(challenge, response):
    """README's CRAM-MD5 row, from the decoded challenge and response
    ("user SP digest"): the hex digest, and the hashcat line (mode 10200)
    with both in base64."""
    digest = response.rsplit(b" ", 1)[1].decode()
    return {"challenge": challenge.decode("utf-8"), "response": digest,
            "hashcat": "$cram_md5$%s$%s" % (base64.b64encode(challenge).decode(),
                                             base64.b64encode(response).decode()),
            "hashcat_mode": 10200}


def email_event(host, port, src_port, command, raw, info, partial=False):
    """raw: the literal's bytes as the client received (FETCH) or sent (APPEND)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    got = gencommon.received_attachments(msg)
    if got != info["attachments"]:
        die("attachments of %s differ from the generated ones: %r" % (info["message_id"], got))
    if str(msg["Subject"]) != info["subject"]:
        die("subject of %s decodes to %r" % (info["message_id"], str(msg["Subject"])))
    ev = base_event("email", host, port, src_port)
    ev["email"] = {"command": command}
    ev["email"].update(gencommon.message_fields(raw, info["urls"], info["attachments"]))
    if partial:
        ev["email"]["partial"] = True
    return ev


def message_by_id(meta, raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = str(msg["Message-ID"])
    if mid not in meta["messages"]:
        die("the server returned an unknown message %r" % mid)
    return meta["messages"][mid]


def offered(caps):
    caps = {c.upper() for c in caps}
    return "STARTTLS" in caps or "LOGINDISABLED" in caps


# imaplib -----------------------------------------------------------------------

def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmd_imaplib(args):
    meta = load_meta(args.meta)
    u = meta["users"][args.user_key]
    password = u["password"] + ("-wrong" if args.wrong_password else "")
    events = []
    M = gencommon.IMAP4From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(M.sock)
    M._encoding = "utf-8"          # quoted strings carry UTF-8 (RFC 9051 4.3)
    print("  S: " + M.welcome.decode())
    caps = list(M.capabilities)
    if args.starttls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        print("  C: STARTTLS  ->  " + str(M.starttls(ssl_context=ctx)))
    # LOGIN by hand: imaplib's login() sends the user unquoted and raises on
    # NO; the tagged reply is needed verbatim.
    typ, dat = M._simple_command("LOGIN", imap_quote(u["user"]), imap_quote(password))
    tag = M.tagpre.decode() + str(M.tagnum - 1)
    reply = "%s %s %s" % (tag, typ, dat[-1].decode("utf-8"))
    print("  C: LOGIN %s %s  ->  %s" % (u["user"], password, reply))
    if (typ == "OK") == args.wrong_password:
        die("login %s unexpectedly" % ("succeeded" if typ == "OK" else "failed"))
    if not args.starttls:
        events.append(credential_event(args.host, args.port, sport, "LOGIN", "LOGIN", u["user"],
                                       password, reply, offered(caps)))
    if typ == "OK":
        M.state = "AUTH"
        print("  C: SELECT INBOX  ->  %s" % (M.select("INBOX")[0],))
        for n in args.fetch:
            typ, data = M.fetch(str(n), "(BODY.PEEK[])")
            if typ != "OK" or not isinstance(data[0], tuple):
                die("FETCH %d failed: %r" % (n, data))
            raw = data[0][1]
            print("  C: FETCH %d (BODY.PEEK[])  ->  %s, %d bytes" % (n, data[0][0].decode(), len(raw)))
            if not args.starttls:
                events.append(email_event(args.host, args.port, sport, "FETCH", raw,
                                          message_by_id(meta, raw)))
        if args.append:
            info = meta["append"]
            raw = base64.b64decode(info["raw_b64"])
            typ, data = M.append("Sent", "(\\Seen)", None, raw)
            print("  C: APPEND Sent {%d}  ->  %s %s" % (len(raw), typ, data))
            if typ != "OK":
                die("APPEND failed")
            # imaplib sends the message with every line end made CRLF.
            sent = imaplib.MapCRLF.sub(imaplib.CRLF, raw)
            if not args.starttls:
                events.append(email_event(args.host, args.port, sport, "APPEND", sent, info))
    print("  C: LOGOUT  ->  %s" % (M.logout()[0],))
    append_events(args.expected, events)


# raw socket client -------------------------------------------------------------

class Raw:
    def __init__(self, host, port, src_port):
        self.s = socket.create_connection((host, port), timeout=20,
                                          source_address=(CLIENT_IP, src_port))
        self.port = gencommon.local_port(self.s)
        self.f = self.s.makefile("rb")

    def line(self):
        ln = self.f.readline()
        if not ln:
            die("server closed the connection")
        print("  S: " + ln.decode("utf-8", "replace").rstrip())
        return ln

    def send(self, b):
        print("  C: %r" % (b,))
        self.s.sendall(b)

    def tagged(self, tag):
        while True:
            ln = self.line()
            if ln.startswith(tag.encode() + b" "):
                return ln.rstrip(b"\r\n").decode("utf-8")

    def close(self):
        self.f.close()
        self.s.close()


def caps_from_greeting(greeting):
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", greeting)
    if not m:
        die("no capabilities in the greeting")
    return m.group(1).decode().split()


def cmd_raw(args):
    meta = load_meta(args.meta)
    u = meta["users"][args.user_key]
    user, pw = u["user"].encode(), u["password"].encode()
    c = Raw(args.host, args.port, args.src_port)
    caps = caps_from_greeting(c.line())
    if args.mode == "sync-literal":
        # RFC 9051 4.3: a synchronizing literal waits for "+" before its bytes.
        c.send(b"L1 LOGIN {%d}\r\n" % len(user))
        if not c.line().startswith(b"+"):
            die("no continuation for the user literal")
        c.send(user + b" {%d}\r\n" % len(pw))
        if not c.line().startswith(b"+"):
            die("no continuation for the password literal")
        c.send(pw + b"\r\n")
        reply = c.tagged("L1")
        ev = credential_event(args.host, args.port, c.port, "LOGIN", "LOGIN", u["user"],
                              u["password"], reply, offered(caps))
    elif args.mode == "literal-plus":
        if "LITERAL+" not in caps:
            die("the server does not offer LITERAL+")
        # A quoted user, then the password as a non-synchronizing literal.
        q = imap_quote(u["user"]).encode()
        c.send(b"P1 LOGIN " + q + b" {%d+}\r\n" % len(pw) + pw + b"\r\n")
        reply = c.tagged("P1")
        ev = credential_event(args.host, args.port, c.port, "LOGIN", "LOGIN", u["user"],
                              u["password"], reply, offered(caps))
    elif args.mode == "digest-md5":
        ev = digest_md5(c, args, u, caps)
        reply = ev["credential"]["server_reply"]
    else:
        if "SASL-IR" not in caps:
            die("the server does not offer SASL-IR")
        ir = base64.b64encode(b"\0" + user + b"\0" + pw)
        c.send(b"S1 AUTHENTICATE PLAIN " + ir + b"\r\n")
        reply = c.tagged("S1")
        ev = credential_event(args.host, args.port, c.port, "AUTHENTICATE", "PLAIN", u["user"],
                              u["password"], reply, offered(caps))
    if not reply.split(" ")[1] == "OK":
        die("raw %s login failed: %s" % (args.mode, reply))
    c.send(b"Z LOGOUT\r\n")
    c.tagged("Z")
    c.close()
    append_events(args.expected, [ev])


def digest_md5(c, args, u, caps):
    """AUTHENTICATE DIGEST-MD5 (RFC 2831 2.1): Debian 12's curl 7.88 cannot
    (curl issue #11369: it expects a comma after algorithm=, and dovecot
    puts it last), so this client computes the response itself."""
    md5 = lambda b: hashlib.md5(b).digest()
    hexmd5 = lambda b: hashlib.md5(b).hexdigest().encode()
    c.send(b"D1 AUTHENTICATE DIGEST-MD5\r\n")
    ln = c.line()
    if not ln.startswith(b"+ "):
        die("no DIGEST-MD5 challenge")
    chal = base64.b64decode(ln[2:].strip())
    pairs = re.findall(rb'([a-z-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,]*))', chal)
    d = {k: q or t for k, q, t in pairs}
    realm, nonce = d.get(b"realm", b""), d[b"nonce"]
    user, pw = u["user"].encode(), u["password"].encode()
    cnonce = base64.b64encode(hashlib.sha256(b"mailspill cnonce").digest()[:12])
    nc, qop, uri = b"00000001", b"auth", b"imap/" + args.host.encode()
    a1 = md5(user + b":" + realm + b":" + pw) + b":" + nonce + b":" + cnonce
    a2 = b"AUTHENTICATE:" + uri
    resp = hexmd5(hexmd5(a1) + b":" + nonce + b":" + nc + b":" + cnonce + b":" + qop + b":" +
                  hexmd5(a2))
    quoted_user = user.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    msg = (b'charset=utf-8,username="' + quoted_user + b'",realm="' + realm + b'",nonce="' +
           nonce + b'",nc=' + nc + b',cnonce="' + cnonce + b'",digest-uri="' + uri +
           b'",response=' + resp + b",qop=" + qop)
    c.send(base64.b64encode(msg) + b"\r\n")
    ln = c.line()
    if not ln.startswith(b"+ "):
        die("DIGEST-MD5 response refused: %r" % ln)
    c.send(b"\r\n")                # rspauth seen; an empty response finishes
    reply = c.tagged("D1")
    # README's DIGEST-MD5 row: the decoded directives both ways, the realm
    # as domain; no hashcat line (hashcat has no mode for it).
    extra = {"challenge": chal.decode("utf-8"), "response": msg.decode("utf-8")}
    if realm:
        extra["domain"] = realm.decode("utf-8")
    return credential_event(args.host, args.port, c.port, "AUTHENTICATE", "DIGEST-MD5",
                            u["user"], None, reply, offered(caps), extra)


# curl --------------------------------------------------------------------------

def unquote(s):
    if not (s.startswith('"') and s.endswith('"')):
        return s
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def cmd_curl_events(args):
    meta = load_meta(args.meta)
    u = meta["users"][args.user_key]
    lines = read_curl_trace(args.trace)
    caps = []
    for d, text in lines:
        if d == "<" and text.startswith("* CAPABILITY "):
            caps += text.split()[2:]
        m = re.search(r"\[CAPABILITY ([^\]]*)\]", text) if d == "<" else None
        if m:
            caps += m.group(1).split()
    ev = None
    for i, (d, text) in enumerate(lines):
        if d != ">":
            continue
        parts = text.split(" ")
        tag, verb = parts[0], parts[1].upper() if len(parts) > 1 else ""
        if verb not in ("LOGIN", "AUTHENTICATE"):
            continue
        # The exchange runs until the tagged reply; collect what went by.
        sent, got, reply = [], [], None
        for dd, t in lines[i + 1:]:
            if dd == "<" and t.startswith(tag + " "):
                reply = t
                break
            (sent if dd == ">" else got).append(t)
        if reply is None:
            die("no tagged reply to curl's %s" % verb)
        if verb == "LOGIN":
            m = re.match(r'^\S+ LOGIN ("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$', text)
            if not m:
                die("cannot read curl's LOGIN line %r" % text)
            user, password = unquote(m.group(1)), unquote(m.group(2))
            ev = credential_event(args.host, args.port, args.src_port, "LOGIN", "LOGIN", user,
                                  password, reply, offered(caps))
        else:
            mech = parts[2].upper()
            responses = ([parts[3]] if len(parts) > 3 else []) + sent
            challenges = [g[2:] if g.startswith("+ ") else g[1:] for g in got if g.startswith("+")]
            dec = [base64.b64decode(r) for r in responses]
            extra = {}
            if mech == "PLAIN":
                _, user, password = (x.decode() for x in dec[0].split(b"\0"))
            elif mech == "LOGIN":
                user, password = dec[0].decode(), dec[1].decode()
            elif mech == "CRAM-MD5":
                chal = base64.b64decode(challenges[0])
                user, digest = dec[0].decode().rsplit(" ", 1)
                password = None
                good = hmac.new(u["password"].encode(), chal, hashlib.md5).hexdigest()
                if digest != good:
                    die("curl's CRAM-MD5 digest does not match the password")
                extra = cram_md5_fields(chal, dec[0])
            elif mech == "DIGEST-MD5":
                m = re.search(r'username="((?:[^"\\]|\\.)*)"', dec[0].decode())
                user, password = unquote('"' + m.group(1) + '"'), None
                chal = base64.b64decode(challenges[0]).decode()
                extra = {"challenge": chal, "response": dec[0].decode()}
                realm = re.search(r'realm="((?:[^"\\]|\\.)*)"', dec[0].decode())
                if realm and realm.group(1):
                    extra["domain"] = unquote('"' + realm.group(1) + '"')
            else:
                die("curl used AUTHENTICATE %s: not handled here" % mech)
            ev = credential_event(args.host, args.port, args.src_port, "AUTHENTICATE", mech, user,
                                  password, reply, offered(caps), extra)
        if user != u["user"] or (password is not None and password != u["password"]):
            die("curl logged in as %r / %r" % (user, password))
        print("  curl: %s  ->  %s" % (text if verb != "LOGIN" else "LOGIN ...", reply))
        break
    if ev is None:
        die("curl sent no login (trace %s)" % args.trace)
    events = [ev]
    if args.body:
        with open(args.body, "rb") as f:
            raw = f.read()
        events.append(email_event(args.host, args.port, args.src_port, "FETCH", raw,
                                  message_by_id(meta, raw)))
    append_events(args.expected, events)


# Capture sanity check (verification only: never feeds the expected events) -----

def cmd_check_pcap(args):
    scan = gencommon.scan_pcap(args.pcap, {args.port}, args.sessions)
    problems = scan.problems
    # A TLS client closes after its close_notify and resets the server's
    # late one: one FIN per connection is all there is then.
    if scan.fins != 2 * scan.syns and not (args.tls_close and scan.fins == scan.syns):
        problems.append("%d FINs for %d connections" % (scan.fins, scan.syns))
    text = scan.client_bytes(CLIENT_IP).decode("utf-8", "replace")
    for want in args.want:
        if want not in text:
            problems.append("the client never sent %r" % want)
    for refuse in args.refuse:
        if refuse in text:
            problems.append("the client sent %r in the clear" % refuse)
    scan.finish(args.expected)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup")
    p.add_argument("dir")
    p.set_defaults(func=cmd_setup)
    for name, func in (("imaplib", cmd_imaplib), ("raw", cmd_raw), ("curl-events", cmd_curl_events)):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--src-port", type=int, required=True,
                       help="imaplib, raw: the port to connect from; curl-events: "
                            "the one curl printed")
        p.add_argument("--meta", required=True)
        p.add_argument("--expected", required=True)
        p.add_argument("--user-key", required=True)
        p.set_defaults(func=func)
    p = sub.choices["imaplib"]
    p.add_argument("--wrong-password", action="store_true")
    p.add_argument("--fetch", type=int, action="append", default=[])
    p.add_argument("--append", action="store_true")
    p.add_argument("--starttls", action="store_true")
    sub.choices["raw"].add_argument("--mode", required=True,
                                    choices=("sync-literal", "literal-plus", "sasl-ir", "digest-md5"))
    p = sub.choices["curl-events"]
    p.add_argument("--trace", required=True)
    p.add_argument("--body")
    p = sub.add_parser("check-pcap")
    p.add_argument("--pcap", required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--want", action="append", default=[])
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--tls-close", action="store_true")
    p.set_defaults(func=cmd_check_pcap)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
