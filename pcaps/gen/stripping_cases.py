#!/usr/bin/python3
"""Writes the captures in pcaps/stripping/: sessions that must NOT raise a
STARTTLS stripping alert (README "STARTTLS stripping") although an earlier
session of the same server offered STARTTLS, and two that must. They are
the false alerts an independent review found, built from its reproducers.

Each capture starts with a session that offers STARTTLS (STLS), so the
server is remembered; what follows is the case. The expected file states
every event: the stripping alerts there are (none, or the ones named
below), and each session event whole, its posture written from what this
script put in the server's replies (README, session events), its bytes the
TCP payload this script wrote, never from mailspill's output; a stripping
alert's pcap_cnt is the packet that carried the listing without STARTTLS
(the alert comes when the listing completes, not at the session's end):

  smtp-ehlo-cut-capture-end  an EHLO reply whose last line is "250 STAR"
      with no CRLF, the capture ending there: the listing is not whole
      (the line may have been "250 STARTTLS"): no alert, starttls_offered
      absent.
  smtp-ehlo-cut-fin          the same, the flow then closed by FIN.
  imap-capability-cut        "* CAPABILITY IMAP4rev1 SASL-IR IDLE LITER" cut
      by the end of the capture: no alert.
  imap-preauth               a "* PREAUTH [CAPABILITY IMAP4rev1 IDLE]"
      greeting: already authenticated, its list is no pre-login listing:
      no alert, starttls_offered absent.
  imap-authenticate-gssapi   AUTHENTICATE GSSAPI (no credential event) then
      "a1 OK [CAPABILITY IMAP4rev1 IDLE]": a post-login list: no alert.
  imap-authenticate-external AUTHENTICATE EXTERNAL, the same: no alert.
  pop3-auth-gssapi           AUTH GSSAPI accepted, then CAPA without STLS:
      no alert.
  imap-login-reply-lost      LOGIN whose reply segment was not captured (the
      client's ACK covers it), a NOOP (the line after the hole is
      skipped), then a CAPABILITY listing without STARTTLS:
      the login may have succeeded, the listing is not a pre-login one: no
      alert.
  smtp-starttls-turned-off   three sessions after the offer list no
      STARTTLS (the admin turned it off): one alert, on the first of them
      (one alert per offer), none for the next two.
  smtp-offer-in-open-session the offering session stays open to the end
      of the capture; a session that lists no STARTTLS and logs in with
      AUTH PLAIN ends first: one alert (the offer is remembered when seen,
      not when its session ends).
  imap-logindisabled-left    STARTTLS replaced by "XXXXXXXA", LOGINDISABLED
      left in the greeting: the offer is STARTTLS itself: one alert.
  implicit-port-junk         bytes that are no TLS record to 465 and to 993
      (no session event: not implicit TLS), plain IMAP on 993 (an imap
      session), and a flow to 993 whose client starts with a TLS handshake
      record (an implicit session).

Usage: stripping_cases.py [OUTDIR]  (default: pcaps/stripping next to this
script). Nothing is sent on any network."""
import json
import logging
import os
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw, wrpcap  # noqa: E402

CIP, SIP = "10.0.0.9", "10.0.0.1"
# README's alert table: "STARTTLS stripped" per protocol, and IMAP LOGIN.
SIG_STRIPPED = {"pop3": 1610150, "imap": 1610250, "smtp": 1610350}
SIG_IMAP_LOGIN = 1610203
SIG_SMTP_PLAIN = 1610304
EHLO_TLS = (b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
            b"250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
EHLO_NOTLS = EHLO_TLS.replace(b"250-STARTTLS\r\n", b"")
G_TLS = (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
         b"STARTTLS LOGINDISABLED] Dovecot ready.\r\n")
P_TLS = b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL PLAIN\r\nUSER\r\n.\r\n"
PROTO = {25: "smtp", 143: "imap", 110: "pop3", 993: "imap", 465: "smtp"}


class Capture:
    def __init__(self):
        self.pkts = []
        self.t = 1700000000.0
        self.events = []

    def _pkt(self, src, dst, sp, dp, flags, seq, ack, pl=b""):
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
            IP(src=src, dst=dst, id=1) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack,
                                               window=65535)
        if pl:
            p = p / Raw(pl)
        self.t += 0.01
        p.time = self.t
        self.pkts.append(p)

    def session(self, cport, sport, exchanges, fin=True):
        """exchanges: (dir, bytes), dir "c", "s", or "s-lost" (a server
        segment not captured; the client's ACK covers it). Returns the
        payload bytes written each way."""
        cs, ss = 1000, 5000
        self._pkt(CIP, SIP, cport, sport, "S", cs, 0)
        cs += 1
        self._pkt(SIP, CIP, sport, cport, "SA", ss, cs)
        ss += 1
        self._pkt(CIP, SIP, cport, sport, "A", cs, ss)
        up = down = 0
        self.numbers = []  # per exchange: the number of the packet carrying it (pcap_cnt)
        for d, pl in exchanges:
            self.numbers.append(len(self.pkts) + 1)
            if d == "c":
                self._pkt(CIP, SIP, cport, sport, "PA", cs, ss, pl)
                cs += len(pl)
                up += len(pl)
                self._pkt(SIP, CIP, sport, cport, "A", ss, cs)
            else:
                if d == "s":
                    self._pkt(SIP, CIP, sport, cport, "PA", ss, cs, pl)
                    down += len(pl)
                ss += len(pl)
                self._pkt(CIP, SIP, cport, sport, "A", cs, ss)
        if fin:
            self._pkt(CIP, SIP, cport, sport, "FA", cs, ss)
            cs += 1
            self._pkt(SIP, CIP, sport, cport, "FA", ss, cs)
            ss += 1
            self._pkt(CIP, SIP, cport, sport, "A", cs, ss)
        return up, down

    def expect(self, cport, sport, event_type, body):
        ev = {"app_proto": PROTO[sport], "src_ip": CIP, "src_port": cport, "dest_ip": SIP,
              "dest_port": sport, "event_type": event_type}
        ev.update(body)
        self.events.append(ev)

    def mail_session(self, cport, sport, exchanges, fin=True, offered=None, complete=False,
                     mechs=(), stripped=None, tls="none", before=(), extra=None):
        """A session and its expected events: those in before ((type, body)),
        the stripping alert when stripped, then the session event (offered
        None: the key absent; extra: more of its keys). stripped: the index
        of the exchange that completes the listing without STARTTLS (the
        alert comes with that packet, before the rest of the session), or
        None for no alert."""
        up, down = self.session(cport, sport, exchanges, fin)
        for event_type, body in before:
            self.expect(cport, sport, event_type, body)
        if stripped is not None:
            alert = {"action": "allowed", "gid": 1, "rev": 1, "severity": 1,
                     "signature_id": SIG_STRIPPED[PROTO[sport]]}
            self.expect(cport, sport, "alert", {"alert": alert, "starttls_stripped": {},
                                                "pcap_cnt": self.numbers[stripped]})
        s = {"tls": tls, "capabilities_complete": complete,
             "logins": {"total": 0, "success": 0, "failure": 0, "unknown": 0},
             "messages": 0, "anomalies": 0, "bytes_toserver": up, "bytes_toclient": down}
        if tls == "implicit":
            s = {"tls": tls, "bytes_toserver": up, "bytes_toclient": down}
        if offered is not None:
            s["starttls_offered"] = offered
        if mechs:
            s["auth_mechanisms"] = list(mechs)
        s.update(extra or {})
        self.expect(cport, sport, "session", {"session": s})

    def write(self, outdir, name):
        wrpcap(os.path.join(outdir, name + ".pcap"), self.pkts)
        with open(os.path.join(outdir, name + ".expected.json"), "w", encoding="utf-8") as f:
            for ev in self.events:
                f.write(json.dumps(ev, ensure_ascii=False) + "\n")


def smtp_offer(c, cport=40001):
    c.mail_session(cport, 25, [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"), ("s", EHLO_TLS),
                               ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n")],
                   offered=True, complete=True, mechs=("PLAIN", "LOGIN"))


def imap_offer(c, cport=40001):
    c.mail_session(cport, 143, [("s", G_TLS), ("c", b"a1 LOGOUT\r\n"),
                                ("s", b"* BYE\r\na1 OK bye\r\n")], offered=True, complete=True)


def pop_offer(c, cport=40001):
    c.mail_session(cport, 110, [("s", b"+OK ready\r\n"), ("c", b"CAPA\r\n"), ("s", P_TLS),
                                ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n")],
                   offered=True, complete=True, mechs=("PLAIN",))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stripping")
    os.makedirs(outdir, exist_ok=True)
    cut = b"250-mx.example.com\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STAR"
    for name, fin in (("smtp-ehlo-cut-capture-end", False), ("smtp-ehlo-cut-fin", True)):
        c = Capture()
        smtp_offer(c)
        c.mail_session(40002, 25, [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"), ("s", cut)],
                       fin=fin, mechs=("PLAIN", "LOGIN"))
        c.write(outdir, name)

    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", b"* OK ready\r\n"), ("c", b"a1 CAPABILITY\r\n"),
                                ("s", b"* CAPABILITY IMAP4rev1 SASL-IR IDLE LITER")], fin=False)
    c.write(outdir, "imap-capability-cut")

    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", b"* PREAUTH [CAPABILITY IMAP4rev1 IDLE] logged in as bob\r\n"),
                                ("c", b"a1 LOGOUT\r\n"), ("s", b"* BYE\r\na1 OK bye\r\n")])
    c.write(outdir, "imap-preauth")

    ok_caps = b"a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
    bye = [("c", b"a2 LOGOUT\r\n"), ("s", b"* BYE\r\na2 OK bye\r\n")]
    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", b"* OK ready\r\n"), ("c", b"a1 AUTHENTICATE GSSAPI\r\n"),
                                ("s", b"+ \r\n"), ("c", b"YIIBBBBBBBBBBBBBBBBBB\r\n"),
                                ("s", b"+ YGGGGG\r\n"), ("c", b"\r\n"), ("s", b"+ BQQE\r\n"),
                                ("c", b"BQQEBQQE\r\n"), ("s", ok_caps)] + bye)
    c.write(outdir, "imap-authenticate-gssapi")

    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", b"* OK ready\r\n"), ("c", b"a1 AUTHENTICATE EXTERNAL =\r\n"),
                                ("s", ok_caps)] + bye)
    c.write(outdir, "imap-authenticate-external")

    c = Capture()
    pop_offer(c)
    c.mail_session(40002, 110, [("s", b"+OK ready\r\n"), ("c", b"AUTH GSSAPI\r\n"), ("s", b"+ \r\n"),
                                ("c", b"YIIBBBBBB\r\n"), ("s", b"+ YGGG\r\n"), ("c", b"\r\n"),
                                ("s", b"+OK logged in\r\n"), ("c", b"CAPA\r\n"),
                                ("s", b"+OK\r\nTOP\r\nUIDL\r\n.\r\n"), ("c", b"QUIT\r\n"),
                                ("s", b"+OK bye\r\n")])
    c.write(outdir, "pop3-auth-gssapi")

    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", b"* OK ready\r\n"), ("c", b"a1 LOGIN bob secret\r\n"),
                                ("s-lost", b"a1 OK Logged in\r\n"), ("c", b"a3 NOOP\r\n"),
                                ("s", b"a3 OK noop\r\n"), ("c", b"a4 CAPABILITY\r\n"),
                                ("s", b"* CAPABILITY IMAP4rev1 IDLE\r\na4 OK done\r\n")] + bye,
                   # The hole: the LOGIN's outcome unknown (reported at the
                   # end, incomplete: README "What a gap means"), a
                   # reassembly_gap anomaly.
                   before=[("alert", {"alert": {"action": "allowed", "gid": 1, "rev": 1,
                                                "severity": 2, "signature_id": SIG_IMAP_LOGIN},
                                      "credential": {"command": "LOGIN", "mechanism": "LOGIN",
                                                     "username": "bob", "password": "secret",
                                                     "outcome": "unknown", "tls": False,
                                                     "incomplete": True}}),
                           ("anomaly", {"anomaly": {"type": "stream", "event": "reassembly_gap",
                                                    "app_proto": "imap"}})],
                   extra={"logins": {"total": 1, "success": 0, "failure": 0, "unknown": 1},
                          "login_list": [{"username": "bob", "mechanism": "LOGIN",
                                          "outcome": "unknown"}],
                          "anomalies": 1, "anomaly_codes": ["reassembly_gap"]})
    c.write(outdir, "imap-login-reply-lost")

    c = Capture()
    smtp_offer(c)
    for i in range(3):
        c.mail_session(40010 + i, 25, [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"),
                                       ("s", EHLO_NOTLS), ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n")],
                       offered=False, complete=True, mechs=("PLAIN", "LOGIN"),
                       stripped=2 if i == 0 else None)
    c.write(outdir, "smtp-starttls-turned-off")

    # The offering session stays open (IDLE-like) until the end of the
    # capture; the stripped one ends first: its alert names the open one.
    c = Capture()
    c.mail_session(40001, 25, [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"), ("s", EHLO_TLS)],
                   fin=False, offered=True, complete=True, mechs=("PLAIN", "LOGIN"))
    open_session = c.events.pop()  # its session event comes last
    c.mail_session(40002, 25, [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"), ("s", EHLO_NOTLS),
                               ("c", b"AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n"), ("s", b"235 ok\r\n"),
                               ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n")],
                   offered=False, complete=True, mechs=("PLAIN", "LOGIN"), stripped=2,
                   before=[("alert", {"alert": {"action": "allowed", "gid": 1, "rev": 1,
                                                "severity": 1, "signature_id": SIG_SMTP_PLAIN},
                                      "credential": {"command": "AUTH", "mechanism": "PLAIN",
                                                     "username": "bob", "password": "secret",
                                                     "outcome": "success", "server_reply": "235 ok",
                                                     "tls": False, "starttls_offered": False}})],
                   extra={"logins": {"total": 1, "success": 1, "failure": 0, "unknown": 0},
                          "login_list": [{"username": "bob", "mechanism": "PLAIN",
                                          "outcome": "success"}]})
    c.events.append(open_session)
    c.write(outdir, "smtp-offer-in-open-session")

    c = Capture()
    imap_offer(c)
    c.mail_session(40002, 143, [("s", G_TLS.replace(b"STARTTLS", b"XXXXXXXA")),
                                ("c", b"a1 LOGOUT\r\n"), ("s", b"* BYE\r\na1 OK bye\r\n")],
                   offered=False, complete=True, stripped=0)
    c.write(outdir, "imap-logindisabled-left")

    c = Capture()
    c.session(41001, 465, [("c", b"\x01\x02garbage\x00\xff" * 3), ("s", b"\x99random\x00bytes")])
    c.session(41002, 993, [("c", b"hello there\r\n"), ("s", b"what\r\n")])
    c.mail_session(41003, 993, [("s", b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
                                ("c", b"a1 LOGOUT\r\n"), ("s", b"* BYE\r\na1 OK bye\r\n")],
                   offered=False, complete=True, mechs=("PLAIN",))
    hello = bytes.fromhex("160301002e010000") + bytes(range(42)) + bytes(2)
    c.mail_session(41004, 993, [("c", hello), ("s", bytes.fromhex("1603030004") + b"\x0e\x00\x00\x00")],
                   tls="implicit")
    c.write(outdir, "implicit-port-junk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
