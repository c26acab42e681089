#!/usr/bin/python3
"""Command-line behaviour of the stream/flow options (no network needed):
--list-dissectors, limit options and their errors, the stats event at the
end of a file (JSON and text), the warning when a cap was hit, -Z with -r,
and SIGTERM while reading standard input (sessions flushed: a login whose
reply never came has outcome "unknown"; exit 0)."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

BIN, DEMO, GEN = sys.argv[1], sys.argv[2], sys.argv[3]
EXPECTED = [json.loads(l) for l in open(DEMO.rsplit(".", 1)[0] + ".expected.json", encoding="utf-8")]
GOOD = next(e for e in EXPECTED if e["event_type"] == "alert" and e["credential"]["outcome"] == "success"
            and e["credential"]["mechanism"] == "USER")
results = []


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, timeout=120, **kw)


def events(out):
    return [json.loads(l) for l in out.decode("utf-8").splitlines()]


def case(fn):
    try:
        fn()
        results.append(True)
        print(f"PASS {fn.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {fn.__name__}: {e}")


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 24
    while off < len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec, usec, off, 16 + incl, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], out


def test_list_dissectors():
    r = run(["--list-dissectors"])
    assert r.returncode == 0, r.stderr
    names = r.stdout.decode().split()
    assert "pop3" in names, names


def test_bad_limit_values():
    for opt, val in (("--max-flows", "0"), ("--max-flows", "ten"), ("--max-flows", "-5"),
                     ("--flow-memcap", "12x"), ("--flow-memcap", "0"), ("--reasm-memcap", "1t"),
                     ("--flow-timeout", "0"), ("--reasm-flow-cap", ""), ("--buffer-size", "0"),
                     ("--snaplen", "999999"), ("--reasm-wait", "ten"), ("--reasm-wait", "-1"),
                     ("--reasm-wait", "90000"), ("--reasm-wait-packets", "x"),
                     ("--reasm-wait-packets", "")):
        r = run([opt, val, "-r", DEMO])
        assert r.returncode == 2, (opt, val, r.returncode)
        assert opt in r.stderr.decode(), r.stderr


def test_good_limit_values():
    r = run(["--max-flows", "16", "--flow-memcap", "8m", "--reasm-memcap", "64k",
             "--reasm-flow-cap", "16K", "--flow-timeout", "30", "--reasm-wait", "30",
             "--reasm-wait-packets", "20000", "-r", DEMO])
    assert r.returncode == 0, r.stderr
    base = events(run(["-r", DEMO]).stdout)
    assert events(r.stdout) == base


def test_wait_window_options():
    """The wait window decides whether a late segment is still delivered:
    late-500.pcap holds one 500 packets of its flow late, late-beyond-time
    one 20.4 s late (pcaps/README.md)."""
    stream = os.path.join(os.path.dirname(DEMO), "..", "stream")
    late500 = os.path.join(stream, "late-500.pcap")
    late_time = os.path.join(stream, "late-beyond-time.pcap")

    def summary(args, path):
        evs = events(run(args + ["-r", path]).stdout)
        emails = [e["email"]["truncated"] for e in evs if e["event_type"] == "email"]
        gaps = [e for e in evs if e["event_type"] == "anomaly"
                and e["anomaly"]["event"] == "reassembly_gap"]
        return emails, len(gaps)

    assert summary([], late500) == ([False], 0)
    assert summary(["--reasm-wait-packets", "2000"], late500) == ([False], 0)
    emails, gaps = summary(["--reasm-wait-packets", "100"], late500)
    assert emails == [True] and gaps == 1, (emails, gaps)
    emails, gaps = summary([], late_time)
    assert sorted(emails) == [False, False, True] and gaps == 1, (emails, gaps)
    assert summary(["--reasm-wait", "60"], late_time) == ([False, False, False], 0)


def test_pcap_cnt():
    """Reading a file, every flow event names the packet that completed it:
    a login's is the packet with the server's reply."""
    _, recs = records(DEMO)
    evs = [e for e in events(run(["--show-passwords", "-r", DEMO]).stdout)
           if e["event_type"] == "alert"]
    assert evs
    for e in evs:
        n = e["pcap_cnt"]
        reply = e["credential"]["server_reply"].encode()
        assert reply in recs[n - 1][4], (n, reply)


def test_stats_event_json():
    r = run(["--stats", "-r", DEMO])
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    stats = [e for e in evs if e["event_type"] == "stats"]
    assert len(stats) == 1 and evs[-1] is stats[0], "one stats event, last"
    s = stats[0]
    _, recs = records(DEMO)
    sec, usec = recs[-1][0], recs[-1][1]
    assert s["timestamp"].endswith(".%06d+0000" % usec), s["timestamp"]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) == s["timestamp"][:19]
    st = s["stats"]
    assert st["decoder"]["pkts"] == len(recs), st["decoder"]
    assert st["decoder"]["bytes"] == sum(len(x[4]) for x in recs)
    alerts = sum(1 for e in evs if e["event_type"] == "alert")
    assert st["output"]["alert"] == alerts
    assert st["app_layer"]["flow"]["pop3"] == 3, st["app_layer"]
    assert st["flow"]["active"] == 0 and st["flow"]["created"] >= 3
    for sec_name in ("decoder", "tcp", "flow", "app_layer", "output"):
        assert sec_name in st, sec_name
    assert "capture" not in st, "no kernel counters when reading a file"
    # It is written by default; --no-stats leaves it out.
    assert [e["event_type"] for e in events(run(["-r", DEMO]).stdout)].count("stats") == 1
    assert all(e["event_type"] != "stats" for e in events(run(["--no-stats", "-r", DEMO]).stdout))


def test_stats_text():
    """The text view ends with its summary table, not the engine counters
    (they stay in the JSON stats event); --no-stats leaves it out."""
    r = run(["--text", "--stats", "-r", DEMO])
    lines = r.stdout.decode().splitlines()
    assert "STATS" not in r.stdout.decode() and "decoder.pkts" not in r.stdout.decode(), lines
    assert lines[-1].split()[0] == "total", lines[-1]
    sessions = sum(1 for e in events(run(["-r", DEMO]).stdout) if e["event_type"] == "session")
    assert int(lines[-1].split()[1]) == sessions, (lines[-1], sessions)
    out = run(["--text", "--no-stats", "-r", DEMO]).stdout.decode()
    assert "Summary" not in out and " total " not in out, out


def test_flow_cap_warning():
    with tempfile.TemporaryDirectory() as d:
        flood = os.path.join(d, "flood.pcap")
        subprocess.run(["/usr/bin/python3", GEN, "flood", flood, "100"], check=True)
        for cap, evicted in ((99, 1), (100, 0), (101, 0)):
            r = run(["--stats", "--max-flows", str(cap), "-r", flood])
            assert r.returncode == 0, r.stderr
            st = events(r.stdout)[-1]["stats"]
            assert st["flow"]["evicted"] == evicted, (cap, st["flow"])
            assert st["flow"]["active_peak"] == min(cap, 100), st["flow"]
            assert ("--max-flows" in r.stderr.decode()) == (evicted > 0), r.stderr


def test_user_with_files():
    if os.getuid() != 0:
        print("  (not root: -Z not exercised)")
        return
    r = run(["-Z", "nobody", "-r", DEMO])
    assert r.returncode == 0, r.stderr
    assert events(r.stdout) == events(run(["-r", DEMO]).stdout)
    r = run(["-Z", "no-such-user-mailspill", "-r", DEMO])
    assert r.returncode == 1 and b"unknown user" in r.stderr, r.stderr


def test_sigterm_flushes_stdin():
    hdr, recs = records(DEMO)
    with open(DEMO, "rb") as f:
        data = f.read()
    # Everything up to and including the first PASS segment: the server's
    # reply is never read.
    cut = next(off + n for _, _, off, n, pkt in recs if b"PASS " + GOOD["credential"]["password"].encode() in pkt)
    p = subprocess.Popen([BIN, "--show-passwords", "-r", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(data[:cut])
    p.stdin.flush()
    time.sleep(1.0)             # the pipe stays open: mailspill waits for more
    assert p.poll() is None, "mailspill ended before SIGTERM"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    p.stdin.close() if not p.stdin.closed else None
    assert p.returncode == 0, (p.returncode, err)
    evs = events(out)
    alerts = [e for e in evs if e["event_type"] == "alert"]
    assert len(alerts) == 1, evs
    c = alerts[0]["credential"]
    assert c["username"] == GOOD["credential"]["username"], c
    assert c["password"] == GOOD["credential"]["password"], c
    assert c["outcome"] == "unknown", c


for t in (test_list_dissectors, test_bad_limit_values, test_good_limit_values,
          test_wait_window_options, test_pcap_cnt, test_stats_event_json,
          test_stats_text, test_flow_cap_warning, test_user_with_files, test_sigterm_flushes_stdin):
    case(t)
sys.exit(0 if all(results) else 1)
