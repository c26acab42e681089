#!/usr/bin/python3
"""Re-records committed real-server captures the way a tap aggregator with
two separately buffered ports would have recorded them, and writes the
regression captures in pcaps/stream/reordered-*.pcap that found bugs in the
stream engine (each is one connection of its source capture).

Each direction (client side, server side) goes through its own FIFO queue
whose hold time wanders (a seeded random walk, 0..MAX_DELAY); frames are
written in release order. Order within a direction is kept, order across
them is not. Nothing is dropped, so every event of the source's expected
file for that connection is expected again, unchanged, plus what this
script knows itself: the connection's client port (it keeps the connection
by that port) and the alert object of each login (gencommon.with_alert,
from the README's table). Each re-recorded capture is checked to still show
the ordering it was made for (a regenerated source has other timing: then
look for another seed with --one).

Usage: tap_reorder.py [OUTDIR]      (default pcaps/stream next to this script)
       tap_reorder.py --one SRC DST SEED MAX_DELAY   (any capture, for exploring)
Nothing is sent on any network: packets are only read and written."""
import json
import os
import random
import sys

from scapy.all import TCP, rdpcap, wrpcap  # noqa: E402
import gencommon  # noqa: E402  (same directory)

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..")

F_FIN, F_SYN, F_RST, F_ACK = 0x01, 0x02, 0x04, 0x10


def is_client(p, port):
    return p[TCP].sport == port


def first(pkts, test):
    return next((i for i, p in enumerate(pkts) if test(p)), None)


def before(a, b):
    """Packet index a comes before b (both found)."""
    return a is not None and b is not None and a < b


def synack_data_first(pkts, port):
    """The server's SYN-ACK and more than 16 of its data packets before the
    client's SYN."""
    syn = first(pkts, lambda p: is_client(p, port) and p[TCP].flags & F_SYN)
    synack = first(pkts, lambda p: not is_client(p, port) and p[TCP].flags & F_SYN)
    if not before(synack, syn):
        return False
    return sum(1 for p in pkts[:syn] if not is_client(p, port) and len(p[TCP].payload)) > 16


def fin_before_syn(pkts, port):
    """The server's FIN before the client's SYN."""
    return before(first(pkts, lambda p: not is_client(p, port) and p[TCP].flags & F_FIN),
                  first(pkts, lambda p: is_client(p, port) and p[TCP].flags & F_SYN))


def command_first(pkts, port):
    """The client's first data before the server's first (the banner)."""
    return before(first(pkts, lambda p: is_client(p, port) and len(p[TCP].payload)),
                  first(pkts, lambda p: not is_client(p, port) and len(p[TCP].payload)))


def rst_before_acked_data(pkts, port):
    """The client's RST before a server data packet that it acknowledges."""
    rst = first(pkts, lambda p: is_client(p, port) and p[TCP].flags & F_RST)
    if rst is None or not pkts[rst][TCP].flags & F_ACK:
        return False
    ack = pkts[rst][TCP].ack
    return any(not is_client(p, port) and len(p[TCP].payload)
               and ((ack - p[TCP].seq - len(p[TCP].payload)) & 0xffffffff) < 0x80000000
               for p in pkts[rst + 1:])


# name: (source capture, client port kept, seed, max hold in seconds, what it
# found, the ordering it must show, the 1-based line numbers of the source's
# expected file that belong to that connection when they have no src_port
# (a line with src_port belongs when it is the port), stats the run must show)
CASES = {
    "reordered-synack-data-first": (
        "stream/tap-aggregator.pcap", 41009, 25, 0.05,
        "the server's SYN-ACK and 16+ data packets recorded before the client's SYN: "
        "classification gave up before the held bytes reached the probes",
        synack_data_first,
        set(),  # tap_gen.py writes src_port
        {"app_layer": {"flow": {"pop3": 1, "other": 0}}, "tcp": {"reassembly_gap": 0}}),
    "reordered-syn-after-fin": (
        "smtp/auth-mechanisms.pcap", 41456, 2, 0.03,
        "the server's whole side, FIN included, before the client's SYN: the SYN was "
        "taken for port reuse and split the connection",
        fin_before_syn,
        {5},   # the first of its two CRAM-MD5 logins (same user): this connection
        {"flow": {"created": 1}, "tcp": {"port_reuse": 0, "reassembly_gap": 0}}),
    "reordered-imap-command-first": (
        "imap/logins-fetch-append.pcap", 50132, 0, 0.03,
        "the client's first command before the server's banner: nDPI said IMAPS "
        "and the plaintext session was dropped as encrypted",
        command_first,
        {6, 7},  # curl's AUTHENTICATE PLAIN and UID FETCH 1
        {"app_layer": {"flow": {"imap": 1, "encrypted": 0}}, "tcp": {"reassembly_gap": 0}}),
    "reordered-rst-before-data": (
        "smtp/starttls-no-credential.pcap", 54240, 3, 0.03,
        "the client's RST recorded before server data it acknowledged: the data "
        "was declared lost (a spurious reassembly_gap)",
        rst_before_acked_data,
        set(),
        {"app_layer": {"flow": {"smtp": 1}}, "tcp": {"reassembly_gap": 0,
                                                    "acked_not_captured": 0}}),
}


def connection_events(exp, port, lines):
    """The source's expected events of the kept connection, with its client
    port (this script chose the connection by it) and the alert object."""
    out = []
    for i, e in enumerate(exp, 1):
        if e.get("event_type") == "stats":
            continue
        if e.get("src_port", port) != port or ("src_port" not in e and i not in lines):
            continue
        e = dict(e, src_port=port)
        out.append(gencommon.with_alert(e))
    return out


def side(p):
    t = p[TCP]
    return 0 if t.sport > t.dport else 1


def reorder(pkts, seed, max_delay):
    rng = random.Random(seed)
    delay, last, out = {}, {}, []
    for p in pkts:
        k = side(p) if TCP in p else 2
        d = delay.get(k, rng.uniform(0, max_delay))
        d = min(max_delay, max(0.0, d + rng.uniform(-max_delay / 5, max_delay / 5)))
        delay[k] = d
        rel = max(last.get(k, 0.0), float(p.time) + d)
        last[k] = rel
        out.append((rel, p))
    out.sort(key=lambda x: x[0])
    res = []
    for rel, p in out:
        p.time = rel
        res.append(p)
    return res


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--one":
        src, dst, seed, md = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        wrpcap(dst, reorder(rdpcap(src), seed, md))
        return 0
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(PCAPS, "stream")
    for name, (src, port, seed, md, what, shows, lines, stats) in CASES.items():
        path = os.path.join(PCAPS, src)
        # The whole capture is re-ordered with the seed that showed the bug,
        # then the one connection is kept.
        pkts = [p for p in reorder(rdpcap(path), seed, md)
                if TCP in p and port in (p[TCP].sport, p[TCP].dport)]
        if not shows(pkts, port):
            print("%s: %s re-recorded with seed %d no longer shows: %s (%s); find another "
                  "seed with --one" % (name, src, seed, shows.__doc__.strip(), what),
                  file=sys.stderr)
            return 1
        wrpcap(os.path.join(outdir, name + ".pcap"), pkts)
        with open(path.rsplit(".", 1)[0] + ".expected.json", encoding="utf-8") as f:
            exp = [json.loads(l) for l in f if l.strip()]
        keep = connection_events(exp, port, lines)
        keep.append({"event_type": "stats", "stats": stats})
        with open(os.path.join(outdir, name + ".expected.json"), "w", encoding="utf-8") as f:
            for e in keep:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        print("%-30s %4d packets, %d events: %s" % (name, len(pkts), len(keep), what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
