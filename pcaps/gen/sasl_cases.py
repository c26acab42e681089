#!/usr/bin/python3
"""Writes small captures of the SASL logins the real-server captures do not
cover, so their tests do not depend on ../shared/corpus:

  pop3/auth-plain-authzid.pcap   POP3 CAPA, AUTH PLAIN with an authorization
      identity (RFC 4616: authzid NUL authcid NUL passwd) as the RFC 5034
      initial response, accepted.
  imap/authenticate-xoauth2-oauthbearer.pcap   three IMAP connections:
      AUTHENTICATE XOAUTH2 with SASL-IR, accepted; XOAUTH2 refused the way
      Gmail refuses (a "+ " continuation carrying a base64 JSON error, the
      client's empty response, NO); AUTHENTICATE OAUTHBEARER (RFC 7628, GS2
      header with a=, the user name holding "=2C"), accepted.
  smtp/auth-ntlm-v2.pcap   SMTP EHLO, AUTH NTLM with the NEGOTIATE message as
      initial response, 334 CHALLENGE, AUTHENTICATE (NTLMv2 with a MIC),
      235 (MS-SMTPNTLM over RFC 4954).

Each session is a hand-written, RFC-conformant transcript, written as TCP
segments (handshake, correct seq/ack, each side acknowledging the other,
FIN both ways) between 10.61.0.5 (client) and 10.61.0.1 (server), at fixed
times: the output is byte-for-byte stable. The NTLM messages are computed
here per MS-NLMP 3.3.2 (NTOWFv2, NTProofStr, session key, MIC), with MD4
written out (OpenSSL 3 disables it) and checked against the specification's
own test vector (4.2.4.1.1) before use. Every expected event is written from
what this script put in the transcript, never from running mailspill.

Usage: sasl_cases.py [PCAPS_DIR]   (default: pcaps/ next to this script)
No root, nothing sent on any network."""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

from scapy.all import Ether, IP, TCP, wrpcap  # noqa: E402
import gencommon  # noqa: E402  (same directory)

HERE = os.path.dirname(os.path.abspath(__file__))
CLI_IP, SRV_IP = "10.61.0.5", "10.61.0.1"
CLI_MAC, SRV_MAC = "02:00:00:61:00:05", "02:00:00:61:00:01"
T0 = 1790000000.0           # 2026-09-21, fixed


# ---------------------------------------------------------------- TCP
class Conn:
    """One TCP connection; every data segment is acknowledged by the peer."""

    def __init__(self, pkts, cport, sport, cisn, sisn):
        self.pkts, self.cport, self.sport = pkts, cport, sport
        self.seq = {True: cisn, False: sisn}

    def _pkt(self, from_client, flags, data=b""):
        if from_client:
            p = Ether(src=CLI_MAC, dst=SRV_MAC) / IP(src=CLI_IP, dst=SRV_IP, ttl=64) / \
                TCP(sport=self.cport, dport=self.sport)
        else:
            p = Ether(src=SRV_MAC, dst=CLI_MAC) / IP(src=SRV_IP, dst=CLI_IP, ttl=64) / \
                TCP(sport=self.sport, dport=self.cport)
        p[TCP].flags, p[TCP].seq, p[TCP].window = flags, self.seq[from_client], 64240
        p[TCP].ack = self.seq[not from_client] if "A" in flags else 0
        if data:
            p = p / data
        p.time = T0 + len(self.pkts) * 0.001
        self.pkts.append(p)

    def open(self):
        self._pkt(True, "S")
        self.seq[True] += 1
        self._pkt(False, "SA")
        self.seq[False] += 1
        self._pkt(True, "A")

    def say(self, from_client, data):
        self._pkt(from_client, "PA", data)
        self.seq[from_client] += len(data)
        self._pkt(not from_client, "A")

    def close(self):
        """The server answers QUIT/LOGOUT and closes first, as servers do."""
        self._pkt(False, "FA")
        self.seq[False] += 1
        self._pkt(True, "FA")
        self.seq[True] += 1
        self._pkt(False, "A")


def b64(b):
    return base64.b64encode(b)


def flow(ev, cport, sport, proto):
    ev.update({"event_type": "alert", "app_proto": proto, "src_ip": CLI_IP, "src_port": cport,
               "dest_ip": SRV_IP, "dest_port": sport})
    return ev


def write(outdir, name, pkts, events, stats):
    path = os.path.join(outdir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    wrpcap(path + ".pcap", pkts)
    with open(path + ".expected.json", "w", encoding="utf-8") as f:
        for e in events + [{"event_type": "stats", "stats": stats}]:
            f.write(json.dumps(gencommon.with_alert(e), ensure_ascii=False) + "\n")
    print(f"wrote {path}.pcap ({len(pkts)} packets), {len(events)} expected events")


def stats(proto, flows, alerts):
    counts = {p: (flows if p == proto else 0) for p in ("pop3", "imap", "smtp")}
    counts.update({"encrypted": 0, "other": 0})
    return {"flow": {"created": flows}, "app_layer": {"flow": counts},
            "output": {"alert": alerts, "email": 0, "fileinfo": 0, "anomaly": 0}}


# ---------------------------------------------------------------- POP3 PLAIN + authzid
def case_plain_authzid(outdir):
    authzid, user, pw = "shared-inbox@example.org", "frank@example.org", "Authz 2026!pw"
    pkts = []
    c = Conn(pkts, 43100, 110, 0x1a2b3c4d, 0x5e6f7081)
    c.open()
    c.say(False, b"+OK Dovecot (Debian) ready.\r\n")
    c.say(True, b"CAPA\r\n")
    c.say(False, b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
                 b"USER\r\nSASL PLAIN LOGIN\r\n.\r\n")
    c.say(True, b"AUTH PLAIN " + b64(f"{authzid}\0{user}\0{pw}".encode()) + b"\r\n")
    c.say(False, b"+OK Logged in.\r\n")
    c.say(True, b"QUIT\r\n")
    c.say(False, b"+OK Logging out.\r\n")
    c.close()
    ev = flow({"credential": {"command": "AUTH", "mechanism": "PLAIN", "username": user,
                              "authzid": authzid, "password": pw, "outcome": "success",
                              "server_reply": "+OK Logged in.", "tls": False,
                              "starttls_offered": False, "incomplete": None,
                              "token": None, "hashcat": None}},
              43100, 110, "pop3")
    write(outdir, "pop3/auth-plain-authzid", pkts, [ev], stats("pop3", 1, 1))


# ---------------------------------------------------------------- IMAP XOAUTH2 / OAUTHBEARER
def case_oauth(outdir):
    caps = b"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=XOAUTH2 AUTH=OAUTHBEARER"
    greet = b"* OK [CAPABILITY " + caps + b"] imap.example.com ready.\r\n"
    pkts, events = [], []

    # (1) XOAUTH2, accepted (developers.google.com/gmail/imap/xoauth2-protocol).
    user, token = "grace@example.com", "ya29.a0AfB_byC-Xo2Tok3n.Grace-2026_kL9"
    c = Conn(pkts, 43201, 143, 0x01000001, 0x7f000001)
    c.open()
    c.say(False, greet)
    c.say(True, b"A1 AUTHENTICATE XOAUTH2 " +
          b64(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()) + b"\r\n")
    ok = "A1 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+] Logged in"
    c.say(False, ok.encode() + b"\r\n")
    c.say(True, b"A2 LOGOUT\r\n")
    c.say(False, b"* BYE Logging out\r\nA2 OK Logout completed.\r\n")
    c.close()
    events.append(flow({"credential": {
        "command": "AUTHENTICATE", "mechanism": "XOAUTH2", "username": user, "token": token,
        "outcome": "success", "server_reply": ok, "tls": False, "starttls_offered": False,
        "password": None, "incomplete": None}}, 43201, 143, "imap"))

    # (2) XOAUTH2 with an expired token: the server's error as a base64
    # JSON continuation, the client's empty response, NO.
    user2, token2 = "grace@example.com", "ya29.expired-Tok3n_Grace-2025"
    c = Conn(pkts, 43202, 143, 0x02000002, 0x7e000002)
    c.open()
    c.say(False, greet)
    c.say(True, b"B1 AUTHENTICATE XOAUTH2 " +
          b64(f"user={user2}\x01auth=Bearer {token2}\x01\x01".encode()) + b"\r\n")
    err = b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}'
    c.say(False, b"+ " + b64(err) + b"\r\n")
    c.say(True, b"\r\n")
    no = "B1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
    c.say(False, no.encode() + b"\r\n")
    c.say(True, b"B2 LOGOUT\r\n")
    c.say(False, b"* BYE Logging out\r\nB2 OK Logout completed.\r\n")
    c.close()
    events.append(flow({"credential": {
        "command": "AUTHENTICATE", "mechanism": "XOAUTH2", "username": user2, "token": token2,
        "outcome": "failure", "server_reply": no, "tls": False, "starttls_offered": False,
        "password": None}}, 43202, 143, "imap"))

    # (3) OAUTHBEARER (RFC 7628 3.1): GS2 header "n,a=<saslname>,", where
    # "," is "=2C" and "=" is "=3D" (RFC 5801).
    user3, token3 = "heidi,ops=team@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    saslname = user3.replace("=", "=3D").replace(",", "=2C")
    c = Conn(pkts, 43203, 143, 0x03000003, 0x7d000003)
    c.open()
    c.say(False, greet)
    msg = f"n,a={saslname},\x01host=imap.example.com\x01port=143\x01auth=Bearer {token3}\x01\x01"
    c.say(True, b"C1 AUTHENTICATE OAUTHBEARER " + b64(msg.encode()) + b"\r\n")
    ok3 = "C1 OK Logged in"
    c.say(False, ok3.encode() + b"\r\n")
    c.say(True, b"C2 LOGOUT\r\n")
    c.say(False, b"* BYE Logging out\r\nC2 OK Logout completed.\r\n")
    c.close()
    events.append(flow({"credential": {
        "command": "AUTHENTICATE", "mechanism": "OAUTHBEARER", "username": user3, "token": token3,
        "outcome": "success", "server_reply": ok3, "tls": False, "starttls_offered": False,
        "password": None, "incomplete": None}}, 43203, 143, "imap"))
    write(outdir, "imap/authenticate-xoauth2-oauthbearer", pkts, events, stats("imap", 3, 3))


# ---------------------------------------------------------------- NTLMv2 (MS-NLMP)
def md4(data):
    """RFC 1320."""
    def f(x, y, z): return (x & y) | (~x & z)
    def g(x, y, z): return (x & y) | (x & z) | (y & z)
    def h(x, y, z): return x ^ y ^ z
    def rol(v, s): return ((v << s) | (v >> (32 - s))) & 0xffffffff
    msg = bytearray(data) + b"\x80"
    msg += b"\0" * ((56 - len(msg) % 64) % 64) + struct.pack("<Q", len(data) * 8)
    st = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = st
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, rol((a + f(b, c, d) + x[k]) & 0xffffffff, s), b, c
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, rol((a + g(b, c, d) + x[k] + 0x5a827999) & 0xffffffff, s), b, c
        for i in range(16):
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, rol((a + h(b, c, d) + x[k] + 0x6ed9eba1) & 0xffffffff, s), b, c
        st = [(v + w) & 0xffffffff for v, w in zip(st, (a, b, c, d))]
    return struct.pack("<4I", *st)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


def ntowfv2(password, user, domain):
    return hmac_md5(md4(password.encode("utf-16-le")), (user.upper() + domain).encode("utf-16-le"))


def self_test():
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"        # RFC 1320 A.5
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    # MS-NLMP 4.2.4.1.1: NTOWFv2("Password", "User", "Domain").
    assert ntowfv2("Password", "User", "Domain").hex() == "0c868a403bfd7a93a3001ef22ef02e3f"
    # MS-NLMP 4.2.4.2.2: NTProofStr of the NTLMv2 example.
    temp = bytes.fromhex("0101000000000000" "0000000000000000" "aaaaaaaaaaaaaaaa" "00000000"
                         "02000c0044006f006d00610069006e00" "01000c0053006500720076006500720000000000"
                         "00000000")
    proof = hmac_md5(ntowfv2("Password", "User", "Domain"), bytes.fromhex("0123456789abcdef") + temp)
    assert proof.hex() == "68cd0ab851e51c96aabc927bebef6a1c", proof.hex()


NTLMSSP = b"NTLMSSP\0"
F_UNICODE, F_REQUEST_TARGET, F_NTLM = 0x1, 0x4, 0x200
F_ALWAYS_SIGN, F_TARGET_TYPE_DOMAIN, F_ESS = 0x8000, 0x10000, 0x80000
F_TARGET_INFO, F_VERSION, F_128, F_56 = 0x800000, 0x2000000, 0x20000000, 0x80000000
VERSION = bytes([10, 0]) + struct.pack("<H", 19041) + b"\0\0\0\x0f"   # Windows 10, NTLMSSP rev 15


def avpair(av_id, value):
    return struct.pack("<HH", av_id, len(value)) + value


def secbuf(data, off):
    return struct.pack("<HHI", len(data), len(data), off)


def ntlm_exchange():
    """Returns (negotiate, challenge, authenticate, expected credential fields)."""
    user, domain, ws, pw = "ivan", "EXAMPLE", "WS-0042", "Ntlm 2026!pw"
    server_challenge = bytes.fromhex("5a3c9e0f7b214d86")
    client_challenge = bytes.fromhex("c1d2e3f405162738")
    filetime = struct.pack("<Q", int((T0 + 11644473600) * 10_000_000))
    flags = (F_UNICODE | F_REQUEST_TARGET | F_NTLM | F_ALWAYS_SIGN | F_ESS | F_TARGET_INFO |
             F_VERSION | F_128 | F_56)
    negotiate = NTLMSSP + struct.pack("<II", 1, flags) + secbuf(b"", 0) + secbuf(b"", 0) + VERSION

    u16 = lambda s: s.encode("utf-16-le")  # noqa: E731
    target = u16(domain)
    info = (avpair(2, u16(domain)) + avpair(1, u16("MAIL01")) +
            avpair(4, u16("example.com")) + avpair(3, u16("mail01.example.com")) +
            avpair(5, u16("example.com")) + avpair(7, filetime) + avpair(0, b""))
    cflags = flags | F_TARGET_TYPE_DOMAIN
    hdr = 56
    challenge = (NTLMSSP + struct.pack("<I", 2) + secbuf(target, hdr) + struct.pack("<I", cflags) +
                 server_challenge + b"\0" * 8 + secbuf(info, hdr + len(target)) + VERSION +
                 target + info)

    # MS-NLMP 3.3.2: the client's AV pairs are the server's plus MsvAvFlags
    # (MIC present), before MsvAvEOL.
    client_info = info[:-4] + avpair(6, struct.pack("<I", 2)) + avpair(0, b"")
    temp = (b"\x01\x01" + b"\0" * 6 + filetime + client_challenge + b"\0" * 4 + client_info +
            b"\0" * 4)
    key = ntowfv2(pw, user, domain)
    proof = hmac_md5(key, server_challenge + temp)
    nt = proof + temp
    lm = hmac_md5(key, server_challenge + client_challenge) + client_challenge
    session_key = hmac_md5(key, proof)      # no KEY_EXCH: the exported key

    payload_fields = [lm, nt, u16(domain), u16(user), u16(ws), b""]
    off, fields, payload = 88, b"", b""
    for d in payload_fields:
        fields += secbuf(d, off)
        payload += d
        off += len(d)
    head = NTLMSSP + struct.pack("<I", 3) + fields + struct.pack("<I", flags) + VERSION
    zero_mic = head + b"\0" * 16 + payload
    mic = hmac_md5(session_key, negotiate + challenge + zero_mic)
    authenticate = head + mic + payload
    assert len(head) == 72
    cred = {"username": user, "domain": domain, "workstation": ws,
            "challenge": server_challenge.hex(), "response": nt.hex(),
            "hashcat": f"{user}::{domain}:{server_challenge.hex()}:{proof.hex()}:{temp.hex()}",
            "hashcat_mode": 5600}
    return negotiate, challenge, authenticate, cred


def case_ntlm(outdir):
    negotiate, challenge, authenticate, cred = ntlm_exchange()
    pkts = []
    c = Conn(pkts, 43301, 587, 0x0badf00d, 0x600dcafe)
    c.open()
    c.say(False, b"220 mail01.example.com Microsoft ESMTP MAIL Service ready\r\n")
    c.say(True, b"EHLO WS-0042\r\n")
    c.say(False, b"250-mail01.example.com Hello [10.61.0.5]\r\n250-SIZE 37748736\r\n"
                 b"250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH NTLM LOGIN\r\n250 SMTPUTF8\r\n")
    c.say(True, b"AUTH NTLM " + b64(negotiate) + b"\r\n")
    c.say(False, b"334 " + b64(challenge) + b"\r\n")
    c.say(True, b64(authenticate) + b"\r\n")
    reply = "235 2.7.0 Authentication successful"
    c.say(False, reply.encode() + b"\r\n")
    c.say(True, b"QUIT\r\n")
    c.say(False, b"221 2.0.0 Service closing transmission channel\r\n")
    c.close()
    cred.update({"command": "AUTH", "mechanism": "NTLM", "outcome": "success",
                 "server_reply": reply, "tls": False, "starttls_offered": False,
                 "password": None, "token": None, "incomplete": None})
    ev = flow({"credential": cred}, 43301, 587, "smtp")
    write(outdir, "smtp/auth-ntlm-v2", pkts, [ev], stats("smtp", 1, 1))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..")
    self_test()
    case_plain_authzid(outdir)
    case_oauth(outdir)
    case_ntlm(outdir)


if __name__ == "__main__":
    main()
