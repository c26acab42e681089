#!/usr/bin/python3
"""Builds the large benchmark captures of make bench from the repository's
recorded real-server sessions (pcaps/pop3, imap, smtp, chain, tls: dovecot,
postfix and real clients), and writes the truth beside each.

  build_captures.py [--full | --quick | --tiny] [--dir DIR] [--force]
                    [--only mail|mixed] [--seed N]

Two captures (names carry the size: full, quick, tiny):
  mail-SIZE.pcap   many concurrent POP3/IMAP/SMTP sessions (logins, RETR,
                   FETCH, APPEND, DATA of messages with base64 attachments,
                   STARTTLS and implicit TLS sessions), at least 1 GiB full
  mixed-SIZE.pcap  the same sessions as a few % of the bytes, among bulk
                   HTTP-like transfers, many short TCP connections, DNS-like
                   and RTP-like UDP, at least 1 GiB full
  --quick makes 100 MiB ones (laptops), --tiny 3 MiB ones (the ctest).

Each recorded TCP connection is a template: every copy gets a new client
and server address, a new client port (the server keeps its port:
nonstandard ports stay nonstandard), new initial sequence numbers both ways
and a new start time, its packet gaps doubled (veth has no latency), and
copies are interleaved by time, so thousands are in flight at once as on a
span port: in the mail capture sessions start at a pace that keeps about
2000 (200 tiny) in flight on average (the recorded ones last 1.1 s on
average, stretched to 2.2 s: server delays after a failed login, clients'
waits); in the mixed one at a pace that makes a 1 Gbit/s link.
The recorded messages are small (a few KB, 24 KB at most, base64
attachments of a few KB): a mail session averages 5.7 KB in 24 packets, so
this workload weighs per-flow and per-packet costs more than base64
decoding of big attachments. Checksums stay right: the IPv4 and TCP checksums of each template
packet are summed once without the fields that change, and each copy adds
those fields' words (one's complement sums commute). Packets are written
with struct, not as objects: a GiB takes well under a minute.

The truth, SIZE.truth.jsonl beside each capture, is one line per login of
every copy: user, secret (the password, else the token, else the
challenge response, as mailspill --show-passwords reports it), outcome,
mechanism, protocol, client and server address and port. It comes from the
templates' *.expected.json (written by the capture generators from what the
clients sent), never from running mailspill.

A capture already present is reused (delete it or --force to rebuild); the
files are written under a temporary name and renamed when complete. Before
building, the free space of DIR must hold the capture with 10% to spare, or
the build is skipped with a message (exit 0; the bench then skips it too).
"""
import argparse
import heapq
import json
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# Recorded against real servers (pcaps/README.md); the scapy-built SASL
# captures and the damaged-stream ones are left out.
SOURCES = [
    "pop3/demo-userpass-retr.pcap", "pop3/nonstandard-port-2110.pcap",
    "pop3/mech-cram-digest-login-apop.pcap", "pop3/stls-no-credential.pcap",
    "imap/logins-fetch-append.pcap", "imap/nonstandard-port-1143.pcap",
    "imap/starttls-no-credential.pcap", "smtp/auth-mechanisms.pcap",
    "smtp/nonstandard-port-2525.pcap", "smtp/starttls-no-credential.pcap",
    "chain/1-submit-smtp.pcap", "chain/2-fetch-pop3.pcap", "chain/3-fetch-imap.pcap",
    "tls/implicit-tls-pop3s-imaps.pcap",
]
SIZES = {"full": 1 << 30, "quick": 100 << 20, "tiny": 3 << 20}
MIXED_MAIL_SHARE = 0.03
LINE_RATE = 125e6          # mixed: bytes per second of capture clock (1 Gbit/s)
CONCURRENCY = {"full": 2000, "quick": 2000, "tiny": 200}   # mail: sessions in flight
STRETCH = 2.0              # recorded gaps x STRETCH (veth has no latency)
START = 1796000000         # capture clock start (2026-11)
ETH = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x05\x08\x00"
PCAP_HDR = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1)
REC = struct.Struct("<IIII")


def words_sum(b):
    """One's complement sum (unfolded) of b as big-endian 16-bit words."""
    if len(b) & 1:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def secret_of(cred):
    for k in ("password", "token", "response"):
        if cred.get(k):
            return cred[k]
    return None


class Template:
    """One recorded TCP connection: per packet its gap from the first, its
    direction and the frame with the changing fields zeroed."""

    def __init__(self, name, sport, dport):
        self.name = name
        self.cport, self.sport = sport, dport
        self.pkts = []          # (t_us, c2s, frame bytearray, ip_sum, tcp_sum, seq, ack, has_ack)
        self.logins = []        # credential dicts from expected.json
        self.bytes = 0
        self.duration = 0.0


def load_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data, 0)
    if magic != 0xa1b2c3d4 or link != 1:
        raise SystemExit("%s: not a microsecond Ethernet pcap" % path)
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, orig = REC.unpack_from(data, off)
        off += 16
        if incl != orig:
            raise SystemExit("%s: truncated frame" % path)
        yield sec * 1000000 + usec, data[off:off + incl]
        off += incl


def load_templates():
    templates = []
    for rel in SOURCES:
        path = os.path.join(REPO, "pcaps", rel)
        conns = {}
        order = []
        for t, fr in load_pcap(path):
            if fr[12:14] != b"\x08\x00" or fr[23] != 6:
                continue            # ARP and the like: not part of a session
            ihl = (fr[14] & 15) * 4
            tcp = 14 + ihl
            src, dst = fr[26:30], fr[30:34]
            sp, dp = struct.unpack_from("!HH", fr, tcp)
            key = tuple(sorted(((src, sp), (dst, dp))))
            if key not in conns:
                flags = fr[tcp + 13]
                if flags & 0x12 != 0x02:
                    raise SystemExit("%s: a connection without its SYN" % path)
                conns[key] = (src, sp, Template("%s:%d" % (rel, sp), sp, dp), t)
                order.append(key)
            csrc, csp, tpl, t0 = conns[key]
            c2s = (src, sp) == (csrc, csp)
            frame = bytearray(fr)
            tot = struct.unpack_from("!H", frame, 16)[0]
            if tot + 14 != len(frame):
                frame = frame[:14 + tot]    # Ethernet padding
            doff = (frame[tcp + 12] >> 4) * 4
            seq, ack = struct.unpack_from("!II", frame, tcp + 4)
            has_ack = bool(frame[tcp + 13] & 0x10)
            opts = bytes(frame[tcp + 20:tcp + doff])
            if _has_sack(opts):
                raise SystemExit("%s: SACK blocks would need re-sequencing" % path)
            # Zero what a copy changes: IPv4 checksum and addresses, TCP
            # ports, sequence, acknowledgement and checksum.
            frame[24:34] = bytes(10)
            frame[tcp:tcp + 12] = bytes(12)
            frame[tcp + 16:tcp + 18] = b"\0\0"
            ip_sum = words_sum(bytes(frame[14:tcp]))
            tcp_len = len(frame) - tcp
            tcp_sum = words_sum(bytes(frame[tcp:])) + 6 + tcp_len
            tpl.pkts.append((t - t0, c2s, frame, ip_sum, tcp_sum, seq, ack, has_ack, tcp))
            tpl.bytes += len(frame)
            tpl.duration = (t - t0) / 1e6
        exp = path[:-5] + ".expected.json"
        by_port = {}
        with open(exp, encoding="utf-8") as f:
            for line in f:
                ev = json.loads(line)
                if ev.get("event_type") == "alert" and "credential" in ev:
                    by_port.setdefault(ev["src_port"], []).append(ev)
        for key in order:
            tpl = conns[key][2]
            for ev in by_port.pop(tpl.cport, []):
                c = ev["credential"]
                tpl.logins.append({"proto": ev["app_proto"], "mechanism": c.get("mechanism"),
                                   "user": c.get("username"), "secret": secret_of(c),
                                   "outcome": c.get("outcome")})
            templates.append(tpl)
        if by_port:
            raise SystemExit("%s: logins of no connection: %s" % (exp, sorted(by_port)))
    return templates


def _has_sack(opts):
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            return False
        if k == 1:
            i += 1
            continue
        if k == 5:
            return True
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            return False
        i += opts[i + 1]
    return False


class Addr:
    """Distinct client tuples and a pool of servers, deterministic."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.n = 0

    def client(self):
        self.n += 1
        i = self.n
        ip = bytes([10, 64 + (i >> 16 & 63), i >> 8 & 255, i & 255])
        return ip, 1024 + self.rnd.randrange(64000)

    def server(self, pool=256):
        i = self.rnd.randrange(pool)
        return bytes([172, 16 + (i >> 8 & 15), i & 255, 10])


def ip_words(ip):
    return (ip[0] << 8 | ip[1]) + (ip[2] << 8 | ip[3])


def mail_session(tpl, t0, cip, cport, sip, rnd):
    """Packets of one copy of tpl, as (time_us, frame)."""
    iss = (rnd.getrandbits(32), rnd.getrandbits(32))      # c2s, s2c shifts
    addr_sum = ip_words(cip) + ip_words(sip)
    port_sum = cport + tpl.sport
    pack = struct.pack_into
    for dt, c2s, tmpl, ip_sum, tcp_sum, seq, ack, has_ack, tcp in tpl.pkts:
        fr = bytearray(tmpl)
        if c2s:
            src, dst, sp, dp, ds, da = cip, sip, cport, tpl.sport, iss[0], iss[1]
        else:
            src, dst, sp, dp, ds, da = sip, cip, tpl.sport, cport, iss[1], iss[0]
        seq = (seq + ds) & 0xffffffff
        if has_ack:
            ack = (ack + da) & 0xffffffff
        ipc = ~fold(ip_sum + addr_sum) & 0xffff
        tc = ~fold(tcp_sum + addr_sum + port_sum + (seq >> 16) + (seq & 0xffff) +
                   (ack >> 16) + (ack & 0xffff)) & 0xffff
        pack("!H4s4s", fr, 24, ipc, src, dst)
        pack("!HHII", fr, tcp, sp, dp, seq, ack)
        pack("!H", fr, tcp + 16, tc)
        yield t0 + int(dt * STRETCH), fr


# ---- other traffic (mixed capture) ----

class Payloads:
    """A pool of incompressible chunks with their word sums precomputed."""

    def __init__(self, rnd, size=1448, n=64):
        self.chunks = []
        for _ in range(n):
            b = rnd.randbytes(size)
            self.chunks.append((b, words_sum(b)))
        self.rnd = rnd

    def pick(self):
        return self.chunks[self.rnd.randrange(len(self.chunks))]


def tcp_frame(src, dst, sp, dp, seq, ack, flags, payload=b"", psum=None):
    if psum is None:
        psum = words_sum(payload)
    ln = 20 + len(payload)
    ipc = ~fold(0x4500 + 40 + len(payload) + 0x4000 + 0x4006 + ip_words(src) + ip_words(dst)) & 0xffff
    tc = ~fold(psum + ip_words(src) + ip_words(dst) + 6 + ln + sp + dp + (seq >> 16) +
               (seq & 0xffff) + (ack >> 16) + (ack & 0xffff) + 0x5000 + flags + 65535) & 0xffff
    return ETH + struct.pack("!BBHHHBBH4s4sHHIIBBHHH", 0x45, 0, 40 + len(payload), 0, 0x4000,
                             64, 6, ipc, src, dst, sp, dp, seq, ack, 0x50, flags, 65535, tc,
                             0) + payload


def udp_frame(src, dst, sp, dp, payload):
    ipc = ~fold(0x4500 + 28 + len(payload) + 0x4000 + 0x4011 + ip_words(src) + ip_words(dst)) & 0xffff
    # UDP checksum 0: none, valid on IPv4.
    return ETH + struct.pack("!BBHHHBBH4s4sHHHH", 0x45, 0, 28 + len(payload), 0, 0x4000, 64, 17,
                             ipc, src, dst, sp, dp, 8 + len(payload), 0) + payload


def http_session(t0, cip, cport, sip, rnd, pool, body, port=80):
    """GET, then body bytes in 1448-byte segments, an ACK every second one,
    FIN both ways. body: 2 KB (a short connection) to several MB (bulk)."""
    c, s = rnd.getrandbits(32), rnd.getrandbits(32)
    t = t0
    rtt = 200 + rnd.randrange(2000)
    M = 0xffffffff
    yield t, tcp_frame(cip, sip, cport, port, c, 0, 0x02)
    t += rtt
    yield t, tcp_frame(sip, cip, port, cport, s, (c + 1) & M, 0x12)
    c, s = (c + 1) & M, (s + 1) & M
    t += rtt
    yield t, tcp_frame(cip, sip, cport, port, c, s, 0x10)
    req = b"GET /data/%08x HTTP/1.1\r\nHost: files.example.com\r\nAccept: */*\r\n\r\n" % rnd.getrandbits(32)
    yield t + 5, tcp_frame(cip, sip, cport, port, c, s, 0x18, req)
    c = (c + len(req)) & M
    t += rtt
    hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % body
    yield t, tcp_frame(sip, cip, port, cport, s, c, 0x18, hdr)
    s = (s + len(hdr)) & M
    left, k = body, 0
    while left > 0:
        chunk, psum = pool.pick()
        if left < len(chunk):
            chunk, psum = chunk[:left], None
        t += 12           # 1448 bytes at ~1 Gbit/s
        yield t, tcp_frame(sip, cip, port, cport, s, c, 0x10, chunk, psum)
        s = (s + len(chunk)) & M
        left -= len(chunk)
        k += 1
        if k % 2 == 0:
            yield t + 1, tcp_frame(cip, sip, cport, port, c, s, 0x10)
    t += rtt
    yield t, tcp_frame(cip, sip, cport, port, c, s, 0x11)
    c = (c + 1) & M
    yield t + rtt, tcp_frame(sip, cip, port, cport, s, c, 0x11)
    s = (s + 1) & M
    yield t + 2 * rtt, tcp_frame(cip, sip, cport, port, c, s, 0x10)


def dns_session(t0, cip, cport, sip, rnd):
    qid = rnd.getrandbits(16)
    name = b"".join(bytes([len(p)]) + p for p in (b"host%d" % rnd.randrange(100000), b"example", b"com")) + b"\0"
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + b"\0\1\0\1"
    a = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + name + b"\0\1\0\1" + \
        b"\xc0\x0c\0\1\0\1\0\0\x0e\x10\0\4" + rnd.randbytes(4)
    yield t0, udp_frame(cip, sip, cport, 53, q)
    yield t0 + 300 + rnd.randrange(3000), udp_frame(sip, cip, 53, cport, a)


def rtp_session(t0, cip, cport, sip, rnd, pool, n):
    """n RTP packets each way, 160-byte G.711 frames every 20 ms."""
    ssrc = (rnd.getrandbits(32), rnd.getrandbits(32))
    sport = 16384 + 2 * rnd.randrange(8000)
    seqs = [rnd.getrandbits(16), rnd.getrandbits(16)]
    ts = [rnd.getrandbits(32), rnd.getrandbits(32)]
    chunk = pool.pick()[0][:160]
    for i in range(n):
        t = t0 + i * 20000
        for d in (0, 1):
            hdr = struct.pack("!BBHII", 0x80, 0, (seqs[d] + i) & 0xffff,
                              (ts[d] + 160 * i) & 0xffffffff, ssrc[d])
            if d == 0:
                yield t, udp_frame(cip, sip, cport, sport, hdr + chunk)
            else:
                yield t + 7, udp_frame(sip, cip, sport, cport, hdr + chunk)


# ---- writing ----

class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(PCAP_HDR)
        self.buf = []
        self.bytes = 24
        self.pkts = 0

    def put(self, t, fr):
        n = len(fr)
        self.buf.append(REC.pack(t // 1000000, t % 1000000, n, n))
        self.buf.append(fr)
        self.bytes += 16 + n
        self.pkts += 1
        if len(self.buf) >= 8192:
            self.f.write(b"".join(self.buf))
            self.buf = []

    def close(self):
        self.f.write(b"".join(self.buf))
        self.f.close()


def http_bytes(body):
    n = (body + 1447) // 1448
    return body + (n + n // 2 + 9) * 70 + 150


def build(path, truth_path, target, mixed, seed, concurrency):
    rnd = random.Random(seed)
    templates = load_templates()
    addr = Addr(rnd)
    pool = Payloads(rnd)
    mail_bytes = sum(t.bytes for t in templates) / len(templates)
    mail_dur = sum(t.duration for t in templates) / len(templates) * STRETCH * 1e6
    # Kinds: (name, weight by sessions). Weights give the byte shares:
    # mail MIXED_MAIL_SHARE, bulk ~75%, short connections ~12%, RTP ~9%,
    # DNS ~1%.
    bulk_mean, short_mean, rtp_n = 2 << 20, 6 << 10, 1500
    if mixed:
        shares = {"mail": MIXED_MAIL_SHARE, "bulk": 0.75, "short": 0.12, "rtp": 0.09,
                  "dns": 0.01}
        per = {"mail": mail_bytes, "bulk": bulk_mean * 1.05, "short": short_mean + 900,
               "rtp": rtp_n * 2 * 214, "dns": 170}
    else:
        shares, per = {"mail": 1.0}, {"mail": mail_bytes}
    kinds = sorted(shares)
    weights = [shares[k] / per[k] for k in kinds]
    mean_bytes = sum(w * per[k] for w, k in zip(weights, kinds)) / sum(weights)
    if mixed:
        gap = max(1, int(mean_bytes / LINE_RATE * 1e6))     # us between session starts
    else:
        gap = max(1, int(mail_dur / concurrency))
    committed = 24
    tmp = path + ".tmp"
    tmp_truth = truth_path + ".tmp"
    w = Writer(tmp)
    heap = []
    n = 0
    sessions = {k: 0 for k in kinds}
    logins = 0
    t_next = START * 1000000
    with open(tmp_truth, "w", encoding="utf-8") as truth:
        while True:
            if committed < target * 1.01:   # the estimates of other traffic err a little
                while not heap or heap[0][0] >= t_next:
                    kind = rnd.choices(kinds, weights)[0]
                    sessions[kind] += 1
                    cip, cport = addr.client()
                    sip = addr.server()
                    if kind == "mail":
                        tpl = templates[rnd.randrange(len(templates))]
                        it = mail_session(tpl, t_next, cip, cport, sip, rnd)
                        committed += tpl.bytes + 16 * len(tpl.pkts)
                        for lg in tpl.logins:
                            rec = dict(lg)
                            rec["client"] = ["%d.%d.%d.%d" % tuple(cip), cport]
                            rec["server"] = ["%d.%d.%d.%d" % tuple(sip), tpl.sport]
                            rec["template"] = tpl.name
                            truth.write(json.dumps(rec, ensure_ascii=False) + "\n")
                            logins += 1
                    elif kind in ("bulk", "short"):
                        body = rnd.randrange(bulk_mean // 4, bulk_mean * 7 // 4) \
                            if kind == "bulk" else rnd.randrange(512, 2 * short_mean)
                        it = http_session(t_next, cip, cport, sip, rnd, pool, body,
                                          rnd.choice((80, 8080)) if kind == "bulk" else 80)
                        committed += http_bytes(body)
                    elif kind == "rtp":
                        it = rtp_session(t_next, cip, cport, sip, rnd, pool, rtp_n)
                        committed += rtp_n * 2 * 230
                    else:
                        it = dns_session(t_next, cip, cport, sip, rnd)
                        committed += 200
                    first = next(it)
                    n += 1
                    heapq.heappush(heap, (first[0], n, first[1], it))
                    t_next += rnd.randrange(1, 2 * gap + 1)
            if not heap:
                break
            t, k, fr, it = heap[0]
            w.put(t, fr)
            nxt = next(it, None)
            if nxt is None:
                heapq.heappop(heap)
            else:
                # Times within a session never go back, so the order holds.
                heapq.heapreplace(heap, (max(nxt[0], t), k, nxt[1], it))
    w.close()
    os.replace(tmp_truth, truth_path)
    os.replace(tmp, path)
    return {"bytes": w.bytes, "packets": w.pkts, "sessions": sessions, "logins": logins,
            "mail_session_us": mail_dur}


def paths(d, kind, size):
    base = os.path.join(d, "%s-%s" % (kind, size))
    return base + ".pcap", base + ".truth.jsonl"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--full", action="store_true", help="1 GiB captures (the default)")
    g.add_argument("--quick", action="store_true", help="100 MiB captures")
    g.add_argument("--tiny", action="store_true", help="3 MiB captures (the ctest)")
    ap.add_argument("--dir", default=os.environ.get("MS_BENCH_DIR", os.path.join(HERE, "data")))
    ap.add_argument("--force", action="store_true", help="rebuild even when present")
    ap.add_argument("--only", choices=("mail", "mixed"))
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    size = "quick" if a.quick else "tiny" if a.tiny else "full"
    os.makedirs(a.dir, exist_ok=True)
    for kind in ("mail", "mixed"):
        if a.only and a.only != kind:
            continue
        pcap, truth = paths(a.dir, kind, size)
        if os.path.exists(pcap) and os.path.exists(truth) and not a.force:
            print("%s: present (%.0f MB), reused" % (pcap, os.path.getsize(pcap) / 1e6))
            continue
        need = SIZES[size] * 1.1 + (64 << 20)
        free = shutil.disk_usage(a.dir).free
        if free < need:
            print("%s: skipped, %.0f MB free in %s, %.0f MB needed"
                  % (pcap, free / 1e6, a.dir, need / 1e6))
            continue
        import time
        t0 = time.monotonic()
        r = build(pcap, truth, SIZES[size], kind == "mixed", a.seed + (kind == "mixed"),
                  CONCURRENCY[size])
        print("%s: %.1f MB, %d packets, %d logins in the truth, sessions %s, %.1f s"
              % (pcap, r["bytes"] / 1e6, r["packets"], r["logins"],
                 ", ".join("%s %d" % kv for kv in sorted(r["sessions"].items())),
                 time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
