"""Helpers of the sink tests (test_sinks.py, tests/live/test_sink_live.py):
a real redis-server on loopback, a small RESP client (no pip package),
readers for unix stream and datagram sockets, and captures made by
bench/gen_pcap.py."""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
import time


def skip(msg):
    """Exit 77 (ctest SKIP), or fail under MS_REQUIRE_ALL=1 (CI)."""
    if os.environ.get("MS_REQUIRE_ALL") == "1":
        print(f"FAIL: would skip ({msg}), and MS_REQUIRE_ALL=1 forbids skipping")
        raise SystemExit(1)
    print("SKIP:", msg)
    raise SystemExit(77)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, limit, step=0.02):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if cond():
            return True
        time.sleep(step)
    return False


class Resp:
    """A blocking RESP2 client: enough for PING, LRANGE, LLEN, SUBSCRIBE."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"bad RESP line {line!r}")

    def cmd(self, *args):
        self.send(*args)
        return self.reply()


class Redis:
    """redis-server on 127.0.0.1:port, in the foreground of a child; aof:
    append-only file fsynced on every write, in dir, so that a restart on
    the same dir gets back what was acknowledged."""

    def __init__(self, port, workdir, aof=False, extra=()):
        self.port, self.dir, self.aof, self.extra = port, workdir, aof, list(extra)
        self.p = None

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--daemonize", "no", "--dir", self.dir, "--protected-mode", "no",
                "--logfile", os.path.join(self.dir, "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else \
            ["--appendonly", "no"]
        args += self.extra
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=_die_with_parent)

        def up():
            try:
                c = Resp(self.port, timeout=1)
                try:
                    return c.cmd("PING") == "PONG"
                finally:
                    c.close()
            except (OSError, RuntimeError):
                return False
        if not wait_for(up, 20, 0.05):
            self.kill()
            raise RuntimeError(f"redis-server did not come up on port {self.port}")

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
        self.p = None

    def client(self):
        return Resp(self.port)


def _die_with_parent():
    """In the child: SIGKILL when the test process dies (a ctest timeout
    kills the test, and no redis-server may outlive it)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def have_redis():
    return shutil.which("redis-server") is not None


class Subscriber(threading.Thread):
    """SUBSCRIBE channel, collects the messages until stopped."""

    def __init__(self, port, channel):
        super().__init__(daemon=True)
        self.c = Resp(port, timeout=0.2)
        self.c.s.settimeout(10)
        self.c.cmd("SUBSCRIBE", channel)
        self.c.s.settimeout(0.2)
        self.msgs, self.done = [], False

    def run(self):
        while not self.done:
            try:
                m = self.c.reply()
            except socket.timeout:
                continue
            except (OSError, ConnectionError):
                return
            if isinstance(m, list) and m and m[0] == b"message":
                self.msgs.append(m[2])

    def stop(self):
        self.done = True
        self.join(5)
        self.c.close()


class UnixStreamServer(threading.Thread):
    """Listens on path; collects the lines of every connection in order."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.data, self.done = b"", False

    def run(self):
        while not self.done:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            conn.settimeout(0.2)
            with conn:
                while True:
                    try:
                        d = conn.recv(65536)
                    except socket.timeout:
                        if self.done:
                            break
                        continue
                    if not d:
                        break
                    self.data += d

    def stop(self):
        self.done = True
        self.join(5)
        self.srv.close()

    def lines(self):
        return self.data.split(b"\n")[:-1] if self.data else []


class StallingUnixServer(UnixStreamServer):
    """A unix stream reader that accepts, reads nothing for stall seconds,
    then reads every connection to its end, as UnixStreamServer."""

    def __init__(self, path, stall):
        super().__init__(path)
        self.stall, self.conns = stall, 0

    def run(self):
        while not self.done:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            self.conns += 1
            if self.conns == 1:
                time.sleep(self.stall)
            conn.settimeout(0.2)
            with conn:
                while True:
                    try:
                        d = conn.recv(65536)
                    except socket.timeout:
                        if self.done:
                            break
                        continue
                    if not d:
                        break
                    self.data += d


class DgramReader(threading.Thread):
    """Binds path; collects every datagram (up to 256 KiB each)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.2)
        self.msgs, self.done = [], False

    def run(self):
        while not self.done:
            try:
                self.msgs.append(self.s.recv(1 << 18))
            except socket.timeout:
                continue
            except OSError:
                return

    def stop(self):
        self.done = True
        self.join(5)
        self.s.close()


def gen_sessions(gen, out, n, kb):
    subprocess.run(["/usr/bin/python3", gen, "sessions", out, str(n), str(kb)], check=True,
                   stdout=subprocess.DEVNULL)


def pcap_split(path, first_packets):
    """(header + the first packets, the rest) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    at, k = 24, 0
    little = data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    while at < len(data) and k < first_packets:
        incl = int.from_bytes(data[at + 8:at + 12], "little" if little else "big")
        at += 16 + incl
        k += 1
    return data[:at], data[at:]
