#!/usr/bin/python3
"""mailspill bound checks (make bench runs them after bench.py's table;
also bench.py --checks; not part of make test).

1. Flood: a capture of 1,000,000 half-open TCP connections (one SYN each),
   generated at run time into a temp dir under /tmp (about 70 MB, deleted
   afterwards). mailspill reads it with a configured flow cap; its peak RSS
   (getrusage of the child) must stay under the documented bound:
     a. --max-flows 65536 (the default)            -> under 64 MiB
     b. --max-flows 2000000 --flow-memcap 64m      -> under 128 MiB
        (the table may hold every flow, the memory cap ends the oldest)
2. Throughput: 2000 complete POP3 sessions, each a login and a 64 KiB
   message (about 140 MB), read from a file: MB/s of capture (wall clock
   and CPU time), and every login must be reported.
3. 100,000 tiny segments after a hole: one POP3 flow whose RETR reply is
   a first segment and then 100,000 one-byte segments, the first segment
   captured last, so that every one of them waits behind the hole (red-black
   tree of waiting segments: O(log n) each). Run within the wait window
   (--reasm-flow-cap 64m --reasm-wait-packets 200000); CPU seconds and peak
   RSS, and the message must come out whole (email event, right sha256).
   The same flow captured in order is the control.

Usage: checks.py MAILSPILL [--flows N] [--sessions N] [--tiny N]
Exit status 1 when a bound is exceeded, a login is missing or a message
is not whole.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "gen_pcap.py")
GEN_TINY = os.path.join(HERE, "gen_tinyseg.py")
MIB = 1024 * 1024


def run(cmd):
    """Runs cmd; returns (stdout, wall seconds, cpu seconds, peak RSS bytes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s exited %d: %s" % (cmd[0], p.returncode, p.stderr.decode(errors="replace")))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far (KiB on Linux);
    # the generator runs before and is much smaller than mailspill.
    return p.stdout, wall, cpu, after.ru_maxrss * 1024


def stats_of(out):
    for line in reversed(out.decode().splitlines()):
        ev = json.loads(line)
        if ev.get("event_type") == "stats":
            return ev["stats"]
    sys.exit("no stats event")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mailspill")
    ap.add_argument("--flows", type=int, default=1000000)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--tiny", type=int, default=100000)
    a = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="mailspill-bench.", dir="/tmp") as d:
        flood = os.path.join(d, "flood.pcap")
        subprocess.run(["/usr/bin/python3", GEN, "flood", flood, str(a.flows)], check=True)
        size = os.path.getsize(flood)
        print("flood capture: %d half-open flows, %.1f MB" % (a.flows, size / 1e6))
        for label, opts, bound in (
                ("--max-flows 65536", ["--max-flows", "65536"], 64 * MIB),
                ("--max-flows 2000000 --flow-memcap 64m",
                 ["--max-flows", "2000000", "--flow-memcap", "64m"], 128 * MIB)):
            # A fresh process per measurement: ru_maxrss of children only grows.
            cmd = ["/usr/bin/python3", __file__, "--measure-child", a.mailspill, "--stats"] + opts + \
                  ["-r", flood]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
            res = json.loads(p.stdout.decode().splitlines()[-1])
            st = res["stats"]
            verdict = "ok" if res["rss"] < bound else "OVER"
            ok &= res["rss"] < bound
            print("  %-40s peak RSS %6.1f MiB (bound %d MiB) %s; %.2f s, %.0f kpkt/s; "
                  "flows active peak %d, evicted %d (memcap %d), flow memuse peak %.1f MiB"
                  % (label, res["rss"] / MIB, bound // MIB, verdict, res["wall"],
                     st["decoder"]["pkts"] / res["wall"] / 1000, st["flow"]["active_peak"],
                     st["flow"]["evicted"], st["flow"]["evicted_memcap"],
                     st["flow"]["memuse_peak"] / MIB))
        os.unlink(flood)

        sess = os.path.join(d, "sessions.pcap")
        subprocess.run(["/usr/bin/python3", GEN, "sessions", sess, str(a.sessions), "64"], check=True)
        size = os.path.getsize(sess)
        out, wall, cpu, _ = run([a.mailspill, "--stats", "-r", sess])
        alerts = sum(1 for l in out.decode().splitlines() if '"event_type":"alert"' in l)
        emails = sum(1 for l in out.decode().splitlines() if '"event_type":"email"' in l)
        print("throughput: %d POP3 sessions with a 64 KiB message, %.1f MB: %.2f s wall, %.2f s CPU"
              " -> %.1f MB/s (wall), %.1f MB/s (CPU); %d alerts, %d emails"
              % (a.sessions, size / 1e6, wall, cpu, size / 1e6 / wall, size / 1e6 / cpu,
                 alerts, emails))
        if alerts != a.sessions or emails != a.sessions:
            print("  MISSING events: expected %d alerts and %d emails" % (a.sessions, a.sessions))
            ok = False
        os.unlink(sess)

        ok &= tiny_segments(a, d)
    return 0 if ok else 1


TINY_CAPS = ["--reasm-flow-cap", "64m", "--reasm-wait-packets", "200000"]


def tiny_segments(a, d):
    """Benchmark 3; True when the message came out whole both ways."""
    ok = True
    for label, extra in (("first segment last", []), ("in order (control)", ["inorder"])):
        path = os.path.join(d, "tiny.pcap")
        g = subprocess.run(["/usr/bin/python3", GEN_TINY, path, str(a.tiny)] + extra,
                           stdout=subprocess.PIPE, check=True)
        want_sha, want_size = g.stdout.decode().split()
        cmd = ["/usr/bin/python3", __file__, "--measure-child", a.mailspill] + TINY_CAPS + \
              ["-r", path]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
        res = json.loads(p.stdout.decode().splitlines()[-1])
        st = res["stats"]["tcp"]
        em = res["emails"]
        whole = (len(em) == 1 and em[0]["sha256"] == want_sha and
                 em[0]["size"] == int(want_size) and not em[0]["truncated"])
        ok &= whole
        print("tiny segments (%s): 1 POP3 flow, RETR reply = 1 segment + %d one-byte segments, "
              "%s: %.2f s CPU, %.2f s wall, peak RSS %.1f MiB, reassembly memuse peak %.1f MiB, "
              "gaps %d; email %s"
              % (label, a.tiny, " ".join(TINY_CAPS), res["cpu"], res["wall"], res["rss"] / MIB,
                 st["reassembly_memuse_peak"] / MIB, st["reassembly_gap"],
                 "whole (sha256 ok)" if whole else "NOT WHOLE: %s" % json.dumps(em)))
        os.unlink(path)
    return ok


def emails_of(out):
    """sha256, size and truncated of every email event."""
    res = []
    for line in out.decode().splitlines():
        if '"event_type":"email"' in line:
            e = json.loads(line)["email"]
            res.append({"sha256": e.get("sha256"), "size": e.get("size"),
                        "truncated": e.get("truncated")})
    return res


def measure_child(argv):
    out, wall, cpu, rss = run(argv)
    print(json.dumps({"rss": rss, "wall": wall, "cpu": cpu, "stats": stats_of(out),
                      "emails": emails_of(out)}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-child":
        sys.exit(measure_child(sys.argv[2:]))
    sys.exit(main())
