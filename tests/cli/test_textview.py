#!/usr/bin/python3
"""The trainer's options (README "Text view"): --realtime pacing (--speed,
--max-gap, usage errors, Ctrl-C), colour only on a terminal (none when
piped, with NO_COLOR or --no-color), the summary table against the JSON
events, and the progress line: on a terminal only, whole --text lines
around it, a warning mid-file at the start of its own line, gone at the
end.

  test_textview.py MAILSPILL PCAPS"""
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

BIN, PCAPS = sys.argv[1], sys.argv[2]
DEMO = os.path.join(PCAPS, "pop3", "demo-userpass-retr.pcap")
ERASE = b"\r\033[K"
results = []


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, timeout=60, **kw)


def two_packets(path, gap):
    """A capture of two TCP packets gap seconds apart (no event: pacing only)."""
    from scapy.all import IP, TCP, Ether, wrpcap
    a = Ether() / IP(src="10.0.0.5", dst="10.0.0.1") / TCP(sport=1234, dport=110, flags="S")
    b = Ether() / IP(src="10.0.0.1", dst="10.0.0.5") / TCP(sport=110, dport=1234, flags="SA")
    a.time, b.time = 1000.0, 1000.0 + gap
    wrpcap(path, [a, b])


def timed(args):
    t = time.monotonic()
    r = run(args)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - t


def test_realtime():
    with tempfile.TemporaryDirectory() as d:
        cap = os.path.join(d, "two.pcap")
        two_packets(cap, 1.5)
        fast = timed(["-r", cap])
        real = timed(["--realtime", "-r", cap])
        double = timed(["--realtime", "--speed", "2", "-r", cap])
        cut = timed(["--realtime", "--max-gap", "0.2", "-r", cap])
        print(f"  plain {fast:.2f} s, --realtime {real:.2f} s, --speed 2 {double:.2f} s, "
              f"--max-gap 0.2 {cut:.2f} s")
        # Lower bounds are sleeps; upper ones leave room for a loaded machine,
        # where one run's start-up may take half a second more than
        # another's (a CI run with a sanitised build beside other work:
        # plain 0.52 s, --realtime 1.57 s).
        assert real >= 1.4 and real > fast + 0.5, (real, fast)
        assert 0.7 <= double < real - 0.4, (double, real)
        assert 0.15 <= cut < real - 0.9, (cut, real)
        # The same events as read at full speed.
        assert run(["--realtime", "--max-gap", "0.1", "-r", DEMO]).stdout == run(["-r", DEMO]).stdout


def test_realtime_sigint():
    """A long wait ends at Ctrl-C, within a step (100 ms) and some margin."""
    with tempfile.TemporaryDirectory() as d:
        cap = os.path.join(d, "two.pcap")
        two_packets(cap, 60)
        p = subprocess.Popen([BIN, "--realtime", "-r", cap], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.5)
        t = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        took = time.monotonic() - t
        assert p.returncode == 0, (p.returncode, err)
        assert took < 1.5, took
        assert any(json.loads(l)["event_type"] == "stats" for l in out.splitlines()), out


def test_usage_errors():
    for args in (["--realtime", "-i", "lo"], ["--speed", "2", "-r", DEMO],
                 ["--max-gap", "1", "-r", DEMO], ["--realtime", "--speed", "0", "-r", DEMO],
                 ["--realtime", "--speed", "-1", "-r", DEMO],
                 ["--realtime", "--speed", "x", "-r", DEMO],
                 ["--realtime", "--speed", "1001", "-r", DEMO],
                 ["--realtime", "--max-gap", "nan", "-r", DEMO],
                 ["--realtime", "--max-gap", "-0.5", "-r", DEMO]):
        r = run(args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert b"Try 'mailspill --help'" in r.stderr, (args, r.stderr)
    assert run(["--realtime", "--speed", "1000", "--max-gap", "0", "-r", DEMO]).returncode == 0


def on_pty(args, out_tty=True, err_tty=False, env=None):
    """Runs with standard output and/or error on a terminal; returns what
    each received (bytes) and the exit status."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN] + args, stdin=subprocess.DEVNULL,
                         stdout=slave if out_tty else subprocess.PIPE,
                         stderr=slave if err_tty else subprocess.PIPE,
                         env=dict(os.environ, **(env or {})))
    os.close(slave)
    got = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            got += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    piped = p.stdout or p.stderr
    rest = piped.read() if piped else b""
    p.wait(timeout=10)
    return got, rest, p.returncode


def visible(line):
    """What a terminal shows of a line: the text after the last erase."""
    return line.rsplit(ERASE, 1)[-1]


def test_colour():
    env = {"NO_COLOR": ""}  # set but empty: no effect (no-color.org)
    tty, _, rc = on_pty(["--text", "-r", DEMO], env=env)
    assert rc == 0
    assert b"\033[" in tty, tty
    piped = run(["--text", "-r", DEMO], env=dict(os.environ, NO_COLOR=""))
    assert b"\033" not in piped.stdout, piped.stdout
    # Coloured, the same text.
    plain = re.sub(rb"\033\[[0-9;]*m", b"", tty).replace(b"\r\n", b"\n")
    assert plain == piped.stdout, (plain, piped.stdout)
    for args, env in ((["--text", "-r", DEMO], {"NO_COLOR": "1"}),
                      (["--text", "--no-color", "-r", DEMO], None),
                      (["--text", "-o", os.devnull, "-o", "-", "-r", DEMO], None)):
        tty, _, rc = on_pty(args, env=env)
        assert rc == 0 and b"\033" not in tty and (b"POP3" in tty or "-o" in args), (args, tty)


def test_summary_matches_json():
    evs = [json.loads(l) for l in run(["-r", os.path.join(PCAPS, "pop3")]).stdout.splitlines()]
    text = run(["--text", "-r", os.path.join(PCAPS, "pop3")]).stdout.decode()
    rows = {}
    for e in evs:
        if e["event_type"] != "session":
            continue
        key = f'{e["app_proto"].upper():<4} {e["dest_ip"]}:{e["dest_port"]}'
        s = e["session"]
        r = rows.setdefault(key, [0, 0, set(), 0, 0, 0, 0])
        r[0] += 1
        tls = s.get("tls")
        if tls != "implicit":
            r[1] += s["logins"]["total"]
            r[3] += s["logins"]["success"]
            r[4] += s["messages"]
        r[5] += s.get("starttls_offered") is True
        r[6] += tls == "starttls"
    for e in evs:
        if e["event_type"] == "alert" and "username" in e.get("credential", {}):
            key = f'{e["app_proto"].upper():<4} {e["dest_ip"]}:{e["dest_port"]}'
            rows.setdefault(key, [0, 0, set(), 0, 0, 0, 0])[2].add(e["credential"]["username"])
    assert rows, evs
    for key, r in rows.items():
        line = next((l for l in text.splitlines() if l.startswith("  " + key + " ")), None)
        assert line, (key, text)
        nums = line[len(key) + 2:].split()
        want = [str(r[0]), str(r[1]), str(len(r[2])), str(r[3]), str(r[4]), f"{r[5]}/{r[6]}"]
        assert nums == want, (key, nums, want)
    # Worker threads see servers in any order: the same table.
    table = text[text.index("Summary"):]
    threaded = run(["--text", "--threads", "4", "-r", os.path.join(PCAPS, "pop3")]).stdout.decode()
    assert threaded[threaded.index("Summary"):] == table, (threaded, table)


def test_progress():
    # Standard error a terminal, standard output piped: the line is drawn,
    # then removed, and says what it is about.
    err, out, rc = on_pty(["-r", DEMO], out_tty=False, err_tty=True)
    assert rc == 0, err
    size = f"{(os.path.getsize(DEMO) + 999) // 1000} kB".encode()
    assert ERASE in err and re.search(rb"\d+ kB of " + size + rb" \(\d+%\), \d+ events", err), err
    assert err.endswith(ERASE), err
    assert b"\033" not in out
    # A file name's control bytes never reach the terminal.
    with tempfile.TemporaryDirectory() as d:
        odd = os.path.join(d, "a\x1b[2Jb.pcap")
        with open(DEMO, "rb") as f, open(odd, "wb") as g:
            g.write(f.read())
        err, _, rc = on_pty(["-r", odd], out_tty=False, err_tty=True)
        assert rc == 0 and b"a?[2Jb.pcap" in err and b"\x1b[2J" not in err, err
    # A warning mid-file (a truncated capture) starts its own line: the
    # progress line is taken away before it, not left in front of it.
    with tempfile.TemporaryDirectory() as d:
        cut = os.path.join(d, "cut.pcap")
        with open(DEMO, "rb") as f, open(cut, "wb") as g:
            data = f.read()
            g.write(data[:len(data) - 7])
        err, _, rc = on_pty(["-r", cut], out_tty=False, err_tty=True)
        at = err.find(b"mailspill: warning: ")
        assert rc == 0 and at > 0 and b"stopped reading there" in err[at:], err
        before = err[:at].rsplit(b"\n", 1)[-1]
        assert b" kB of " in err[:at] and visible(before) == b"", (before, err)
    # Not a terminal: nothing.
    r = run(["-r", DEMO])
    assert r.stderr == b"", r.stderr
    # Both on one terminal: every --text line whole, the line put back after
    # each, and gone at the end.
    both, _, rc = on_pty(["--text", "--no-color", "-r", DEMO], out_tty=True, err_tty=True)
    assert rc == 0
    lines = both.split(b"\n")
    want = run(["--text", "-r", DEMO]).stdout.decode().splitlines()
    shown = [visible(l.rstrip(b"\r")).decode() for l in lines[:-1]]
    assert shown == want, (shown, want)
    assert b" events" in both, both
    assert visible(lines[-1]) == b"", lines[-1]


for t in (test_realtime, test_realtime_sigint, test_usage_errors, test_colour,
          test_summary_matches_json, test_progress):
    try:
        t()
        results.append(True)
        print(f"PASS {t.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {t.__name__}: {str(e)[:2000]}")
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
