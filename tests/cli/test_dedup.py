#!/usr/bin/python3
"""--dedup SECONDS (README "Repeats, periodic stats, evidence") on a capture
made here: the same POP3 login repeated 10 times over 2 hours of capture
time (one session every 800 s), beside the same user with another
password, the same password with another outcome, and the same login to
another server, each also 10 times.

Without --dedup every login is an alert (40). With --dedup 3600 the alerts
must be exactly those the documented rule gives, computed here from the
no-dedup run's alerts: per (server, user, password, outcome), the first is
reported; the same within 3600 s of the last report is suppressed and
counted; the first after it is reported with "dedup": {"suppressed": N,
"first_seen", "last_seen", "period"} and starts the next period. So each
of the 4 logins gives 2 alerts (t=0 and t=4000 s, the second saying 4
suppressed from 800 to 3200 s), and 4 repeats each (4800..7200 s) are left
unreported: stats dedup.suppressed 32, dedup.unreported 16, and one
warning line says 16. Every event validates against the own schema."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pop3gen  # noqa: E402

BIN, REPO = sys.argv[1], sys.argv[2]
T0 = 1795000000 * 1000000
STEP = 800 * 1000000
PERIOD = 3600
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def make_capture(path):
    sessions = []
    kinds = [  # client port base, server, password, accepted
        (40000, "10.0.0.1", b"Summer 2026!pw", True),
        (41000, "10.0.0.1", b"Winter 2025!pw", False),
        (42000, "10.0.0.1", b"Summer 2026!pw", False),
        (43000, "10.0.0.2", b"Summer 2026!pw", True),
    ]
    for i in range(10):
        for k, (pbase, srv, pw, ok) in enumerate(kinds):
            sessions.append(pop3gen.session("10.0.0.5", pbase + i, srv, 110,
                                            T0 + i * STEP + k * 10 * 1000000,
                                            pop3gen.login_lines(b"alice", pw, ok)))
    pop3gen.write_pcap(path, sessions)


def run(args):
    r = subprocess.run([BIN] + args, capture_output=True, timeout=60)
    lines = [json.loads(l) for l in r.stdout.decode().splitlines()]
    return r, lines


def key(a):
    c = a["credential"]
    return (a["dest_ip"], a["dest_port"], a["app_proto"], c["mechanism"], c.get("username"),
            c.get("password"), c["outcome"])


def model(alerts, period_s):
    """The documented rule, on the alerts of a run without --dedup."""
    state, out = {}, []
    for a in sorted(alerts, key=lambda a: a["timestamp"]):
        k, ts = key(a), a["timestamp"]
        t = ts_us(ts)
        st = state.get(k)
        if st is not None and t - st["report"] < period_s * 1000000:
            st["n"] += 1
            st["first"] = st["first"] or ts
            st["last"] = ts
            continue
        d = None
        if st is not None and st["n"]:
            d = {"suppressed": st["n"], "first_seen": st["first"], "last_seen": st["last"],
                 "period": period_s}
        out.append((a["flow_id"], d))
        state[k] = {"report": t, "n": 0, "first": None, "last": None}
    return out, sum(s["n"] for s in state.values())


def ts_us(ts):
    import datetime
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(d.timestamp()) * 1000000 + d.microsecond


def main():
    try:
        from jsonschema import Draft202012Validator
        own = Draft202012Validator(json.load(open(os.path.join(REPO, "schema",
                                                               "mailspill-eve.schema.json"))))
    except ImportError:
        own = None
        print("note: python3-jsonschema missing, schema not checked")
    with tempfile.TemporaryDirectory(prefix="ms-dedup-") as tmp:
        cap = os.path.join(tmp, "repeats.pcap")
        make_capture(cap)

        r, plain = run(["--show-passwords", "-r", cap])
        check(r.returncode == 0, f"no --dedup: exit {r.returncode} {r.stderr!r}")
        alerts = [e for e in plain if e["event_type"] == "alert"]
        check(len(alerts) == 40, f"no --dedup: {len(alerts)} alerts, expected 40")
        check(not any("dedup" in e for e in plain), "no --dedup: a dedup key")
        check("dedup" not in [e for e in plain if e["event_type"] == "stats"][-1]["stats"],
              "no --dedup: stats.dedup present")
        check(len({key(a) for a in alerts}) == 4, "the capture should hold 4 distinct logins")
        want, unreported = model(alerts, PERIOD)
        check(len(want) == 8 and unreported == 16,
              f"the model itself: {len(want)} reports, {unreported} unreported (expected 8, 16)")
        check(sorted(d["suppressed"] for _, d in want if d) == [4, 4, 4, 4],
              f"the model: {want}")

        for mode in (["--show-passwords"], [], ["--passwords", "mask"]):
            r, evs = run(mode + ["--dedup", str(PERIOD), "-r", cap])
            name = " ".join(mode) or "redact"
            check(r.returncode == 0, f"{name}: exit {r.returncode} {r.stderr!r}")
            got = [(e["flow_id"], e.get("dedup")) for e in evs if e["event_type"] == "alert"]
            check(got == want, f"{name}: alerts\n  got  {got}\n  want {want}")
            st = [e for e in evs if e["event_type"] == "stats"][-1]["stats"]
            check(st.get("dedup") == {"suppressed": 32, "unreported": 16, "evicted": 0},
                  f"{name}: stats.dedup {st.get('dedup')}")
            check(st["output"]["alert"] == 8, f"{name}: output.alert {st['output']['alert']}")
            check(b"warning: 16 repeated logins were suppressed" in r.stderr,
                  f"{name}: no warning line for the 16 unreported: {r.stderr!r}")
            if own:
                for e in evs:
                    errs = list(own.iter_errors(e))
                    check(not errs, f"{name}: schema: {errs[:1]} in {e}")
            # The same output on every run: the capture clock decides.
            r2, _ = run(mode + ["--dedup", str(PERIOD), "-r", cap])
            check(r2.stdout == r.stdout, f"{name}: a second run differs")

        # The text view says the same.
        r = subprocess.run([BIN, "--text", "--dedup", str(PERIOD), "-r", cap], capture_output=True,
                           timeout=60)
        lines = r.stdout.decode().splitlines()
        logins = [l for l in lines if ' USER/PASS "alice" ' in l]
        more = [l for l in logins if "[4 more since " in l and "not shown: --dedup]" in l]
        check(len(logins) == 8 and len(more) == 4, f"--text: {lines}")

        # A period shorter than the spacing reports every login.
        r, evs = run(["--dedup", "700", "-r", cap])
        n = sum(1 for e in evs if e["event_type"] == "alert")
        check(n == 40 and not any("dedup" in e for e in evs if e["event_type"] == "alert"),
              f"--dedup 700: {n} alerts")
        # A period longer than the capture: one report per login, the rest unreported.
        r, evs = run(["--dedup", "86400", "-r", cap])
        n = sum(1 for e in evs if e["event_type"] == "alert")
        st = [e for e in evs if e["event_type"] == "stats"][-1]["stats"]["dedup"]
        check(n == 4 and st["suppressed"] == 36 and st["unreported"] == 36,
              f"--dedup 86400: {n} alerts, {st}")

        for bad in ("0", "-1", "x", str(30 * 86400 + 1)):
            r = subprocess.run([BIN, "--dedup", bad, "-r", cap], capture_output=True, timeout=30)
            check(r.returncode == 2, f"--dedup {bad}: exit {r.returncode}")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("dedup: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
