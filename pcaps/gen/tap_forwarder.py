#!/usr/bin/python3
"""A userspace L2 bridge that also plays a tap aggregator, for
pcaps/gen/tap_capture.sh (root; run inside the namespace that holds the two
interfaces; python3 standard library only).

    tap_forwarder.py --iface-a IF --iface-b IF --out FILE.pcap
                     [--seed N] [--profile walk|burst] [--max-delay-ms 25]
                     [--name-a client --name-b server] [--capture-all]
                     [--stats FILE.json] [--ready FILE]

Bridge: one AF_PACKET raw socket (ETH_P_ALL) per interface. Every frame that
arrives on one interface (not PACKET_OUTGOING: those are the ones this
program sent) is sent out of the other one at once, so the two hosts talk
as over a cable and TCP never waits for the capture.

Tap aggregator: each forwarded frame is also handed to the capture queue of
its direction ("port" A->B or B->A, as a tap has one port per direction).
Each queue keeps its frames in order (FIFO) and releases each one after a
hold time that varies over time and is independent from the other queue's,
like the separately buffered ports of an aggregator: a frame's release time
is max(arrival + hold(arrival), release of the frame before it in the same
queue). A writer thread merges the two queues' releases and writes a classic
pcap (DLT_EN10MB, microsecond timestamps = release time, snaplen 65535) in
release order. So the capture keeps the order within each direction but not
across them: a reply is often recorded before the request it answers, an
ACK before the data it acknowledges.

Hold-time model: a per-queue schedule of 4 ms steps drawn from a seeded
random generator (random.Random("SEED/a") and ("SEED/b")): the pattern is
the same on every run with the same seed and profile; where the traffic
falls on it depends on timing.
  walk   a reflected random walk in [0, max] (steps of N(0, 0.15 max)) with
         occasional stalls (3% of steps start 2-6 steps at 60-100% of max)
  burst  a near-idle port (0-8% of max) with frequent stalls (7% of steps
         start 1-8 steps at 40-100% of max)

By default only IPv4 TCP frames are captured (as tcpdump's "tcp" filter);
everything is forwarded. --capture-all captures every frame.

Stops on SIGTERM or SIGINT: stops forwarding, writes every queued frame (in
release order, with its scheduled release time) and prints its counters:
frames per direction, and the cross-direction inversions -- pairs of frames
of opposite directions written in the opposite order of forwarding (frame F
written before a frame G of the other direction that had been forwarded
before F). --stats writes the counters as JSON.
"""
import argparse
import collections
import errno
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SNAPLEN = 65535
BATCH = 64                  # frames taken from one socket before looking at the other

PROFILES = {
    #          base walk?  base range   step sd   stall p  stall steps  stall level
    "walk":  dict(walk=True, lo=0.0, hi=1.0, sd=0.15, p=0.03, n=(2, 6), lvl=(0.6, 1.0)),
    "burst": dict(walk=False, lo=0.0, hi=0.08, sd=0.0, p=0.07, n=(1, 8), lvl=(0.4, 1.0)),
}


class HoldSchedule:
    """Hold time (seconds) of one capture queue as a function of the time
    since the start: piecewise constant over STEP, extended on demand from
    its own seeded generator, so the pattern depends only on seed/profile."""
    STEP = 0.004

    def __init__(self, seed, name, profile, max_s):
        self.rng = random.Random("%s/%s" % (seed, name))
        self.p = PROFILES[profile]
        self.max = max_s
        self.steps = []
        self.base = self.rng.uniform(self.p["lo"], self.p["hi"]) * max_s
        self.stall_left = 0
        self.stall_level = 0.0

    def _next(self):
        p, rng, mx = self.p, self.rng, self.max
        if p["walk"]:
            self.base += rng.gauss(0.0, p["sd"] * mx)
            while self.base < 0 or self.base > mx:      # reflect into [0, max]
                self.base = -self.base if self.base < 0 else 2 * mx - self.base
        else:
            self.base = rng.uniform(p["lo"], p["hi"]) * mx
        if self.stall_left == 0 and rng.random() < p["p"]:
            self.stall_left = rng.randint(*p["n"])
            self.stall_level = rng.uniform(*p["lvl"]) * mx
        if self.stall_left:
            self.stall_left -= 1
            return max(self.base, self.stall_level)
        return self.base

    def at(self, t):
        i = max(0, int(t / self.STEP))
        while len(self.steps) <= i:
            self.steps.append(self._next())
        return self.steps[i]


def tcp_info(frame):
    """(captured by the default filter, TCP payload length) of an Ethernet frame."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return False, 0
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[0] >> 4 != 4 or ip[9] != 6 or len(ip) < ihl + 20:
        return False, 0
    total = struct.unpack("!H", ip[2:4])[0]
    doff = (ip[ihl + 12] >> 4) * 4
    return True, max(0, total - ihl - doff)


class Item:
    __slots__ = ("seq", "fwd", "rel", "frame", "payload")

    def __init__(self, seq, fwd, rel, frame, payload):
        self.seq, self.fwd, self.rel, self.frame, self.payload = seq, fwd, rel, frame, payload


class Aggregator:
    """The two FIFO capture queues and the writer thread that merges them."""

    def __init__(self, path, wall0, mono0):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))
        self.wall0, self.mono0 = wall0, mono0
        self.cond = threading.Condition()
        self.queues = (collections.deque(), collections.deque())
        self.stopping = False
        self.last_ts = 0.0
        self.written = [0, 0]
        self.pairs = 0              # (F, G) opposite directions, G forwarded first, F written first
        self.pairs_payload = 0      # ... both carrying TCP payload
        self.early = [0, 0]         # frames written ahead of >= 1 such G, per direction
        self.early_payload = [0, 0]
        self.max_depth = [0, 0]
        self.hold_sum = [0.0, 0.0]
        self.hold_max = [0.0, 0.0]
        self.thread = threading.Thread(target=self._run, name="pcap-writer", daemon=True)
        self.thread.start()

    def put(self, d, item):
        with self.cond:
            q = self.queues[d]
            q.append(item)
            if len(q) > self.max_depth[d]:
                self.max_depth[d] = len(q)
            if len(q) == 1:
                self.cond.notify()

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.thread.join()
        self.f.close()

    def _take(self):
        """Waits for the next release; returns (direction, item, inversions,
        payload inversions), or None once stopping with empty queues."""
        with self.cond:
            while True:
                heads = [(q[0].rel, q[0].seq, d) for d, q in enumerate(self.queues) if q]
                if not heads:
                    if self.stopping:
                        return None
                    self.cond.wait()
                    continue
                rel, _, d = min(heads)
                now = time.monotonic()
                if rel > now and not self.stopping:
                    self.cond.wait(rel - now)
                    continue
                item = self.queues[d].popleft()
                inv = inv_pl = 0
                for o in self.queues[1 - d]:        # in forwarding order
                    if o.seq > item.seq:
                        break
                    inv += 1
                    if o.payload and item.payload:
                        inv_pl += 1
                return d, item, inv, inv_pl

    def _run(self):
        while True:
            got = self._take()
            if got is None:
                self.f.flush()
                return
            d, item, inv, inv_pl = got
            self.written[d] += 1
            self.pairs += inv
            self.pairs_payload += inv_pl
            if inv:
                self.early[d] += 1
            if inv_pl:
                self.early_payload[d] += 1
            hold = item.rel - item.fwd
            self.hold_sum[d] += hold
            self.hold_max[d] = max(self.hold_max[d], hold)
            ts = max(self.wall0 + (item.rel - self.mono0), self.last_ts)
            self.last_ts = ts
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            cap = item.frame[:SNAPLEN]
            self.f.write(struct.pack("<IIII", sec, usec, len(cap), len(item.frame)))
            self.f.write(cap)


def open_socket(ifname):
    # Protocol 0 until bound: no frame of another interface gets queued.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    for opt, fallback in ((SO_RCVBUFFORCE, socket.SO_RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF)):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 16 << 20)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, fallback, 16 << 20)
    s.bind((ifname, ETH_P_ALL))
    return s


def kernel_drops(s):
    try:
        _, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        return drops
    except OSError:
        return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iface-a", required=True)
    ap.add_argument("--iface-b", required=True)
    ap.add_argument("--name-a", default="A")
    ap.add_argument("--name-b", default="B")
    ap.add_argument("--out", required=True, help="the pcap to write")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="walk")
    ap.add_argument("--max-delay-ms", type=float, default=25.0)
    ap.add_argument("--capture-all", action="store_true",
                    help="capture every frame, not only IPv4 TCP")
    ap.add_argument("--stats", help="write the counters here as JSON")
    ap.add_argument("--ready", help="create this file once both sockets are bound")
    args = ap.parse_args()

    socks = (open_socket(args.iface_a), open_socket(args.iface_b))
    names = ("%s->%s" % (args.name_a, args.name_b), "%s->%s" % (args.name_b, args.name_a))
    sched = tuple(HoldSchedule(args.seed, n, args.profile, args.max_delay_ms / 1000.0)
                  for n in ("a", "b"))
    mono0, wall0 = time.monotonic(), time.time()
    agg = Aggregator(args.out, wall0, mono0)

    stop = [False]
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def on_signal(signum, _frame):
        stop[0] = True
        try:
            os.write(wake_w, b"x")
        except OSError:
            pass
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    forwarded, captured, fwd_bytes = [0, 0], [0, 0], [0, 0]
    own = [0, 0]                # PACKET_OUTGOING seen (should be none: not looped back)
    truncated = send_errors = 0
    last_rel = [0.0, 0.0]
    seq = 0
    buf = bytearray(SNAPLEN + 1)
    poller = select.poll()
    fds = {}
    for d, s in enumerate(socks):
        s.setblocking(True)     # sends block if need be; receives use MSG_DONTWAIT
        poller.register(s.fileno(), select.POLLIN)
        fds[s.fileno()] = d
    poller.register(wake_r, select.POLLIN)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())

    while not stop[0]:
        ready = poller.poll(500)
        for fd, _ in ready:
            if fd == wake_r:
                continue
            d = fds[fd]
            rx, tx = socks[d], socks[1 - d]
            for _ in range(BATCH):
                try:
                    n, addr = rx.recvfrom_into(buf, len(buf), socket.MSG_DONTWAIT | socket.MSG_TRUNC)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    own[d] += 1
                    continue
                t = time.monotonic()
                if n > len(buf):
                    truncated += 1      # never forward or record a cut frame
                    continue
                frame = bytes(buf[:n])
                for attempt in range(200):
                    try:
                        tx.send(frame)
                        break
                    except OSError as e:
                        if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                            raise
                        time.sleep(0.0002)
                else:
                    send_errors += 1
                    continue
                seq += 1
                forwarded[d] += 1
                fwd_bytes[d] += n
                cap, payload = tcp_info(frame)
                if not (cap or args.capture_all):
                    continue
                captured[d] += 1
                rel = max(t + sched[d].at(t - mono0), last_rel[d])
                last_rel[d] = rel
                agg.put(d, Item(seq, t, rel, frame, payload))

    agg.stop()
    drops = [kernel_drops(s) for s in socks]
    for s in socks:
        s.close()
    stats = {
        "seed": args.seed, "profile": args.profile, "max_delay_ms": args.max_delay_ms,
        "directions": {
            names[d]: {"forwarded": forwarded[d], "bytes": fwd_bytes[d], "captured": captured[d],
                       "written": agg.written[d], "written_early": agg.early[d],
                       "written_early_payload": agg.early_payload[d],
                       "max_queue": agg.max_depth[d],
                       "mean_hold_ms": round(1000 * agg.hold_sum[d] / max(1, agg.written[d]), 3),
                       "max_hold_ms": round(1000 * agg.hold_max[d], 3),
                       "kernel_drops": drops[d], "own_frames_ignored": own[d]}
            for d in (0, 1)},
        "cross_direction_inversions": agg.pairs,
        "cross_direction_inversions_payload": agg.pairs_payload,
        "frames_written_early": sum(agg.early),
        "truncated_receives": truncated,
        "send_errors": send_errors,
    }
    p = "tap_forwarder:"
    for d in (0, 1):
        s = stats["directions"][names[d]]
        print("%s %s: %d frames forwarded (%d bytes), %d captured, %d written ahead of an "
              "earlier frame of the other direction (%d of them with payload); hold mean %.1f ms, "
              "max %.1f ms; queue max %d; kernel drops %d"
              % (p, names[d], s["forwarded"], s["bytes"], s["captured"], s["written_early"],
                 s["written_early_payload"], s["mean_hold_ms"], s["max_hold_ms"], s["max_queue"],
                 s["kernel_drops"]))
    print("%s cross-direction inversions: %d (frame pairs written in the opposite order of "
          "forwarding; %d with payload on both sides); seed %s, profile %s, max %.0f ms"
          % (p, agg.pairs, agg.pairs_payload, args.seed, args.profile, args.max_delay_ms))
    if truncated or send_errors:
        print("%s %d truncated receives, %d frames not forwarded" % (p, truncated, send_errors))
    sys.stdout.flush()
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as f:
            json.dump(stats, f, indent=1)
    return 1 if truncated or send_errors or any(x > 0 for x in drops) else 0


if __name__ == "__main__":
    sys.exit(main())
