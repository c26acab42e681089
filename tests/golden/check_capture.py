#!/usr/bin/python3
"""Runs mailspill on one capture and checks its events against the capture's
expected file (<capture>.expected.json, NDJSON written by the generator from
what the clients sent and the servers answered, never from mailspill).

Whole events are compared: each actual event must equal a distinct expected
event on every key, objects recursively and lists element by element, except
the keys in IGNORED (values that truly vary from run to run or that are
derived from other fields and checked as such below) and, when the
expected event leaves them out, the keys in OPTIONAL. A key the generator
does not write and mailspill does, or the other way round, fails the test;
an expected value of null or [] means the key must be absent (mailspill
leaves out unknown values and empty lists). The numbers of events of each
type must match exactly, so a missing or an extra login fails the test.

A line with "event_type": "stats" is matched partially (the engine counters
vary with timing and caps; the expected file gives those the generator
knows, e.g. that an encrypted session was counted). Every email event's
attachments must be followed by one fileinfo event each (same flow, file
name, size, the hash when the file is complete, and the email's own keys),
and email.attachment must list their names.

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


# Keys not compared, by path ("alert.signature" is key signature of the
# alert object), with why:
IGNORED = {
    "timestamp",        # the capture's packet times, set by the recording run
    "flow_id",          # a hash of the tuple and a seed, not a fact of the session
    "pcap_filename",    # checked against the capture path in main()
    "community_id",     # checked by tests/schema with an independent implementation
    "proto",            # the transport; every golden flow is TCP, schema-checked
    "alert.signature",  # text of signature_id (--list-signatures), which is compared
    "alert.category",   # constant per signature_id
    "alert.action", "alert.gid", "alert.rev",  # constants of every alert
    "email.attachment",  # Suricata's list of attachment names: check_derived()
}
# Keys compared only when the expected event gives them: free text whose
# wording the README does not fix ("a readable sentence with the context").
OPTIONAL = {
    "anomaly.detail",
    # The packet that completed the event: the generators that build their
    # packets (stream_gen.py) know it and state it, to test the order in
    # which reassembled bytes are handed on; a recording run does not.
    "pcap_cnt",
}


def is_absent(v):
    return v is None or v == []


def equal(exp, act, path=""):
    """Whole-value comparison of an expected and an actual event (see the
    module docstring); IGNORED paths are skipped."""
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            return False
        for k in set(exp) | set(act):
            p = path + "." + k if path else k
            if p in IGNORED or (p in OPTIONAL and k not in exp):
                continue
            if k not in act:
                if not is_absent(exp.get(k)):
                    return False
            elif k not in exp or not equal(exp[k], act[k], p):
                return False
        return True
    if isinstance(exp, list):
        return isinstance(act, list) and len(exp) == len(act) and all(
            equal(e, a, path) for e, a in zip(exp, act))
    return exp == act and type(exp) is type(act)


def matches(exp, act):
    """Partial match, for the stats event: every key the expected line gives."""
    if isinstance(exp, dict):
        return isinstance(act, dict) and all(
            (k not in act) if is_absent(v) else (k in act and matches(v, act[k]))
            for k, v in exp.items())
    if isinstance(exp, list):
        return isinstance(act, list) and len(exp) == len(act) and all(
            matches(e, a) for e, a in zip(exp, act))
    return exp == act and type(exp) is type(act)


def check_derived(actual):
    """email.attachment is the list of the attachments' file names (those
    that have one), as Suricata writes it."""
    ok = True
    for a in actual:
        em = a.get("email")
        if a.get("event_type") != "email" or not isinstance(em, dict):
            continue
        names = [at["filename"] for at in em.get("attachments", []) if "filename" in at]
        if em.get("attachment", []) != names:
            print("EMAIL.ATTACHMENT MISMATCH: names", names, "listed", em.get("attachment"))
            ok = False
    return ok


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
            # The file's record carries the message's Suricata keys (and the
            # smtp envelope) as the email event has them.
            same = {k: a["email"][k] for k in ("from", "to", "cc", "subject", "date",
                                                "message_id", "attachment", "url")
                    if k in a["email"]}
            if fi.get("event_type") != "fileinfo" or fi.get("flow_id") != a.get("flow_id") \
                    or got != want or way != [a.get(k) for k in ends] \
                    or fi.get("app_proto") != a.get("app_proto") \
                    or fi.get("smtp") != a.get("smtp") \
                    or {k: v for k, v in fi.get("email", {}).items() if k in same} != same:
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
    compared = [a for a in actual if a.get("event_type") != "fileinfo"]
    remaining = list(compared)
    for exp in expected:
        hit = next((a for a in remaining if equal(exp, a)), None)
        if hit is None:
            print("MISSING:", json.dumps(exp, ensure_ascii=False))
            ok = False
        else:
            remaining.remove(hit)
    for a in remaining:
        print("UNEXPECTED:", json.dumps(a, ensure_ascii=False))
        ok = False
    ok = check_fileinfo(actual) and ok
    ok = check_derived(actual) and ok
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
