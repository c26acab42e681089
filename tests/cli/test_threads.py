#!/usr/bin/python3
"""--threads N gives the events of --threads 1 (README "Threads").

For every capture of pcaps/ (each within the default caps), and for runs
that put many connections in flight at once, mailspill with 2 and 3
worker threads must write the same events as with one: compared as
multisets of whole JSON events (every key, pcap_cnt and pcap_filename
included), and, for each flow_id, the same events in the same order. The
stats events must agree on every counter that is not a per-worker gauge.

The runs with many connections in flight:
- every capture of pcaps/ read in one run (repeated -r: flows go on from
  one file to the next; pcap_filename must name each event's own file);
- a capture made here of 60 copies of pcaps/starttls/starttls-stripping
  (a real client and dovecot/postfix, sessions through a stripping proxy),
  each copy with its own client and server addresses, started 2 ms apart so
  that they overlap: each copy's STARTTLS offer and the stripped session
  that follows it are different connections, mostly on different workers,
  and the 180 stripping alerts must all be there, each naming its own
  copy's offering flow, as with one thread;
- 40 overlapping copies each of three recordings with messages (POP3 with
  an attachment, IMAP, SMTP), read as three files in one run, also with
  --extract, --extract-attachments and --evidence: the same files, byte for
  byte, with the same names.
"""
import collections
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

BIN, REPO = sys.argv[1], sys.argv[2]
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


def compare(name, args):
    rc1, ev1, err1 = run(["--threads", "1"] + args)
    check(rc1 == 0, f"{name}: --threads 1 exit {rc1}: {err1[-300:]}")
    base = [e for e in ev1 if e["event_type"] != "stats"]
    stats1 = dict(flat(next(e for e in ev1 if e["event_type"] == "stats")["stats"]))
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


def readdress(frame, amap):
    """An Ethernet/IPv4 frame with its addresses mapped and checksums redone."""
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
        seg[16:18] = b"\0\0"
        pseudo = bytes(f[26:34]) + struct.pack("!BBH", 0, 6, len(seg))
        seg[16:18] = struct.pack("!H", csum(pseudo + bytes(seg)))
        f[14 + ihl:14 + total] = seg
    return bytes(f)


def make_copies(src, dst, copies, step_ns):
    data = open(src, "rb").read()
    head, recs, off = data[:24], [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append((sec * 10**9 + frac, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    addrs = sorted({f[o:o + 4] for _, f, _ in recs if len(f) >= 34 and f[12:14] == b"\x08\x00"
                    for o in (26, 30)})
    out = []
    for k in range(copies):
        amap = {a: bytes([10, 60 + i, k // 250, k % 250 + 1]) for i, a in enumerate(addrs)}
        for t, frame, orig in recs:
            out.append((t + k * step_ns, k, readdress(frame, amap), orig))
    out.sort(key=lambda r: (r[0], r[1]))
    with open(dst, "wb") as fp:
        fp.write(head)
        for t, _, frame, orig in out:
            fp.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), orig) + frame)


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
    for c in caps:
        compare(os.path.relpath(c, REPO), ["-r", c])
    allr = []
    for c in caps:
        allr += ["-r", c]
    compare("every capture in one run", allr)

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

        mail = []
        for i, c in enumerate(("pop3/demo-userpass-retr.pcap", "imap/logins-fetch-append.pcap",
                               "chain/1-submit-smtp.pcap")):
            mail += ["-r", os.path.join(tmp, f"mail{i}.pcap")]
            make_copies(os.path.join(REPO, "pcaps", c), mail[-1], 40, 3 * 10**6)
        compare("40 overlapping copies of three mail recordings", mail)
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
