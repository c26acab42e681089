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

Session events are checked by consistency with the rest of their flow and
with the capture's own TCP payload bytes (session_check.py), and compared
whole only when the expected file gives them.

The capture is then read again in each other --passwords mode (redact,
mask, hash), as JSON and with --text (check_secrets): no secret of 4 bytes
or more (every credential.password, token, response and hashcat line of the
first run and of the expected file) may appear anywhere in those outputs,
raw, JSON-escaped or as the text view escapes it. Each JSON credential must
be the clear run's with each secret replaced as the mode says (README
"Secrets"): password_redacted / password_masked (first and last character
of 8 or more, counted in code points) / password_hmac (HMAC-SHA256 under
the key, computed here with Python's hmac module, so equal for an equal
secret), with password_length in bytes, the same for token; response
becomes response_redacted with response_length, hashcat becomes
hashcat_redacted beside its hashcat_mode. The redact run also writes
--hashes FILE, which must be mode 0600 and hold exactly the clear run's
hashcat lines, in order, each under a "# hashcat -m MODE" line of its mode.

Every run adds the arguments of the capture's <capture>.args sidecar, if
it has one (capture_args.py: e.g. the passphrase file of pcaps/wifi)."""
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from session_check import check_sessions  # noqa: E402
from capture_args import capture_args  # noqa: E402


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
    # Flow ids and a time a generator cannot know: session_check.py checks
    # that they name the current session and the latest earlier one of the
    # same server that offered STARTTLS.
    "starttls_stripped.offered_flow_id", "starttls_stripped.stripped_flow_id",
    "starttls_stripped.offered_timestamp",
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
            # So do the 802.11 stations of ether (the BSSID stays).
            ether = a.get("ether")
            if ether:
                ether = dict(ether)
                if down:
                    ether["src_mac"], ether["dest_mac"] = ether["dest_mac"], ether["src_mac"]
            # The file's record carries the message's Suricata keys (and the
            # smtp envelope) as the email event has them.
            same = {k: a["email"][k] for k in ("from", "to", "cc", "subject", "date",
                                                "message_id", "attachment", "url")
                    if k in a["email"]}
            if fi.get("event_type") != "fileinfo" or fi.get("flow_id") != a.get("flow_id") \
                    or got != want or way != [a.get(k) for k in ends] \
                    or fi.get("ether") != ether \
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
# Shown in the clear mode only: what a cracker recovers the password from.
CRACKABLE = ("response", "hashcat")
MODES = ("redact", "mask", "hash")
# The --hash-key file of the hash runs: mailspill drops one final line end.
HASH_KEY = b"mailspill golden check: HMAC key of 32 bytes or more"
MASK_MIN_CHARS = 8


def secrets_of(events, keys=SECRETS):
    out = set()
    for e in events:
        c = e.get("credential") if isinstance(e, dict) else None
        if not isinstance(c, dict):
            continue
        for k in keys:
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
    out.add(text_form(secret))
    out.add(text_form(secret, quoted=True))
    return out


def steers(cp):
    """Characters the text view escapes besides controls (output/text.c)."""
    return 0x80 <= cp <= 0x9f or cp in (0x061c, 0x200e, 0x200f, 0x2028, 0x2029) \
        or 0x202a <= cp <= 0x202e or 0x2066 <= cp <= 0x2069


def text_form(secret, quoted=False):
    """The secret as the --text view writes captured bytes: controls and
    steering characters as \\xNN per byte; quoted (user names, secrets:
    between double quotes), '"' and '\\' escaped with a '\\' too."""
    out = b""
    for ch in secret:
        b = ch.encode("utf-8", "surrogatepass")
        cp = ord(ch)
        if cp < 0x20 or cp == 0x7f or steers(cp):
            out += "".join(f"\\x{x:02x}" for x in b).encode()
        elif quoted and ch in '"\\':
            out += b"\\" + b
        else:
            out += b
    return out


def mask_of(v):
    """--passwords mask, written here from README: the first and the last
    character of a secret of 8 characters or more, a '*' for each one
    between; a '*' for each character of a shorter one. Characters are
    code points (an invalid byte, U+FFFD in JSON, is one)."""
    if len(v) < MASK_MIN_CHARS:
        return "*" * len(v)
    return v[0] + "*" * (len(v) - 2) + v[-1]


def hmac_of(v):
    return hmac.new(HASH_KEY, v.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def byte_length(v, actual):
    """Bytes of a value; one with U+FFFD (an invalid byte shown as 3 bytes)
    has a raw length unknowable from here: the actual one is taken."""
    if "\ufffd" in v and isinstance(actual, int):
        return actual
    return len(v.encode("utf-8", "surrogatepass"))


def under_mode(shown_event, actual_event, mode):
    """The clear run's event as mode should write it."""
    want = json.loads(json.dumps(shown_event))
    c = want.get("credential")
    if not isinstance(c, dict):
        return want
    ac = actual_event.get("credential", {}) if isinstance(actual_event, dict) else {}
    out = {}
    for key, v in c.items():
        if key in SECRETS:
            if mode == "mask":
                out[key + "_masked"] = mask_of(v)
            elif mode == "hash":
                # Invalid bytes cannot be rebuilt from U+FFFD: checked for
                # consistency across events only (check_secrets).
                out[key + "_hmac"] = ac.get(key + "_hmac") if "\ufffd" in v else hmac_of(v)
            else:
                out[key + "_redacted"] = True
            out[key + "_length"] = byte_length(v, ac.get(key + "_length"))
        elif key == "response":
            out["response_redacted"] = True
            out["response_length"] = byte_length(v, ac.get("response_length"))
        elif key == "hashcat":
            out["hashcat_redacted"] = True
        else:
            out[key] = v
    want["credential"] = out
    return want


def check_hashes_file(path, shown):
    """--hashes: mode 0600, the clear run's hashcat lines in order, each
    under a "# hashcat -m MODE" line of its mode."""
    ok = True
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if mode != 0o600:
        print(f"HASHES: {path} has mode {mode:o}, not 600")
        ok = False
    want = [(e["credential"]["hashcat_mode"], e["credential"]["hashcat"].encode("utf-8"))
            for e in shown if isinstance(e.get("credential"), dict) and "hashcat" in e["credential"]]
    got, current = [], None
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        print("HASHES: the file does not end with a line end")
        ok = False
    for line in lines:
        m = re.fullmatch(rb"# hashcat -m (\d+)", line)
        if m:
            current = int(m.group(1))
        elif line.startswith(b"#"):
            print(f"HASHES: unexpected comment {line!r}")
            ok = False
        else:
            got.append((current, line))
    if got != want:
        print(f"HASHES: the file holds {got!r}; the clear run's hashcat lines are {want!r}")
        ok = False
    return ok


def run_mode(binary, capture, mode, tmp, text=False, hashes=None):
    argv = [binary, "--passwords", mode]
    if mode == "hash":
        key = os.path.join(tmp, "key")
        if not os.path.exists(key):
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, HASH_KEY + b"\n")
            os.close(fd)
        argv += ["--hash-key", key]
    if text:
        argv.append("--text")
    if hashes:
        argv += ["--hashes", hashes]
    return subprocess.run(argv + capture_args(capture) + ["-r", capture], capture_output=True,
                          timeout=300)


def check_secrets(binary, capture, shown, expected):
    """Each mode but clear, as JSON and as text; see the docstring."""
    forbidden = set()
    for keys in (SECRETS, CRACKABLE):
        for v in secrets_of(shown, keys) | secrets_of(expected, keys):
            if len(v.encode("utf-8", "surrogatepass")) >= 4:
                forbidden.add(v)
    ok = True
    with tempfile.TemporaryDirectory(prefix="mailspill-golden-") as tmp:
        for mode in MODES:
            for text in (False, True):
                hashes = os.path.join(tmp, "hashes") if mode == "redact" and not text else None
                run = run_mode(binary, capture, mode, tmp, text, hashes)
                what = f"--passwords {mode}" + (" --text" if text else "")
                if run.returncode != 0:
                    print(f"{what}: mailspill exited {run.returncode}: "
                          f"{run.stderr.decode(errors='replace')}")
                    ok = False
                    continue
                raw = run.stdout
                for secret in sorted(forbidden):
                    f = next((f for f in forms(secret) if f in raw), None)
                    if f is not None:
                        print(f"SECRETS: {secret!r} appears in the output of {what} (as {f!r})")
                        ok = False
                if hashes:
                    ok = check_hashes_file(hashes, shown) and ok
                if text:
                    ok = check_text(raw.decode("utf-8", errors="replace"), shown, mode, what) and ok
                else:
                    ok = check_json_mode(raw, shown, mode, what) and ok
    return ok


def printable(v):
    return "\ufffd" not in v and text_form(v) == v.encode("utf-8", "surrogatepass")


def check_text(out, shown, mode, what):
    """The text view shows each login's password or token as the mode says:
    ******** (redact), the mask, hmac:HEX."""
    ok = True
    for e in shown:
        c = e.get("credential")
        if not isinstance(c, dict):
            continue
        v = c.get("password", c.get("token"))
        if not isinstance(v, str) or not printable(v):
            continue
        # The mask is quoted, '"' and '\\' in it escaped (output/text.c).
        quoted = '"' + mask_of(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        want = {"redact": "********", "mask": quoted, "hash": "hmac:" + hmac_of(v)}[mode]
        if f" / {want} (" not in out:
            print(f"SECRETS: {what}: no line shows {want!r} for a secret of {len(v)} characters")
            ok = False
    return ok


def check_json_mode(raw, shown, mode, what):
    ok = True
    got = [json.loads(l) for l in raw.decode("utf-8").splitlines() if l.strip()]
    if len(got) != len(shown):
        print(f"SECRETS: {len(shown)} events in clear mode, {len(got)} with {what}")
        return False
    hmacs = {}
    for a, r in zip(shown, got):
        want = under_mode(a, r, mode)
        if r != want:
            print(f"SECRETS MISMATCH ({what}): expected", json.dumps(want, ensure_ascii=False),
                  "got", json.dumps(r, ensure_ascii=False))
            ok = False
        c, rc_ = a.get("credential"), r.get("credential")
        if mode == "hash" and isinstance(c, dict) and isinstance(rc_, dict):
            for k in SECRETS:
                h = rc_.get(k + "_hmac")
                if k in c and not (isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h)):
                    print(f"SECRETS: {what}: {k}_hmac {h!r} is no HMAC-SHA256")
                    ok = False
                # The same secret gives the same HMAC in every event.
                if k in c and hmacs.setdefault(c[k], h) != h:
                    print(f"SECRETS: {what}: one {k} has two HMACs, {hmacs[c[k]]} and {h}")
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
    run = subprocess.run([binary, "--show-passwords"] + capture_args(capture) + ["-r", capture],
                         capture_output=True, timeout=300)
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
    # Session events: checked by consistency with the flow's other events
    # (session_check.py; their bytes against the capture's in one test for
    # every capture, session_bytes.py) in every capture;
    # compared whole too when the expected file gives them (the captures
    # whose generators wrote them).
    ok = check_sessions(capture, actual, wire_bytes=False) and ok
    with_sessions = any(e.get("event_type") == "session" for e in expected)
    compared = [a for a in actual if a.get("event_type") != "fileinfo"
                and (with_sessions or a.get("event_type") != "session")]
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
    ok = check_secrets(binary, capture, all_events, expected) and ok
    for kind in ("alert", "email", "anomaly") + (("session",) if with_sessions else ()):
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
