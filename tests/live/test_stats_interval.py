#!/usr/bin/python3
"""--stats-interval SECONDS in live capture (README "Repeats, periodic
stats, evidence"): on one end of a veth pair inside a network namespace of
its own, while the other end (in a second namespace) sends it 20 UDP
datagrams, mailspill -i --stats-interval 1 must write at least K stats
events in K seconds (K = 3, measured from the moment its capture socket
exists, plus 0.6 s of slack for a loaded machine), one per second
(consecutive timestamps 0.5 to 1.9 s apart, no burst), each with the kernel
counters capture.kernel_packets, kernel_drops and kernel_ifdrops,
cumulative (never decreasing), and the datagrams counted by the end. With
-r the option is a usage error (exit 2).

  tests/live/test_stats_interval.py MAILSPILL

Exit 77 (ctest SKIP) when not root or when namespaces are not allowed,
exit 1 in those cases with MS_REQUIRE_ALL=1 (CI)."""
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from livelib import capture_ready  # noqa: E402

K = 3
BIN = os.path.abspath(sys.argv[1])
NS = f"ms-int-{os.getpid()}"
VA, VB = f"msia{os.getpid() % 100000}", f"msib{os.getpid() % 100000}"
failures = []
SENDER = ("import socket, time\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          "for i in range(20):\n"
          "    s.sendto(b'x', ('10.77.0.1', 9))\n"
          "    time.sleep(0.1)\n")


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def skip(msg):
    if failures:
        print(f"{len(failures)} failures before the live part ({msg})")
        sys.exit(1)
    if os.environ.get("MS_REQUIRE_ALL") == "1":
        print(f"FAIL: would skip ({msg}), and MS_REQUIRE_ALL=1 forbids skipping")
        sys.exit(1)
    print("SKIP:", msg)
    sys.exit(77)



def stats_events(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [e for e in (json.loads(l) for l in f if l.strip())
                    if e["event_type"] == "stats"]
    except FileNotFoundError:
        return []


def ts(e):
    return datetime.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def test_files_refused():
    r = subprocess.run([BIN, "--stats-interval", "1", "-r", "/dev/null"], capture_output=True,
                       timeout=30)
    if r.returncode != 2 or b"--stats-interval is for live capture" not in r.stderr:
        fail(f"-r with --stats-interval: exit {r.returncode} {r.stderr!r}")
    for bad in ("0", "x", "86401"):
        r = subprocess.run([BIN, "--stats-interval", bad, "-i", "lo"], capture_output=True,
                           timeout=30)
        if r.returncode != 2:
            fail(f"--stats-interval {bad}: exit {r.returncode}")


def live(tmp):
    out = os.path.join(tmp, "events.json")
    err_path = os.path.join(tmp, "mailspill.err")
    with open(err_path, "wb") as err:
        p = subprocess.Popen(["ip", "netns", "exec", NS, BIN, "-i", VA, "-o", out,
                              "--stats-interval", "1"], stderr=err)
    sender = None
    try:
        t0 = time.monotonic()
        while not capture_ready(p.pid) and p.poll() is None and time.monotonic() - t0 < 30:
            time.sleep(0.002)
        if p.poll() is not None or not capture_ready(p.pid):
            fail(f"mailspill not capturing (exit {p.poll()}): {open(err_path).read()!r}")
            return
        t0 = time.monotonic()
        # 20 UDP datagrams, one every 0.1 s, from the other namespace.
        sender = subprocess.Popen(["ip", "netns", "exec", NS + "-b", sys.executable, "-c", SENDER])
        time.sleep(K + 0.6 - (time.monotonic() - t0))
        evs = stats_events(out)
        print(f"{len(evs)} interval stats events in {time.monotonic() - t0:.2f} s")
        if len(evs) < K:
            fail(f"{len(evs)} stats events in {K + 0.6} s, expected at least {K}")
        if len(evs) > K + 1:
            fail(f"{len(evs)} stats events in {K + 0.6} s: a burst")
        for a, b in zip(evs, evs[1:]):
            if not 0.5 <= ts(b) - ts(a) <= 1.9:
                fail(f"stats events {ts(b) - ts(a):.3f} s apart")
        sender.wait(timeout=10)
        p.send_signal(signal.SIGTERM)
        if p.wait(timeout=10) != 0:
            fail(f"exit {p.returncode}: {open(err_path).read()!r}")
        evs = stats_events(out)
        prev = 0
        for e in evs:
            cap = e["stats"].get("capture")
            if not cap or set(cap) != {"kernel_packets", "kernel_drops", "kernel_ifdrops",
                                       "worker_drops"}:
                fail(f"stats.capture {cap}")
                continue
            if cap["kernel_packets"] < prev:
                fail(f"kernel_packets went down: {prev} -> {cap['kernel_packets']}")
            prev = cap["kernel_packets"]
        # 20 datagrams crossed the veth (and ARP, ICMP replies).
        if prev < 20:
            fail(f"kernel_packets {prev} at the end, expected at least 20")
        if evs and evs[-1]["stats"]["decoder"]["pkts"] < 20:
            fail(f"decoder.pkts {evs[-1]['stats']['decoder']['pkts']}")
    finally:
        for proc in (sender, p):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()


def main():
    test_files_refused()
    if os.geteuid() != 0:
        skip("live part needs root (network namespace, capture)")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("network namespaces are not allowed here (ip netns add failed)")
    try:
        for cmd in (["ip", "-n", NS, "link", "add", VA, "type", "veth", "peer", "name", VB],
                    ["ip", "-n", NS, "addr", "add", "10.77.0.1/24", "dev", VA],
                    ["ip", "-n", NS, "link", "set", VA, "up"],
                    ["ip", "-n", NS, "link", "set", VB, "up"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
        # The datagrams come from VB, in a second namespace, so they cross the veth.
        for cmd in (["ip", "netns", "add", NS + "-b"],
                    ["ip", "-n", NS, "link", "set", VB, "netns", NS + "-b"],
                    ["ip", "-n", NS + "-b", "addr", "add", "10.77.0.2/24", "dev", VB],
                    ["ip", "-n", NS + "-b", "link", "set", VB, "up"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
        with tempfile.TemporaryDirectory(prefix="mailspill-int.") as tmp:
            live(tmp)
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS + "-b"], capture_output=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("stats-interval: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
