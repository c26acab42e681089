#!/usr/bin/python3
"""The session events' bytes_toserver / bytes_toclient of every capture in
pcaps/ against the TCP payload bytes scapy reads from the capture
(session_check.py), in one run so that scapy is loaded once rather than
in each golden test.

  session_bytes.py MAILSPILL PCAPS_DIR"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from session_check import check_sessions  # noqa: E402


def main():
    binary, root = sys.argv[1], sys.argv[2]
    caps = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                  if f.endswith((".pcap", ".pcapng")))
    ok, sessions = True, 0
    for cap in caps:
        r = subprocess.run([binary, "-r", cap, "--no-stats"], capture_output=True)
        events = [json.loads(line) for line in r.stdout.splitlines()]
        sessions += sum(1 for e in events if e.get("event_type") == "session")
        print(f"== {os.path.relpath(cap, root)}")
        if not check_sessions(cap, events, wire_bytes=True):
            ok = False
    # The captures hold mail sessions: a run that found none checked nothing.
    if sessions < 50:
        print(f"FAIL: only {sessions} session events in {len(caps)} captures")
        ok = False
    print(("ok" if ok else "FAIL") + f": {len(caps)} captures, {sessions} session events")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
