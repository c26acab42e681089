#!/usr/bin/python3
"""The sinks (README "Sinks") read back through the real thing, reading
files: a redis-server this test starts on a free loopback port, unix
stream and datagram sockets and a syslog socket this test owns.

- every sink at once (file, unix, unixgram, syslog, redis list, redis
  channel): each gets exactly the file's records, in order; the syslog
  datagrams carry the facility's PRI and glibc's header before the record;
- records over the datagram and syslog caps are dropped and counted, never
  cut, and said on stderr;
- a redis killed mid-run (SIGKILL) and restarted on the same port: the
  reader waits for it (back-pressure, a 4 KiB queue), nothing is dropped:
  the restarted server (its append-only file fsynced on every write) holds
  every record of the file sink, in order (a record whose reply was lost
  with the connection may be there twice: at-least-once);
- a redis that never comes: the run waits, and SIGTERM still ends it at
  once, the undelivered records counted as dropped;
- a file that cannot be written (/dev/full): every record counted, the
  other sink unharmed, "N events could not be written" and exit status 1.

  test_sinks.py MAILSPILL GEN_PCAP

Exit 77 (skipped) without redis-server, 1 then under MS_REQUIRE_ALL=1."""
import json
import os
import re
import signal
import subprocess
import sys
import traceback
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sinklib  # noqa: E402

BIN, GEN = os.path.abspath(sys.argv[1]), sys.argv[2]
results = []


def case(fn, *args):
    try:
        fn(*args)
        results.append(True)
        print(f"PASS {fn.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {fn.__name__}: {e}")
        traceback.print_exc()


def lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def stats_of(recs):
    st = [json.loads(r) for r in recs if b'"event_type":"stats"' in r]
    assert len(st) == 1, f"{len(st)} stats events"
    return st[0]["stats"]["output"]["sink"]


SYSLOG_RE = re.compile(rb"^<(\d+)>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d mailspill\[(\d+)\]: (.*)$",
                       re.S)


def test_file_that_cannot_be_written(tmp, pcap):
    """A full disk (/dev/full): each record counted, the run goes on, the
    other sink gets everything, and the end says so with exit status 1."""
    out = os.path.join(tmp, "beside-full.json")
    r = subprocess.run([BIN, "-r", pcap, "-o", "/dev/full", "-o", out], capture_output=True,
                       timeout=60)
    want = lines(out)
    assert len(want) == 601, len(want)  # 200 logins, messages, sessions; stats
    assert r.returncode == 1, r.returncode
    assert b"mailspill: 601 events could not be written" in r.stderr, r.stderr
    sink = stats_of(want)["file"]
    # The stats event counts the 600 failures before it; its own comes after.
    assert sink["write_errors"] == 600 and sink["written"] == 600, sink


def test_sigint_pipe_nobody_reads(tmp, pcap):
    """Standard output a pipe nobody reads: the writer blocks in write(2),
    which nothing interrupts. SIGINT still ends the run within the drain
    (2 s) and the wait for the writer (0.5 s), the rest counted dropped."""
    rfd, wfd = os.pipe()
    try:
        p = subprocess.Popen([BIN, "-r", pcap], stdout=wfd, stderr=subprocess.PIPE)
        os.close(wfd)
        try:
            time.sleep(1.5)
            assert p.poll() is None, f"mailspill ended with its pipe full ({p.returncode})"
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                assert False, "SIGINT did not end a run whose standard output is blocked"
            took = time.monotonic() - t0
            err = p.stderr.read().decode()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        os.close(rfd)
    assert took < 5, f"SIGINT took {took:.1f} s"
    assert "standard output: its last write is still blocked; left behind" in err, err
    assert re.search(r"standard output: \d+ records dropped", err), err


def test_closed_pipe_stops_run(tmp, huge):
    """-r - | head -c 10: once nobody reads standard output the run stops
    early (as when SIGPIPE killed it), exit status 1; the capture this test
    feeds on standard input is far from read whole."""
    with open(huge, "rb") as f:
        data = f.read()
    p = subprocess.Popen(f"{BIN} -r - | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash", stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    fed = 0
    try:
        for at in range(0, len(data), 65536):
            p.stdin.write(data[at:at + 65536])
            p.stdin.flush()
            fed = at + 65536
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        rc = p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode()
    assert rc == 1, (rc, err)
    assert re.search(r"mailspill: \d+ events could not be written", err), err
    assert fed < len(data) // 4, f"read {fed} of {len(data)} bytes after the pipe closed"


def test_closed_pipe_other_sinks_go_on(tmp, pcap):
    """Standard output closed early, a file beside it: the file gets every
    record, the run is not cut short; exit status 1 for what was lost."""
    out = os.path.join(tmp, "beside-pipe.json")
    r = subprocess.run(f"{BIN} -r {pcap} -o - -o {out} | head -c 10 >/dev/null; "
                       "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                       capture_output=True, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert len(lines(out)) == 601, len(lines(out))
    assert b"events could not be written" in r.stderr, r.stderr


def test_socket_path_too_long(tmp, pcap):
    """A socket path sun_path cannot hold is a usage error at once (it used
    to be retried forever, holding the run)."""
    long_path = os.path.join(tmp, "s" * 120)
    for args in (["-o", f"unix:{long_path}"], ["-o", f"unixgram:{long_path}"],
                 ["-o", "syslog", "--syslog-socket", long_path]):
        try:
            r = subprocess.run([BIN, "-r", pcap] + args, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            assert False, f"{args}: the run waited for a path that can never work"
        err = r.stderr.decode()
        assert r.returncode == 2, (args, r.returncode, err)
        assert err.startswith("mailspill: ") and "socket path too long (at most 107 bytes)" in \
            err.splitlines()[0], (args, err)


def test_too_large_says_queue_cap(tmp, big):
    """A record over a --sink-queue smaller than the sink's own cap: the
    warning names the queue's limit, the one that applied."""
    ug = os.path.join(tmp, "small-q.sock")
    dgram = sinklib.DgramReader(ug)
    dgram.start()
    try:
        r = subprocess.run([BIN, "-r", big, "--body-bytes", "90000", "--sink-queue", "8k",
                            "-o", f"unixgram:{ug}"],
                           capture_output=True, timeout=60)
    finally:
        dgram.stop()
    err = r.stderr.decode()
    assert r.returncode == 0, (r.returncode, err)
    m = re.search(r"unixgram:\S+: (\d+) records dropped: larger than (\d+) bytes", err)
    assert m and int(m.group(1)) > 0, err
    assert m.group(2) == str(8192 - 4), err  # the queue's, not unixgram's 65536
    assert all(len(d) <= 8188 for d in dgram.msgs), [len(d) for d in dgram.msgs]


def test_stream_reader_stalls_mid_record(tmp, stall_pcap):
    """A unix stream reader that reads nothing for longer than two send
    timeouts while a 600 KiB record is half sent: the record is finished
    when it reads again, never cut and sent again on a new connection."""
    us = os.path.join(tmp, "stall.sock")
    out = os.path.join(tmp, "stall.json")
    stream = sinklib.StallingUnixServer(us, 11)
    stream.start()
    try:
        r = subprocess.run([BIN, "-r", stall_pcap, "--body-bytes", "1000000", "-o", out,
                            "-o", f"unix:{us}"], capture_output=True, timeout=60)
    finally:
        stream.stop()
    want = lines(out)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert max(len(w) for w in want) > 500000, [len(w) for w in want]
    got = stream.lines()
    for g in got:
        json.loads(g)  # a cut record would not parse
    assert got == want, f"{len(got)} lines, the file {len(want)}"
    assert stream.conns == 1 and b"reconnecting" not in r.stderr, (stream.conns, r.stderr)


def test_every_sink_at_once(tmp, pcap, redis):
    out = os.path.join(tmp, "all.json")
    us, ug, sl = (os.path.join(tmp, n) for n in ("stream.sock", "dgram.sock", "syslog.sock"))
    stream, dgram, syslog = sinklib.UnixStreamServer(us), sinklib.DgramReader(ug), \
        sinklib.DgramReader(sl)
    sub = sinklib.Subscriber(redis.port, "ms-chan")
    for t in (stream, dgram, syslog, sub):
        t.start()
    try:
        r = subprocess.run([BIN, "-r", pcap, "-o", out, "-o", f"unix:{us}", "-o", f"unixgram:{ug}",
                            "-o", "syslog:local3", "--syslog-socket", sl,
                            "-o", f"redis://127.0.0.1:{redis.port}/ms-list",
                            "-o", f"redis+pub://127.0.0.1:{redis.port}/ms-chan"],
                           capture_output=True, timeout=60)
        assert r.returncode == 0 and r.stderr == b"", (r.returncode, r.stderr)
        want = lines(out)
        assert len(want) == 601, len(want)  # 200 logins, messages, sessions; stats
        assert sinklib.wait_for(lambda: len(sub.msgs) >= len(want) and len(dgram.msgs) >=
                                len(want) and len(syslog.msgs) >= len(want), 10)
    finally:
        for t in (stream, dgram, syslog, sub):
            t.stop()
    c = redis.client()
    got = c.cmd("LRANGE", "ms-list", 0, -1)
    c.close()
    assert got == want, "redis list differs from the file"
    assert sub.msgs == want, "redis channel differs from the file"
    assert stream.lines() == want, "unix stream differs from the file"
    assert dgram.msgs == want, "unix datagrams differ from the file"
    recs = []
    for m in syslog.msgs:
        mt = SYSLOG_RE.match(m)
        assert mt, f"not a syslog datagram: {m[:80]!r}"
        assert int(mt.group(1)) == 19 * 8 + 6, f"PRI {mt.group(1)}: local3.info is 158"
        recs.append(mt.group(3))
    assert recs == want, "syslog records differ from the file"
    for j in map(json.loads, recs):
        assert j["event_type"] in ("alert", "email", "session", "stats")
    # The stats event counts what was written before it, per kind.
    sink = stats_of(want)
    for kind in ("file", "unix", "unixgram", "syslog"):
        assert sink[kind]["written"] == 600 and sink[kind]["queued"] == 0, (kind, sink[kind])
    assert sink["redis"]["written"] == 1200, sink["redis"]  # list and channel add up


def test_too_large_dropped_not_cut(tmp, big):
    out = os.path.join(tmp, "big.json")
    ug, sl = os.path.join(tmp, "big-dgram.sock"), os.path.join(tmp, "big-syslog.sock")
    dgram, syslog = sinklib.DgramReader(ug), sinklib.DgramReader(sl)
    dgram.start()
    syslog.start()
    try:
        r = subprocess.run([BIN, "-r", big, "--body-bytes", "90000", "-o", out,
                            "-o", f"unixgram:{ug}", "-o", "syslog", "--syslog-socket", sl],
                           capture_output=True, timeout=60)
        want = lines(out)
        assert sinklib.wait_for(lambda: len(dgram.msgs) >= 3 and len(syslog.msgs) >= 3, 10)
    finally:
        dgram.stop()
        syslog.stop()
    assert r.returncode == 0, (r.returncode, r.stderr)
    big_recs = [w for w in want if len(w) > 65536]
    assert len(big_recs) == 2 and len(want) == 7, [len(w) for w in want]
    small = [w for w in want if len(w) <= 65536]
    # Dropped whole: what arrives is exactly the records that fit.
    assert dgram.msgs == small, [len(m) for m in dgram.msgs]
    assert [SYSLOG_RE.match(m).group(3) for m in syslog.msgs] == small
    assert int(SYSLOG_RE.match(syslog.msgs[0]).group(1)) == 21 * 8 + 6  # local5 by default
    err = r.stderr.decode()
    assert re.search(r"unixgram:\S+: 2 records dropped: larger than 65536 bytes", err), err
    assert re.search(r"syslog: 2 records dropped: larger than \d+ bytes", err), err
    sink = stats_of(want)
    assert sink["unixgram"]["dropped_too_large"] == 2 and sink["unixgram"]["written"] == 4, sink
    assert sink["syslog"]["dropped_too_large"] == 2 and sink["file"]["dropped_too_large"] == 0


def test_redis_killed_mid_run(tmp, pcap):
    """-r - on a pipe this test feeds: half the packets, kill redis, the
    rest, then redis again; nothing may be dropped."""
    port = sinklib.free_port()
    rdir = os.path.join(tmp, "aof")
    os.mkdir(rdir)
    redis = sinklib.Redis(port, rdir, aof=True)
    redis.start()
    out = os.path.join(tmp, "killed.json")
    head, rest = sinklib.pcap_split(pcap, 2000)
    errf = open(os.path.join(tmp, "killed.err"), "wb")
    p = subprocess.Popen([BIN, "-r", "-", "--sink-queue", "4k", "-o", out,
                          "-o", f"redis://127.0.0.1:{port}/ms-list"], stdin=subprocess.PIPE,
                         stderr=errf)
    try:
        p.stdin.write(head)
        p.stdin.flush()
        c = redis.client()
        assert sinklib.wait_for(lambda: c.cmd("LLEN", "ms-list") >= 50, 20), "no record in redis"
        c.close()
        redis.kill()

        def feed():  # more than the pipe holds while mailspill waits
            try:
                p.stdin.write(rest)
                p.stdin.close()
            except OSError:
                pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(1.0)
        assert p.poll() is None, f"mailspill ended while redis was down ({p.returncode})"
        # More records than the 4 KiB queue holds: reading waits for redis.
        assert feeder.is_alive(), "mailspill read on while redis was down"
        redis.start()
        rc = p.wait(timeout=60)
        feeder.join(5)
        c = redis.client()
        got = c.cmd("LRANGE", "ms-list", 0, -1)
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        errf.close()
        redis.kill()
    err = open(os.path.join(tmp, "killed.err"), encoding="utf-8").read()
    assert rc == 0, (rc, err)
    want = lines(out)
    assert len(want) == 601, len(want)
    # At least once: a record resent after a lost reply may be there twice,
    # next to itself; nothing else may differ.
    dedup = [g for i, g in enumerate(got) if i == 0 or g != got[i - 1]]
    assert dedup == want, f"redis holds {len(got)} records, the file {len(want)}"
    assert len(got) - len(want) <= 1, f"{len(got) - len(want)} duplicates"
    lost = err.count("reconnecting")
    back = err.count("connected again")
    assert lost == 1 and back == 1, f"want one lost line and one back line: {err!r}"
    assert "dropped" not in err, err
    sink = stats_of(want)["redis"]
    assert sink["dropped_full"] == 0 and sink["reconnects"] >= 1, sink


def test_dead_redis_sigterm(tmp, pcap):
    """Reading files, a redis that never comes holds the run; SIGTERM still
    ends it promptly, the undelivered records counted as dropped."""
    port = sinklib.free_port()  # nothing listens there
    out = os.path.join(tmp, "dead.json")
    p = subprocess.Popen([BIN, "-r", pcap, "--sink-queue", "4k", "-o", out,
                          "-o", f"redis://127.0.0.1:{port}/k"], stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        assert p.poll() is None, "mailspill did not wait for the sink"
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        took = time.monotonic() - t0
        err = p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 0, (rc, err)
    assert took < 3.5, f"SIGTERM took {took:.1f} s"
    assert err.count("cannot connect") == 1, err
    assert re.search(r"redis://127\.0\.0\.1:\d+/k: \d+ records dropped", err), err


def test_redis_readonly_replica(tmp, pcap):
    """A redis that is a read-only replica (what a failover leaves behind)
    answers READONLY: transient, the run waits and resends; once it is made
    a master (REPLICAOF NO ONE) every record arrives."""
    port = sinklib.free_port()
    rdir = os.path.join(tmp, "replica")
    os.mkdir(rdir)
    # The master it follows does not exist: it stays a read-only replica.
    redis = sinklib.Redis(port, rdir, extra=["--replicaof", "127.0.0.1", str(sinklib.free_port())])
    redis.start()
    out = os.path.join(tmp, "replica.json")
    errp = os.path.join(tmp, "replica.err")
    errf = open(errp, "wb")
    p = subprocess.Popen([BIN, "-r", pcap, "--sink-queue", "4k", "-o", out,
                          "-o", f"redis://127.0.0.1:{port}/ms-list"], stderr=errf)
    try:
        time.sleep(1.5)
        assert p.poll() is None, f"mailspill did not wait for the replica ({p.returncode})"
        c = redis.client()
        assert c.cmd("LLEN", "ms-list") == 0
        c.cmd("REPLICAOF", "NO", "ONE")
        c.close()
        rc = p.wait(timeout=60)
        c = redis.client()
        got = c.cmd("LRANGE", "ms-list", 0, -1)
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        errf.close()
        redis.kill()
    err = open(errp, encoding="utf-8").read()
    assert rc == 0, (rc, err)
    assert err.count("READONLY") == 1 and "reconnecting" in err, err
    assert got == lines(out), f"redis holds {len(got)} records, the file {len(lines(out))}"


def main():
    with tempfile.TemporaryDirectory(prefix="mailspill-sinks.") as tmp:
        pcap, big = os.path.join(tmp, "s.pcap"), os.path.join(tmp, "big.pcap")
        sinklib.gen_sessions(GEN, pcap, 200, 1)
        sinklib.gen_sessions(GEN, big, 2, 100)
        huge, stall = os.path.join(tmp, "huge.pcap"), os.path.join(tmp, "stall.pcap")
        sinklib.gen_sessions(GEN, huge, 5000, 1)
        sinklib.gen_sessions(GEN, stall, 2, 600)
        case(test_file_that_cannot_be_written, tmp, pcap)
        case(test_sigint_pipe_nobody_reads, tmp, pcap)
        case(test_closed_pipe_stops_run, tmp, huge)
        case(test_closed_pipe_other_sinks_go_on, tmp, pcap)
        case(test_socket_path_too_long, tmp, pcap)
        case(test_too_large_says_queue_cap, tmp, big)
        case(test_stream_reader_stalls_mid_record, tmp, stall)
        if not sinklib.have_redis():
            if not all(results):
                return 1
            sinklib.skip("redis-server is not installed (scripts/install-deps.sh test)")
        redis = sinklib.Redis(sinklib.free_port(), tmp)
        redis.start()
        try:
            case(test_every_sink_at_once, tmp, pcap, redis)
        finally:
            redis.kill()
        case(test_too_large_dropped_not_cut, tmp, big)
        case(test_redis_killed_mid_run, tmp, pcap)
        case(test_dead_redis_sigterm, tmp, pcap)
        case(test_redis_readonly_replica, tmp, pcap)
    print(f"{results.count(True)} passed, {results.count(False)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
