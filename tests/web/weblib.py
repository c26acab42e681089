"""Running mailspill --web and talking to it: raw HTTP/1.0 requests (so a
Host header of our choosing goes out as given) and a Server-Sent Events
reader."""
import os
import re
import signal
import socket
import subprocess
import time


class Web:
    """mailspill ARGS --web SPEC in the background; url/host/port/token from
    the line it prints on standard error."""

    def __init__(self, binary, args, spec, wait_read=True):
        self.stderr_path = "/tmp/mailspill-web-%d-%d.err" % (os.getpid(), time.monotonic_ns())
        self.errf = open(self.stderr_path, "w+")
        self.p = subprocess.Popen([binary] + args + ["--web", spec], stdout=subprocess.DEVNULL,
                                  stderr=self.errf)
        deadline = time.time() + 20
        self.url = None
        while time.time() < deadline:
            err = self.stderr()
            m = re.search(r"web view at (http://(\[[^\]]+\]|[^/:]+):(\d+)/(\?token=(\w+))?)", err)
            if m and not self.url:
                self.url, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
                self.token = m.group(5)
            if self.url and (not wait_read or "all read" in err):
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("mailspill --web did not start: " + self.stderr())

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def connect_addr(self):
        h = self.host.strip("[]")
        if h == "0.0.0.0":
            h = "127.0.0.1"
        if h == "::":
            h = "::1"
        return h

    def sock(self):
        h = self.connect_addr()
        fam = socket.AF_INET6 if ":" in h else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect((h, self.port))
        return s

    def get(self, path, host=None, headers=()):
        """(status, {header: value} lower-case names, body bytes)."""
        s = self.sock()
        if host is None:
            host = "%s:%d" % (self.host, self.port)
        req = "GET %s HTTP/1.0\r\n" % path
        if host is not False:  # False: no Host header at all
            req += "Host: %s\r\n" % host
        for k, v in headers:
            req += "%s: %s\r\n" % (k, v)
        s.sendall((req + "\r\n").encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        return parse_response(data)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.errf.close()
        os.unlink(self.stderr_path)
        return rc


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs.setdefault(k.strip().lower(), v.strip())
    return status, hdrs, body


def sse(web, until, headers=(), timeout=20):
    """Reads /events until until(messages) says so; returns the messages
    [{"id", "event", "data"}] and the response headers."""
    s = web.sock()
    req = "GET /events HTTP/1.0\r\nHost: %s:%d\r\n" % (web.host, web.port)
    for k, v in headers:
        req += "%s: %s\r\n" % (k, v)
    s.sendall((req + "\r\n").encode())
    buf, msgs, hdrs = b"", [], None
    deadline = time.time() + timeout
    cur = {}
    while time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        buf += b
        if hdrs is None:
            if b"\r\n\r\n" not in buf:
                continue
            head, _, buf = buf.partition(b"\r\n\r\n")
            status, hdrs, _ = parse_response(head + b"\r\n\r\n")
            hdrs["status"] = status
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            line = line.decode()
            if line == "":
                if cur:
                    msgs.append(cur)
                cur = {}
            elif line.startswith(":"):
                continue
            else:
                k, _, v = line.partition(":")
                cur[k] = v[1:] if v.startswith(" ") else v
        if until(msgs):
            break
    s.close()
    return msgs, hdrs


def expected_counters(events):
    """The counters the page must show, from the JSON events (README "Web view")."""
    logins = accepted = messages = 0
    accounts, servers = set(), set()
    for e in events:
        if e["event_type"] == "email":
            messages += 1
        c = e.get("credential")
        if e["event_type"] == "alert" and c and not c.get("tls"):
            logins += 1
            if "username" in c:
                accounts.add((e["dest_ip"], e["dest_port"], c["username"]))
            if c["outcome"] == "success":
                accepted += 1
                servers.add((e["dest_ip"], e["dest_port"]))
    return {"logins": logins, "accepted": accepted, "messages": messages,
            "accounts": len(accounts), "servers_no_tls": len(servers)}
