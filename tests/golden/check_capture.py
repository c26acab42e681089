#!/usr/bin/python3
"""Runs mailspill on one capture and checks its events against the capture's
expected file (<capture>.expected.json, NDJSON written by the generator from
what the clients sent and the servers answered).

Each expected line is a partial event: it must match a distinct actual event
on every key it gives (objects recursively; lists of equal length, element by
element). The number of alert and email events must be exactly the number
expected, so a missing or an extra login fails the test, and no anomaly may
appear unless the expected file lists it. A key expected as null or [] must
be absent (mailspill leaves out unknown values and empty lists). A line with
"event_type": "stats" is matched against the stats event that ends every run.
Every email event's attachments must be followed by one fileinfo event each
(same flow, file name, size, and the hash when the file is complete).

The capture is then read again without --show-passwords (check_redaction):
no secret of 4 bytes or more (every credential.password and credential.token
of the first run and of the expected file) may appear anywhere in that
output, raw or JSON-escaped, and each credential must say password_redacted
/ token_redacted with the secret's length in bytes, the events being
otherwise the same as with --show-passwords."""
import json
import os
import re
import subprocess
import sys


def matches(exp, act):
    if isinstance(exp, dict):
        return isinstance(act, dict) and all(
            (k not in act) if v is None or v == [] else (k in act and matches(v, act[k]))
            for k, v in exp.items())
    if isinstance(exp, list):
        return isinstance(act, list) and len(exp) == len(act) and all(
            matches(e, a) for e, a in zip(exp, act))
    return exp == act and type(exp) is type(act)


def check_fileinfo(actual):
    """The fileinfo events after each email event describe its attachments,
    in order, as Suricata logs files."""
    ok = True
    for i, a in enumerate(actual):
        if a.get("event_type") != "email":
            continue
        atts = a["email"].get("attachments", [])
        infos = actual[i + 1:i + 1 + len(atts)]
        for at, fi in zip(atts, infos):
            f = fi.get("fileinfo", {})
            want = {"filename": at.get("filename"), "size": at["size"],
                    "content_type": at["content_type"],
                    "state": "TRUNCATED" if at.get("truncated") else "CLOSED",
                    "gaps": bool(at.get("gaps")),
                    "sha256": None if at.get("truncated") else at["sha256"]}
            got = {k: f.get(k) for k in want}
            # Addresses go the way the file went: a downloaded one (POP3
            # RETR/TOP, IMAP FETCH) comes from the server, as Suricata logs.
            down = a["email"]["command"] in ("RETR", "TOP", "FETCH")
            ends = ("dest_ip", "dest_port", "src_ip", "src_port") if down else \
                   ("src_ip", "src_port", "dest_ip", "dest_port")
            way = [fi.get(k) for k in ("src_ip", "src_port", "dest_ip", "dest_port")]
            if fi.get("event_type") != "fileinfo" or fi.get("flow_id") != a.get("flow_id") \
                    or got != want or way != [a.get(k) for k in ends]:
                print("FILEINFO MISMATCH: attachment", json.dumps(at), "record", json.dumps(fi))
                ok = False
        if len(infos) < len(atts):
            print(f"FILEINFO: {len(atts)} attachments, {len(infos)} records after the email")
            ok = False
    n_att = sum(len(a["email"].get("attachments", [])) for a in actual
                if a.get("event_type") == "email")
    n_fi = sum(1 for a in actual if a.get("event_type") == "fileinfo")
    if n_att != n_fi:
        print(f"fileinfo: {n_att} attachments, {n_fi} fileinfo events")
        ok = False
    return ok


SECRETS = ("password", "token")


def secrets_of(events):
    out = set()
    for e in events:
        c = e.get("credential") if isinstance(e, dict) else None
        if not isinstance(c, dict):
            continue
        for k in SECRETS:
            if isinstance(c.get(k), str):
                out.add(c[k])
    return out


def forms(secret):
    """The byte strings a secret would show up as in NDJSON: raw UTF-8, and
    JSON-escaped (with and without non-ASCII escaped, slash escaped or not,
    either case of hex digits)."""
    out = {secret.encode("utf-8", "surrogatepass")}
    for ascii_only in (False, True):
        esc = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        for v in (esc, esc.replace("/", "\\/")):
            out.add(v.encode("utf-8", "surrogatepass"))
            out.add(re.sub(r"\\u[0-9a-f]{4}", lambda m: m.group(0).upper().replace("\\U", "\\u"),
                           v).encode("utf-8", "surrogatepass"))
    return out


def check_redaction(binary, capture, shown, expected):
    """Runs the capture again without --show-passwords; see the docstring."""
    run = subprocess.run([binary, "-r", capture], capture_output=True, timeout=300)
    if run.returncode != 0:
        print(f"redacted run: mailspill exited {run.returncode}: {run.stderr.decode(errors='replace')}")
        return False
    ok = True
    raw = run.stdout
    for secret in sorted(secrets_of(shown) | secrets_of(expected)):
        if len(secret.encode("utf-8", "surrogatepass")) < 4:
            continue
        for f in forms(secret):
            if f in raw:
                print(f"REDACTION: secret {secret!r} appears in the output without "
                      f"--show-passwords (as {f!r})")
                ok = False
                break
    redacted = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    if len(redacted) != len(shown):
        print(f"REDACTION: {len(shown)} events with --show-passwords, {len(redacted)} without")
        return False
    for a, r in zip(shown, redacted):
        want = json.loads(json.dumps(a))
        c = want.get("credential")
        if isinstance(c, dict):
            for k in SECRETS:
                if k in c:
                    v = c.pop(k)
                    c[k + "_redacted"] = True
                    c[k + "_length"] = len(v.encode("utf-8", "surrogatepass"))
                    if "\ufffd" in v:
                        # Invalid bytes are shown as U+FFFD (3 bytes for 1): the
                        # length is the raw byte count, unknowable from here.
                        rc_ = r.get("credential", {})
                        if isinstance(rc_.get(k + "_length"), int):
                            c[k + "_length"] = rc_[k + "_length"]
        if r != want:
            print("REDACTION MISMATCH: expected", json.dumps(want, ensure_ascii=False),
                  "got", json.dumps(r, ensure_ascii=False))
            ok = False
    return ok


def main():
    binary, capture = sys.argv[1], sys.argv[2]
    base = capture.rsplit(".", 1)[0]
    exp_path = base + ".expected.json"
    if not os.path.exists(exp_path):
        print(f"no expected file {exp_path}")
        return 1
    with open(exp_path, encoding="utf-8") as f:
        expected = [json.loads(l) for l in f if l.strip()]
    run = subprocess.run([binary, "--show-passwords", "-r", capture], capture_output=True, timeout=300)
    if run.returncode != 0:
        print(f"mailspill exited {run.returncode}: {run.stderr.decode(errors='replace')}")
        return 1
    actual = [json.loads(l) for l in run.stdout.decode("utf-8").splitlines() if l.strip()]
    ok = True
    stats = [a for a in actual if a.get("event_type") == "stats"]
    if len(stats) != 1:
        print(f"expected one stats event at the end of the run, got {len(stats)}")
        ok = False
    # Expected "stats" lines are matched against the run's stats event (e.g.
    # that an encrypted session was counted); everything else against events.
    for exp in [e for e in expected if e.get("event_type") == "stats"]:
        if not stats or not matches(exp, stats[0]):
            print("STATS MISMATCH: expected", json.dumps(exp), "got",
                  json.dumps(stats[0] if stats else None))
            ok = False
    all_events = actual
    expected = [e for e in expected if e.get("event_type") != "stats"]
    actual = [a for a in actual if a.get("event_type") != "stats"]
    for e in actual:
        if e.get("pcap_filename") != capture:
            print(f"pcap_filename {e.get('pcap_filename')!r} != {capture!r}")
            ok = False
    remaining = list(actual)
    for exp in expected:
        hit = next((a for a in remaining if matches(exp, a)), None)
        if hit is None:
            print("MISSING:", json.dumps(exp, ensure_ascii=False))
            ok = False
        else:
            remaining.remove(hit)
    ok = check_fileinfo(actual) and ok
    ok = check_redaction(binary, capture, all_events, expected) and ok
    for kind in ("alert", "email", "anomaly"):
        n_exp = sum(1 for e in expected if e.get("event_type") == kind)
        n_act = sum(1 for a in actual if a.get("event_type") == kind)
        if n_exp != n_act:
            print(f"{kind}: expected {n_exp} events, got {n_act}")
            ok = False
    if not ok:
        print("--- actual events:")
        for a in actual:
            print(json.dumps(a, ensure_ascii=False))
        return 1
    print(f"{len(expected)} expected events found in {len(actual)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
