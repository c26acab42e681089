#!/usr/bin/python3
"""Writes the "tiny segments after a hole" benchmark capture (bench.py).

  gen_tinyseg.py OUT N [inorder]
      One POP3 session whose RETR reply is a first segment (the "+OK" line)
      and then N one-byte segments (the message and its terminating ".");
      the client acknowledges every 10 of them. The first segment is
      captured last, after all N (a tap's reordering: every one of them
      waits behind the hole), unless "inorder" is given (the control).
      Prints the sha256 and size of the message (after dot-unstuffing,
      without the terminator) that the email event must report.

Frames and the pcap writer come from gen_pcap.py (same directory).
"""
import hashlib
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_pcap import Writer, frame  # noqa: E402


def tiny_message(total):
    """A message of exactly total bytes (CRLF lines, none starting with a dot)."""
    head = (b"From: Bench <bench@example.net>\r\nTo: Alice <alice@example.org>\r\n"
            b"Subject: tiny segments\r\nMessage-ID: <tinyseg@example.net>\r\n\r\n")
    lines = [head]
    size = len(head)
    i = 0
    while size < total:
        line = b"Line %06d of a message sent one byte per segment.\r\n" % i
        if size + len(line) > total:
            room = total - size
            line = (b"x" * (room - 2) + b"\r\n") if room >= 3 else b"\r\n"[:room]
            if room == 1:
                line = b"x"
        lines.append(line)
        size += len(line)
        i += 1
    msg = b"".join(lines)
    assert len(msg) == total
    return msg


def tinyseg(out, n, inorder=False):
    w = Writer(out)
    srv, cli = bytes([10, 88, 0, 1]), bytes([10, 90, 0, 1])
    cp = 40000
    c, s = 1000, 0xfffe0000   # the server's sequence numbers wrap during the reply
    # The reply: the first segment is the "+OK" line; then n one-byte segments
    # carrying the message and ".\r\n" (a message ending in CRLF: terminator 3 bytes).
    msg = tiny_message(n - 3)
    if not msg.endswith(b"\r\n"):
        sys.exit("tinyseg: N too small")
    first = b"+OK %d octets\r\n" % len(msg)
    tail = msg + b".\r\n"

    def c2s(flags, data=b""):
        nonlocal c
        w.put(frame(cli, srv, cp, 110, c, s, flags, data))
        c += len(data) + (1 if flags & 0x03 else 0)

    def s2c(flags, data=b""):
        nonlocal s
        w.put(frame(srv, cli, 110, cp, s, c, flags, data))
        s += len(data) + (1 if flags & 0x03 else 0)

    c2s(0x02)
    s2c(0x12)
    c2s(0x10)
    s2c(0x18, b"+OK POP3 ready.\r\n")
    c2s(0x18, b"USER alice\r\n")
    s2c(0x18, b"+OK\r\n")
    c2s(0x18, b"PASS tiny-secret\r\n")
    s2c(0x18, b"+OK Logged in.\r\n")
    c2s(0x18, b"RETR 1\r\n")
    reply_seq = s
    end = (reply_seq + len(first) + len(tail)) & 0xffffffff
    if inorder:
        s2c(0x18, first)
    for i in range(len(tail)):
        seq = (reply_seq + len(first) + i) & 0xffffffff
        w.put(frame(srv, cli, 110, cp, seq, c, 0x10, tail[i:i + 1]))
        if i % 10 == 9:
            # The client had every byte up to here (the tap lost nothing,
            # it only reordered): its ACK lies past the hole.
            w.put(frame(cli, srv, cp, 110, c, (seq + 1) & 0xffffffff, 0x10))
    if not inorder:
        w.put(frame(srv, cli, 110, cp, reply_seq, c, 0x18, first))
    s = end
    c2s(0x10)
    c2s(0x18, b"QUIT\r\n")
    s2c(0x18, b"+OK Logging out.\r\n")
    s2c(0x11)
    c2s(0x11)
    s2c(0x10)
    w.close()
    print("%s %d" % (hashlib.sha256(msg).hexdigest(), len(msg)))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    tinyseg(sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] == "inorder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
