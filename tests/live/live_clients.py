#!/usr/bin/python3
"""Helpers of tests/live/live_test.sh.

  clients --host H --transcript OUT [--smtp]
      real logins with python's poplib, imaplib and smtplib against the real
      dovecot; records what each client sent and what the server answered
      (user, password, outcome) as NDJSON: the expected events.
  hang-server --host H --port P --ready FILE
      a POP3 server that answers the banner and USER, then never replies to
      PASS (the connection stays open): mailspill must report that login
      with outcome "unknown" when it is stopped.
  hang-client --host H --port P --transcript OUT
      the client of hang-server: logs in, leaves the connection open.
  relay --host H --port P
      a minimal SMTP relay for dovecot's submission service (accepts all).
  check --events FILE... --transcript T --dissectors "pop3 imap smtp"
      every login in the transcript must be in the events (protocols whose
      dissector this mailspill lacks are only reported, not required).
"""
import argparse
import imaplib
import json
import os
import poplib
import smtplib
import socket
import sys
import time

CLIENT_IP = "10.213.7.5"


def record(out, proto, mech, user, password, outcome, port):
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps({"proto": proto, "mechanism": mech, "username": user,
                            "password": password, "outcome": outcome, "dest_port": port}) + "\n")


def clients(a):
    user, pw, bad = "alice", "Live 2026!pw", "wrong-password"
    # POP3 USER/PASS, accepted and refused.
    for password in (pw, bad):
        p = poplib.POP3(a.host, 110, timeout=10)
        p.user(user)
        try:
            p.pass_(password)
            outcome = "success"
        except poplib.error_proto:
            outcome = "failure"
        record(a.transcript, "pop3", "USER", user, password, outcome, 110)
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            pass
    # IMAP LOGIN and AUTHENTICATE PLAIN.
    m = imaplib.IMAP4(a.host, 143, timeout=10)
    typ, _ = m.login(user, pw)
    record(a.transcript, "imap", "LOGIN", user, pw, "success" if typ == "OK" else "failure", 143)
    m.logout()
    m = imaplib.IMAP4(a.host, 143, timeout=10)
    typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (user, pw)).encode())
    record(a.transcript, "imap", "PLAIN", user, pw, "success" if typ == "OK" else "failure", 143)
    m.logout()
    if a.smtp:
        s = smtplib.SMTP(a.host, 587, timeout=10)
        s.ehlo("client.example")
        code, _ = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(
            ("\0%s\0%s" % (user, pw)).encode()).decode())
        record(a.transcript, "smtp", "PLAIN", user, pw, "success" if code == 235 else "failure", 587)
        s.quit()
    return 0


def hang_server(a):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.host, a.port))
    srv.listen(1)
    open(a.ready, "w").close()
    conn, _ = srv.accept()
    conn.sendall(b"+OK hang ready\r\n")
    buf = b""
    while b"\n" not in buf:
        buf += conn.recv(100)
    conn.sendall(b"+OK\r\n")
    time.sleep(3600)   # never answers PASS; killed by the test
    return 0


def hang_client(a):
    s = socket.create_connection((a.host, a.port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER carol\r\n")
    f.readline()
    s.sendall(b"PASS Hang 2026!pw\r\n")
    record(a.transcript, "pop3", "USER", "carol", "Hang 2026!pw", "unknown", a.port)
    time.sleep(3600)   # keeps the connection open; killed by the test
    return 0


def relay(a):
    import warnings
    warnings.simplefilter("ignore")
    import asyncore  # noqa: F401  (python 3.11: smtpd needs it)
    import smtpd

    class Sink(smtpd.SMTPServer):
        def process_message(self, *args, **kw):
            return None

    Sink((a.host, a.port), None)
    asyncore.loop()
    return 0


def check(a):
    dissectors = set(a.dissectors.split())
    events = []
    for path in a.events:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                events += [json.loads(l) for l in f if l.strip()]
    alerts = [e for e in events if e.get("event_type") == "alert"]
    with open(a.transcript, encoding="utf-8") as f:
        want = [json.loads(l) for l in f if l.strip()]
    ok = True
    for w in want:
        def same(e):
            c = e.get("credential", {})
            return (e.get("app_proto") == w["proto"] and e.get("src_ip") == CLIENT_IP
                    and e.get("dest_port") == w["dest_port"]
                    and c.get("username") == w["username"] and c.get("password") == w["password"]
                    and c.get("outcome") == w["outcome"])
        hit = next((e for e in alerts if same(e)), None)
        required = w["proto"] in dissectors
        tag = "ok" if hit else ("MISSING" if required else "missing (no %s dissector: not required)"
                                % w["proto"])
        print("%-8s %s %s %s/%s -> %s" % (tag, w["proto"], w["mechanism"], w["username"],
                                           w["password"], w["outcome"]))
        if hit:
            alerts.remove(hit)
        elif required:
            ok = False
    stats = [e for e in events if e.get("event_type") == "stats"]
    if not stats:
        print("MISSING stats event")
        ok = False
    else:
        last = stats[-1]["stats"]
        print("stats: kernel packets %s drops %s, flows created %s" % (
            last.get("capture", {}).get("kernel_packets"), last.get("capture", {}).get("kernel_drops"),
            last["flow"]["created"]))
        if "capture" not in last:
            print("MISSING capture counters in the live stats event")
            ok = False
    if alerts:
        for e in alerts:
            print("UNEXPECTED alert:", json.dumps(e.get("credential")))
        ok = False
    # Live events name the sensor and, for a flow's events, the interface;
    # file-only keys are absent.
    for e in events:
        flow = "flow_id" in e
        if e.get("host") != a.sensor or (flow and e.get("in_iface") != a.iface) \
                or "pcap_cnt" in e or "pcap_filename" in e:
            print("BAD live keys:", json.dumps({k: e.get(k) for k in
                  ("event_type", "host", "in_iface", "pcap_cnt", "pcap_filename")}))
            ok = False
            break
    # Live events (host, in_iface, stats.capture) against both schemas, as
    # tests/schema does for the captures.
    from jsonschema import Draft202012Validator
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    for rel in ("schema/mailspill-eve.schema.json", "third_party/suricata/schema.json"):
        with open(os.path.join(repo, rel), encoding="utf-8") as f:
            v = Draft202012Validator(json.load(f))
        for e in events:
            err = next(iter(v.iter_errors(e)), None)
            if err is not None:
                print("SCHEMA %s: %s at %s: %s" % (rel, e.get("event_type"),
                                                   "/".join(map(str, err.absolute_path)),
                                                   err.message[:200]))
                ok = False
                break
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clients")
    c.add_argument("--host", required=True)
    c.add_argument("--transcript", required=True)
    c.add_argument("--smtp", action="store_true")
    h = sub.add_parser("hang-server")
    h.add_argument("--host", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--ready", required=True)
    hc = sub.add_parser("hang-client")
    hc.add_argument("--host", required=True)
    hc.add_argument("--port", type=int, required=True)
    hc.add_argument("--transcript", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--host", required=True)
    r.add_argument("--port", type=int, required=True)
    k = sub.add_parser("check")
    k.add_argument("--events", nargs="+", required=True)
    k.add_argument("--transcript", required=True)
    k.add_argument("--dissectors", required=True)
    k.add_argument("--iface", required=True)
    k.add_argument("--sensor", required=True)
    a = ap.parse_args()
    return {"clients": clients, "hang-server": hang_server, "hang-client": hang_client,
            "relay": relay, "check": check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
