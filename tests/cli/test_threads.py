#!/usr/bin/python3
"""--threads N gives the events of --threads 1 (README "Threads").

For every capture of pcaps/ (each within the default caps), and for runs
that put many connections in flight at once, mailspill with 2 and 3
worker threads must write the same events as with one: compared as
multisets of whole JSON events (every key, pcap_cnt and pcap_filename
included), and, for each flow_id, the same events in the same order. The
stats events must agree on every counter that is not a per-worker gauge.

The runs with many connections in flight:
- every capture of pcaps/ (with the arguments of its .args sidecar,
  tests/golden/capture_args.py: the WPA2 captures' secrets), and all of
  them read in one run with every sidecar's arguments (repeated -r: flows
  go on from one file to the next; pcap_filename must name each event's
  own file);
- a capture made here of 60 copies of pcaps/starttls/starttls-stripping
  (a real client and dovecot/postfix, sessions through a stripping proxy),
  each copy with its own client and server addresses, started 2 ms apart so
  that they overlap: each copy's STARTTLS offer and the stripped session
  that follows it are different connections, mostly on different workers,
  and the 180 stripping alerts must all be there, each naming its own
  copy's offering flow, as with one thread;
- the same with each server on a port above its clients' (a flow goes to
  the worker of its lower endpoint: here the client's, so one server's
  sessions are on several workers), and again without the handshakes
  (started mid-connection, each flow's server is first taken to be the
  lower port's side, the client, until a probe swaps it: 540 swaps);
- lossy copies of the stripping recordings (pcaps/starttls, pcaps/stripping)
  all to one server, each cut at a random frame, 5% of frames dropped, at
  random start times (fixed seeds), with the default options and with
  --flow-timeout 2 --reasm-wait 1, and with the server on a high port: holes, wait windows that end while
  other workers' packets go by, flows that time out, all deciding which
  earlier session a stripping alert names; once more, every session to one
  server port (so on one worker: with time going back, which flows time out
  depends on how they are split) with UDP datagrams between, with time
  going back 4 s halfway through;
- two captures made with scapy from a review of --threads: a wait window
  that ends at another host's packet (the next window must start then, not
  when the flow's worker next hears of the time), and a flow that times out
  at the last frames of the input;
- from a later review: an offer and a stripped listing in one 802.11
  A-MSDU (the alert in each of 25 runs), and logins read from a pipe
  that must come out while the writer pauses;
- 40 overlapping copies each of three recordings with messages (POP3 with
  an attachment, IMAP, SMTP), read as three files in one run, also with
  --extract, --extract-attachments and --evidence: the same files, byte for
  byte, with the same names.
"""
import collections
import hashlib
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time

BIN, REPO = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(REPO, "tests", "golden"))
from capture_args import capture_args  # noqa: E402
THREADS = (2, 3)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run(args):
    r = subprocess.run([BIN, "--show-passwords"] + args, capture_output=True, timeout=300)
    evs = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
    return r.returncode, evs, r.stderr.decode()


# Gauges of one moment, or per worker (the largest worker's peak), and the
# memory a worker's share of the caps sizes: not the same with N workers.
GAUGES = ("flow.active_peak", "flow.memuse", "flow.memuse_peak", "tcp.reassembly_memuse",
          "tcp.reassembly_memuse_peak", "evidence.memuse_peak")


def flat(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, prefix + k + ".")
        else:
            yield prefix + k, v


def compare(name, args, stats_out=None):
    rc1, ev1, err1 = run(["--threads", "1"] + args)
    check(rc1 == 0, f"{name}: --threads 1 exit {rc1}: {err1[-300:]}")
    base = [e for e in ev1 if e["event_type"] != "stats"]
    stats1 = dict(flat(next(e for e in ev1 if e["event_type"] == "stats")["stats"]))
    if stats_out is not None:
        stats_out.update(stats1)
    for n in THREADS:
        rc, ev, err = run(["--threads", str(n)] + args)
        check(rc == rc1, f"{name}: --threads {n} exit {rc}, one thread {rc1}: {err[-300:]}")
        got = [e for e in ev if e["event_type"] != "stats"]
        a = collections.Counter(json.dumps(e, sort_keys=True) for e in base)
        b = collections.Counter(json.dumps(e, sort_keys=True) for e in got)
        if a != b:
            only1, onlyn = list((a - b).elements()), list((b - a).elements())
            check(False, f"{name}: --threads {n}: {len(only1)} events only with one thread, "
                         f"{len(onlyn)} only with {n}; first: {(only1 + onlyn)[0][:400]}")
            continue
        per1, pern = collections.defaultdict(list), collections.defaultdict(list)
        for e in base:
            per1[e.get("flow_id")].append(json.dumps(e, sort_keys=True))
        for e in got:
            pern[e.get("flow_id")].append(json.dumps(e, sort_keys=True))
        for fid, seq in per1.items():
            if fid is not None:
                check(pern[fid] == seq, f"{name}: --threads {n}: flow {fid}: events in another order")
        statsn = dict(flat(next(e for e in ev if e["event_type"] == "stats")["stats"]))
        for k, v in stats1.items():
            if k not in GAUGES:
                check(statsn.get(k) == v, f"{name}: --threads {n}: stats {k} {statsn.get(k)}, one thread {v}")
    return base


# ---- a capture of many overlapping copies of the stripping recording ----

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def readdress(frame, amap, pmap=None):
    """An Ethernet/IPv4 frame with its addresses (and TCP ports: pmap)
    mapped and checksums redone."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    f = bytearray(frame)
    ihl = (f[14] & 15) * 4
    for off in (26, 30):
        f[off:off + 4] = amap.get(bytes(f[off:off + 4]), bytes(f[off:off + 4]))
    f[24:26] = b"\0\0"
    f[24:26] = struct.pack("!H", csum(bytes(f[14:14 + ihl])))
    if f[23] == 6:
        total = struct.unpack("!H", f[16:18])[0]
        seg = f[14 + ihl:14 + total]
        for off in (0, 2):
            port = struct.unpack("!H", seg[off:off + 2])[0]
            seg[off:off + 2] = struct.pack("!H", (pmap or {}).get(port, port))
        seg[16:18] = b"\0\0"
        pseudo = bytes(f[26:34]) + struct.pack("!BBH", 0, 6, len(seg))
        seg[16:18] = struct.pack("!H", csum(pseudo + bytes(seg)))
        f[14 + ihl:14 + total] = seg
    return bytes(f)


def make_copies(src, dst, copies, step_ns, pmap=None, no_handshake=False):
    """copies of src, each with its own addresses, step_ns apart; pmap:
    TCP ports mapped; no_handshake: without SYNs (started mid-connection)."""
    _, recs = read_pcap(src)
    if no_handshake:
        recs = [r for r in recs if not is_syn(r[1])]
    addrs = sorted({f[o:o + 4] for _, f, _ in recs if len(f) >= 34 and f[12:14] == b"\x08\x00"
                    for o in (26, 30)})
    out = []
    for k in range(copies):
        amap = {a: bytes([10, 60 + i, k // 250, k % 250 + 1]) for i, a in enumerate(addrs)}
        for t, frame, orig in recs:
            out.append((t + k * step_ns, k, readdress(frame, amap, pmap), orig))
    write_pcap(dst, out)


def is_syn(f):
    if len(f) < 48 or f[12:14] != b"\x08\x00" or f[23] != 6:
        return False
    return bool(f[14 + (f[14] & 15) * 4 + 13] & 0x02)


# The recordings' servers moved above their clients' ports (the highest is
# 58794): a flow's lower endpoint is then its client, and the sessions of
# one server spread over the workers.
HIGH = {p: 61000 + p for p in (25, 110, 143, 465, 587, 993, 995)}


def read_pcap(path):
    data = open(path, "rb").read()
    scale = 1 if data[:4] == b"\x4d\x3c\xb2\xa1" else 1000  # ns or us
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append((sec * 10**9 + frac * scale, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    return data[:24], recs


def udp_frame(n):
    """A UDP datagram between two hosts of their own (no flow: every
    worker is told its time)."""
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + 4, n & 0xFFFF, 0x4000, 64, 17, 0,
                               bytes([10, 250, 0, 1]), bytes([10, 250, 0, 2])))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + bytes(ip) + struct.pack("!HHHH", 53, 53, 12, 0) + b"ping"


def make_lossy(dst, srcs, copies, seed, spread_ns, drop, pmap=None, back_ns=0, udp_ns=0):
    """Copies of srcs' recordings, each to the same server address (the side
    that answers a SYN), its client's own; cut at a random frame (most),
    frames dropped at random, started at random times. back_ns: the second
    half of the frames stamped that much earlier (time goes back once);
    udp_ns: a UDP datagram that often as well."""
    rnd = random.Random(seed)
    out = []
    for k in range(copies):
        _, recs = read_pcap(rnd.choice(srcs))
        servers = {f[26:30] for _, f, _ in recs if len(f) >= 48 and f[12:14] == b"\x08\x00"
                   and f[23] == 6 and f[14 + (f[14] & 15) * 4 + 13] & 0x12 == 0x12}
        addrs = sorted({f[o:o + 4] for _, f, _ in recs if len(f) >= 34 and f[12:14] == b"\x08\x00"
                        for o in (26, 30)})
        amap = {a: bytes([10, 200, 0, 1 + i]) if a in servers else bytes([10, 60 + i, k // 250, k % 250 + 1])
                for i, a in enumerate(addrs)}
        end = len(recs) if rnd.random() < 0.3 else rnd.randrange(1, len(recs) + 1)
        start = rnd.randrange(0, spread_ns)
        for t, frame, orig in recs[:end]:
            if rnd.random() > drop:
                out.append((t - recs[0][0] + start + 10**18, k, readdress(frame, amap, pmap), orig))
    if udp_ns:
        t0, t1 = min(r[0] for r in out), max(r[0] for r in out)
        out += [(t, -1, udp_frame(i), 46) for i, t in enumerate(range(t0, t1, udp_ns))]
    out.sort(key=lambda r: (r[0], r[1]))
    half = len(out) // 2
    out[half:] = [(t - back_ns, k, f, o) for t, k, f, o in out[half:]]
    write_pcap(dst, out, ordered=True)


def write_pcap(dst, out, ordered=False):
    """(time ns, copy, Ethernet frame, original length) records, in time
    order (or as they are: ordered), as a nanosecond pcap."""
    if not ordered:
        out.sort(key=lambda r: (r[0], r[1]))
    with open(dst, "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        for t, _, frame, orig in out:
            fp.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), orig) + frame)


def scapy_cases(tmp):
    """The review's two captures (see the top); None without scapy."""
    try:
        from scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap
    except ImportError:
        return None
    C, S = "10.0.0.1", "10.0.0.2"

    def udp(t, b):
        e = Ether() / IP(src="10.9.9.9", dst="10.9.9.8") / UDP(sport=53, dport=53) / Raw(b * 20)
        e.time = t
        return e

    # A wait window that ends at another host's frame (10.5 s).
    pk, seq = [], {"c": 1000, "s": 5000}

    def tcp(t, src, flags="PA", data=b"", at=None, ack=None):
        c2s = src == C
        e = Ether() / IP(src=src, dst=S if c2s else C) / TCP(
            sport=40000 if c2s else 25, dport=25 if c2s else 40000, flags=flags,
            seq=at if at is not None else seq["c" if c2s else "s"],
            ack=ack if ack is not None else seq["s" if c2s else "c"]) / (Raw(data) if data else b"")
        e.time = t
        pk.append(e)
        if at is None:
            seq["c" if c2s else "s"] += len(data)

    pk.append(Ether() / IP(src=C, dst=S) / TCP(sport=40000, dport=25, flags="S", seq=999))
    pk[-1].time = 0.0
    pk.append(Ether() / IP(src=S, dst=C) / TCP(sport=25, dport=40000, flags="SA", seq=4999, ack=1000))
    pk[-1].time = 0.001
    tcp(0.002, C, "A")
    for i, (who, data) in enumerate(((S, b"220 mx.example.org ESMTP\r\n"), (C, b"EHLO client\r\n"),
                                     (S, b"250-mx.example.org\r\n250 AUTH PLAIN LOGIN\r\n"),
                                     (C, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), (S, b"235 ok\r\n"),
                                     (C, b"MAIL FROM:<alice@example.org>\r\n"), (S, b"250 ok\r\n"),
                                     (C, b"RCPT TO:<bob@example.org>\r\n"), (S, b"250 ok\r\n"),
                                     (C, b"DATA\r\n"), (S, b"354 go\r\n"))):
        tcp(0.01 + i * 0.01, who, data=data)
    parts = [b"Subject: hi\r\nFrom: alice@example.org\r\n\r\n", b"line two AAAAAAAAAAAAAAAAAAAAAA\r\n",
             b"line three BBBBBBBBBBBBBBBBBBBB\r\n", b"line four CCCCCCCCCCCCCCCCCCCCCC\r\n",
             b"line five DDDDDDDDDDDDDDDDDDDDDD\r\n"]
    offs, o = [], seq["c"]
    for p in parts:
        offs.append(o)
        o += len(p)
    tcp(0.2, C, data=parts[0])
    tcp(0.21, C, data=parts[2], at=offs[2])
    tcp(0.22, C, data=parts[4], at=offs[4])
    tcp(9.6, S, "A", ack=offs[1])
    pk += [udp(10.5, b"x"), udp(10.7, b"y"), udp(20.6, b"z")]
    tcp(20.65, C, data=parts[3], at=offs[3])
    seq["c"] = o
    for t, who, data in ((20.7, C, b".\r\n"), (20.71, S, b"250 queued\r\n"), (20.72, C, b"QUIT\r\n"),
                         (20.73, S, b"221 bye\r\n")):
        tcp(t, who, data=data)
    tcp(20.74, C, "FA")
    tcp(20.75, S, "FA")
    tcp(20.76, C, "A")
    wait_lag = os.path.join(tmp, "wait-lag.pcap")
    wrpcap(wait_lag, pk)

    # A POP3 flow idle from 0.006 s; other frames at 1.2 and 2.1 s.
    pk, seq = [], {"c": 1000, "s": 5000}
    pk.append(Ether() / IP(src=C, dst=S) / TCP(sport=40001, dport=110, flags="S", seq=999))
    pk[-1].time = 0.0
    pk.append(Ether() / IP(src=S, dst=C) / TCP(sport=110, dport=40001, flags="SA", seq=4999, ack=1000))
    pk[-1].time = 0.001
    for t, c2s, data in ((0.002, False, b"+OK ready\r\n"), (0.003, True, b"USER alice\r\n"),
                         (0.004, False, b"+OK\r\n"), (0.005, True, b"PASS secret\r\n"),
                         (0.006, False, b"+OK logged in\r\n")):
        k = "c" if c2s else "s"
        e = Ether() / IP(src=C if c2s else S, dst=S if c2s else C) / TCP(
            sport=40001 if c2s else 110, dport=110 if c2s else 40001, flags="PA", seq=seq[k],
            ack=seq["s" if c2s else "c"]) / Raw(data)
        e.time = t
        pk.append(e)
        seq[k] += len(data)
    pk += [udp(1.2, b"x"), udp(2.1, b"y")]
    end_timeout = os.path.join(tmp, "end-timeout.pcap")
    wrpcap(end_timeout, pk)
    return wait_lag, end_timeout


def amsdu_case(dst):
    """pcaps/stripping/smtp-starttls-turned-off.pcap as 802.11 frames, its
    two first sessions on client ports 10 and 20 (below the server's: each
    flow goes to its client's worker), the offering session's listing and
    the stripped one's in one A-MSDU, in that order: from a review, where
    the second packet of the frame got a lower order key than the first
    (keys were per frame) and the stripped session's check could come
    before the offer was in the memo."""
    _, recs = read_pcap(os.path.join(REPO, "pcaps/stripping/smtp-starttls-turned-off.pcap"))
    client, ap, server = bytes.fromhex("a4830e310001"), bytes.fromhex("0200000000aa"), \
        bytes.fromhex("0200000000bb")
    llc = bytes.fromhex("aaaa030000000800")

    def ip_of(n):
        """Frame n's IP datagram, ports mapped, and whether the client sent it."""
        ip = bytearray(recs[n - 1][1][14:])
        ihl = (ip[0] & 15) * 4
        ip = ip[:struct.unpack("!H", ip[2:4])[0]]
        seg = ip[ihl:]
        sp, dp = struct.unpack("!HH", seg[:4])
        pmap = {40001: 10, 40010: 20}
        seg[0:4] = struct.pack("!HH", pmap.get(sp, sp), pmap.get(dp, dp))
        seg[16:18] = b"\0\0"
        seg[16:18] = struct.pack("!H", csum(bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(seg))
                                            + bytes(seg)))
        ip[ihl:] = seg
        return bytes(ip), ip[12:16] == bytes([10, 0, 0, 9])

    def hdr(to_server, amsdu):
        addrs = ap + client + server if to_server else client + ap + server
        return bytes([0x88, 0x01 if to_server else 0x02]) + b"\0\0" + addrs + b"\0\0" + \
            bytes([0x05 | (0x80 if amsdu else 0), 0])

    def single(n):
        ip, to_server = ip_of(n)
        return hdr(to_server, False) + llc + ip

    def amsdu(ns):
        body, to_server = b"", ip_of(ns[0])[1]
        for i, n in enumerate(ns):
            da, sa = (server, client) if to_server else (client, server)
            sub = da + sa + struct.pack("!H", len(llc) + len(ip_of(n)[0])) + llc + ip_of(n)[0]
            body += sub + (b"\0" * (-len(sub) % 4) if i < len(ns) - 1 else b"")
        return hdr(to_server, True) + body

    frames = [single(n) for n in list(range(1, 8)) + list(range(17, 24))]
    frames += [amsdu([8, 24]), amsdu([9, 25])]
    frames += [single(n) for n in list(range(10, 17)) + list(range(26, 33))]
    with open(dst, "wb") as fp:
        fp.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105))
        for i, f in enumerate(frames):
            fp.write(struct.pack("<IIII", 1700000000, i * 1000, len(f), len(f)) + f)


def piped_logins_arrive(tmp):
    """Reading a pipe, a worker's (or one thread's) events come as its
    sessions end, not when the writer closes it: 16 copies of a POP3
    recording (3 logins), each with its own addresses, one after the
    other; the first 8 are written, a frame at a time, then a pause with
    the pipe open: their logins must be out before the rest is sent (a
    worker woken only every so many packets held them)."""
    src = os.path.join(REPO, "pcaps/pop3/demo-userpass-retr.pcap")
    _, recs = read_pcap(src)
    span = recs[-1][0] - recs[0][0] + 10**9
    path = os.path.join(tmp, "pipe16.pcap")
    make_copies(src, path, 16, span)
    hdr, copies = read_pcap(path)  # make_copies' nanosecond records, in time order

    def rec(t, frame, orig):
        return struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), orig) + frame
    first = [hdr] + [rec(*r) for r in copies if r[0] < copies[0][0] + 8 * span]
    rest = b"".join(rec(*r) for r in copies[len(first) - 1:])
    per = sum(1 for e in run(["-r", src])[1] if "credential" in e)
    for n in (1,) + THREADS:  # one thread holds its records as a worker does
        p = subprocess.Popen([BIN, "--show-passwords", "--threads", str(n), "-r", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for rec in first:  # a frame at a time, as a slow writer would: the worker sleeps
            p.stdin.write(rec)
            p.stdin.flush()
            time.sleep(0.002)
        out, deadline = b"", time.time() + 10  # os.read: readline's buffer hides lines from select
        while out.count(b'"credential":{') < 8 * per and time.time() < deadline:
            if select.select([p.stdout], [], [], 0.5)[0]:
                out += os.read(p.stdout.fileno(), 1 << 16)
        got = out.count(b'"credential":{')
        p.stdin.write(rest)
        p.stdin.close()
        total = (out + p.stdout.read()).count(b'"credential":{')
        p.wait(timeout=60)
        check(got == 8 * per, f"--threads {n} -r -: {got} of the first {8 * per} logins out while "
                              "the pipe stayed open")
        check(total == 16 * per, f"--threads {n} -r -: {total} logins, expected {16 * per}")


def stats_count_every_record(tmp):
    """A stats event asked for mid-run (SIGUSR1) counts every record before
    it as delivered, as with one thread: the workers hand over the records
    their ports hold before the sinks are waited for (a review found up to
    87 of them counted as still queued). 1500 overlapping copies of an IMAP
    recording (55 MB, 37k records): a run long enough to ask many times."""
    big = os.path.join(tmp, "imap1500.pcap")
    make_copies(os.path.join(REPO, "pcaps/imap/logins-fetch-append.pcap"), big, 1500, 3 * 10**6)
    for n in (1,) + THREADS:
        p = subprocess.Popen([BIN, "--show-passwords", "--threads", str(n), "-r", big],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, asked = b"", 0
        while p.poll() is None or select.select([p.stdout], [], [], 0)[0]:
            if select.select([p.stdout], [], [], 0.001)[0]:
                got = os.read(p.stdout.fileno(), 1 << 16)
                if not got:
                    break
                out += got
            elif p.poll() is None and out:  # its handler is set before any output
                p.send_signal(signal.SIGUSR1)
                asked += 1
        p.wait(timeout=60)
        lines = out.decode().splitlines()
        mid = [(i, json.loads(line)) for i, line in enumerate(lines[:-1])
               if '"event_type":"stats"' in line]
        check(len(mid) >= 3, f"--threads {n}: {len(mid)} stats events mid-run ({asked} asked)")
        for i, st in mid:
            sink = st["stats"]["output"]["sink"]["file"]
            check(sink["queued"] == 0 and sink["written"] == i,
                  f"--threads {n}: a stats event after {i} records counts "
                  f"{sink['written']} written, {sink['queued']} queued")


def tree(d):
    """name -> sha256 of every file under d."""
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as fp:
            out[name] = hashlib.sha256(fp.read()).hexdigest()
    return out


def main():
    caps = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(REPO, "pcaps"))
                  for f in fs if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcap.xz", ".pcap.zst")))
    check(len(caps) >= 50, f"only {len(caps)} captures found under pcaps/")
    # Each capture with the arguments of its .args sidecar; in the run of
    # all, every sidecar's arguments (the same secrets file, a PSK).
    extra = []
    for c in caps:
        compare(os.path.relpath(c, REPO), capture_args(c) + ["-r", c])
        if capture_args(c) and capture_args(c) not in extra:
            extra.append(capture_args(c))
    allr = []
    for c in caps:
        allr += ["-r", c]
    compare("every capture in one run", sum(extra, []) + allr)

    with tempfile.TemporaryDirectory() as tmp:
        strip = os.path.join(tmp, "strip60.pcap")
        make_copies(os.path.join(REPO, "pcaps/starttls/starttls-stripping.pcap"), strip, 60, 2 * 10**6)
        base = compare("60 overlapping stripping copies", ["-r", strip])
        alerts = [e for e in base if e["event_type"] == "alert"
                  and e["alert"]["signature"].lower().find("stripp") >= 0]
        check(len(alerts) == 180, f"stripping copies: {len(alerts)} stripping alerts, expected 180")
        flows = {e["flow_id"]: e for e in base}
        for a in alerts:
            off = flows.get(a.get("starttls_stripped", {}).get("offered_flow_id"))
            check(off is not None and off["dest_ip"] == a["dest_ip"],
                  f"stripping alert {a['flow_id']} names another server's offer")

        # The same, each server on a port above its clients': a server's
        # sessions on several workers (each stripped session's check waits
        # for the offer in another's); then without the handshakes: each
        # flow's server is the lower port's side until a probe swaps it.
        for name, nohs in (("servers on high ports", False),
                           ("servers on high ports, mid-connection", True)):
            high = os.path.join(tmp, "strip60high%d.pcap" % nohs)
            make_copies(os.path.join(REPO, "pcaps/starttls/starttls-stripping.pcap"), high, 60,
                        2 * 10**6, HIGH, nohs)
            st = {}
            hb = compare("60 overlapping stripping copies, " + name, ["-r", high], st)
            n = sum(1 for e in hb if e["event_type"] == "alert"
                    and "stripp" in e["alert"]["signature"].lower())
            check(n == 180, f"{name}: {n} stripping alerts, expected 180")
            swapped = st.get("tcp.direction_swapped")
            check(swapped == (540 if nohs else 0), f"{name}: {swapped} flows swapped")

        srcs = [os.path.join(REPO, "pcaps/starttls/starttls-stripping.pcap")]
        sdir = os.path.join(REPO, "pcaps/stripping")
        srcs += [os.path.join(sdir, f) for f in sorted(os.listdir(sdir))
                 if f.startswith(("smtp", "imap", "pop3")) and f.endswith(".pcap")]
        for seed in (32, 8, 11):
            lossy = os.path.join(tmp, f"lossy{seed}.pcap")
            make_lossy(lossy, srcs, 150, seed, 15 * 10**9, 0.05)
            compare(f"lossy copies to one server (seed {seed})", ["-r", lossy])
            compare(f"lossy copies to one server (seed {seed}), short timeouts",
                    ["--flow-timeout", "2", "--reasm-wait", "1", "-r", lossy])
            make_lossy(lossy, srcs, 150, seed, 15 * 10**9, 0.05, HIGH)
            compare(f"lossy copies to one server on high ports (seed {seed})", ["-r", lossy])
            compare(f"lossy copies to one server on high ports (seed {seed}), short timeouts",
                    ["--flow-timeout", "2", "--reasm-wait", "1", "-r", lossy])
        # Time going back (a merge of two taps' files): the reader then
        # tells every worker every frame's time (app/engine.c, tell_time).
        # Which flows time out then depends on how they are split between
        # workers (each expires its own oldest first: README, "What may
        # differ"), so here every session has one server address and port,
        # hence one worker, and UDP datagrams carry the time between.
        lossy = os.path.join(tmp, "lossy-back.pcap")
        one = {p: 25 for p in (110, 143, 465, 993, 995)}
        make_lossy(lossy, srcs[:1], 150, 5, 15 * 10**9, 0.05, one, back_ns=4 * 10**9,
                   udp_ns=50 * 10**6)
        compare("lossy copies to one server port, time going back 4 s halfway, short timeouts",
                ["--flow-timeout", "2", "--reasm-wait", "1", "-r", lossy])
        cases = scapy_cases(tmp)
        if cases is None:
            check(os.environ.get("MS_REQUIRE_ALL") != "1", "scapy is missing (python3-scapy)")
            print("scapy missing: the review's two captures are not made")
        else:
            compare("a wait window ending at another host's frame", ["-r", cases[0]])
            compare("a flow timing out at the last frames",
                    ["--flow-timeout", "2", "-r", cases[1]])
        amsdu = os.path.join(tmp, "amsdu.pcap")
        amsdu_case(amsdu)
        base = compare("an offer and a stripped listing in one A-MSDU", ["-r", amsdu])
        alerts = sum(1 for e in base if e.get("event_type") == "alert")
        check(alerts == 1, f"A-MSDU: {alerts} stripping alerts with one thread, expected 1")
        for n in THREADS:  # it was a race: each run must have it
            missed = sum(1 for _ in range(25)
                         if sum(1 for e in run(["--threads", str(n), "-r", amsdu])[1]
                                if e.get("event_type") == "alert") != alerts)
            check(missed == 0, f"A-MSDU: --threads {n}: the stripping alert missing {missed} of 25 runs")
        piped_logins_arrive(tmp)

        mail = []
        for i, c in enumerate(("pop3/demo-userpass-retr.pcap", "imap/logins-fetch-append.pcap",
                               "chain/1-submit-smtp.pcap")):
            mail += ["-r", os.path.join(tmp, f"mail{i}.pcap")]
            make_copies(os.path.join(REPO, "pcaps", c), mail[-1], 40, 3 * 10**6)
        compare("40 overlapping copies of three mail recordings", mail)
        stats_count_every_record(tmp)
        runs = {}
        for n in (1,) + THREADS:
            x, ev = os.path.join(tmp, f"x{n}"), os.path.join(tmp, f"ev{n}")
            rc, _, err = run(["--threads", str(n), "--extract", x, "--extract-attachments",
                              "--evidence", ev] + mail)
            check(rc == 0, f"--extract/--evidence with --threads {n}: exit {rc}: {err[-300:]}")
            runs[n] = (tree(x) if os.path.isdir(x) else {}, tree(ev) if os.path.isdir(ev) else {})
        check(len(runs[1][0]) >= 120 and len(runs[1][1]) >= 120,
              f"the mail copies: {len(runs[1][0])} files extracted, {len(runs[1][1])} kept as evidence")
        for n in THREADS:
            check(runs[n][0] == runs[1][0], f"--extract files differ with --threads {n}")
            check(runs[n][1] == runs[1][1], f"--evidence files differ with --threads {n}")

    r = subprocess.run([BIN, "--threads", "0", "-r", caps[0]], capture_output=True)
    check(r.returncode == 2 and b"--threads" in r.stderr, "--threads 0 is not a usage error")
    r = subprocess.run([BIN, "--threads", "auto", "-r", caps[0]], capture_output=True)
    check(r.returncode == 0, "--threads auto failed")
    print(f"{len(caps)} captures, one run of all, 60 stripping copies: "
          f"{'FAILED' if failures else 'same events'} with --threads {THREADS}")
    return 1 if failures else 0


sys.exit(main())
