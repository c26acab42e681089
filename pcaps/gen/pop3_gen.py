#!/usr/bin/python3
"""Helper for pcaps/gen/pop3_capture.sh: builds the test messages, runs the
poplib client sessions and writes the expected NDJSON events.

The expected events are derived ONLY from what the clients sent, what the
server answered as the clients saw it, the RETR bytes the clients received and
the bytes this script generated -- never from the capture or from mailspill.
Each event is whole (every key mailspill writes, as README's event tables
define them): the client's port as its socket (or curl) had it, the alert
object of the login, the message's header keys, size and hash.

Subcommands:
  messages MAILDIR META        write the fixed messages into MAILDIR/new and
                               describe them (attachments, hashes) in META
  poplib --host H --port P --src-port S --user U --password PW [--list]
         [--retr N ...] --meta META --expected OUT
                               one POP3 session with poplib from port S;
                               appends its events
  curl-events --host H --port P --src-port S --meta META --trace TRACE
         --body BODY --expected OUT
                               events of a finished curl session, from curl's
                               --trace-ascii log, its output file and the
                               port it printed (-w '%{local_port}')
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
from email.message import EmailMessage

import gencommon
from gencommon import append_events, att_meta, die, read_curl_trace

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
    msgs.append(("1727775000.M1P1.mailspill-gen", m,
                 [att_meta(ATTACHMENT_NAME, ATTACHMENT_TYPE, att)]))

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
            # No URL in either text (message_fields checks there is none).
            "urls": [],
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

def stls_offered(lines, upto):
    """What the client saw of CAPA before its login (lines as
    read_curl_trace gives them, the login at index upto): True when the list
    held STLS, False when it did not, None when no CAPA went by (then
    mailspill cannot know, and writes no starttls_offered)."""
    seen, stls, in_capa = None, False, False
    for d, t in lines[:upto]:
        if d == ">" and t.upper() == "CAPA":
            in_capa, stls = "wait", False
        elif d == "<" and in_capa == "wait":
            in_capa = t.startswith("+OK")
            seen = True if in_capa else seen
        elif d == "<" and in_capa is True:
            if t == ".":
                in_capa = False
            elif t.split(" ")[0].upper() == "STLS":
                stls = True
    return None if seen is None else stls


def credential_event(host, port, src_port, user, password, reply, starttls_offered=None):
    """starttls_offered: None when the client asked for no CAPA (poplib
    logs in without), so the key is absent."""
    reply = reply.decode("utf-8")
    cred = {
        "command": "USER",
        "mechanism": "USER",
        "username": user,
        "password": password,
        "outcome": "success" if reply.startswith("+OK") else "failure",
        "server_reply": reply,
        "tls": False,           # only cleartext logins are reported
    }
    if starttls_offered is not None:
        cred["starttls_offered"] = starttls_offered
    return {
        "event_type": "alert",
        "app_proto": "pop3",
        "src_ip": CLIENT_IP,
        "src_port": src_port,
        "dest_ip": host,
        "dest_port": port,
        "credential": cred,
    }


def email_event(host, port, src_port, raw, meta):
    """raw: the message as transferred after dot-unstuffing (CRLF lines)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    mid = str(msg["Message-ID"])
    if mid not in meta:
        die("RETR returned an unknown message %r" % mid)
    info = meta[mid]
    # Sanity: the attachments the client received are the ones we generated.
    got = gencommon.received_attachments(msg)
    if got != info["attachments"]:
        die("attachments of %s differ from the generated ones: %r" % (mid, got))
    if str(msg["Subject"]) != info["subject"]:
        die("subject of %s decodes to %r" % (mid, str(msg["Subject"])))
    e = {"command": "RETR"}
    e.update(gencommon.message_fields(raw, info["urls"], info["attachments"]))
    return {
        "event_type": "email",
        "app_proto": "pop3",
        "src_ip": CLIENT_IP,
        "src_port": src_port,
        "dest_ip": host,
        "dest_port": port,
        "email": e,
    }


load_meta = gencommon.load_json


def cmd_poplib(args):
    meta = load_meta(args.meta)
    events = []
    pop = gencommon.POP3From(args.host, args.port, (CLIENT_IP, args.src_port))
    sport = gencommon.local_port(pop.sock)
    print("  S: " + pop.getwelcome().decode())
    print("  C: USER " + args.user + "  ->  " + pop.user(args.user).decode())
    try:
        reply = pop.pass_(args.password)
    except poplib.error_proto as e:
        reply = e.args[0]
        if not isinstance(reply, bytes):
            die("unexpected poplib error %r" % (e,))
    print("  C: PASS " + args.password + "  ->  " + reply.decode())
    # poplib sends no CAPA: the client never saw whether STLS was offered.
    events.append(gencommon.with_alert(credential_event(
        args.host, args.port, sport, args.user, args.password, reply)))
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
            events.append(email_event(args.host, args.port, sport, raw, meta))
    print("  C: QUIT  ->  " + pop.quit().decode())
    append_events(args.expected, events)


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
    ev = credential_event(args.host, args.port, args.src_port, user, password,
                          reply.encode("utf-8"), stls_offered(lines, i))  # CAPA before it
    ev["credential"]["command"] = command
    ev["credential"]["mechanism"] = mech
    events = [gencommon.with_alert(ev)]
    with open(args.body, "rb") as f:
        raw = f.read()
    events.append(email_event(args.host, args.port, args.src_port, raw, meta))
    append_events(args.expected, events)


# Capture sanity check (verification only: never feeds the expected events) --

def cmd_check_pcap(args):
    # A TLS session's close races (RST, a retransmitted close_notify): only
    # its cleartext part has to be clean, and that is checked below.
    scan = gencommon.scan_pcap(args.pcap, {args.port}, args.sessions,
                               tolerate_retransmission=args.allow_rst)
    problems = scan.problems
    if args.allow_rst and scan.fins + scan.rsts >= scan.syns:
        # a TLS peer's close_notify after the other side's FIN, or the
        # server resetting the client's late close_notify before any FIN
        pass
    elif scan.fins != 2 * scan.syns:
        problems.append("%d FINs for %d connections: not all closed cleanly"
                        % (scan.fins, scan.syns))
    client_lines = scan.client_bytes(CLIENT_IP).decode("utf-8", "replace").split("\r\n")
    for want in args.want:
        if not any(l == want or l.startswith(want + " ") for l in client_lines):
            problems.append("the client never sent %r" % want)
    for refuse in args.refuse:
        if any(l.startswith(refuse) for l in client_lines):
            problems.append("the client sent %r" % refuse)
    scan.finish(args.expected)


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
        p.add_argument("--src-port", type=int, required=True,
                       help="poplib: the port to connect from; curl-events: the "
                            "one curl printed")
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
