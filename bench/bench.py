#!/usr/bin/python3
"""mailspill benchmarks (make bench; not part of make test).

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

Usage: bench.py MAILSPILL [--flows N] [--sessions N]
Exit status 1 when a bound is exceeded or a login is missing.
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
    return 0 if ok else 1


def measure_child(argv):
    out, wall, cpu, rss = run(argv)
    print(json.dumps({"rss": rss, "wall": wall, "cpu": cpu, "stats": stats_of(out)}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-child":
        sys.exit(measure_child(sys.argv[2:]))
    sys.exit(main())
