#!/usr/bin/python3
"""Signals are acted on promptly (README, Usage: "Each is acted on within
250 ms" in live capture), measured from kill() to the effect:

- SIGUSR1: a stats event appears in the -o file;
- SIGHUP: after the file was moved away (logrotate), the -o file is
  created again at its path; the next event goes to it;
- SIGTERM and SIGINT: the process exits 0, with its final stats event.

The bound checked is LIMIT_S (1.5 s): generous for a loaded machine and the
sanitizer build, and still far below a regression to a 3 s wait.

Live capture runs on one end of a veth pair inside a network namespace of
its own (no traffic at all: the quiet link is the worst case, the loop only
wakes up on the capture timeout). Reading standard input (-r -) is also
checked for SIGTERM: a blocked read must return (main.c installs the stop
signals without SA_RESTART); the README promises nothing there for SIGHUP
and SIGUSR1, which wait for the next packet. So is a stop during a
--realtime replay (SIGINT stops it at once, README): of a file, no frame
after the stop is read (a review found 63 more read once signals were
looked at every 64 frames of a file); of a pipe held open, the stop during
the wait for the next frame's time ends the run (it hung until the pipe
closed).

  tests/live/test_signals.py MAILSPILL

Exit 77 (ctest SKIP) when not root or when namespaces are not allowed,
exit 1 in those cases with MS_REQUIRE_ALL=1 (CI)."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

from livelib import capture_ready  # noqa: E402

LIMIT_S = 1.5
ROUNDS = 3
BIN = os.path.abspath(sys.argv[1])
NS = f"ms-sig-{os.getpid()}"            # unique: build and build-san may run at once
VA, VB = f"mssa{os.getpid() % 100000}", f"mssb{os.getpid() % 100000}"
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def skip(msg):
    if failures:                 # what did run failed: no skip hides it
        print(f"{len(failures)} failures before the live part ({msg})")
        sys.exit(1)
    if os.environ.get("MS_REQUIRE_ALL") == "1":
        print(f"FAIL: would skip ({msg}), and MS_REQUIRE_ALL=1 forbids skipping")
        sys.exit(1)
    print("SKIP:", msg)
    sys.exit(77)


def wait_for(cond, limit):
    """Polls cond every 2 ms; returns the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.002)
    return None


def stats_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return sum(1 for l in f if l.strip() and json.loads(l)["event_type"] == "stats")
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def timed(name, send, effect, limit=LIMIT_S):
    """Sends a signal and measures the time to its effect."""
    t0 = time.monotonic()
    send()
    took = wait_for(effect, 3 * limit)
    if took is None:
        fail(f"{name}: no effect within {3 * limit:.1f} s")
    else:
        took = time.monotonic() - t0
        print(f"{name}: {took * 1000:.0f} ms")
        if took > limit:
            fail(f"{name}: took {took:.3f} s (limit {limit} s)")


def test_stdin_term():
    """SIGTERM while mailspill blocks reading a pipe that stays open."""
    p = subprocess.Popen([BIN, "-r", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(frames(0, 1))  # the file header alone
        p.stdin.flush()
        time.sleep(0.5)          # past start-up, blocked in read()
        if p.poll() is not None:
            fail(f"-r -: exited early ({p.returncode}): {p.stderr.read()!r}")
            return
        timed("-r - SIGTERM -> exit", lambda: p.send_signal(signal.SIGTERM),
              lambda: p.poll() is not None)
        out, err = p.communicate(timeout=10)
        if p.returncode != 0:
            fail(f"-r - SIGTERM: exit {p.returncode}: {err!r}")
        elif b'"event_type":"stats"' not in out:
            fail("-r - SIGTERM: no final stats event")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()



def frames(n, step_s):
    """A pcap header and n 60-byte frames step_s seconds apart."""
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i in range(n):
        out += struct.pack("<IIII", 1700000000 + i * step_s, 0, 60, 60) + bytes(60)
    return out


def final_pkts(out):
    for line in reversed(out.decode().splitlines()):
        e = json.loads(line)
        if e["event_type"] == "stats":
            return e["stats"]["decoder"]["pkts"]
    return None


def test_realtime_int(tmp):
    """SIGINT during a --realtime replay of a file: no frame after it."""
    path = os.path.join(tmp, "slow.pcap")
    with open(path, "wb") as f:
        f.write(frames(200, 1))
    p = subprocess.Popen([BIN, "--realtime", "-r", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        time.sleep(1.2)          # the second frame read, waiting for the third's time
        timed("--realtime SIGINT -> exit", lambda: p.send_signal(signal.SIGINT),
              lambda: p.poll() is not None)
        out, err = p.communicate(timeout=10)
        n = final_pkts(out)
        if p.returncode != 0 or n is None:
            fail(f"--realtime SIGINT: exit {p.returncode}, stats {n}: {err!r}")
        elif n > 3:
            fail(f"--realtime SIGINT after 1.2 s: {n} frames read (at most 3)")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_stdin_realtime_term():
    """SIGTERM during a --realtime replay from a pipe that stays open."""
    p = subprocess.Popen([BIN, "--realtime", "-r", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(frames(2, 10))
        p.stdin.flush()
        time.sleep(0.5)          # waiting for the second frame's time
        timed("--realtime -r - SIGTERM -> exit", lambda: p.send_signal(signal.SIGTERM),
              lambda: p.poll() is not None)
        if p.poll() is None:
            p.kill()
        out, err = p.communicate(timeout=10)
        if p.returncode != 0:
            fail(f"--realtime -r - SIGTERM: exit {p.returncode}: {err!r}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def live(tmp, stop_sig):
    out = os.path.join(tmp, f"events-{stop_sig.name}.json")
    err_path = os.path.join(tmp, "mailspill.err")
    with open(err_path, "wb") as err:
        p = subprocess.Popen(["ip", "netns", "exec", NS, BIN, "-i", VA, "-o", out, "tcp"],
                             stderr=err)
    try:
        if wait_for(lambda: capture_ready(p.pid) or p.poll() is not None, 30) is None \
                or p.poll() is not None:
            fail(f"live: mailspill not capturing (exit {p.poll()}): {open(err_path).read()!r}")
            return
        # ip netns exec execs the binary: p.pid is mailspill itself.
        for i in range(ROUNDS):
            n = stats_lines(out)
            timed(f"live SIGUSR1 -> stats event ({i + 1})", lambda: p.send_signal(signal.SIGUSR1),
                  lambda: stats_lines(out) > n)
            rotated = f"{out}.{i + 1}"
            os.rename(out, rotated)
            timed(f"live SIGHUP -> {os.path.basename(out)} reopened ({i + 1})",
                  lambda: p.send_signal(signal.SIGHUP), lambda: os.path.exists(out))
            if p.poll() is not None:
                fail(f"live: mailspill died ({p.returncode})")
                return
        timed(f"live {stop_sig.name} -> exit", lambda: p.send_signal(stop_sig),
              lambda: p.poll() is not None)
        rc = p.wait(timeout=10)
        if rc != 0:
            fail(f"live {stop_sig.name}: exit {rc}: {open(err_path).read()!r}")
        # The final stats event went to the reopened file.
        if stats_lines(out) != 1:
            fail(f"live {stop_sig.name}: {stats_lines(out)} stats events in the reopened file, "
                 "expected the final one")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    test_stdin_term()
    test_stdin_realtime_term()
    with tempfile.TemporaryDirectory(prefix="mailspill-sig.") as tmp:
        test_realtime_int(tmp)
    if os.geteuid() != 0:
        skip("live part needs root (network namespace, capture)")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("network namespaces are not allowed here (ip netns add failed)")
    try:
        for cmd in (["ip", "-n", NS, "link", "add", VA, "type", "veth", "peer", "name", VB],
                    ["ip", "-n", NS, "link", "set", VA, "up"],
                    ["ip", "-n", NS, "link", "set", VB, "up"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
        with tempfile.TemporaryDirectory(prefix="mailspill-sig.") as tmp:
            live(tmp, signal.SIGTERM)
            live(tmp, signal.SIGINT)
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("signals acted on in time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
