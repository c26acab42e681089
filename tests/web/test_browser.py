#!/usr/bin/python3
"""The --web page in a real browser: Debian's chromium, headless, driven
over its DevTools protocol (python3-websocket). mailspill replays (--realtime, idle
stretches cut to 0.3 s) a capture made here (a user name, subject and
attachment name that are HTML) and the bundled STARTTLS-stripping capture,
with --web on loopback; the page must
then show:

- a login card per credential alert, newest first, in the order of their
  SSE ids, each with the user name as text, the secret as the mask mode
  gives it ("H**************6 (16)", a short one masked whole), the outcome
  in words and the TLS posture in words (offered and not used; stripped);
- a message card per email, the hostile subject and file name as text;
- the counters the JSON events of the run give;
- no element made from wire data (no <img>, no <b>), no dialog opened, no
  Content-Security-Policy violation and no script error.

A screenshot goes to the build folder (an artefact). Skipped (77) without
chromium or python3-websocket; a failure then with MS_REQUIRE_ALL=1.

  test_browser.py MAILSPILL REPO OUTDIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webcap  # noqa: E402
import weblib  # noqa: E402

BIN, REPO, OUTDIR = sys.argv[1], sys.argv[2], sys.argv[3]
STRIP = os.path.join(REPO, "pcaps", "starttls", "starttls-stripping.pcap")
failures = []


def skip(msg):
    if os.environ.get("MS_REQUIRE_ALL") == "1":
        print("FAIL: would skip (%s), and MS_REQUIRE_ALL=1 forbids skipping" % msg)
        sys.exit(1)
    print("SKIP: " + msg)
    sys.exit(77)


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    skip("no chromium")
try:
    import websocket  # python3-websocket
except ImportError:
    skip("no python3-websocket")


class Tab:
    """One page target over the DevTools protocol."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.n = 0
        self.events = []

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")


def start_chromium(tmp, url):
    prof = os.path.join(tmp, "profile")
    p = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                          "--disable-background-networking", "--remote-debugging-port=0",
                          "--remote-allow-origins=*", "--user-data-dir=" + prof,
                          "--window-size=1600,1100", "--force-device-scale-factor=1",
                          "about:blank"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(prof, "DevToolsActivePort")
    deadline = time.time() + 30
    while time.time() < deadline and not os.path.exists(port_file):
        time.sleep(0.1)
    time.sleep(0.2)
    port = int(open(port_file).read().split()[0])
    import urllib.request
    targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port))
    page = next(t for t in targets if t["type"] == "page")
    return p, Tab(page["webSocketDebuggerUrl"])


def main(tmp):
    pcap = os.path.join(tmp, "hostile.pcap")
    passwords = webcap.write(pcap)
    args = ["-r", pcap, "-r", STRIP, "--no-stats"]
    ref = subprocess.run([BIN] + args + ["--passwords", "mask"], capture_output=True, check=True,
                         timeout=60)
    events = [json.loads(l) for l in ref.stdout.decode().splitlines()]
    logins = [e for e in events if e["event_type"] == "alert" and "credential" in e]
    emails = [e for e in events if e["event_type"] == "email"]
    stripped = {(e["src_port"], e["dest_port"]) for e in events if "starttls_stripped" in e}
    # Replayed at the captures' pace (idle stretches cut to 0.3 s), as a
    # trainer replays a recording: the cards come while the page is open.
    web = weblib.Web(BIN, args + ["-o", os.devnull, "--realtime", "--max-gap", "0.3"], "0",
                     wait_read=False)
    chrome = None
    try:
        chrome, tab = start_chromium(tmp, web.url)
        tab.call("Runtime.enable")
        tab.call("Log.enable")
        tab.call("Page.enable")
        tab.call("Page.navigate", url=web.url)
        want = weblib.expected_counters(events)
        deadline = time.time() + 30
        state = None
        while time.time() < deadline:
            state = tab.eval("""(() => !document.getElementById('c-logins') ? null : ({
                logins: Array.from(document.querySelectorAll('#logins .card')).map(c => ({
                    id: Number(c.dataset.id), user: c.querySelector('.user').textContent,
                    secret: c.querySelector('.secret').textContent,
                    outcome: c.querySelector('.outcome').textContent,
                    posture: c.querySelector('.posture').textContent,
                    route: c.querySelector('.route').textContent})),
                messages: Array.from(document.querySelectorAll('#messages .card')).map(c => ({
                    subject: c.querySelector('.subject').textContent,
                    att: (c.querySelector('.attachments') || {}).textContent || ''})),
                counters: {logins: document.getElementById('c-logins').textContent,
                           accounts: document.getElementById('c-accounts').textContent,
                           accepted: document.getElementById('c-accepted').textContent,
                           messages: document.getElementById('c-messages').textContent,
                           servers_no_tls: document.getElementById('c-servers').textContent},
                imgs: document.querySelectorAll('img, b, main script').length,
                status: document.getElementById('status').textContent}))()""")
            if (state and len(state["logins"]) == len(logins) and
                    state["counters"]["logins"] == str(want["logins"])):
                break
            time.sleep(0.2)
        shot = tab.call("Page.captureScreenshot", format="png")
        import base64
        png = os.path.join(OUTDIR, "web-view.png")
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print("screenshot:", png)

        if not state:
            raise RuntimeError("the page did not load")
        cards = state["logins"]
        check(len(cards) == len(logins), "%d login cards, %d credential alerts" %
              (len(cards), len(logins)))
        ids = [c["id"] for c in cards]
        check(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids),
              "login cards not in SSE id order (newest first): %s" % ids)
        for card, ev in zip(reversed(cards), logins):
            c = ev["credential"]
            masked = c["password_masked"]
            check(card["user"] == c["username"], "user %r, not %r" % (card["user"], c["username"]))
            check(card["secret"] == "%s (%d)" % (masked, len(masked)),
                  "secret %r for %s" % (card["secret"], masked))
            word = {"success": "accepted", "failure": "rejected"}.get(c["outcome"], "unknown")
            check(card["outcome"] == word, "outcome %r, not %r" % (card["outcome"], word))
            if (ev["src_port"], ev["dest_port"]) in stripped:
                check("stripped" in card["posture"], "posture of a stripped flow: " + card["posture"])
            elif c.get("starttls_offered") is True:
                check(card["posture"] == "server offered STARTTLS; the client logged in without it",
                      "posture: " + card["posture"])
        hostile = webcap.HOSTILE.decode()
        check(any(c["user"] == hostile for c in cards), "the hostile user name is not shown as text")
        check(any(c["secret"] == "H**************6 (16)" for c in cards), "no 'H**************6 (16)'")
        check(any(c["secret"] == "****** (6)" for c in cards), "the short password not masked whole")
        check(len(state["messages"]) == len(emails), "%d message cards, %d emails" %
              (len(state["messages"]), len(emails)))
        check(any(m["subject"] == hostile for m in state["messages"]),
              "the hostile subject is not shown as text")
        check(any(webcap.HOSTILE_FILE.decode() in m["att"] for m in state["messages"]),
              "the hostile attachment name is not shown as text")
        check(state["imgs"] == 0, "elements made from wire data: %d" % state["imgs"])
        check(state["counters"] == {k: str(v) for k, v in want.items()},
              "counters %s, the JSON events give %s" % (state["counters"], want))
        check(state["status"] == "live", "status: " + state["status"])
        body = tab.eval("document.body.innerText")
        leaked = [p for p in passwords if p.decode() in body]
        check(not leaked, "clear passwords on the page: %s" % leaked)
        tab.call("Runtime.evaluate", expression="0")  # collect the events sent meanwhile
        bad = [e for e in tab.events if e.get("method") in ("Page.javascriptDialogOpening",
                                                              "Runtime.exceptionThrown") or
               (e.get("method") == "Log.entryAdded" and
                e["params"]["entry"].get("level") == "error")]
        check(not bad, "dialogs, script errors or CSP violations: %s" % bad[:3])
    finally:
        if chrome:
            chrome.terminate()
            try:
                chrome.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chrome.kill()
                chrome.wait()
        check(web.stop() == 0, "SIGINT did not end mailspill with status 0")


with tempfile.TemporaryDirectory() as tmp:
    main(tmp)
if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok")
