#!/usr/bin/python3
"""Writes the seed corpora of the single-parser fuzz targets
(tests/fuzz/corpus/{mime,b64,qp,sasl,ntlm,tcp_reasm,defrag,pcapng,wpa}/), each
input in its target's format (see the comment at the top of fuzz_<name>.c).
Seeds are starting points, not tests: what makes a good one is that it
reaches a distinct part of the parser. Run it from anywhere; it rewrites
those directories only. A crash the fuzzer finds is added to its
directory by hand (CONTRIBUTING.md, Adding a test), not here.

Sources: RFC 2045-2047 and 2231 examples (MIME), RFC 4616, 2195, 2831,
7628 and Google's XOAUTH2 document (SASL), MS-NLMP 4.2.4 (NTLMv2), and
the project's own captures (pcapng)."""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEP = b"\xde\xad\xbe\xef"  # fuzz_mime: a capture gap here


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def b64(b):
    return base64.b64encode(b)


def crlf(text):
    return text.replace("\n", "\r\n").encode()


# ---- MIME: byte 0 (bit 7 tiny limits, bit 6 partial, bits 0-5 chunk seed)
MULTIPART = crlf(
    """From: =?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= <paf@nada.kth.se>
To: Keith Moore <moore@cs.utk.edu>, "Last, First" <a@example.org>
Cc: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>
Subject: =?UTF-8?Q?R=C3=A9union?= =?UTF-8?B?IOKCrCByYXRlcw==?=
 folded on
Date: Mon, 2 Dec 2024 10:00:00 +0000
Message-ID: <1.2@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer=_1"

preamble
--outer=_1
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me, see https://example.org/menu?a=3D1 and=
 soft break =20
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+SGVsbG8gPGEgaHJlZj0iaHR0cDovL2V4YW1wbGUuY29tLyI+bGluazwvYT48L3A+
--inner--
--outer=_1
Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="
Content-Disposition: attachment; dummy="filename=wrong";
 filename*=UTF-8''%E2%82%AC%20rates.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDM+PgpzdHJlYW0KTkE=
=Mg==
--outer=_1
Content-Type: message/rfc822

Subject: inner message
Content-Type: text/plain

hello
--outer=_1
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=us-ascii'en'long%20;
 filename*1="name.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQ==
--outer=_1--
epilogue
"""
)
write("mime", "multipart_2047_2231", b"\x00" + MULTIPART)
write("mime", "multipart_2047_2231_tiny", b"\x85" + MULTIPART)
cut = MULTIPART.index(b"JVBERi0x") + 20
write("mime", "gap_in_attachment_partial", b"\x47" + MULTIPART[:cut] + SEP + MULTIPART[cut + 7:])
write(
    "mime",
    "no_final_boundary",
    b"\x09"
    + crlf(
        """Subject: no end
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
Content-Transfer-Encoding: quoted-printable

line one=
--b
Content-Type: image/png
Content-Disposition: attachment; filename=a.png
Content-Transfer-Encoding: base64

iVBORw0KGgo
"""
    ),
)
write(
    "mime",
    "long_folded_header",
    b"\x80"
    + crlf("Subject: " + " ".join(["=?UTF-8?B?w6k=?="] * 12) + "\n\tcontinued\n")
    + b"X-Long: "
    + b"a" * 1100
    + b"\r\n\r\nbody http://a.example/x http://b.example/y\r\n",
)

# ---- base64 / quoted-printable: byte 0 seeds the cuts and the options
write("b64", "hello", b"\x03SGVsbG8sIFdvcmxkIQ==\r\n")
write("b64", "padding_split", b"\x00NA=\r\n=Mg\r\n==\r\n")
write("b64", "junk_and_unpadded", b"\x07SGV*sbG8=!x=QUJD\tQUI")
write("b64", "binary_lf", b"\x45" + bytes(range(256)))
write("b64", "binary_crlf_nopad", b"\xc1" + bytes(range(255, 0, -3)))
write("qp", "soft_breaks", b"\x02" + crlf("Caf=C3=A9 cr=E8me=\nsoft break  \ntrailing blanks   \n"))
write("qp", "invalid", b"\x05=G1 = \r=4 =\r\nx =\rY =")
write("qp", "lower_hex_lf", b"\x41=e9=3d=0a tab\t\nend\t=\n")
write("qp", "blank_run", b"\x07" + b" " * 70 + b"=\r\n" + b"\t" * 70 + b"x\r\n")
write("qp", "binary", b"\xc3" + bytes(range(256)))


# ---- NTLM (MS-NLMP 2.2.1): messages as SASL NTLM carries them
def ntlm_negotiate():
    return b"NTLMSSP\0" + struct.pack("<II", 1, 0xE2088297) + b"\0" * 16 + b"\x0a\x00\x63\x45\0\0\0\x0f"


def utf16(s):
    return s.encode("utf-16-le")


def ntlm_challenge():
    name = utf16("Domain")
    info = (
        struct.pack("<HH", 2, 12) + utf16("Domain") + struct.pack("<HH", 1, 12) + utf16("Server")
        + b"\0\0\0\0"
    )
    hdr = b"NTLMSSP\0" + struct.pack("<I", 2)
    hdr += struct.pack("<HHI", len(name), len(name), 56)
    hdr += struct.pack("<I", 0xE2898215) + bytes.fromhex("0123456789abcdef") + b"\0" * 8
    hdr += struct.pack("<HHI", len(info), len(info), 56 + len(name)) + b"\0" * 8
    return hdr + name + info


def ntlm_authenticate(flags, lm, nt, dom, user, ws):
    m = bytearray(b"NTLMSSP\0" + struct.pack("<I", 3) + b"\0" * 60)
    off = 72
    payload = b""
    for i, f in enumerate((lm, nt, dom, user, ws)):
        struct.pack_into("<HHI", m, 12 + 8 * i, len(f), len(f), off)
        payload += f
        off += len(f)
    struct.pack_into("<I", m, 60, flags)
    return bytes(m) + payload


# MS-NLMP 4.2.4: the NTLMv2 response of user "User", domain "Domain",
# server challenge 0123456789abcdef (NTProofStr from 4.2.4.2.2).
BLOB = (
    b"\x01\x01" + b"\0" * 14 + b"\xaa" * 8 + b"\0" * 4
    + struct.pack("<HH", 2, 12) + utf16("Domain") + struct.pack("<HH", 1, 12) + utf16("Server")
    + b"\0" * 8
)
NT_V2 = bytes.fromhex("68cd0ab851e51c96aabc927bebef6a1c") + BLOB
AUTH_V2 = ntlm_authenticate(0xE2888215, b"\x86" * 24, NT_V2, utf16("Domain"), utf16("User"),
                            utf16("COMPUTER"))
# hashcat's -m 5500 example, OEM names.
AUTH_V1 = ntlm_authenticate(
    0x00000002,
    bytes.fromhex("338d08f8e26de93300000000000000000000000000000000"),
    bytes.fromhex("9526fb8c23a90751cdd619b6cea564742e1e4bf33006ba41"),
    b"kNS", b"u4-netntlm", b"WS",
)
bad = bytearray(AUTH_V2)
struct.pack_into("<I", bad, 40, 0xFFFFFFF0)  # the user's offset near 2^32
write("ntlm", "negotiate", ntlm_negotiate())
write("ntlm", "challenge", ntlm_challenge())
write("ntlm", "authenticate_v2", AUTH_V2)
write("ntlm", "authenticate_v1_oem", AUTH_V1)
write("ntlm", "authenticate_52_bytes", AUTH_V1[:52])
write("ntlm", "authenticate_bad_offset", bytes(bad))
write("ntlm", "authenticate_odd_utf16", ntlm_authenticate(1, b"", b"", b"\x3d\xd8", b"J\0\xe9", b""))

# ---- SASL: byte 0 ('1': tiny limits), then one call a line
sasl = {
    "plain_ir": ["MPLAIN " + b64(b"\0bob\0secret").decode()],
    "plain_authzid": ["MPLAIN", "C", "R" + b64(b"admin\0bob\0secret").decode()],
    "login": ["MLOGIN", "C" + b64(b"Username:").decode(), "R" + b64(b"bob").decode(),
              "C" + b64(b"Password:").decode(), "R" + b64(b"secret").decode()],
    "login_lost_user": ["MLOGIN", "L", "R" + b64(b"secret").decode()],
    "cram_md5": ["Mcram-md5", "C" + b64(b"<1896.697170952@postoffice.reston.mci.net>").decode(),
                 "R" + b64(b"tim b913a602c7eda7a495b4e6e7334d3890").decode()],
    "cram_md5_response_first": ["MCRAM-MD5",
                                "R" + b64(b"tim b913a602c7eda7a495b4e6e7334d3890").decode(),
                                "C" + b64(b"<1896.697170952@postoffice.reston.mci.net>").decode()],
    "digest_md5": [
        "MDIGEST-MD5",
        "C" + b64(b'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",'
                  b"algorithm=md5-sess,charset=utf-8").decode(),
        "R" + b64(b'charset=utf-8,username="chris",realm="elwood.innosoft.com",'
                  b'nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",'
                  b'digest-uri="imap/elwood.innosoft.com",'
                  b"response=d388dad90d4bbd760a152321f2143af7,qop=auth").decode(),
        "C" + b64(b"rspauth=ea40f60335c427b5527b84dbabcdfffd").decode(),
        "R",
    ],
    "ntlm": ["MNTLM", "C", "R" + b64(ntlm_negotiate()).decode(), "C" + b64(ntlm_challenge()).decode(),
             "R" + b64(AUTH_V2).decode()],
    "ntlm_ir_v1": ["MNTLM " + b64(ntlm_negotiate()).decode(), "C" + b64(ntlm_challenge()).decode(),
                   "R" + b64(AUTH_V1).decode()],
    "xoauth2": ["MXOAUTH2 " + b64(b"user=someuser@example.com\x01auth=Bearer "
                                  b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01").decode()],
    "oauthbearer": ["MOAUTHBEARER", "C",
                    "R" + b64(b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                              b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01").decode()],
    "cancel_and_restart": ["MLOGIN", "R" + b64(b"bob").decode(), "R*", "MPLAIN =",
                           "R" + b64(b"\0u\0p").decode(), "R@@not base64"],
}
for name, lines in sasl.items():
    write("sasl", name, ("0\n" + "\n".join(lines) + "\n").encode())
for name in ("plain_ir", "ntlm", "digest_md5"):
    write("sasl", name + "_tiny", ("1\n" + "\n".join(sasl[name]) + "\n").encode())


# ---- TCP reassembly: byte 0, then 5-byte records (fuzz_tcp_reasm.c)
def seg(off, payload, gated=False, ack=None):
    r0 = (8 if gated else 0) | (0x10 if ack is not None else 0)
    return struct.pack("<BHBB", r0, off, len(payload), ack or 0) + payload


def pump(kind, gate):
    return struct.pack("<BBHB", 4, kind, gate, 0)


def op(code, off=0):
    return struct.pack("<BHBB", code, off, 0, 0)


FIN, RST, SYN, EXPIRE = 6, 7 | 8, 7, 5
write("tcp_reasm", "in_order_fin",
      b"\x14" + seg(0, b"USER bob\r\n") + seg(10, b"PASS secret\r\n") + op(FIN, 23))
write("tcp_reasm", "reorder_overlap_differs",
      b"\x14" + seg(8, b"world\r\n") + seg(0, b"hello, w") + seg(6, b"XXXXX") + seg(15, b"tail")
      + seg(0, b"hello, world\r\ntai") + op(FIN, 19))
write("tcp_reasm", "midstream_rewind_window",
      b"\x08" + seg(300, b"later bytes") + seg(280, b"earlier bytes come") + seg(311, b"!\r\n")
      + seg(290, b"XXXXXXXXXXXXXXXXXXXXXXXXX"))
write("tcp_reasm", "gated_by_ack",
      b"\x14" + seg(0, b"+OK ready\r\n", gated=True, ack=1) + seg(11, b"+OK\r\n", gated=True, ack=3)
      + pump(1, 16) + pump(1, 48) + pump(2, 0) + op(EXPIRE) + pump(0, 0))
write("tcp_reasm", "caps_hole_gap",
      b"\x13" + seg(200, b"a" * 100) + seg(400, b"b" * 100) + seg(600, b"c" * 100) + op(EXPIRE)
      + seg(0, b"d" * 200) + seg(700, b"e" * 10))
write("tcp_reasm", "wrap_keepalive_rst",
      b"\x1c" + seg(2040, b"across the wrap") + seg(2054, b"p") + seg(2054, b"q") + op(RST, 2050)
      + seg(0, b"head") + op(SYN, 5))


# ---- IP fragments: byte 0, then 5-byte records (fuzz_defrag.c)
def frag(v6=False, key=0, more=False, units=0, payload=b"", ext=0, short=False, ms=0):
    r0 = (1 if v6 else 0) | key << 1 | (8 if more else 0) | (0x20 if short else 0) | ext << 6
    return struct.pack("<BHBB", r0, units, len(payload), ms) + payload


A, B, C = b"A" * 16, b"B" * 16, b"C" * 5
write("defrag", "v4_in_order", b"\x00" + frag(more=True, payload=A) + frag(more=True, units=2, payload=B)
      + frag(units=4, payload=C))
write("defrag", "v4_reversed_overlap_differs",
      b"\x00" + frag(units=4, payload=C, ext=1) + frag(more=True, units=1, payload=b"x" * 24)
      + frag(more=True, units=2, payload=B) + frag(more=True, payload=A, ext=3))
write("defrag", "v6_ext_headers",
      b"\x00" + frag(v6=True, more=True, units=2, payload=B, ext=2)
      + frag(v6=True, units=4, payload=C) + frag(v6=True, more=True, payload=A, ext=2))
write("defrag", "caps_eviction_timeout",
      b"\x1d" + b"".join(frag(key=k, more=True, payload=A) for k in range(4))
      + frag(key=1, units=2, payload=C, ms=3) + frag(key=3, units=2, payload=C, ms=9)
      + frag(v6=True, key=2, more=True, payload=A) + frag(v6=True, key=2, units=2, payload=C))
write("defrag", "invalid_and_too_large",
      b"\x00" + frag(more=True, payload=b"odd") + frag(units=8191, payload=A)
      + frag(more=True, payload=A, short=True) + frag(units=2, payload=C)
      + frag(units=1, payload=C) + frag(more=True, payload=A) + frag(units=2, payload=C))
# A first fragment with a source of the raw records' own (192.0.2.1).
raw_v4 = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 44, 1, 0x2000, 64, 17, 0, bytes([192, 0, 2, 1]),
                     bytes([192, 0, 2, 2])) + b"\0" * 24
raw = struct.pack("<BHBB", 0x10, 0, len(raw_v4), 0) + raw_v4
write("defrag", "raw", b"\x00" + raw + struct.pack("<BHBB", 0x10, 0, 3, 0) + b"\x60\x00\x00")

# ---- pcapng: the project's own captures, and one cut short
for name in ("pcapng-eth-sll.pcapng", "pcapng-bigendian-raw-sll2.pcapng"):
    with open(os.path.join(ROOT, "pcaps", "capture", name), "rb") as f:
        write("pcapng", name, f.read())
with open(os.path.join(ROOT, "pcaps", "capture", "pcapng-eth-sll.pcapng"), "rb") as f:
    write("pcapng", "truncated_odd_length_filter", f.read()[:701])

# ---- WPA2: byte 0 (bit 0: a passphrase, else a PMK), then records
# (fuzz_wpa.c): beacon, association, the 4-way handshake signed by the
# harness (message 3 with a GTK KDE and 0xdd padding), data both ways, a
# group frame, a four-address frame, a group key message 1.
def wpa_rec(k, a, body):
    return bytes([k, a]) + struct.pack("<H", len(body)) + body


def eapol_key(info, replay, nonce, kd=b""):
    return (bytes([2, 3]) + struct.pack(">H", 95 + len(kd)) + bytes([2]) + struct.pack(">HH", info, 16)
            + struct.pack(">Q", replay) + nonce + b"\0" * 48 + struct.pack(">H", len(kd)) + kd)


for ver, akm in ((2, 2), (3, 6)):
    rsn = bytes([48, 20, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, akm, 0, 0])
    an, sn = bytes(range(32)), bytes(range(100, 132))
    gtk_kde = bytes([0xDD, 22, 0, 0x0F, 0xAC, 1, 1, 0]) + b"\x5a" * 16
    kd = rsn + gtk_kde + bytes([0xDD, 0]) + b"\0" * 8  # plain, 48 bytes, + room for the wrap
    llc = b"\xaa\xaa\x03\0\0\0\x08\0"
    write("wpa", "handshake_v%d" % ver, b"\x00"
          + wpa_rec(0, 8, b"\0" * 10 + b"\x11\0" + b"\0\x07FuzzNet" + rsn)
          + wpa_rec(0, 0, b"\x11\0\x0a\0" + b"\0\x07FuzzNet" + rsn)
          + wpa_rec(0x11, 0, eapol_key(ver | 0x88, 1, an))
          + wpa_rec(0x81, 0, eapol_key(ver | 0x108, 1, sn, rsn))
          + wpa_rec(0x91, 0, eapol_key(ver | 0x13C8, 2, an, kd))
          + wpa_rec(0x81, 0, eapol_key(ver | 0x308, 2, b"\0" * 32))
          + wpa_rec(0xA2, 1, llc + b"hello there")
          + wpa_rec(0x92, 2, llc + b"hello back")
          + wpa_rec(0x92, 0xA3, b"\xaa\xaa\x03\0\0\0\x08\x06arp")
          + wpa_rec(0xE2, 4, llc + b"four addr")
          + wpa_rec(0x91, 0, eapol_key(ver | 0x1380, 3, b"\0" * 32, kd)))
