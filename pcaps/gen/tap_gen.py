#!/usr/bin/python3
"""Helper for pcaps/gen/tap_capture.sh: makes the users, attachment files and
messages, runs the client sessions (python3 smtplib, poplib, imaplib, swaks
and curl; two or three at once) and writes the expected NDJSON events.

The expected events come ONLY from what this script generated (users,
passwords, message bytes, attachment files), what the clients sent and what
the server answered as the clients saw it (smtplib/poplib/imaplib return
values and the bytes they received, swaks transcripts, curl traces and
output files) -- never from a capture or from mailspill. Every client
connects from a fixed source port (port base + session number: the client
socket's own port, bound before connecting), so each event names its
connection (src_port) and the expected files only change where the servers
and swaks do (queue ids, IMAP tags, the delivered messages' Received
headers, the Date, Message-Id and MIME boundary of the message swaks
composes).

Subcommands (state lives in the work dir W made by the shell script):
  setup W                      users (W/users for dovecot, W/users.json),
                               attachment files (W/files), messages (W/msgs,
                               W/meta.json)
  submit W --host H --port-base B --expected OUT
                               sessions 1-5 and 12: SMTP submissions
                               (smtplib, swaks, curl) and an IMAP login
                               with a wrong password
  fetch W --host H --port-base B --expected OUT
                               sessions 6-11: POP3 and IMAP fetches of what
                               was delivered
  check-pcap --tap F --plain F --stats F --ports P,... --sessions N
             --expected E [--min-inversions N]
                               sanity check of a finished tap capture against
                               the plain capture on the client's veth; never
                               feeds the expected events
"""
import argparse
import base64
import email
import email.policy
import hashlib
import imaplib
import json
import os
import poplib
import random
import re
import smtplib
import socket
import struct
import subprocess
import sys
import threading
from email.message import EmailMessage

import gencommon
from gencommon import append_events, att_meta, die, read_curl_trace

CLIENT_IP = "10.66.0.5"
DOMAIN = "example.test"
SEED = 20261204
EXPECT_MESSAGES = 5         # delivered to alice by one submit run


def load(w, name):
    return gencommon.load_json(os.path.join(w, name))


# ---------------------------------------------------------------- setup

def make_users(rng):
    """ASCII user names (smtplib sends AUTH as ASCII), passwords with spaces,
    quotes and backslashes (never ':', the passwd-file separator); swaks's
    has UTF-8. Seeded: the same on every run."""
    def rnd(n):
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    return {
        "alice": {"user": "alice@%s" % DOMAIN, "password": "Tap \"aggregator\" 2026 \\ %s" % rnd(6)},
        "bob": {"user": "bob.%s@%s" % (rnd(4), DOMAIN), "password": "Brücke über %s ✓" % rnd(8)},
        "carol": {"user": "carol.%s@%s" % (rnd(4), DOMAIN), "password": "c4rol's pass %s" % rnd(6)},
        "dave": {"user": "dave.%s@%s" % (rnd(4), DOMAIN), "password": "d@ve {%s} ok" % rnd(7)},
    }


def attachment_files(rng):
    """name -> (MIME type, bytes): binary content base64 encodes, so the
    messages carrying them take many segments."""
    def blob(head, n):
        return head + rng.randbytes(n - len(head))
    csv = "".join("%d;Zürich;%d;%d\r\n" % (i, rng.randrange(10 ** 6), rng.randrange(10 ** 4))
                  for i in range(700)).encode()
    return {
        "scan-2026.pdf": ("application/pdf", blob(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", 100000)),
        "photo.jpg": ("image/jpeg", blob(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", 45000)),
        "données Q3.csv": ("text/csv", csv),
        "chart.png": ("image/png", blob(b"\x89PNG\r\n\x1a\n", 12000)),
        "diagram.png": ("image/png", blob(b"\x89PNG\r\n\x1a\n", 30000)),   # sent by swaks
    }


def build_messages(files, rng):
    """[(name, EmailMessage, [attachment names])]; CRLF line ends."""
    pol = email.policy.SMTP
    out = []

    m = EmailMessage(policy=pol)
    m["From"] = "Bob Sender <bob@example.net>"
    m["To"] = "Alice Example <alice@%s>" % DOMAIN
    m["Subject"] = "Tap notes with dots"
    m["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    m["Message-ID"] = "<tap-notes.1@example.net>"
    lines = ["Notes from the tap test.", ".a line starting with a dot", "..two dots", ".",
             "the line above is a lone dot"]
    lines += ["%03d %s" % (i, " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "epsilon"])
                                       for _ in range(10))) for i in range(50)]
    m.set_content("\n".join(lines) + "\n", cte="7bit")
    out.append(("notes", m, []))

    m = EmailMessage(policy=pol)
    m["From"] = "Scanner <scanner@example.net>"
    m["To"] = "Alice Example <alice@%s>" % DOMAIN
    m["Subject"] = "Scanned contract – 200 KB ✓"
    m["Date"] = "Fri, 04 Dec 2026 10:01:00 +0000"
    m["Message-ID"] = "<tap-big.2@example.net>"
    m.set_content("The signed contract and a photo of the last page.\n")
    for name in ("scan-2026.pdf", "photo.jpg"):
        ctype, data = files[name]
        m.add_attachment(data, maintype=ctype.split("/")[0], subtype=ctype.split("/")[1],
                         filename=name)
    m.set_boundary("=_tap_big_boundary_2")
    out.append(("big", m, ["scan-2026.pdf", "photo.jpg"]))

    m = EmailMessage(policy=pol)
    m["From"] = "Carol Reports <carol@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Cc"] = "Dave <dave@example.net>"
    m["Subject"] = "Q3 figures"
    m["Date"] = "Fri, 04 Dec 2026 10:02:00 +0000"
    m["Message-ID"] = "<tap-report.3@example.net>"
    m.set_content("Figures and chart attached.\n")
    for name in ("données Q3.csv", "chart.png"):
        ctype, data = files[name]
        m.add_attachment(data, maintype=ctype.split("/")[0], subtype=ctype.split("/")[1],
                         filename=name)
    m.set_boundary("=_tap_report_boundary_3")
    out.append(("report", m, ["données Q3.csv", "chart.png"]))

    m = EmailMessage(policy=pol)
    m["From"] = "=?utf-8?q?J=C3=BCrgen?= <juergen@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Subject"] = "Newsletter – grüße"
    m["Date"] = "Fri, 04 Dec 2026 10:03:00 +0000"
    m["Message-ID"] = "<tap-html.4@example.net>"
    words = " ".join(rng.choice(["news", "Grüße", "offer", "update", "tap", "stream"])
                     for _ in range(1500))
    m.set_content("Plain part. %s\n" % words, cte="quoted-printable")
    m.add_alternative("<html><body><p>%s</p></body></html>\n" % words, subtype="html",
                      cte="quoted-printable")
    m.set_boundary("=_tap_alt_boundary_4")
    out.append(("html", m, []))
    return out


# What each submission sends: session number -> messages.
SMTP_PLAN = {1: ["notes", "big"], 3: ["report"], 4: ["html"]}
SWAKS = {"subject": "swaks LOGIN diagram", "attach": "diagram.png"}


def cmd_setup(args):
    w = args.workdir
    rng = random.Random(SEED)
    users = make_users(rng)
    with open(os.path.join(w, "users.json"), "w", encoding="utf-8") as f:
        json.dump(users, f, ensure_ascii=False, indent=1)
    with open(os.path.join(w, "users"), "w", encoding="utf-8") as f:
        for u in users.values():
            for v in (u["user"], u["password"]):
                if ":" in v or "\n" in v:
                    die("passwd-file cannot hold %r" % v)
            f.write("%s:{PLAIN}%s::::::\n" % (u["user"], u["password"]))
    os.makedirs(os.path.join(w, "files"), exist_ok=True)
    os.makedirs(os.path.join(w, "msgs"), exist_ok=True)
    files = attachment_files(rng)
    fmeta = {}
    for name, (ctype, data) in files.items():
        with open(os.path.join(w, "files", name), "wb") as f:
            f.write(data)
        fmeta[name] = att_meta(name, ctype, data)
    meta = {"files": fmeta, "messages": {}}
    for name, m, atts in build_messages(files, rng):
        raw = m.as_bytes(policy=email.policy.SMTP)
        if not raw.endswith(b"\r\n") or re.search(rb"(?<!\r)\n", raw):
            die("message %s is not in CRLF form" % name)
        with open(os.path.join(w, "msgs", name + ".eml"), "wb") as f:
            f.write(raw)
        meta["messages"][name] = {
            "subject": str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]),
            "message_id": m["Message-ID"], "attachments": [fmeta[a] for a in atts],
            "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
        }
    # The message swaks composes: known by its subject, its attachment from the file.
    meta["swaks"] = {"subject": SWAKS["subject"], "attachments": [fmeta[SWAKS["attach"]]]}
    with open(os.path.join(w, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)
    print("    messages: " + ", ".join("%s %d bytes" % (n, i["size"])
                                       for n, i in meta["messages"].items()))


# ---------------------------------------------------------------- events

def base_event(kind, proto, host, sport, port):
    return {"event_type": kind, "app_proto": proto, "src_ip": CLIENT_IP, "src_port": sport,
            "dest_ip": host, "dest_port": port}


def cred_event(proto, host, sport, port, command, mech, user, password, ok, reply, starttls):
    """starttls: whether the client saw STARTTLS/STLS offered before its
    login (None: it asked for no capability list). The alert object follows
    from the protocol, mechanism and outcome (README's alert table)."""
    ev = base_event("alert", proto, host, sport, port)
    ev["credential"] = {"command": command, "mechanism": mech, "username": user,
                        "password": password, "outcome": "success" if ok else "failure",
                        "server_reply": reply, "tls": False, "starttls_offered": starttls}
    return gencommon.with_alert(ev)


def message_keys(raw):
    """(parsed message, the header keys of its email event): README "A
    message": From, Subject, Date, Message-ID decoded; To and Cc as lists
    of the addresses, decoded; a header the message lacks gives no key."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    keys = {}
    for key, name in (("from", "From"), ("subject", "Subject"), ("date", "Date"),
                      ("message_id", "Message-ID")):
        if msg[name] is not None:
            keys[key] = str(msg[name])
    for key, name in (("to", "To"), ("cc", "Cc")):
        if msg[name] is not None:
            keys[key] = [str(a) for a in msg[name].addresses]
    return msg, keys


def smtp_email_event(host, sport, port, helo, mail_from, rcpts, subject, attachments, accepted,
                     reply, raw):
    """A submitted message: raw is what the client sent after DATA (before
    dot-stuffing), so its headers, size and sha256 are the event's; the
    subject and attachments it was meant to carry are checked against it."""
    msg, keys = message_keys(raw)
    if keys.get("subject") != subject:
        die("submitted message has subject %r, not %r" % (keys.get("subject"), subject))
    got = gencommon.received_attachments(msg)
    if got != attachments:
        die("attachments of %r differ from the files sent: %r" % (subject, got))
    ev = base_event("email", "smtp", host, sport, port)
    # Suricata's smtp object: the EHLO name and the paths as the client wrote them.
    ev["smtp"] = {"helo": helo, "mail_from": "<%s>" % mail_from,
                  "rcpt_to": ["<%s>" % r for r in rcpts]}
    e = {"command": "DATA"}
    e.update(keys)
    e.update({"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
              "attachments": attachments, "accepted": accepted, "server_reply": reply,
              "truncated": False})
    ev["email"] = e
    return ev


def fetched_event(proto, host, sport, port, command, raw, meta):
    """A delivered message as a client received it (after dot-unstuffing
    for POP3, the literal for IMAP): its headers, size/sha256 of those
    bytes; attachments checked against the files sent."""
    msg, keys = message_keys(raw)
    subject = keys.get("subject")
    known = [i for i in meta["messages"].values() if i["subject"] == subject]
    known += [meta["swaks"]] if meta["swaks"]["subject"] == subject else []
    if len(known) != 1:
        die("fetched an unknown message %r" % subject)
    got = gencommon.received_attachments(msg)
    if got != known[0]["attachments"]:
        die("attachments of %r differ from the files sent: %r" % (subject, got))
    ev = base_event("email", proto, host, sport, port)
    e = {"command": command}
    e.update(keys)
    e.update({"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
              "attachments": known[0]["attachments"], "truncated": False})
    ev["email"] = e
    return ev


# ---------------------------------------------------------------- clients

class Ctx:
    def __init__(self, args):
        self.w = args.workdir
        self.host = args.host
        self.base = args.port_base
        self.users = load(self.w, "users.json")
        self.meta = load(self.w, "meta.json")
        self.log_lock = threading.Lock()

    def sport(self, n):
        return self.base + n

    def say(self, n, text):
        with self.log_lock:
            print("    [s%d] %s" % (n, text), flush=True)


class POP3From(poplib.POP3):
    def __init__(self, host, port, sport, timeout=30):
        self._sport = sport
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(CLIENT_IP, self._sport))


class IMAP4From(imaplib.IMAP4):
    def __init__(self, host, port, sport, timeout=30):
        self._sport = sport
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(CLIENT_IP, self._sport))


def smtp_reply_line(code, resp):
    """smtplib gives the last reply's code and its lines joined by LF."""
    text = resp.decode("utf-8").split("\n")[-1]
    return "%d %s" % (code, text) if text else "%d" % code


def s_smtplib(ctx, n, port, ukey, mech, msgs, wrong=False):
    u = ctx.users[ukey]
    password = u["password"] + ("-wrong" if wrong else "")
    s = smtplib.SMTP(ctx.host, port, local_hostname="client.example.net", timeout=30,
                     source_address=(CLIENT_IP, ctx.sport(n)))
    s.ehlo()
    s.user, s.password = u["user"], password
    obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
    try:
        code, resp = s.auth(mech, obj, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, resp = e.smtp_code, e.smtp_error
    ok = code == 235
    if ok == wrong:
        die("s%d smtplib AUTH %s: unexpected %d %r" % (n, mech, code, resp))
    reply = smtp_reply_line(code, resp)
    ctx.say(n, "smtplib AUTH %s %s -> %s" % (mech, u["user"], reply))
    events = [cred_event("smtp", ctx.host, ctx.sport(n), port, "AUTH", mech, u["user"], password,
                         ok, reply, s.has_extn("starttls"))]
    for name in msgs:
        raw = open(os.path.join(ctx.w, "msgs", name + ".eml"), "rb").read()
        info = ctx.meta["messages"][name]
        mail_from, rcpts = "bob@example.net", ["alice@%s" % DOMAIN]
        code, resp = s.mail(mail_from)
        if code != 250:
            die("MAIL refused: %d %r" % (code, resp))
        for r in rcpts:
            code, resp = s.rcpt(r)
            if code not in (250, 251):
                die("RCPT refused: %d %r" % (code, resp))
        # raw is CRLF-terminated: smtplib sends it unchanged, dot-stuffed.
        code, resp = s.data(raw)
        reply = smtp_reply_line(code, resp)
        ctx.say(n, "  DATA %s (%d bytes) -> %s" % (name, len(raw), reply))
        if code != 250:
            die("message %s refused: %s" % (name, reply))
        # smtplib's EHLO named local_hostname.
        events.append(smtp_email_event(ctx.host, ctx.sport(n), port, s.local_hostname,
                                       mail_from, rcpts, info["subject"], info["attachments"],
                                       True, reply, raw))
    s.quit()
    return events


def swaks_data(client, server):
    """The message swaks sent: the lines it shows (" -> ") between the 354
    reply to DATA and the lone ".", CRLF-terminated and dot-unstuffed.
    swaks prints every line it sends, so this is the message byte for
    byte (its Date, Message-Id and MIME boundary are its own, made at run
    time)."""
    data = next(i for i, t in client if t.upper() == "DATA")
    go = next(i for i, t in server if i > data and t.startswith("354"))
    dot = next(i for i, t in client if i > go and t == ".")
    return b"".join((t[1:] if t.startswith("..") else t).encode("utf-8", "surrogateescape")
                    + b"\r\n"
                    for i, t in client if go < i < dot)


def s_swaks(ctx, n, port, ukey):
    """swaks AUTH LOGIN and a message it composes with one attachment. swaks
    builds the message itself: its bytes come from swaks's transcript; the
    attachment is checked against the file."""
    u = ctx.users[ukey]
    fmeta = ctx.meta["files"][SWAKS["attach"]]
    mail_from, rcpt = "bob@example.net", "alice@%s" % DOMAIN
    cmd = ["swaks", "--server", ctx.host, "--port", str(port), "--local-port", str(ctx.sport(n)),
           "--helo", "client.example.net", "--auth", "LOGIN", "--auth-user", u["user"],
           "--auth-password", u["password"], "--from", mail_from, "--to", rcpt,
           "--header", "Subject: " + SWAKS["subject"], "--attach-type", fmeta["content_type"],
           "--attach", "@" + os.path.join(ctx.w, "files", SWAKS["attach"]), "--timeout", "30"]
    run = subprocess.run(cmd, capture_output=True, timeout=90)
    out = run.stdout.decode("utf-8", "surrogateescape").splitlines()
    with open(os.path.join(ctx.w, "swaks-%d.log" % ctx.sport(n)), "w", encoding="utf-8",
              errors="surrogateescape") as f:
        f.write("\n".join(out))
    # Transcript: " -> " client, "<-  " server, "<** " server error reply.
    server = [(i, l[4:]) for i, l in enumerate(out) if l.startswith(("<-  ", "<** "))]
    client = [(i, l[4:]) for i, l in enumerate(out) if l.startswith(" -> ")]

    def reply_after(idx):
        for i, text in server:
            if i > idx and re.match(r"^\d{3}( |$)", text) and not text.startswith("334"):
                return text
        return None

    auth_idx = next((i for i, t in client if t.upper().startswith("AUTH ")), None)
    dot_idx = next((i for i, t in client if t == "."), None)
    if run.returncode != 0 or auth_idx is None or dot_idx is None:
        die("s%d swaks failed (exit %d): %s" % (n, run.returncode, "\n".join(out[-20:])))
    auth_reply, data_reply = reply_after(auth_idx), reply_after(dot_idx)
    if not auth_reply or not auth_reply.startswith("235") or not data_reply \
            or not data_reply.startswith("250"):
        die("s%d swaks: AUTH %r, DATA %r" % (n, auth_reply, data_reply))
    starttls = any(re.match(r"^250[ -]STARTTLS\s*$", t, re.I) for _, t in server)
    helo = next(t.split(" ", 1)[1] for _, t in client if t.upper().startswith("EHLO "))
    raw = swaks_data(client, server)
    ctx.say(n, "swaks AUTH LOGIN %s -> %s; DATA (%d bytes) -> %s"
            % (u["user"], auth_reply, len(raw), data_reply))
    return [cred_event("smtp", ctx.host, ctx.sport(n), port, "AUTH", "LOGIN", u["user"],
                       u["password"], True, auth_reply, starttls),
            smtp_email_event(ctx.host, ctx.sport(n), port, helo, mail_from, [rcpt],
                             SWAKS["subject"], [fmeta], True, data_reply, raw)]


def curl_recv_lines(trace):
    return [t for d, t in read_curl_trace(trace) if d == "<"]


def s_curl_smtp(ctx, n, port, ukey, msg):
    u = ctx.users[ukey]
    info = ctx.meta["messages"][msg]
    path = os.path.join(ctx.w, "msgs", msg + ".eml")
    trace = os.path.join(ctx.w, "curl-%d.trace" % ctx.sport(n))
    mail_from, rcpt = "carol@example.net", "alice@%s" % DOMAIN
    run = subprocess.run(["curl", "-sS", "--max-time", "60", "--local-port", str(ctx.sport(n)),
                          "--login-options", "AUTH=PLAIN", "-u", "%s:%s" % (u["user"], u["password"]),
                          "--mail-from", mail_from, "--mail-rcpt", rcpt, "--upload-file", path,
                          "--trace-ascii", trace,
                          "smtp://%s:%d/client.example.net" % (ctx.host, port)],
                         capture_output=True, timeout=90)
    if run.returncode != 0:
        die("s%d curl failed: %s" % (n, run.stderr.decode(errors="replace")))
    recv = curl_recv_lines(trace)
    # curl names the URL's path in EHLO; its trace shows what it sent.
    helo = next((t.split(" ", 1)[1] for d, t in read_curl_trace(trace)
                 if d == ">" and t.upper().startswith("EHLO ")), None)
    if helo is None:
        die("s%d: curl sent no EHLO" % n)
    auth_reply = next((l for l in recv if re.match(r"^(235|5\d\d)", l)), None)
    data_reply = next((l for l in reversed(recv) if l.startswith("250") and "queued" in l), None)
    if not auth_reply or not auth_reply.startswith("235") or not data_reply:
        die("s%d curl trace lacks the AUTH or DATA reply: %r" % (n, recv))
    starttls = any(re.match(r"^250[ -]STARTTLS\s*$", l, re.I) for l in recv)
    raw = open(path, "rb").read()
    ctx.say(n, "curl AUTH PLAIN %s -> %s; DATA %s (%d bytes) -> %s"
            % (u["user"], auth_reply, msg, len(raw), data_reply))
    return [cred_event("smtp", ctx.host, ctx.sport(n), port, "AUTH", "PLAIN", u["user"],
                       u["password"], True, auth_reply, starttls),
            smtp_email_event(ctx.host, ctx.sport(n), port, helo, mail_from, [rcpt],
                             info["subject"], info["attachments"], True, data_reply, raw)]


def pop3_login_userpass(ctx, n, p, u, password):
    p.user(u["user"])
    try:
        reply = p.pass_(password)
    except poplib.error_proto as e:
        reply = e.args[0]
        if not isinstance(reply, bytes):
            raise
    return reply.decode("utf-8")


def s_poplib(ctx, n, ukey, retr=None, wrong=False):
    """USER/PASS; LIST and RETR of every message (retr None) or of the
    listed numbers. Returns (events, {number: subject})."""
    u = ctx.users[ukey]
    password = u["password"] + ("-wrong" if wrong else "")
    p = POP3From(ctx.host, 110, ctx.sport(n))
    reply = pop3_login_userpass(ctx, n, p, u, password)
    ok = reply.startswith("+OK")
    ctx.say(n, "poplib USER/PASS %s -> %s" % (u["user"], reply))
    if ok == wrong:
        die("s%d: POP3 login %s unexpectedly" % (n, "succeeded" if ok else "failed"))
    # No CAPA before the login: the client saw no capability list.
    events = [cred_event("pop3", ctx.host, ctx.sport(n), 110, "USER", "USER", u["user"], password,
                         ok, reply, None)]
    subjects = {}
    if ok:
        _, listing, _ = p.list()
        numbers = retr if retr is not None else [int(l.split()[0]) for l in listing]
        for i in numbers:
            _, lines, _ = p.retr(i)
            raw = b"".join(l + b"\r\n" for l in lines)
            ev = fetched_event("pop3", ctx.host, ctx.sport(n), 110, "RETR", raw, ctx.meta)
            subjects[i] = ev["email"]["subject"]
            ctx.say(n, "  RETR %d: %d bytes, %s" % (i, len(raw), subjects[i]))
            events.append(ev)
    p.quit()
    return events, subjects


def s_poplib_sasl(ctx, n, ukey, number):
    """CAPA, then AUTH PLAIN with the initial response on the same line
    (RFC 5034), RETR one message."""
    u = ctx.users[ukey]
    p = POP3From(ctx.host, 110, ctx.sport(n))
    caps = p.capa()
    ir = base64.b64encode(("\0%s\0%s" % (u["user"], u["password"])).encode()).decode()
    try:
        reply = p._shortcmd("AUTH PLAIN " + ir).decode("utf-8")
    except poplib.error_proto as e:
        die("s%d: AUTH PLAIN refused: %r" % (n, e))
    ctx.say(n, "poplib CAPA, AUTH PLAIN <initial response> %s -> %s" % (u["user"], reply))
    events = [cred_event("pop3", ctx.host, ctx.sport(n), 110, "AUTH", "PLAIN", u["user"],
                         u["password"], reply.startswith("+OK"), reply, "STLS" in caps)]
    _, lines, _ = p.retr(number)
    raw = b"".join(l + b"\r\n" for l in lines)
    events.append(fetched_event("pop3", ctx.host, ctx.sport(n), 110, "RETR", raw, ctx.meta))
    ctx.say(n, "  RETR %d: %d bytes" % (number, len(raw)))
    p.quit()
    return events


def s_curl_pop3(ctx, n, ukey, number):
    """curl pop3://host/N with --login-options AUTH=PLAIN: CAPA, AUTH PLAIN,
    the response after '+ ', RETR N, QUIT (see pop3_gen.py's curl-events)."""
    u = ctx.users[ukey]
    trace = os.path.join(ctx.w, "curl-%d.trace" % ctx.sport(n))
    body = os.path.join(ctx.w, "curl-%d.eml" % ctx.sport(n))
    run = subprocess.run(["curl", "-sS", "--max-time", "60", "--local-port", str(ctx.sport(n)),
                          "--login-options", "AUTH=PLAIN", "-u", "%s:%s" % (u["user"], u["password"]),
                          "--trace-ascii", trace, "-o", body,
                          "pop3://%s/%d" % (ctx.host, number)], capture_output=True, timeout=90)
    if run.returncode != 0:
        die("s%d curl failed: %s" % (n, run.stderr.decode(errors="replace")))
    lines = read_curl_trace(trace)
    auth = next((i for i, (d, t) in enumerate(lines) if d == ">" and t.upper().startswith("AUTH ")),
                None)
    if auth is None:
        die("s%d: curl sent no AUTH" % n)
    parts = lines[auth][1].split(" ")
    if parts[1].upper() != "PLAIN":
        die("s%d: curl used AUTH %s" % (n, parts[1]))
    if len(parts) > 2:
        b64, last = parts[2], auth
    else:
        if lines[auth + 1][0] != "<" or not lines[auth + 1][1].startswith("+"):
            die("s%d: no continuation after curl's AUTH PLAIN" % n)
        b64, last = lines[auth + 2][1], auth + 2
    _, authcid, passwd = base64.b64decode(b64).split(b"\0")
    if authcid.decode() != u["user"] or passwd.decode() != u["password"]:
        die("s%d: curl logged in as %r / %r" % (n, authcid, passwd))
    reply = next(t for d, t in lines[last + 1:] if d == "<")
    capa = [i for i, (d, t) in enumerate(lines[:auth]) if d == ">" and t.upper() == "CAPA"]
    starttls = any(d == "<" and t.upper() == "STLS" for d, t in lines[capa[0]:auth]) \
        if capa else None
    raw = open(body, "rb").read()
    ctx.say(n, "curl AUTH PLAIN %s -> %s; RETR %d: %d bytes" % (u["user"], reply, number, len(raw)))
    return [cred_event("pop3", ctx.host, ctx.sport(n), 110, "AUTH", "PLAIN", u["user"],
                       u["password"], reply.startswith("+OK"), reply, starttls),
            fetched_event("pop3", ctx.host, ctx.sport(n), 110, "RETR", raw, ctx.meta)]


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_offered(caps):
    caps = {c.upper() for c in caps}
    return "STARTTLS" in caps or "LOGINDISABLED" in caps


def imap_fetch(ctx, n, M, numbers):
    events, subjects = [], {}
    typ, data = M.select("INBOX", readonly=True)
    if typ != "OK":
        die("s%d: SELECT failed" % n)
    if numbers is None:
        numbers = range(1, int(data[0]) + 1)
    for i in numbers:
        typ, data = M.fetch(str(i), "(BODY.PEEK[])")
        if typ != "OK" or not isinstance(data[0], tuple):
            die("s%d: FETCH %d failed: %r" % (n, i, data))
        raw = data[0][1]
        ev = fetched_event("imap", ctx.host, ctx.sport(n), 143, "FETCH", raw, ctx.meta)
        subjects[i] = ev["email"]["subject"]
        ctx.say(n, "  FETCH %d (BODY.PEEK[]): %d bytes, %s" % (i, len(raw), subjects[i]))
        events.append(ev)
    return events, subjects


def s_imap_login(ctx, n, ukey, fetch=None, wrong=False):
    """LOGIN with quoted strings (by hand: imaplib's login() raises on NO
    and the tagged reply is wanted verbatim), SELECT, FETCH every message
    (fetch None) or the listed ones, LOGOUT."""
    u = ctx.users[ukey]
    password = u["password"] + ("-wrong" if wrong else "")
    M = IMAP4From(ctx.host, 143, ctx.sport(n))
    M._encoding = "utf-8"
    caps = list(M.capabilities)
    typ, dat = M._simple_command("LOGIN", imap_quote(u["user"]), imap_quote(password))
    tag = M.tagpre.decode() + str(M.tagnum - 1)
    reply = "%s %s %s" % (tag, typ, dat[-1].decode("utf-8"))
    ctx.say(n, "imaplib LOGIN %s -> %s" % (u["user"], reply))
    if (typ == "OK") == wrong:
        die("s%d: IMAP login %s unexpectedly" % (n, "succeeded" if typ == "OK" else "failed"))
    events = [cred_event("imap", ctx.host, ctx.sport(n), 143, "LOGIN", "LOGIN", u["user"],
                         password, typ == "OK", reply, imap_offered(caps))]
    subjects = {}
    if typ == "OK":
        M.state = "AUTH"
        evs, subjects = imap_fetch(ctx, n, M, fetch)
        events += evs
    M.logout()
    return events, subjects


def s_imap_auth_plain(ctx, n, ukey, number):
    """AUTHENTICATE PLAIN (imaplib waits for '+' and sends the response on
    its own line), SELECT, FETCH one message, LOGOUT."""
    u = ctx.users[ukey]
    M = IMAP4From(ctx.host, 143, ctx.sport(n))
    caps = list(M.capabilities)
    typ, dat = M.authenticate("PLAIN",
                              lambda _: ("\0%s\0%s" % (u["user"], u["password"])).encode())
    tag = M.tagpre.decode() + str(M.tagnum - 1)
    reply = "%s %s %s" % (tag, typ, dat[-1].decode("utf-8"))
    ctx.say(n, "imaplib AUTHENTICATE PLAIN %s -> %s" % (u["user"], reply))
    events = [cred_event("imap", ctx.host, ctx.sport(n), 143, "AUTHENTICATE", "PLAIN", u["user"],
                         u["password"], typ == "OK", reply, imap_offered(caps))]
    evs, _ = imap_fetch(ctx, n, M, [number])
    M.logout()
    return events + evs


def run_group(ctx, sessions):
    """Runs the sessions {n: callable} at once (one thread each); returns
    {n: result}. Any failure stops the run."""
    results, errors = {}, []

    def one(n, fn):
        try:
            results[n] = fn()
        except SystemExit as e:
            errors.append((n, "exit %s" % e.code))
        except Exception as e:       # noqa: BLE001 -- reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=one, args=(n, fn)) for n, fn in sessions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        die("sessions failed: %s" % "; ".join("s%d: %s" % e for e in sorted(errors)))
    return results


def evs(r):
    return r[0] if isinstance(r, tuple) else r


def cmd_submit(args):
    ctx = Ctx(args)
    out = {}
    # Group A: three submissions at once, ~200 KB, ~30 KB and ~40 KB.
    out.update(run_group(ctx, {
        1: lambda: s_smtplib(ctx, 1, 25, "alice", "PLAIN", SMTP_PLAN[1]),
        2: lambda: s_swaks(ctx, 2, 587, "bob"),
        3: lambda: s_curl_smtp(ctx, 3, 25, "carol", SMTP_PLAN[3][0]),
    }))
    # Group B: a submission, a wrong SMTP password, a wrong IMAP password.
    out.update(run_group(ctx, {
        4: lambda: s_smtplib(ctx, 4, 587, "dave", "LOGIN", SMTP_PLAN[4]),
        5: lambda: s_smtplib(ctx, 5, 25, "dave", "LOGIN", [], wrong=True),
        12: lambda: s_imap_login(ctx, 12, "alice", wrong=True),
    }))
    for n in sorted(out):
        append_events(args.expected, evs(out[n]))


def cmd_fetch(args):
    ctx = Ctx(args)
    out = {}
    # Group C: everything over POP3 and IMAP at once, and a wrong POP3 password.
    out.update(run_group(ctx, {
        6: lambda: s_poplib(ctx, 6, "alice"),
        7: lambda: s_imap_login(ctx, 7, "alice"),
        8: lambda: s_poplib(ctx, 8, "alice", wrong=True),
    }))
    pop_subjects, imap_subjects = out[6][1], out[7][1]
    if len(pop_subjects) != EXPECT_MESSAGES or len(imap_subjects) != EXPECT_MESSAGES:
        die("the mailbox holds %d (POP3) / %d (IMAP) messages, %d were submitted"
            % (len(pop_subjects), len(imap_subjects), EXPECT_MESSAGES))

    def number(subjects, name):
        subject = ctx.meta["messages"][name]["subject"]
        return next(i for i, s in subjects.items() if s == subject)
    # Group D: the big message by curl, the HTML one over IMAP SASL, the
    # notes over POP3 SASL.
    out.update(run_group(ctx, {
        9: lambda: s_curl_pop3(ctx, 9, "alice", number(pop_subjects, "big")),
        10: lambda: s_imap_auth_plain(ctx, 10, "alice", number(imap_subjects, "html")),
        11: lambda: s_poplib_sasl(ctx, 11, "alice", number(pop_subjects, "notes")),
    }))
    for n in sorted(out):
        append_events(args.expected, evs(out[n]))


# ---------------------------------------------------------------- capture check

def seq_after(a, b):
    """a > b in sequence space."""
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000


def order_scan(path):
    """Counts what a capture shows out of causal order: frames whose ACK
    covers bytes of the other direction not yet seen in the file (the ACK
    recorded before the data it acknowledges), SYN-ACKs before their SYN;
    and whether timestamps go backwards."""
    ahead = synack_first = back = 0
    seen_end = {}                       # (src, sport, dst, dport) -> next seq seen
    last_ts = None
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off < len(data):
        sec, usec, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        ts = sec * 1000000 + usec
        if last_ts is not None and ts < last_ts:
            back += 1
        last_ts = ts
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        src, dst = ip[12:16], ip[16:20]
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        flags = tcp[13]
        plen = struct.unpack("!H", ip[2:4])[0] - ihl - (tcp[12] >> 4) * 4
        key, rev = (src, sport, dst, dport), (dst, dport, src, sport)
        end = (seq + plen + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        if flags & 0x12 == 0x12 and rev not in seen_end:
            synack_first += 1
        if key not in seen_end or seq_after(end, seen_end[key]):
            seen_end[key] = end
        if flags & 0x10 and not flags & 0x02 or flags & 0x12 == 0x12:
            if rev not in seen_end or seq_after(ack, seen_end[rev]):
                ahead += 1
    return ahead, synack_first, back


def cmd_check_pcap(args):
    ports = {int(p) for p in args.ports.split(",")}
    problems = []
    scans = {}
    for label, path in (("tap", args.tap), ("plain", args.plain)):
        # veth's tail loss probe can resend bytes already seen: no problem.
        s = gencommon.scan_pcap(path, ports, args.sessions, tolerate_retransmission=True)
        problems += ["%s: %s" % (label, p) for p in s.problems]
        if len(s.fin_dirs) != 2 * s.syns:
            problems.append("%s: %d directions closed with FIN for %d connections"
                            % (label, len(s.fin_dirs), s.syns))
        if s.rsts:
            problems.append("%s: %d resets" % (label, s.rsts))
        scans[label] = s
    tap, plain = scans["tap"], scans["plain"]
    if tap.npkt != plain.npkt:
        problems.append("the tap capture holds %d frames, the client's veth %d"
                        % (tap.npkt, plain.npkt))
    if {k: bytes(v) for k, v in tap.streams.items()} != \
            {k: bytes(v) for k, v in plain.streams.items()}:
        problems.append("the tap capture's byte streams differ from the client veth's")
    ahead, synack, back = order_scan(args.tap)
    p_ahead, p_synack, p_back = order_scan(args.plain)
    st = gencommon.load_json(args.stats)
    inv = st["cross_direction_inversions"]
    for name, d in st["directions"].items():
        if d["kernel_drops"] or d["captured"] != d["written"]:
            problems.append("forwarder %s: %d kernel drops, %d captured, %d written"
                            % (name, d["kernel_drops"], d["captured"], d["written"]))
    if sum(d["written"] for d in st["directions"].values()) != tap.npkt:
        problems.append("the forwarder wrote %d frames, the file holds %d"
                        % (sum(d["written"] for d in st["directions"].values()), tap.npkt))
    if st["truncated_receives"] or st["send_errors"]:
        problems.append("forwarder: %d truncated receives, %d send errors"
                        % (st["truncated_receives"], st["send_errors"]))
    if inv < args.min_inversions:
        problems.append("only %d cross-direction inversions (want >= %d)"
                        % (inv, args.min_inversions))
    if back:
        problems.append("tap capture: %d timestamps go backwards" % back)
    with open(args.expected, encoding="utf-8") as f:
        exp = [json.loads(l) for l in f if l.strip()]
    kinds = {k: sum(1 for e in exp if e["event_type"] == k) for k in ("alert", "email")}
    print("    %s: %d frames, %d bytes, %d connections, all closed; same byte streams and "
          "frame count as the client's veth (%d frames)"
          % (os.path.basename(args.tap), tap.npkt, os.path.getsize(args.tap), tap.syns,
             plain.npkt))
    print("    out of causal order in the tap capture: %d ACKs ahead of the data they "
          "acknowledge, %d SYN-ACKs before their SYN (client veth: %d and %d)"
          % (ahead, synack, p_ahead, p_synack))
    print("    forwarder: %d cross-direction inversions (%d payload/payload); "
          "expected: %d alerts, %d emails"
          % (inv, st["cross_direction_inversions_payload"], kinds["alert"], kinds["email"]))
    if problems:
        die("%s:\n  %s" % (args.tap, "\n  ".join(problems)))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup")
    p.add_argument("workdir")
    for name in ("submit", "fetch"):
        p = sub.add_parser(name)
        p.add_argument("workdir")
        p.add_argument("--host", required=True)
        p.add_argument("--port-base", type=int, required=True)
        p.add_argument("--expected", required=True)
    p = sub.add_parser("check-pcap")
    p.add_argument("--tap", required=True)
    p.add_argument("--plain", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--ports", required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--expected", required=True)
    p.add_argument("--min-inversions", type=int, default=1)
    args = ap.parse_args()
    {"setup": cmd_setup, "submit": cmd_submit, "fetch": cmd_fetch,
     "check-pcap": cmd_check_pcap}[args.cmd](args)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
