#!/usr/bin/python3
"""Writes large benchmark captures with struct (scapy is far too slow for
millions of packets). Nothing is sent anywhere; the files go where told.

  gen_pcap.py flood OUT N
      N half-open TCP connections: one SYN each, from distinct client
      addresses and ports to port 110 (a SYN flood, or a port scan).
  gen_pcap.py sessions OUT N KB
      N complete POP3 sessions (handshake, USER/PASS, RETR of a KB-kilobyte
      message in MSS-sized segments, QUIT, FIN both ways), one after the
      other, with correct checksums: the throughput workload.
"""
import struct
import sys

ETH_HDR = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x05" + b"\x08\x00"


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, 20 + len(payload))
    c = csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ETH_HDR + ip + tcp + payload


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        self.t = 1795000000 * 1000000

    def put(self, pkt, dt_us=10):
        self.t += dt_us
        self.f.write(struct.pack("<IIII", self.t // 1000000, self.t % 1000000, len(pkt), len(pkt)))
        self.f.write(pkt)

    def close(self):
        self.f.close()


def flood(out, n):
    w = Writer(out)
    dst = bytes([10, 88, 0, 1])
    for i in range(n):
        src = bytes([10, 89 + (i >> 24 & 0x3f), i >> 16 & 0xff, i >> 8 & 0xff])
        w.put(frame(src, dst, 1024 + (i & 0xff) * 200 + (i >> 8 & 0xff) % 200, 110,
                    i * 7919, 0, 0x02), 1)
    w.close()


def sessions(out, n, kb):
    w = Writer(out)
    srv = bytes([10, 88, 0, 1])
    body = b"".join(b"Line %05d of a benchmark message body, text and more text.\r\n" % i
                    for i in range(kb * 1024 // 62 + 1))
    msg = (b"From: Bench <bench@example.net>\r\nTo: Alice <alice@example.org>\r\n"
           b"Subject: benchmark\r\nMessage-ID: <bench@example.net>\r\n\r\n" + body)
    retr = b"+OK %d octets\r\n" % len(msg) + msg + b".\r\n"
    for i in range(n):
        cli = bytes([10, 90, i >> 8 & 0xff, i & 0xff])
        cp = 20000 + i % 40000
        c, s = 1000, 5000000

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
        c2s(0x18, b"USER user%d\r\n" % i)
        s2c(0x18, b"+OK\r\n")
        c2s(0x18, b"PASS secret%d\r\n" % i)
        s2c(0x18, b"+OK Logged in.\r\n")
        c2s(0x18, b"RETR 1\r\n")
        for off in range(0, len(retr), 1448):
            s2c(0x18 if off + 1448 >= len(retr) else 0x10, retr[off:off + 1448])
            if (off // 1448) % 2:
                c2s(0x10)
        c2s(0x18, b"QUIT\r\n")
        s2c(0x18, b"+OK Logging out.\r\n")
        s2c(0x11)
        c2s(0x11)
        s2c(0x10)
    w.close()


def main():
    if sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "sessions":
        sessions(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
