#!/usr/bin/python3
"""--web (README "Web view") from outside, over real sockets:

- the address: PORT and :PORT bind 127.0.0.1 only (the listening socket in
  /proc/net/tcp); a malformed one is a usage error; 0.0.0.0 only when given,
  and then every request needs the token printed at start (403 without it;
  with it in the query, 303 to / with a cookie named with the port, so the
  token leaves the address bar), whatever the address; clear passwords
  beyond loopback: a warning on stderr;
- beyond loopback at most MS_WEB_PER_IP_MAX connections per address (the
  next is closed; a browser on 127.0.0.2 is still served); a connection
  with no request is closed after MS_WEB_REQUEST_S, an SSE stream is not;
- the Host header must name the server (an IP literal, or localhost on
  loopback) with its port: 421 otherwise, so a rebound DNS name gets nothing;
- every response has Content-Security-Policy: default-src 'self' and
  X-Content-Type-Options: nosniff; the page loads its script and style from
  /app.js and /app.css, none inline;
- /events: ids are RUN-N, RUN the same all run, N increasing by one;
  Last-Event-ID resumes after it; an id older than the ring resumes at the
  ring's oldest; an id of another run (or none of ours) gets a reset event
  first and then everything kept, so a page left open from an earlier run
  on the same port is not left without cards; the counters event matches
  what the JSON events of the same run give, past the ring too (the capture
  has more events than the ring keeps);
- secrets: nothing the server serves holds a clear password of the capture
  (learned from a --show-passwords run), the masks are those of the mask
  mode; with --show-passwords the stream does hold them (so the check can
  fail);
- the feed never has an email's body_excerpt, url, message_id or
  server_reply, nor smtp.helo (the page does not show them);
- reading a file, the server stays up after it until SIGINT, which ends
  the run with status 0.

  test_web.py MAILSPILL REPO"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webcap  # noqa: E402
import weblib  # noqa: E402

BIN, REPO = sys.argv[1], sys.argv[2]
RING = int(re.search(r"#define MS_WEB_RING_EVENTS (\d+)",
                     open(os.path.join(REPO, "common", "limits.h")).read()).group(1))
LIMITS = open(os.path.join(REPO, "common", "limits.h")).read()
PER_IP = int(re.search(r"#define MS_WEB_PER_IP_MAX (\d+)", LIMITS).group(1))
REQUEST_S = int(re.search(r"#define MS_WEB_REQUEST_S (\d+)", LIMITS).group(1))
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def listening(port):
    """Local addresses (hex, as /proc/net/tcp{,6} write them) listening on port."""
    out = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(f).read().splitlines()[1:]:
            parts = line.split()
            addr, p = parts[1].split(":")
            if int(p, 16) == port and parts[3] == "0A":
                out.append(addr)
    return out


def security_headers(h, what):
    check(h.get("content-security-policy") == "default-src 'self'", what + ": CSP " + str(h))
    check(h.get("x-content-type-options") == "nosniff", what + ": nosniff")


def split_ids(msgs):
    """(the run prefixes seen, [N]) of the messages with an id."""
    parts = [m["id"].split("-") for m in msgs if "id" in m]
    check(all(len(p) == 2 and re.fullmatch(r"[0-9a-f]{8}", p[0]) for p in parts),
          "ids not RUN-N: %s" % [m["id"] for m in msgs if "id" in m][:3])
    return {p[0] for p in parts}, [int(p[-1]) for p in parts]


def mask(pw):
    s = pw.decode()
    return "*" * len(s) if len(s) < 8 else s[0] + "*" * (len(s) - 2) + s[-1]


def test_addresses(pcap):
    for bad in ("abc", "1.2.3:80", "70000", "127.0.0.1:", "[::1:80", "host.example:80"):
        r = subprocess.run([BIN, "-r", pcap, "--web", bad], capture_output=True, timeout=20)
        check(r.returncode == 2, "--web %s: status %d, not 2 (%s)" % (bad, r.returncode, r.stderr))
    for spec in ("0", ":0"):
        w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull], spec)
        try:
            check(w.host == "127.0.0.1" and w.token is None, "--web %s: %s" % (spec, w.url))
            check(listening(w.port) == ["0100007F"],
                  "--web %s: listening on %s, not 127.0.0.1 only" % (spec, listening(w.port)))
            st, h, _ = w.get("/")
            check(st == 200, "--web %s: GET / %d" % (spec, st))
            st, _, _ = w.get("/", host="localhost:%d" % w.port)
            check(st == 200, "loopback: Host localhost refused (%d)" % st)
        finally:
            check(w.stop() == 0, "--web %s: SIGINT did not end it with status 0" % spec)


def test_token_host_csp(pcap):
    w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull], "0.0.0.0:0")
    try:
        check(w.token and len(w.token) == 32, "0.0.0.0: no token in %s" % w.url)
        check(listening(w.port) == ["00000000"], "0.0.0.0: listening on %s" % listening(w.port))
        for path in ("/", "/app.js", "/app.css", "/events", "/nothing"):
            st, h, body = w.get(path)
            check(st == 403, "no token: %s gave %d" % (path, st))
            security_headers(h, "403 " + path)
            check(b"onerror" not in body and b"Hostile" not in body, "403 body leaks")
        st, h, _ = w.get("/?token=" + "0" * 32)
        check(st == 403, "a wrong token gave %d" % st)
        # A valid token in the query: 303 to / with the cookie (named with
        # the port), so the token leaves the address bar; never to the path
        # asked ("//host" would be another site).
        for path in ("/", "/app.js", "//evil.example/"):
            st, h, body = w.get(path + "?token=" + w.token)
            cookie = h.get("set-cookie", "")
            check(st == 303 and h.get("location") == "/" and w.token.encode() not in body,
                  "token in %s: %d Location %s" % (path, st, h.get("location")))
            check(cookie.startswith("mailspill_token_%d=%s;" % (w.port, w.token)) and
                  "HttpOnly" in cookie and "SameSite=Strict" in cookie, "Set-Cookie: " + cookie)
            security_headers(h, "303 " + path)
        jar = [("Cookie", cookie.split(";")[0])]
        st, h, _ = w.get("/", headers=[("Cookie", "mailspill_token=" + w.token)])
        check(st == 403, "the cookie without the port in its name: %d" % st)
        st, h, body = w.get("/", headers=jar)
        check(st == 200 and b"<script src=\"/app.js\"" in body and "set-cookie" not in h,
              "cookie: GET / %d" % st)
        security_headers(h, "200 /")
        check(re.search(r"<script>|<style>|\son\w+=", body.decode()) is None,
              "the page has inline script, style or an event handler attribute")
        for path, ctype in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
            st, h, body = w.get(path, headers=jar)
            check(st == 200 and h.get("content-type", "").startswith(ctype) and body,
                  "cookie: %s %d %s" % (path, st, h.get("content-type")))
            security_headers(h, path)
        st, h, _ = w.get("/nothing", headers=jar)
        check(st == 404, "/nothing: %d" % st)
        security_headers(h, "404")
        for host in ("evil.example:%d" % w.port, "localhost:%d" % w.port,
                     "127.0.0.1:%d" % (w.port + 1), "127.0.0.1", "", False):
            st, h, _ = w.get("/?token=" + w.token, host=host)
            check(st == 421, "Host %r accepted (%d)" % (host, st))
            security_headers(h, "421")
        msgs, h = weblib.sse(w, lambda m: any(x.get("event") == "counters" for x in m),
                             headers=jar, timeout=10)
        check(h and h["status"] == 200 and h.get("content-type") == "text/event-stream",
              "cookie: /events %s" % h)
        security_headers(h or {}, "/events")
    finally:
        check(w.stop() == 0, "0.0.0.0: SIGINT did not end it with status 0")


def closed_soon(s, secs):
    """True when the server closes s (EOF or reset) within secs."""
    s.settimeout(secs)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_clear_warning(pcap):
    """Clear passwords on a page beyond loopback: a warning on stderr;
    not with masks, nor on loopback."""
    warn = "warning: the web view shows clear passwords"
    for spec, args, want in (("0.0.0.0:0", ["--show-passwords"], True),
                             ("0.0.0.0:0", ["--passwords", "clear"], True),
                             ("0.0.0.0:0", [], False), ("0", ["--show-passwords"], False)):
        w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull] + args, spec)
        try:
            err = w.stderr()
        finally:
            check(w.stop() == 0, "warning %s %s: SIGINT status" % (spec, args))
        check((warn in err) == want, "--web %s %s: warning %s: %s" % (spec, args, not want, err))


def test_connection_caps(pcap):
    """Beyond loopback, one address holds at most MS_WEB_PER_IP_MAX
    connections: idle sockets from 127.0.0.1 cannot lock out a browser on
    127.0.0.2; a connection that never sends a request is closed after
    MS_WEB_REQUEST_S, while an SSE stream outlives it."""
    w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull], "0.0.0.0:0")
    held = []
    try:
        def idle(src="127.0.0.1"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.connect(("127.0.0.1", w.port))
            held.append(s)
            return s

        t0 = time.time()
        first = [idle() for _ in range(PER_IP)]
        time.sleep(0.3)
        check(closed_soon(idle(), 1.0),
              "connection %d from one address was not refused" % (PER_IP + 1))
        check(not any(closed_soon(s, 0.05) for s in first),
              "the first %d idle connections were closed at once" % PER_IP)
        stream = idle("127.0.0.2")
        stream.sendall(("GET /events HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
                        "Cookie: mailspill_token_%d=%s\r\n\r\n"
                        % (w.port, w.port, w.token)).encode())
        stream.settimeout(5)
        got = stream.recv(65536)
        check(got.startswith(b"HTTP/1.0 200") or got.startswith(b"HTTP/1.1 200"),
              "the stream from 127.0.0.2 beside %d idle sockets: %r" % (PER_IP, got[:40]))
        time.sleep(max(0, t0 + REQUEST_S + 1.5 - time.time()))
        check(all(closed_soon(s, 0.2) for s in first),
              "idle connections without a request still open after %d s" % REQUEST_S)
        check(not closed_soon(stream, 0.2), "the SSE stream was closed with the idle ones")
    finally:
        for s in held:
            s.close()
        check(w.stop() == 0, "caps: SIGINT status")
    # On loopback every client shares the address: no per-address cap.
    w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull], "0")
    try:
        many = [socket.create_connection(("127.0.0.1", w.port)) for _ in range(PER_IP + 2)]
        time.sleep(0.3)
        check(not any(closed_soon(s, 0.05) for s in many), "loopback: a per-address cap")
        for s in many:
            s.close()
    finally:
        check(w.stop() == 0, "caps loopback: SIGINT status")


def test_stream(tmp):
    pcap = os.path.join(tmp, "many.pcap")
    passwords = webcap.write(pcap, filler=2100)
    out = os.path.join(tmp, "events.json")
    w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", out], "0")
    try:
        events = [json.loads(l) for l in open(out)]
        n = len(events)
        check(n > RING, "the capture gives %d events, not more than the ring's %d" % (n, RING))

        def done(m):
            return any(x.get("event") == "counters" and json.loads(x["data"])["last_id"] == n
                       for x in m)

        msgs, h = weblib.sse(w, done)
        check(h and h["status"] == 200, "/events: %s" % h)
        security_headers(h or {}, "/events")
        data = [m for m in msgs if "id" in m]
        runs, ids = split_ids(data)
        check(len(runs) == 1, "run prefixes: %s" % runs)
        run = runs.pop() if runs else "x"
        check(not any(m.get("event") == "reset" for m in msgs), "a reset without Last-Event-ID")
        check(ids == list(range(n - RING + 1, n + 1)),
              "ids: %s .. %s (%d), not %d .. %d" % (ids[:1], ids[-1:], len(ids), n - RING + 1, n))
        got = [json.loads(m["data"]) for m in data]
        check([e["event_type"] for e in got] == [e["event_type"] for e in events[n - RING:]],
              "the stream's events are not the JSON output's last %d" % RING)
        counters = [json.loads(m["data"]) for m in msgs if m.get("event") == "counters"]
        want = weblib.expected_counters(events)
        last = counters[-1] if counters else {}
        check(all(last.get(k) == v for k, v in want.items()),
              "counters %s, the JSON events give %s" % (last, want))
        check(not last.get("accounts_capped") and not last.get("servers_capped"), "capped")

        msgs, _ = weblib.sse(w, done, headers=[("Last-Event-ID", "%s-%d" % (run, n - 10))])
        ids = split_ids(msgs)[1]
        check(ids == list(range(n - 9, n + 1)), "Last-Event-ID %d: ids %s" % (n - 10, ids))
        check(not any(m.get("event") == "reset" for m in msgs), "a reset on this run's id")
        msgs, _ = weblib.sse(w, done, headers=[("Last-Event-ID", "%s-5" % run)])
        ids = split_ids(msgs)[1]
        check(ids[:1] == [n - RING + 1] and ids[-1:] == [n], "Last-Event-ID 5: %s..%s" %
              (ids[:1], ids[-1:]))
        # Ids of another run (its prefix differs; a bare number is what an
        # older mailspill sent): a reset, then everything kept.
        other = "%08x" % (int(run, 16) ^ 1)
        for last in ("%s-%d" % (other, n - 10), "%s-%d" % (other, n + 50), str(n - 10), "junk"):
            msgs, _ = weblib.sse(w, done, headers=[("Last-Event-ID", last)])
            ids = split_ids(msgs)[1]
            check(msgs[:1] and msgs[0].get("event") == "reset" and
                  sum(m.get("event") == "reset" for m in msgs) == 1,
                  "Last-Event-ID %s: no reset first: %s" % (last, msgs[:1]))
            check(ids == list(range(n - RING + 1, n + 1)), "Last-Event-ID %s: ids %s..%s (%d)" %
                  (last, ids[:1], ids[-1:], len(ids)))

        served = b"".join(w.get(p)[2] for p in ("/", "/app.js", "/app.css"))
        served += "".join(m["data"] for m in data).encode()
        leaked = [p for p in passwords if p in served]
        check(not leaked, "clear passwords served: %s" % leaked[:5])
        masks = {}
        for e in got:
            c = e.get("credential")
            if c:
                check("password" not in c and "password_masked" in c,
                      "a credential without its mask: %s" % c)
                masks[c.get("username")] = c.get("password_masked")
        # user0's last login is filler 2000's (i % 250 == 0).
        check(masks.get("user0") == mask(b"Filler02000pw"), "user0's mask: %s" % masks.get("user0"))
        time.sleep(1.5)
        check(w.p.poll() is None, "the server did not stay up after the file was read")
    finally:
        check(w.stop() == 0, "SIGINT did not end the run with status 0")


def test_masks_and_clear(tmp):
    pcap = os.path.join(tmp, "few.pcap")
    passwords = webcap.write(pcap)

    def stream(args):
        w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "-o", os.devnull] + args, "0")
        try:
            msgs, _ = weblib.sse(w, lambda m: any(x.get("event") == "counters" for x in m))
        finally:
            check(w.stop() == 0, "%s: SIGINT status" % args)
        return [json.loads(m["data"]) for m in msgs if "id" in m]

    creds = [e["credential"] for e in stream([]) if e.get("credential")]
    check(len(creds) == 3, "%d credentials, not 3" % len(creds))
    for c, pw in zip(creds, passwords):
        check(c.get("password_masked") == mask(pw) and "password" not in c,
              "mask of %s: %s, not %s" % (pw, c.get("password_masked"), mask(pw)))
    check([c.get("password_masked") for c in creds][1] == "******", "short password not masked whole")
    # The page follows --passwords when given: redact, and clear.
    creds = [e["credential"] for e in stream(["--passwords", "redact"]) if e.get("credential")]
    check(creds and all(c.get("password_redacted") is True for c in creds), "--passwords redact")
    raw = json.dumps(stream(["--show-passwords"])).encode()
    check(all(p in raw for p in passwords), "--show-passwords: the clear passwords are not served")
    # --pseudonymize: no user name or address of the capture; the same
    # pseudonym for a user in its alert and in its session's login list.
    evs = stream(["--pseudonymize"])
    raw = json.dumps(evs, ensure_ascii=False)
    names = ["carol", "bob", "mallory", "victim"]
    check(not [n for n in names if n in raw], "--pseudonymize: names served: %s" %
          [n for n in names if n in raw])
    users = [e["credential"]["username"] for e in evs if e.get("credential")]
    listed = [x["username"] for e in evs if e.get("session")
              for x in e["session"].get("login_list", [])]
    check(len(users) == 3 and all(re.fullmatch(r"user-[0-9a-f]{8}", u) for u in users) and
          sorted(users) == sorted(listed) and len(set(users)) == 3,
          "--pseudonymize: users %s, sessions list %s" % (users, listed))
    check(not any("server_reply" in e.get("credential", {}) for e in evs),
          "--pseudonymize: a server reply is served")
    r = subprocess.run([BIN, "-r", pcap, "--pseudonymize"], capture_output=True, timeout=20)
    check(r.returncode == 2, "--pseudonymize without --web: status %d" % r.returncode)


def test_trimmed():
    """The page's feed has no body excerpt, links, Message-ID, HELO or
    server reply (the EVE output of the same run has them: the check can
    fail), and still what the cards show."""
    gone = {"email": ("body_excerpt", "url", "message_id", "server_reply"), "smtp": ("helo",)}
    for name in ("1-submit-smtp.pcap", "2-fetch-pop3.pcap"):
        pcap = os.path.join(REPO, "pcaps", "chain", name)
        for extra in ([], ["--pseudonymize"]):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                w = weblib.Web(BIN, ["-r", pcap, "--no-stats", "--body-bytes", "200",
                                     "-o", out.name] + extra, "0")
                try:
                    msgs, _ = weblib.sse(w, lambda m: any(x.get("event") == "counters"
                                                          for x in m))
                finally:
                    check(w.stop() == 0, "%s %s: SIGINT status" % (name, extra))
                eve = [json.loads(line) for line in open(out.name)]
            served = [json.loads(m["data"]) for m in msgs if "id" in m]
            had = {(o, k) for e in eve for o, ks in gone.items() for k in ks if k in e.get(o, {})}
            left = {(o, k) for e in served for o, ks in gone.items() for k in ks
                    if k in e.get(o, {})}
            check(("email", "body_excerpt") in had or ("smtp", "helo") in had,
                  "%s: the EVE output has none of %s" % (name, gone))
            check(not left, "%s %s: served %s" % (name, extra, sorted(left)))
            mails = [e["email"] for e in served if e.get("event_type") == "email"]
            check(mails and all("subject" in m and "from" in m for m in mails) and
                  len(mails) == sum(e.get("event_type") == "email" for e in eve),
                  "%s %s: the messages' subject/from lost: %s" % (name, extra, mails[:1]))


with tempfile.TemporaryDirectory() as tmp:
    small = os.path.join(tmp, "small.pcap")
    webcap.write(small)
    test_addresses(small)
    test_token_host_csp(small)
    test_connection_caps(small)
    test_clear_warning(small)
    test_stream(tmp)
    test_masks_and_clear(tmp)
    test_trimmed()

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok")
