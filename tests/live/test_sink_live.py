#!/usr/bin/python3
"""A redis sink that dies during a live capture (README "Sinks"): capture
must go on, the other sink (-o FILE) must get everything, the redis sink
reconnects when redis is back, and the final stats event accounts for
every record: written + dropped_full + dropped_too_large + write_errors +
queued = the records handed to it.

Inside a network namespace of its own (loopback up, a veth pair): a real
redis-server on 127.0.0.1, mailspill capturing on one end of the veth, and
POP3 sessions (bench/gen_pcap.py, 4 KB messages, --body-bytes 4000: records
of about 5 KB) replayed into the other end with scapy's sendp, in three
parts: redis up; redis SIGKILLed (a 64 KiB queue: records are dropped, and
counted); redis started again, empty (no persistence), on
the same port. Then SIGTERM.

Checked: mailspill never exits early; the file has every record; one
stderr line says redis was lost and one that it is back; stats.written +
queued at the stats event = what the first server got before the kill +
what the restarted server holds (less the stats event itself); dropped_full
> 0 and the end-of-run warning gives the same number; the restarted
server's records are, in order, records of the file.

  tests/live/test_sink_live.py MAILSPILL GEN_PCAP

Exit 77 (ctest SKIP) when not root, when namespaces are not allowed or
redis-server is missing; exit 1 then with MS_REQUIRE_ALL=1 (CI)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
import sinklib  # noqa: E402

from livelib import capture_ready  # noqa: E402

BIN, GEN = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# The inside run gets the names from the outer one (argv 5): its pid differs.
TAG = sys.argv[5] if len(sys.argv) > 5 else str(os.getpid() % 100000)
NS = f"ms-sink-{TAG}"
VA, VB = f"mska{TAG}", f"mskb{TAG}"
SESSIONS = 90  # 30 per part: a login and a message each
PORT = 6390    # inside the namespace's own loopback: nothing else there



def records(path):
    try:
        with open(path, "rb") as f:
            return f.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []


def inside(tmp):
    """Runs in the namespace (re-executed by main through ip netns exec)."""
    from scapy.all import rdpcap, sendp  # the namespace's own interface list
    pcap = os.path.join(tmp, "s.pcap")
    sinklib.gen_sessions(GEN, pcap, SESSIONS, 4)
    pkts = rdpcap(pcap)
    third = len(pkts) // 3
    parts = [pkts[:third], pkts[third:2 * third], pkts[2 * third:]]
    out, errp = os.path.join(tmp, "events.json"), os.path.join(tmp, "mailspill.err")
    rdir = os.path.join(tmp, "redis")
    os.mkdir(rdir)
    redis = sinklib.Redis(PORT, rdir)
    redis.start()
    errf = open(errp, "wb")
    # -B: the replay comes in bursts; a kernel drop is no sink's doing.
    p = subprocess.Popen([BIN, "-i", VA, "-B", "16384", "--sink-queue", "64k", "--body-bytes",
                          "4000", "-o", out, "-o", f"redis://127.0.0.1:{PORT}/live", "tcp"],
                         stderr=errf)
    try:
        assert sinklib.wait_for(lambda: capture_ready(p.pid) or p.poll() is not None, 30)
        assert p.poll() is None, f"mailspill exited: {open(errp).read()}"

        def replay(part, want):
            sendp(part, iface=VB, verbose=False)
            ok = sinklib.wait_for(lambda: len(records(out)) >= want, 20)
            assert ok, f"{len(records(out))} records in the file, {want} expected"
            assert p.poll() is None, f"mailspill exited ({p.returncode})"

        replay(parts[0], 1)
        time.sleep(1.0)  # the last replies reach mailspill
        c = redis.client()
        n_file = len(records(out))
        assert sinklib.wait_for(lambda: c.cmd("LLEN", "live") >= n_file, 10)
        before_kill = c.cmd("LLEN", "live")
        c.close()
        redis.kill()
        replay(parts[1], n_file + 1)
        time.sleep(1.0)
        assert p.poll() is None, "mailspill exited while redis was down"
        redis.start()
        err = lambda: open(errp, encoding="utf-8").read()  # noqa: E731
        assert sinklib.wait_for(lambda: "connected again" in err(), 15), err()
        replay(parts[2], len(records(out)) + 1)
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=15)
        assert rc == 0, (rc, err())
        c = redis.client()
        after = c.cmd("LRANGE", "live", 0, -1)
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        redis.kill()
        errf.close()
    recs = records(out)
    stderr = err()
    events = [json.loads(r) for r in recs]
    assert events[-1]["event_type"] == "stats" and \
        all(e["event_type"] != "stats" for e in events[:-1]), "one stats event, at the end"
    total = len(recs) - 1
    st = events[-1]["stats"]["output"]
    # The file sink got every record the pipeline made (what capture may
    # have missed of the replay is not this test's business).
    made = st["alert"] + st["email"] + st["fileinfo"] + st["anomaly"] + st["session"]
    assert total == made and st["sink"]["file"]["dropped_full"] == 0, (total, st)
    assert total >= SESSIONS, f"file: {total} records of {2 * SESSIONS} sessions' events"
    rs = st["sink"]["redis"]
    handed = rs["written"] + rs["dropped_full"] + rs["dropped_too_large"] + \
        rs["write_errors"] + rs["queued"]
    assert handed == total, f"redis counters {rs} add up to {handed}, not {total}"
    assert rs["dropped_full"] > 0, f"nothing dropped while redis was down: {rs}"
    assert rs["reconnects"] >= 1, rs
    # What the restarted server holds: the records delivered after it came
    # back (those queued at the stats event among them), then the stats.
    assert after and after[-1] == recs[-1], "the stats event did not reach redis"
    assert rs["written"] + rs["queued"] == before_kill + len(after) - 1, \
        (rs, before_kill, len(after))
    it = iter(recs)
    assert all(any(a == r for r in it) for a in after), "redis records not in the file's order"
    assert stderr.count("reconnecting") == 1 and stderr.count("connected again") == 1, stderr
    m = re.search(r"redis://\S+: (\d+) records dropped", stderr)
    assert m and int(m.group(1)) == rs["dropped_full"], stderr
    print(f"redis: {before_kill} before the kill, {rs['dropped_full']} dropped while down, "
          f"{len(after) - 1} after the restart, of {total} (alert {st['alert']}, email "
          f"{st['email']}); capture: "
          f"{json.dumps(events[-1]['stats'].get('capture'))}")


def main():
    if len(sys.argv) > 3 and sys.argv[3] == "--inside":
        try:
            inside(sys.argv[4])
        except AssertionError as e:
            print("FAIL:", e)
            return 1
        print("1 passed, 0 failed")
        return 0
    if not sinklib.have_redis():
        sinklib.skip("redis-server is not installed (scripts/install-deps.sh test)")
    if os.geteuid() != 0:
        sinklib.skip("needs root (network namespace, capture)")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        sinklib.skip("network namespaces are not allowed here (ip netns add failed)")
    try:
        for cmd in (["ip", "-n", NS, "link", "set", "lo", "up"],
                    ["ip", "-n", NS, "link", "add", VA, "type", "veth", "peer", "name", VB],
                    ["ip", "-n", NS, "link", "set", VA, "up"],
                    ["ip", "-n", NS, "link", "set", VB, "up"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sinklib.skip(f"{' '.join(cmd)}: {r.stderr.strip()}")
        with tempfile.TemporaryDirectory(prefix="mailspill-sinklive.") as tmp:
            r = subprocess.run(["ip", "netns", "exec", NS, "/usr/bin/python3",
                                os.path.abspath(__file__), BIN, GEN, "--inside", tmp, TAG],
                               timeout=150)
            return r.returncode
    finally:
        # Deleting the namespace ends its veth pair; the children (redis,
        # mailspill) were ended by the inside run's finally.
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
