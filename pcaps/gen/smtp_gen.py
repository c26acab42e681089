#!/usr/bin/python3
"""Helper for pcaps/gen/smtp_capture.sh: makes the users, attachment files and
messages, runs the client sessions (swaks, smtplib, curl, poplib, imaplib) and
writes the expected NDJSON events.

The expected events come ONLY from what this script generated (users,
passwords, message bytes, attachment files), what the clients sent and what
the server answered as the clients saw it (swaks transcripts, curl traces,
smtplib/poplib/imaplib return values) -- never from the capture or from
mailspill.

Subcommands (all state lives in the work dir W made by the shell script):
  setup W                  users (W/users for dovecot, W/users.json), files
                           to attach (W/files), messages (W/msgs, W/meta.json)
  swaks W --host H --port P --user KEY --auth MECH [--wrong] [--attach FILE]
        [--quit-after-auth] --expected OUT
  smtplib W --host H --port P --user KEY --mech MECH [--wrong] [--msg NAME]...
        --expected OUT
  curl W --host H --port P --user KEY --mech MECH --msg NAME --expected OUT
  poplib W --host H --port P --user KEY --expected OUT   (RETR every message)
  imaplib W --host H --port P --user KEY --expected OUT  (FETCH BODY.PEEK[])
  check-pcap --pcap F --client IP --ports P,... --sessions N [--want S]...
                           sanity check of a finished capture; never feeds the
                           expected events
"""
import argparse
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
import subprocess
from email.message import EmailMessage

import gencommon
from gencommon import append_events, att_meta, die

CLIENT_IP = "10.53.25.5"
DOMAIN = "example.test"
SEED = 20261122


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
    """[(name, EmailMessage, attachments meta)] with CRLF line ends."""
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
    out.append(("plain", m, []))

    m = EmailMessage(policy=pol)
    m["From"] = "=?utf-8?q?J=C3=BCrgen?= <juergen@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Cc"] = "Carol <carol@example.net>"
    m["Subject"] = "HTML newsletter – grüße ✓"
    m["Date"] = "Sun, 22 Nov 2026 17:01:00 +0000"
    m["Message-ID"] = "<html.2@example.net>"
    long_line = "word " * 300
    m.set_content("Plain part. %s\n" % long_line, cte="quoted-printable")
    m.add_alternative("<html><body><p>Grüße, see <a href=\"https://phish.example.net/login\">"
                      "here</a> %s</p></body></html>\n" % long_line, subtype="html",
                      cte="quoted-printable")
    m.set_boundary("=_alt_boundary_2")
    out.append(("html", m, []))

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
    out.append(("attach", m, meta))

    m = EmailMessage(policy=pol)
    m["From"] = "Long Lines <long@example.net>"
    m["To"] = "alice@%s" % DOMAIN
    m["Subject"] = "Long lines"
    m["Date"] = "Sun, 22 Nov 2026 17:03:00 +0000"
    m["Message-ID"] = "<long.4@example.net>"
    body = "".join("%05d %s\n" % (i, "x" * rng.randrange(900, 990)) for i in range(6))
    m.set_content(body, cte="7bit")
    out.append(("long", m, []))
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
    for name, m, atts in build_messages(files, rng):
        raw = m.as_bytes(policy=email.policy.SMTP)
        if not raw.endswith(b"\r\n") or re.search(rb"(?<!\r)\n", raw):
            die("message %s is not in CRLF form" % name)
        with open(os.path.join(w, "msgs", name + ".eml"), "wb") as f:
            f.write(raw)
        meta["messages"][name] = {
            "subject": str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]),
            "message_id": m["Message-ID"], "attachments": atts,
            "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
        }
    with open(os.path.join(w, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


# ---------------------------------------------------------------- events

def base_event(kind, proto, host, port):
    return {"event_type": kind, "app_proto": proto, "src_ip": CLIENT_IP,
            "dest_ip": host, "dest_port": port}


def cred_event(proto, host, port, command, mech, user, password, ok, reply, starttls=None):
    """starttls: whether the EHLO reply the client saw offered STARTTLS
    (None: not asserted)."""
    ev = base_event("alert", proto, host, port)
    c = {"command": command, "mechanism": mech, "username": user}
    if password is not None:
        c["password"] = password
    c["outcome"] = "success" if ok else "failure"
    if reply is not None:
        c["server_reply"] = reply
    if starttls is not None:
        c["starttls_offered"] = starttls
    ev["credential"] = c
    return ev


def offers_starttls(server_lines):
    """From the server's lines as a client logged them: an EHLO reply line
    250-STARTTLS or 250 STARTTLS."""
    return any(re.match(r"^250[ -]STARTTLS\s*$", l, re.I) for l in server_lines)


def smtp_email_event(host, port, command, mail_from, rcpts, subject, attachments, accepted,
                     reply, raw=None):
    ev = base_event("email", "smtp", host, port)
    # Suricata's smtp object: the paths as the client wrote them.
    ev["smtp"] = {"mail_from": "<%s>" % mail_from, "rcpt_to": ["<%s>" % r for r in rcpts]}
    e = {"command": command}
    if subject is not None:
        e["subject"] = subject
    if raw is not None:
        e["size"] = len(raw)
        e["sha256"] = hashlib.sha256(raw).hexdigest()
    e["attachments"] = attachments
    e["accepted"] = accepted
    e["server_reply"] = reply
    e["truncated"] = False
    ev["email"] = e
    return ev


# ---------------------------------------------------------------- swaks

def cmd_swaks(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    password = u["password"] + ("-wrong" if args.wrong else "")
    mail_from = "sender@example.net"
    rcpt = "alice@%s" % DOMAIN
    subject = "swaks %s test" % args.auth
    cmd = ["swaks", "--server", args.host, "--port", str(args.port), "--auth", args.auth,
           "--auth-user", u["user"], "--auth-password", password, "--from", mail_from,
           "--to", rcpt, "--header", "Subject: " + subject, "--timeout", "20"]
    if args.attach:
        cmd += ["--attach-type", meta["files"][args.attach]["content_type"],
                "--attach", "@" + os.path.join(w, "files", args.attach)]
    if args.quit_after_auth or args.wrong:
        cmd += ["--quit-after", "AUTH"]
    run = subprocess.run(cmd, capture_output=True, timeout=60)
    out = run.stdout.decode("utf-8", "replace").splitlines()
    with open(os.path.join(w, "swaks-%d.log" % os.getpid()), "w", encoding="utf-8") as f:
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
    events = [cred_event("smtp", args.host, args.port, "AUTH", args.auth, u["user"],
                         None if args.auth == "CRAM-MD5" else password, ok, auth_reply,
                         offers_starttls(t for _, t in server))]
    if not (args.quit_after_auth or args.wrong):
        dot_idx = next((i for i, t in client if t == "."), None)
        if dot_idx is None:
            die("swaks sent no message")
        data_reply = reply_after(dot_idx)
        if not data_reply or not data_reply.startswith("250"):
            die("message refused: %r" % data_reply)
        atts = [meta["files"][args.attach]] if args.attach else []
        events.append(smtp_email_event(args.host, args.port, "DATA", mail_from, [rcpt], subject,
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
    s = smtplib.SMTP(args.host, args.port, local_hostname="client.example.net", timeout=20)
    s.ehlo()
    s.user, s.password = u["user"], password
    mech = args.mech
    obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    try:
        code, resp = s.auth(mech, obj, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, resp = e.smtp_code, e.smtp_error
    ok = code == 235
    if ok == args.wrong:
        die("smtplib AUTH %s: unexpected %d %r" % (mech, code, resp))
    events.append(cred_event("smtp", args.host, args.port, "AUTH", mech, u["user"],
                             None if mech == "CRAM-MD5" else password, ok, reply_line(code, resp),
                             s.has_extn("starttls")))
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
        events.append(smtp_email_event(args.host, args.port, "DATA", mail_from, rcpts,
                                       info["subject"], info["attachments"], code == 250,
                                       reply_line(code, resp), raw))
    s.quit()
    append_events(args.expected, events)


# ---------------------------------------------------------------- curl

def read_curl_trace(path):
    """Server lines ('<= Recv header') from curl --trace-ascii."""
    lines, cur = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("<= Recv header"):
                cur = "recv"
                continue
            if line.startswith(("=>", "<=", "==")):
                cur = None
                continue
            m = re.match(r"^[0-9a-f]{4}: (.*)$", line)
            if m and cur == "recv":
                lines.append(m.group(1))
    return lines


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
                          "-u", "%s:%s" % (u["user"], u["password"]), "--mail-from", mail_from,
                          "--mail-rcpt", rcpt, "--upload-file", path, "--trace-ascii", trace,
                          "smtp://%s:%d/client.example.net" % (args.host, args.port)],
                         capture_output=True, timeout=60)
    if run.returncode != 0:
        die("curl failed: %s" % run.stderr.decode(errors="replace"))
    recv = read_curl_trace(trace)
    auth_reply = next((l for l in recv if re.match(r"^(235|5\d\d)", l)), None)
    data_reply = next((l for l in reversed(recv) if l.startswith("250") and "queued" in l), None)
    if not auth_reply or not data_reply:
        die("curl trace lacks the AUTH or DATA reply: %r" % recv)
    raw = open(path, "rb").read()
    append_events(args.expected, [
        cred_event("smtp", args.host, args.port, "AUTH", args.mech, u["user"], u["password"],
                   auth_reply.startswith("235"), auth_reply, offers_starttls(recv)),
        smtp_email_event(args.host, args.port, "DATA", mail_from, [rcpt], info["subject"],
                         info["attachments"], True, data_reply, raw),
    ])


# ---------------------------------------------------------------- chain: fetch

def delivered_event(proto, host, port, command, raw, meta):
    """A message fetched back: size/sha256 of what the server returned (it
    gained Return-Path/Delivered-To/Received), attachments from our files."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = str(msg["Message-ID"])
    info = next((i for i in meta["messages"].values() if i["message_id"] == mid), None)
    if info is None:
        die("fetched an unknown message %r" % mid)
    got = gencommon.received_attachments(msg)
    if got != info["attachments"]:
        die("attachments of %s differ from the files sent: %r" % (mid, got))
    ev = base_event("email", proto, host, port)
    ev["email"] = {"command": command, "subject": info["subject"], "size": len(raw),
                   "sha256": hashlib.sha256(raw).hexdigest(), "attachments": info["attachments"],
                   "truncated": False}
    return ev


def cmd_poplib(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    p = poplib.POP3(args.host, args.port, timeout=20)
    p.user(u["user"])
    resp = p.pass_(u["password"])
    events = [cred_event("pop3", args.host, args.port, "USER", "USER", u["user"], u["password"],
                         True, resp.decode("utf-8"))]
    count, _ = p.stat()
    if count != len(meta["messages"]):
        die("mailbox holds %d messages, %d were sent" % (count, len(meta["messages"])))
    for i in range(1, count + 1):
        _, lines, _ = p.retr(i)
        raw = b"".join(l + b"\r\n" for l in lines)
        events.append(delivered_event("pop3", args.host, args.port, "RETR", raw, meta))
    p.quit()
    append_events(args.expected, events)


def cmd_imaplib(args):
    w = args.workdir
    u = load(w, "users.json")[args.user]
    meta = load(w, "meta.json")
    m = imaplib.IMAP4(args.host, args.port, timeout=20)
    typ, _ = m.login(u["user"], u["password"])
    if typ != "OK":
        die("IMAP LOGIN failed")
    events = [cred_event("imap", args.host, args.port, "LOGIN", "LOGIN", u["user"], u["password"],
                         True, None)]
    typ, data = m.select("INBOX", readonly=True)
    count = int(data[0])
    if count != len(meta["messages"]):
        die("INBOX holds %d messages, %d were sent" % (count, len(meta["messages"])))
    for i in range(1, count + 1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[])")
        raw = data[0][1]
        events.append(delivered_event("imap", args.host, args.port, "FETCH", raw, meta))
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
    scan.finish()


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
    # swaks ends a TLS session with close_notify and a reset, not a FIN.
    p.add_argument("--no-fin-check", action="store_true")
    args = ap.parse_args()
    {"setup": cmd_setup, "swaks": cmd_swaks, "smtplib": cmd_smtplib, "curl": cmd_curl,
     "poplib": cmd_poplib, "imaplib": cmd_imaplib, "check-pcap": cmd_check_pcap}[args.cmd](args)


if __name__ == "__main__":
    main()
