#!/usr/bin/python3
"""Helper for pcaps/gen/smtp_capture.sh: makes the users, attachment files and
messages, runs the client sessions (swaks, smtplib, curl, poplib, imaplib) and
writes the expected NDJSON events.

The expected events come ONLY from what this script generated (users,
passwords, message bytes, attachment files), what the clients sent and what
the server answered as the clients saw it (swaks transcripts, curl traces,
smtplib/poplib/imaplib return values) -- never from the capture or from
mailspill. Each event is whole (every key of README's event tables the
session determines): the client's port, the alert object, the CRAM-MD5
challenge, response and hashcat line, the envelope (smtp.helo, mail_from,
rcpt_to) as the client wrote it, the message's header keys, URLs, size and
hash (of the bytes sent: swaks composes its own message, so its bytes are
read back from its transcript).

Every client connects from the port given as --src-port (picked by
smtp_capture.sh), so the captures keep their connections' ports from run to
run (tap_reorder.py names some); the expected src_port is read back from
the client's socket, from curl's -w '%{local_port}', or for swaks (which
prints no local port) is the port it had to bind.

Subcommands (all state lives in the work dir W made by the shell script):
  setup W                  users (W/users for dovecot, W/users.json), files
                           to attach (W/files), messages (W/msgs, W/meta.json)
  swaks W --host H --port P --src-port S --user KEY --auth MECH [--wrong]
        [--attach FILE] [--quit-after-auth] --expected OUT
  smtplib W --host H --port P --src-port S --user KEY --mech MECH [--wrong]
        [--msg NAME]... --expected OUT
  curl W --host H --port P --src-port S --user KEY --mech MECH --msg NAME
        --expected OUT
  poplib W --host H --port P --src-port S --user KEY --expected OUT
                           (RETR every message)
  imaplib W --host H --port P --src-port S --user KEY --expected OUT
                           (FETCH BODY.PEEK[])
  check-pcap --pcap F --client IP --ports P,... --sessions N [--want S]...
        [--expected E]     sanity check of a finished capture; never feeds the
                           expected events
"""
import argparse
import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import random
import re
import smtplib
import subprocess
from email.message import EmailMessage

import gencommon
from gencommon import append_events, att_meta, die, read_curl_trace

CLIENT_IP = "10.53.25.5"
DOMAIN = "example.test"
SEED = 20261122
# The one URL in the messages (the HTML newsletter's link): what email.url
# must list for it.
PHISH_URL = "https://phish.example.net/login"


def load(w, name):
    return gencommon.load_json(os.path.join(w, name))


# ---------------------------------------------------------------- setup

def make_users(rng):
    """User names and passwords that break naive parsers: spaces, UTF-8,
    quotes, backslashes, 200+ characters. Never ':' (dovecot's passwd-file
    separator) nor control characters. Seeded: the same on every run."""
    def rnd(n, alphabet="abcdefghijklmnopqrstuvwxyz0123456789"):
        return "".join(rng.choice(alphabet) for _ in range(n))
    printable = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                 " !\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~éü✓€")
    long_pw = "long " + "".join(rng.choice(printable) for _ in range(230)) + " end"
    return {
        # SASL PLAIN: a name with spaces and UTF-8, a 240-character password.
        # (dovecot finds no user whose name holds a quote or a backslash: it
        # escapes them before the lookup; so those go in the passwords.)
        "plain": {"user": "Zoë van der Berg %s@%s" % (rnd(4), DOMAIN), "password": long_pw},
        # SASL LOGIN: a UTF-8 name, a password with backslashes and quotes.
        "login": {"user": "юзер.%s@%s" % (rnd(5), DOMAIN),
                  "password": "back\\slash \"dq\" 'sq' %s ✓" % rnd(8)},
        # CRAM-MD5: the name goes before the digest, separated by a space.
        "cram": {"user": "cram.%s@%s" % (rnd(5), DOMAIN), "password": "s3cr3t pass %s" % rnd(6)},
        # The mailbox that receives the chain's messages.
        "alice": {"user": "alice@%s" % DOMAIN, "password": "Wint3r \"2026\" \\ %s" % rnd(6)},
    }


def attachment_files(rng):
    """(file name, MIME type, bytes): binary, a non-ASCII name, text."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2500))
    pdf = b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(1800)) + b"\n%%EOF\n"
    csv = "".join("%d;Zürich;%d\r\n" % (i, rng.randrange(10 ** 6)) for i in range(40)).encode()
    return [
        ("chart.png", "image/png", png),
        ("Résumé – 2026 ✓.pdf", "application/pdf", pdf),
        ("données.csv", "text/csv", csv),
    ]


def build_messages(files, rng):
    """[(name, EmailMessage, attachments meta, URLs in its text)] with CRLF
    line ends."""
    out = []
    pol = email.policy.SMTP

    m = EmailMessage(policy=pol)
    m["From"] = "Bob Sender <bob@example.net>"
    m["To"] = "Alice Example <alice@%s>" % DOMAIN
    m["Subject"] = "Plain text with dots"
    m["Date"] = "Sun, 22 Nov 2026 17:00:00 +0000"
    m["Message-ID"] = "<plain.1@example.net>"
    m.set_content("Hello Alice,\n.a line starting with a dot\n..two dots\n.\n"
                  "the line above is a lone dot\n", cte="7bit")
    out.append(("plain", m, [], []))

    m = EmailMessage(policy=pol)
    m["From"] = "=?utf-8?q?J=C3=BCrgen?= <juergen@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Cc"] = "Carol <carol@example.net>"
    m["Subject"] = "HTML newsletter – grüße ✓"
    m["Date"] = "Sun, 22 Nov 2026 17:01:00 +0000"
    m["Message-ID"] = "<html.2@example.net>"
    long_line = "word " * 300
    m.set_content("Plain part. %s\n" % long_line, cte="quoted-printable")
    m.add_alternative("<html><body><p>Grüße, see <a href=\"%s\">"
                      "here</a> %s</p></body></html>\n" % (PHISH_URL, long_line), subtype="html",
                      cte="quoted-printable")
    m.set_boundary("=_alt_boundary_2")
    out.append(("html", m, [], [PHISH_URL]))

    m = EmailMessage(policy=pol)
    m["From"] = "Bob Sender <bob@example.net>"
    m["To"] = "Alice Example <alice@%s>" % DOMAIN
    m["Subject"] = "Attachments: binary and non-ASCII names"
    m["Date"] = "Sun, 22 Nov 2026 17:02:00 +0000"
    m["Message-ID"] = "<attach.3@example.net>"
    m.set_content("Three files attached.\n")
    meta = []
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        meta.append(att_meta(name, ctype, data))
    m.set_boundary("=_mixed_boundary_3")
    out.append(("attach", m, meta, []))

    m = EmailMessage(policy=pol)
    m["From"] = "Long Lines <long@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Subject"] = "Long lines"
    m["Date"] = "Sun, 22 Nov 2026 17:03:00 +0000"
    m["Message-ID"] = "<long.4@example.net>"
    body = "".join("%05d %s\n" % (i, "x" * rng.randrange(900, 990)) for i in range(6))
    m.set_content(body, cte="7bit")
    out.append(("long", m, [], []))
    return out


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
    for name, ctype, data in files:
        with open(os.path.join(w, "files", name), "wb") as f:
            f.write(data)
        fmeta[name] = att_meta(name, ctype, data)
    meta = {"files": fmeta, "messages": {}}
    for name, m, atts, urls in build_messages(files, rng):
        raw = m.as_bytes(policy=email.policy.SMTP)
        if not raw.endswith(b"\r\n") or re.search(rb"(?<!\r)\n", raw):
            die("message %s is not in CRLF form" % name)
        with open(os.path.join(w, "msgs", name + ".eml"), "wb") as f:
            f.write(raw)
        meta["messages"][name] = {
            "subject": str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]),
            "message_id": m["Message-ID"], "attachments": atts, "urls": urls,
            "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
        }
    with open(os.path.join(w, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


# ---------------------------------------------------------------- events

def base_event(kind, proto, host, port, src_port):
    return {"event_type": kind, "app_proto": proto, "src_ip": CLIENT_IP, "src_port": src_port,
            "dest_ip": host, "dest_port": port}


def cred_event(proto, host, port, src_port, command, mech, user, password, ok, reply,
               starttls=None, extra=None):
    """The whole alert event (README's alert table). starttls: whether the
    capabilities the client saw before its login offered STARTTLS/STLS (None:
    it saw none, so the key is absent). extra: the challenge/response keys."""
    ev = base_event("alert", proto, host, port, src_port)
    c = {"command": command, "mechanism": mech, "username": user}
    if password is not None:
        c["password"] = password
    c.update(extra or {})
    c["outcome"] = "success" if ok else "failure"
    if reply is not None:
        c["server_reply"] = reply
    c["tls"] = False                    # only cleartext logins are reported
    if starttls is not None:
        c["starttls_offered"] = starttls
    ev["credential"] = c
    return gencommon.with_alert(ev)


def cram_md5_fields(user, password, challenge, response):
    """README's CRAM-MD5 row from the challenge and the response the client
    saw and sent (decoded; the response is "user SP digest"), after checking
    the digest against the password: the hex digest, and the hashcat line
    (mode 10200) with both in base64."""
    name, digest = response.decode("utf-8").rsplit(" ", 1)
    good = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    if name != user or digest != good:
        die("CRAM-MD5 response %r does not match the account" % response)
    return {"challenge": challenge.decode("utf-8"), "response": digest,
            "hashcat": "$cram_md5$%s$%s" % (base64.b64encode(challenge).decode(),
                                             base64.b64encode(response).decode()),
            "hashcat_mode": 10200}


def offers_starttls(server_lines):
    """From the server's lines as a client logged them: an EHLO reply line
    250-STARTTLS or 250 STARTTLS."""
    return any(re.match(r"^250[ -]STARTTLS\s*$", l, re.I) for l in server_lines)


def envelope(client_lines):
    """Suricata's smtp object from the command lines a client sent (its
    transcript or trace): helo is the first word of the latest HELO/EHLO
    argument, mail_from and rcpt_to the paths as written (without MAIL's
    parameters such as SIZE=), for the transaction the lines hold."""
    out = {}
    for l in client_lines:
        m = re.match(r"^(?:HELO|EHLO) +(\S+)", l, re.I)
        if m:
            out["helo"] = m.group(1)
        m = re.match(r"^MAIL FROM: *(<[^>]*>)", l, re.I)
        if m:
            out["mail_from"], out["rcpt_to"] = m.group(1), []
        m = re.match(r"^RCPT TO: *(<[^>]*>)", l, re.I)
        if m:
            out["rcpt_to"].append(m.group(1))
    if set(out) != {"helo", "mail_from", "rcpt_to"} or not out["rcpt_to"]:
        die("no whole envelope in the client's lines: %r" % client_lines)
    return out


def smtp_email_event(host, port, src_port, smtp, raw, urls, attachments, accepted, reply):
    """A submitted message: smtp is the envelope (envelope()), raw the
    message as the client sent it after dot-unstuffing."""
    ev = base_event("email", "smtp", host, port, src_port)
    ev["smtp"] = smtp
    e = {"command": "DATA"}
    e.update(gencommon.message_fields(raw, urls, attachments))
    e["accepted"] = accepted
    e["server_reply"] = reply
    ev["email"] = e
    return ev


# ---------------------------------------------------------------- swaks

def swaks_data(out, idx):
    """The message swaks sent, from its transcript (raw lines of stdout):
    swaks prints the whole DATA block after the 354 as " -> " + each line
    with its CR, then the lone "." line; the message is those lines' bytes
    with their LFs back."""
    start = next((i for i, l in enumerate(out) if i > idx and l.startswith(b"<-  354")), None)
    end = next((i for i, l in enumerate(out) if start is not None and i > start
                and l == b" -> ."), None)
    if end is None:
        die("no DATA block in swaks' transcript")
    lines = [l[4:] for l in out[start + 1:end]]
    if not all(l.startswith(b" -> ") or l == b" ->" for l in out[start + 1:end]) \
            or not all(l.endswith(b"\r") for l in lines):
        die("swaks' DATA block is not whole CRLF lines")
    if any(l.startswith(b".") for l in lines):
        die("a dot-stuffed line in swaks' message: its transcript form is not known")
    return b"".join(l + b"\n" for l in lines)


def cmd_swaks(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    password = u["password"] + ("-wrong" if args.wrong else "")
    mail_from = "sender@example.net"
    rcpt = "alice@%s" % DOMAIN
    subject = "swaks %s test" % args.auth
    # --local-port: swaks binds that port or fails, so it is the session's
    # src_port (swaks prints no local port; check-pcap checks the capture
    # has a connection from it).
    cmd = ["swaks", "--server", args.host, "--port", str(args.port),
           "--local-port", str(args.src_port), "--auth", args.auth,
           "--auth-user", u["user"], "--auth-password", password, "--from", mail_from,
           "--to", rcpt, "--header", "Subject: " + subject, "--timeout", "20"]
    if args.attach:
        cmd += ["--attach-type", meta["files"][args.attach]["content_type"],
                "--attach", "@" + os.path.join(w, "files", args.attach)]
    if args.quit_after_auth or args.wrong:
        cmd += ["--quit-after", "AUTH"]
    run = subprocess.run(cmd, capture_output=True, timeout=60)
    raw_out = run.stdout.split(b"\n")
    out = run.stdout.decode("utf-8", "replace").splitlines()
    with open(os.path.join(w, "swaks-%d.log" % args.src_port), "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    # Transcript: " -> " client, "<-  " server, "<** " server error reply.
    server = [(i, l[4:]) for i, l in enumerate(out) if l.startswith(("<-  ", "<** "))]
    client = [(i, l[4:]) for i, l in enumerate(out) if l.startswith(" -> ")]

    def reply_after(idx):
        """The final line of the first complete reply after transcript line idx."""
        for i, text in server:
            if i > idx and re.match(r"^\d{3}( |$)", text) and not text.startswith("334"):
                return text
        return None

    auth_idx = next((i for i, t in client if t.upper().startswith("AUTH ")), None)
    if auth_idx is None:
        die("swaks sent no AUTH: %s" % "\n".join(out))
    auth_reply = reply_after(auth_idx)
    ok = auth_reply is not None and auth_reply.startswith("235")
    if ok == args.wrong:
        die("swaks AUTH %s: unexpected reply %r" % (args.auth, auth_reply))
    extra = None
    if args.auth == "CRAM-MD5":
        # "AUTH CRAM-MD5", "334 <challenge>", "<response>", all base64.
        chal = next(t for i, t in server if i > auth_idx and t.startswith("334 "))
        resp = next(t for i, t in client if i > auth_idx)
        extra = cram_md5_fields(u["user"], password, base64.b64decode(chal[4:]),
                                base64.b64decode(resp))
    events = [cred_event("smtp", args.host, args.port, args.src_port, "AUTH", args.auth,
                         u["user"], None if args.auth == "CRAM-MD5" else password, ok,
                         auth_reply, offers_starttls(t for _, t in server), extra)]
    if not (args.quit_after_auth or args.wrong):
        dot_idx = next((i for i, t in client if t == "."), None)
        if dot_idx is None:
            die("swaks sent no message")
        data_reply = reply_after(dot_idx)
        if not data_reply or not data_reply.startswith("250"):
            die("message refused: %r" % data_reply)
        raw = swaks_data(raw_out, auth_idx)
        # swaks composed the message (its Date and Message-Id are the run's):
        # its attachment must be the file, and its text (swaks' fixed body)
        # holds no URL (message_fields checks).
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        atts = [meta["files"][args.attach]] if args.attach else []
        if gencommon.received_attachments(msg) != atts:
            die("swaks' attachments differ from the file: %r"
                % gencommon.received_attachments(msg))
        if str(msg["Subject"]) != subject:
            die("swaks wrote the subject %r" % str(msg["Subject"]))
        events.append(smtp_email_event(args.host, args.port, args.src_port,
                                       envelope(t for i, t in client if i < dot_idx), raw, [],
                                       atts, True, data_reply))
    append_events(args.expected, events)


# ---------------------------------------------------------------- smtplib

def reply_line(code, resp):
    """smtplib gives the last reply's code and its lines joined by LF."""
    text = resp.decode("utf-8").split("\n")[-1]
    return "%d %s" % (code, text) if text else "%d" % code


def cmd_smtplib(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    password = u["password"] + ("-wrong" if args.wrong else "")
    events = []
    helo = "client.example.net"
    s = smtplib.SMTP(args.host, args.port, local_hostname=helo, timeout=20,
                     source_address=(CLIENT_IP, args.src_port))
    sport = gencommon.local_port(s.sock)
    s.ehlo()
    s.user, s.password = u["user"], password
    mech = args.mech
    obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    seen = []

    def authobject(challenge=None):
        # what smtplib answers to each challenge, as it sends it
        r = obj(challenge)
        seen.append((challenge, r))
        return r
    try:
        code, resp = s.auth(mech, authobject, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, resp = e.smtp_code, e.smtp_error
    ok = code == 235
    if ok == args.wrong:
        die("smtplib AUTH %s: unexpected %d %r" % (mech, code, resp))
    extra = None
    if mech == "CRAM-MD5":
        chal, r = next((c, r) for c, r in seen if c is not None)
        extra = cram_md5_fields(u["user"], password, chal, r.encode("ascii"))
    events.append(cred_event("smtp", args.host, args.port, sport, "AUTH", mech, u["user"],
                             None if mech == "CRAM-MD5" else password, ok,
                             reply_line(code, resp), s.has_extn("starttls"), extra))
    for name in args.msg:
        raw = open(os.path.join(w, "msgs", name + ".eml"), "rb").read()
        info = meta["messages"][name]
        mail_from = "bob@example.net"
        rcpts = ["alice@%s" % DOMAIN]
        code, resp = s.mail(mail_from)
        if code != 250:
            die("MAIL refused: %d %r" % (code, resp))
        for r in rcpts:
            code, resp = s.rcpt(r)
            if code not in (250, 251):
                die("RCPT refused: %d %r" % (code, resp))
        # raw is CRLF-terminated, so smtplib sends it unchanged, dot-stuffed.
        code, resp = s.data(raw)
        # smtplib wrote "ehlo <local_hostname>", "mail FROM:<addr>" and
        # "rcpt TO:<addr>" (smtplib.quoteaddr), no MAIL parameters asked.
        smtp = envelope(["EHLO " + helo, "MAIL FROM:<%s>" % mail_from] +
                        ["RCPT TO:<%s>" % r for r in rcpts])
        events.append(smtp_email_event(args.host, args.port, sport, smtp, raw, info["urls"],
                                       info["attachments"], code == 250,
                                       reply_line(code, resp)))
    s.quit()
    append_events(args.expected, events)


# ---------------------------------------------------------------- curl

def cmd_curl(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    info = meta["messages"][args.msg]
    path = os.path.join(w, "msgs", args.msg + ".eml")
    trace = os.path.join(w, "curl-%s.trace" % args.msg)
    mail_from = "bob@example.net"
    rcpt = "alice@%s" % DOMAIN
    run = subprocess.run(["curl", "-sS", "--max-time", "20", "--login-options", "AUTH=" + args.mech,
                          "--local-port", str(args.src_port), "-w", "%{local_port}",
                          "-u", "%s:%s" % (u["user"], u["password"]), "--mail-from", mail_from,
                          "--mail-rcpt", rcpt, "--upload-file", path, "--trace-ascii", trace,
                          "smtp://%s:%d/client.example.net" % (args.host, args.port)],
                         capture_output=True, timeout=60)
    if run.returncode != 0:
        die("curl failed: %s" % run.stderr.decode(errors="replace"))
    sport = gencommon.curl_local_port(run.stdout)
    lines = read_curl_trace(trace)
    recv = [t for d, t in lines if d == "<"]
    auth_reply = next((l for l in recv if re.match(r"^(235|5\d\d)", l)), None)
    data_reply = next((l for l in reversed(recv) if l.startswith("250") and "queued" in l), None)
    if not auth_reply or not data_reply:
        die("curl trace lacks the AUTH or DATA reply: %r" % recv)
    raw = open(path, "rb").read()
    append_events(args.expected, [
        cred_event("smtp", args.host, args.port, sport, "AUTH", args.mech, u["user"],
                   u["password"], auth_reply.startswith("235"), auth_reply, offers_starttls(recv)),
        smtp_email_event(args.host, args.port, sport, envelope(t for d, t in lines if d == ">"),
                         raw, info["urls"], info["attachments"], True, data_reply),
    ])


# ---------------------------------------------------------------- chain: fetch

def delivered_event(proto, host, port, src_port, command, raw, meta):
    """A message fetched back: the bytes the server returned (it gained
    Return-Path/Delivered-To/Received), attachments checked against our
    files, its URLs those of the message sent."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = str(msg["Message-ID"])
    info = next((i for i in meta["messages"].values() if i["message_id"] == mid), None)
    if info is None:
        die("fetched an unknown message %r" % mid)
    got = gencommon.received_attachments(msg)
    if got != info["attachments"]:
        die("attachments of %s differ from the files sent: %r" % (mid, got))
    ev = base_event("email", proto, host, port, src_port)
    ev["email"] = {"command": command}
    ev["email"].update(gencommon.message_fields(raw, info["urls"], info["attachments"]))
    return ev


def cmd_poplib(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    p = gencommon.POP3From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(p.sock)
    p.user(u["user"])
    resp = p.pass_(u["password"])
    # poplib sends no CAPA: the client never saw whether STLS was offered.
    events = [cred_event("pop3", args.host, args.port, sport, "USER", "USER", u["user"],
                         u["password"], True, resp.decode("utf-8"))]
    count, _ = p.stat()
    if count != len(meta["messages"]):
        die("mailbox holds %d messages, %d were sent" % (count, len(meta["messages"])))
    for i in range(1, count + 1):
        _, lines, _ = p.retr(i)
        raw = b"".join(l + b"\r\n" for l in lines)
        events.append(delivered_event("pop3", args.host, args.port, sport, "RETR", raw, meta))
    p.quit()
    append_events(args.expected, events)


def cmd_imaplib(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    m = gencommon.IMAP4From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(m.sock)
    caps = {c.upper() for c in m.capabilities}
    typ, dat = m.login(u["user"], u["password"])
    if typ != "OK":
        die("IMAP LOGIN failed")
    # The tagged reply as the client read it: the tag imaplib used, then
    # the rest of the line (imaplib keeps it whole).
    reply = "%s%d %s %s" % (m.tagpre.decode(), m.tagnum - 1, typ, dat[-1].decode("utf-8"))
    events = [cred_event("imap", args.host, args.port, sport, "LOGIN", "LOGIN", u["user"],
                         u["password"], True, reply,
                         "STARTTLS" in caps or "LOGINDISABLED" in caps)]
    typ, data = m.select("INBOX", readonly=True)
    count = int(data[0])
    if count != len(meta["messages"]):
        die("INBOX holds %d messages, %d were sent" % (count, len(meta["messages"])))
    for i in range(1, count + 1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[])")
        raw = data[0][1]
        events.append(delivered_event("imap", args.host, args.port, sport, "FETCH", raw, meta))
    m.logout()
    append_events(args.expected, events)


# ---------------------------------------------------------------- capture check

def cmd_check_pcap(args):
    ports = {int(p) for p in args.ports.split(",")}
    # veth's tail loss probe can resend bytes already seen: no problem.
    scan = gencommon.scan_pcap(args.pcap, ports, args.sessions, tolerate_retransmission=True)
    problems = scan.problems
    # Once per direction: a FIN may be retransmitted.
    if len(scan.fin_dirs) != 2 * scan.syns and not args.no_fin_check:
        problems.append("%d FINs for %d connections" % (len(scan.fin_dirs), scan.syns))
    lines = scan.client_bytes(args.client).decode("utf-8", "replace").split("\r\n")
    for want in args.want:
        if not any(l.upper().startswith(want.upper()) for l in lines):
            problems.append("the client never sent %r" % want)
    scan.finish(args.expected)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup")
    p.add_argument("workdir")
    for name in ("swaks", "smtplib", "curl", "poplib", "imaplib"):
        p = sub.add_parser(name)
        p.add_argument("workdir")
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--src-port", type=int, required=True,
                       help="the port the client connects from")
        p.add_argument("--user", required=True)
        p.add_argument("--expected", required=True)
        if name == "swaks":
            p.add_argument("--auth", required=True)
            p.add_argument("--wrong", action="store_true")
            p.add_argument("--attach")
            p.add_argument("--quit-after-auth", action="store_true")
        if name in ("smtplib", "curl"):
            p.add_argument("--mech", required=True)
        if name == "smtplib":
            p.add_argument("--wrong", action="store_true")
            p.add_argument("--msg", action="append", default=[])
        if name == "curl":
            p.add_argument("--msg", required=True)
    p = sub.add_parser("check-pcap")
    p.add_argument("--pcap", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--ports", required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--want", action="append", default=[])
    p.add_argument("--expected", help="its expected file: each src_port must be a connection")
    # swaks ends a TLS session with close_notify and a reset, not a FIN.
    p.add_argument("--no-fin-check", action="store_true")
    args = ap.parse_args()
    {"setup": cmd_setup, "swaks": cmd_swaks, "smtplib": cmd_smtplib, "curl": cmd_curl,
     "poplib": cmd_poplib, "imaplib": cmd_imaplib, "check-pcap": cmd_check_pcap}[args.cmd](args)


if __name__ == "__main__":
    main()
