#!/usr/bin/python3
"""Checks mailspill's output against its two JSON Schemas, and README.md's
event tables against mailspill's own schema.

usage: validate_events.py [--check events|readme|all] [--jobs N] BINARY REPO_ROOT

events: runs BINARY over every capture under REPO_ROOT/pcaps (.pcap and
.pcapng), like tests/golden/check_capture.py, in four ways:
  show      --show-passwords -r PCAP
  redacted  -r PCAP                       (password_redacted, token_redacted,
                                           response_redacted, hashcat_redacted)
  extract   --passwords mask --extract DIR --extract-attachments
            --body-bytes 256 --evidence DIR2 -r PCAP
                                          (eml_file, attachments[].file,
                                           fileinfo.stored, body_excerpt,
                                           password_masked, evidence;
                                           options missing from --help are left out)
  hmac      --passwords hash --hash-key KEY -r PCAP   (password_hmac)
and validates every event it writes against
  - Suricata's EVE schema, vendored in third_party/suricata/schema.json with
    only additionalProperties relaxed (every key Suricata defines keeps
    Suricata's type and shape), and
  - mailspill's own schema, schema/mailspill-eve.schema.json (no undocumented
    key, no null, the per-event_type contract),
both with Draft202012Validator, and checks the community_id of every event
with TCP flow keys (src_ip, src_port, dest_ip, dest_port, proto "TCP")
against an independent Community ID v1 implementation (seed 0, below;
self-checked against the spec's published vectors at startup). It fails when
an event does not validate or its community_id differs,
when mailspill exits non-zero or writes a line that is not JSON, when no event
was validated, or when the runs produced no event of some event_type (so a
run whose alerts or emails all disappeared fails too).

readme: in README.md, under "## Output: the event contract" down to the next
"## " heading, every table row whose first cell holds backticked key paths
(`credential.username`, `email.attachments[].sha256`; several per cell,
comma-separated; relative to the event root, [] marks array items) must name
a property path of the own schema (for some event type), and every property
path of the own schema must be named in some such row (an object is named
by the rows of its keys: `credential.username` names `credential`).

Run with Debian's /usr/bin/python3 (python3-jsonschema)."""
import argparse
import base64
import collections
import concurrent.futures
import hashlib
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

from jsonschema import Draft202012Validator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden"))
from capture_args import capture_args  # noqa: E402

OWN_SCHEMA = "schema/mailspill-eve.schema.json"
SURICATA_SCHEMA = "third_party/suricata/schema.json"
README_HEADING = "## Output: the event contract"
EVENT_TYPES = ("alert", "email", "fileinfo", "anomaly", "stats")
DETAILS_SHOWN = 40       # failures printed one by one; the rest only counted by cause
MESSAGE_MAX = 240


# ---- schema paths ---------------------------------------------------------

def resolve(schema, root):
    """Follows local $refs ("#/$defs/name")."""
    seen = set()
    while isinstance(schema, dict) and "$ref" in schema and schema["$ref"] not in seen:
        ref = schema["$ref"]
        seen.add(ref)
        if not ref.startswith("#/"):
            raise ValueError(f"non-local $ref {ref}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        # Keywords beside the $ref (descriptions) add nothing to the paths.
        schema = target
    return schema


def collect_paths(schema, root, prefix, out, depth=0):
    """Every property path the schema defines: "a.b", "a.list[].c".
    Conditions (if, not) only constrain, so they are not walked; neither is
    additionalProperties (the generic stats counters)."""
    if depth > 40 or not isinstance(schema, dict):
        return
    for sub in ([schema] + ([resolve(schema, root)] if "$ref" in schema else [])):
        for name, prop in sub.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            collect_paths(prop, root, path, out, depth + 1)
        items = sub.get("items")
        if isinstance(items, dict):
            collect_paths(items, root, prefix + "[]", out, depth + 1)
        for kw in ("allOf", "anyOf", "oneOf"):
            for s in sub.get(kw, []):
                collect_paths(s, root, prefix, out, depth + 1)
        for kw in ("then", "else"):
            if kw in sub:
                collect_paths(sub[kw], root, prefix, out, depth + 1)
        for s in sub.get("dependentSchemas", {}).values():
            collect_paths(s, root, prefix, out, depth + 1)


def own_schema_paths(schema):
    """Property paths per event_type, from the root's if/then branches."""
    per_type = {}
    for branch in schema.get("allOf", []):
        const = branch.get("if", {}).get("properties", {}).get("event_type", {}).get("const")
        if const and "then" in branch:
            paths = set()
            collect_paths(branch["then"], schema, "", paths)
            per_type[const] = paths
    common = set()
    collect_paths({"properties": schema.get("properties", {})}, schema, "", common)
    for paths in per_type.values():
        paths |= common
    return per_type


def instance_paths(obj, prefix="", out=None):
    """Key paths present in one event, in the same notation."""
    if out is None:
        out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            path = f"{prefix}.{k}" if prefix else k
            out.add(path)
            instance_paths(v, path, out)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                instance_paths(v, prefix + "[]", out)
    return out


# ---- Community ID oracle ---------------------------------------------------
#
# Community ID v1 (https://github.com/corelight/community-id-spec), written
# here from the spec, not from mailspill's common/community_id.c, so the two
# can catch each other: SHA-1 over seed (2 bytes, big-endian), source
# address, destination address, protocol (1 byte), a zero pad byte, source
# port, destination port (2 bytes each, big-endian), the endpoints ordered so
# that the first (address, port) is the smaller; base64, prefixed "1:".

COMMUNITY_ID_SEED = 0
PROTO_NUMBERS = {"TCP": 6}
# (seed, proto, source, source port, destination, destination port, id), from
# the spec's baseline/baseline_deflt.json (also in tests/unit/test_community_id.c);
# each is checked in both directions.
COMMUNITY_ID_VECTORS = [
    (0, 6, "128.232.110.120", 34855, "66.35.250.204", 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (0, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
]


def community_id_v1(saddr, sport, daddr, dport, proto=6, seed=COMMUNITY_ID_SEED):
    """The Community ID v1 of a flow; addresses as text (IPv4, IPv6
    compressed or written out in full), ports as integers."""
    a, b = ipaddress.ip_address(saddr), ipaddress.ip_address(daddr)
    if a.version != b.version:
        raise ValueError(f"{saddr} and {daddr} are not of the same IP version")
    for port in (sport, dport):
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 0xffff:
            raise ValueError(f"port {port!r} is not a 16-bit integer")
    src, dst = (a.packed, sport), (b.packed, dport)
    if dst < src:
        src, dst = dst, src
    data = (struct.pack("!H", seed) + src[0] + dst[0] + struct.pack("!BB", proto, 0)
            + struct.pack("!HH", src[1], dst[1]))
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


def community_id_selfcheck():
    """The oracle against the spec's vectors, both directions: a list of
    what failed."""
    bad = []
    for seed, proto, sa, sp, da, dp, want in COMMUNITY_ID_VECTORS:
        for args in ((sa, sp, da, dp), (da, dp, sa, sp)):
            got = community_id_v1(*args, proto=proto, seed=seed)
            if got != want:
                bad.append(f"{args[0]}:{args[1]} -> {args[2]}:{args[3]} seed {seed}: "
                           f"computed {got}, the spec says {want}")
    return bad


FLOW_KEYS = ("src_ip", "src_port", "dest_ip", "dest_port")


def has_flow_keys(ev):
    """The event names a TCP flow: its community_id can be recomputed."""
    return isinstance(ev, dict) and all(k in ev for k in FLOW_KEYS) \
        and ev.get("proto") in PROTO_NUMBERS


def community_id_error(ev):
    """For an event with flow keys: None when its community_id is the one
    they give, else (cause, message)."""
    def ep(addr, port):
        return f"[{addr}]:{port}" if ":" in str(addr) else f"{addr}:{port}"
    flow = (f"{ep(ev['src_ip'], ev['src_port'])} -> {ep(ev['dest_ip'], ev['dest_port'])} "
            f"{ev['proto']}")
    try:
        want = community_id_v1(ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"],
                               PROTO_NUMBERS[ev["proto"]])
    except ValueError as e:
        return "flow keys the Community ID cannot be computed from", f"{flow}: {e}"
    got = ev.get("community_id")
    if got is None:
        return "community_id missing on an event with flow keys", f"{flow}: computed {want}"
    if got != want:
        return ("community_id is not the Community ID v1 of the flow keys",
                f"{flow}: got {got!r}, computed {want}")
    return None


# ---- events ----------------------------------------------------------------

def fmt_path(path):
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(event root)"


def norm_path(path):
    return re.sub(r"\[\d+\]", "[]", fmt_path(path))


def short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 3] + "..."


def leaf_errors(validator, event):
    """The errors of one event, with anyOf/oneOf failures replaced by their
    best-matching sub-error, so the path points at the offending key."""
    from jsonschema.exceptions import best_match
    out = []
    for err in validator.iter_errors(event):
        if err.context:
            sub = best_match(err.context)
            if sub is not None:
                err = sub
        out.append(err)
    out.sort(key=lambda e: (fmt_path(e.absolute_path), e.validator))
    return out


def message_of(err):
    """The error's message; for a "not" (which would print the whole
    instance) the rule's description and what must not match."""
    if err.validator == "not":
        what = err.schema.get("description", "") if isinstance(err.schema, dict) else ""
        return f"{what} Must not match {json.dumps(err.validator_value)}".strip()
    return err.message


def cause_of(err):
    """A grouping key: the same mistake on many events counts once."""
    if err.validator in ("required", "additionalProperties", "type", "dependentRequired"):
        return err.message
    if err.validator == "not":
        return message_of(err)
    return f"{err.validator}: {short(json.dumps(err.validator_value))[:120]}"


def help_text(binary):
    run = subprocess.run([binary, "--help"], capture_output=True, timeout=30)
    return run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")


def run_modes(binary):
    text = help_text(binary)
    modes = [("show", ["--show-passwords"]), ("redacted", [])]
    policy = "--passwords" in text and "--hash-key" in text
    if "--extract " in text or "--extract\t" in text:
        extra = ["--passwords", "mask"] if policy else ["--show-passwords"]
        extra += ["--extract", "{dir}"]
        if "--extract-attachments" in text:
            extra.append("--extract-attachments")
        if "--body-bytes" in text:
            extra += ["--body-bytes", "256"]
        if "--evidence " in text:
            extra += ["--evidence", "{evdir}"]
        modes.append(("extract", extra))
    else:
        print("note: no --extract in --help; the extract run is skipped")
    if policy:
        modes.append(("hmac", ["--passwords", "hash", "--hash-key", "{key}"]))
    else:
        print("note: no --passwords/--hash-key in --help; the hmac run is skipped")
    return modes


def run_one(binary, capture, mode, args, workdir):
    argv = [binary]
    for a in args:
        if a == "{dir}":
            os.makedirs(workdir, exist_ok=True)
            a = workdir
        elif a == "{evdir}":
            a = workdir.rstrip("/") + "-evidence"
        elif a == "{key}":
            a = os.path.join(os.path.dirname(workdir), "hash.key")
        argv.append(a)
    # The capture's own arguments (its .args sidecar: the WPA2 captures'
    # secrets), so decrypted events are validated too.
    argv += capture_args(capture) + ["-r", capture]
    run = subprocess.run(argv, capture_output=True, timeout=300)
    return capture, mode, run.returncode, run.stdout, run.stderr


def check_events(binary, repo, jobs, extra_dirs=()):
    own = json.load(open(os.path.join(repo, OWN_SCHEMA), encoding="utf-8"))
    suri = json.load(open(os.path.join(repo, SURICATA_SCHEMA), encoding="utf-8"))
    Draft202012Validator.check_schema(own)
    Draft202012Validator.check_schema(suri)
    validators = [("suricata", Draft202012Validator(suri)), ("mailspill", Draft202012Validator(own))]

    pcaps = sorted(
        os.path.join(d, f)
        for d, _, files in os.walk(os.path.join(repo, "pcaps"))
        for f in files if f.endswith((".pcap", ".pcapng")))
    if not pcaps:
        print(f"FAIL: no capture under {repo}/pcaps")
        return False
    # Third-party captures (the shared corpus, when present) bring what the
    # project's own captures lack: parser anomalies, other clients' quirks.
    for extra in extra_dirs:
        if os.path.isdir(extra):
            pcaps += sorted(
                os.path.join(d, f)
                for d, _, files in os.walk(extra)
                for f in files if f.endswith((".pcap", ".pcapng", ".cap")))
        else:
            print(f"note: {extra} not present, skipped")

    counts = collections.Counter()            # event_type -> events
    mode_counts = collections.Counter()       # (mode, event_type) -> events
    seen_paths = collections.defaultdict(set)  # event_type -> key paths seen
    mode_paths = collections.defaultdict(set)  # (mode, event_type) -> key paths seen
    failures = 0                              # events with at least one error
    cid_checked = 0                           # events whose community_id was computed
    causes = collections.OrderedDict()        # (schema, event_type, path, cause) -> [n, example]
    shown = 0
    hard = []                                 # runs that failed outright

    with tempfile.TemporaryDirectory(prefix="mailspill-schema-") as tmp:
        modes = run_modes(binary)
        with open(os.path.join(tmp, "hash.key"), "wb") as f:
            f.write(b"schema test: an HMAC key of at least 32 bytes\n")
        os.chmod(os.path.join(tmp, "hash.key"), 0o600)
        tasks = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for i, pcap in enumerate(pcaps):
                for mode, args in modes:
                    tasks.append(pool.submit(run_one, binary, pcap, mode, args,
                                             os.path.join(tmp, f"{i}-{mode}")))
            results = [t.result() for t in tasks]

        for capture, mode, rc, out, err in results:
            rel = os.path.relpath(capture, repo)
            where = f"{rel} [{mode}]"
            if rc != 0:
                hard.append(f"{where}: mailspill exited {rc}: {short(err.decode(errors='replace'))}")
                continue
            for lineno, line in enumerate(out.decode("utf-8", errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                except ValueError as e:
                    hard.append(f"{where} line {lineno}: not JSON ({e}): {short(line)}")
                    continue
                et = ev.get("event_type") if isinstance(ev, dict) else None
                et_name = et if isinstance(et, str) else repr(et)
                counts[et_name] += 1
                mode_counts[(mode, et_name)] += 1
                paths = instance_paths(ev)
                seen_paths[et_name] |= paths
                mode_paths[(mode, et_name)] |= paths
                bad = False
                for sname, validator in validators:
                    for e in leaf_errors(validator, ev):
                        bad = True
                        key = (sname, et_name, norm_path(e.absolute_path), cause_of(e))
                        loc = f"{where} line {lineno}"
                        if key in causes:
                            causes[key][0] += 1
                        else:
                            causes[key] = [1, loc]
                        if shown < DETAILS_SHOWN:
                            shown += 1
                            print(f"FAIL {loc} ({et_name}): {sname} schema: at "
                                  f"{fmt_path(e.absolute_path)}: {short(message_of(e))}")
                cid = None
                if has_flow_keys(ev):
                    cid_checked += 1
                    cid = community_id_error(ev)
                if cid is not None:
                    bad = True
                    cause, text = cid
                    key = ("communityid", et_name, "community_id", cause)
                    loc = f"{where} line {lineno}"
                    if key in causes:
                        causes[key][0] += 1
                    else:
                        causes[key] = [1, loc]
                    if shown < DETAILS_SHOWN:
                        shown += 1
                        print(f"FAIL {loc} ({et_name}): community-id oracle: at community_id: "
                              f"{short(cause + ': ' + text)}")
                failures += bad

    ok = True
    total = sum(counts.values())
    print()
    print(f"captures: {len(pcaps)}, runs: {len(pcaps) * len(modes)} "
          f"({', '.join(m for m, _ in modes)}), events: {total}")
    for et in list(EVENT_TYPES) + sorted(set(counts) - set(EVENT_TYPES)):
        per_mode = ", ".join(f"{m} {mode_counts[(m, et)]}" for m, _ in modes)
        print(f"  {et:9} {counts[et]:6}   ({per_mode})")
    print(f"events failing validation: {failures}")
    print(f"community_id recomputed from the flow keys: {cid_checked} events")

    if hard:
        ok = False
        print(f"\n{len(hard)} run(s) or line(s) could not be checked:")
        for h in hard:
            print("  " + h)
    if causes:
        ok = False
        print(f"\nvalidation failures by cause ({len(causes)} causes; count, schema, "
              f"event_type, path: cause; first seen at):")
        for (sname, et, path, cause), (n, loc) in sorted(
                causes.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            print(f"  {n:5}  {sname:9} {et:9} {path}: {cause}\n"
                  f"         first: {loc}")
    if total == 0:
        ok = False
        print("FAIL: no event at all was validated")
    if total and cid_checked == 0:
        ok = False
        print("FAIL: no event with TCP flow keys: the community_id oracle checked nothing")
    missing = [et for et in EVENT_TYPES if counts[et] == 0]
    if missing:
        ok = False
        print(f"FAIL: no {', '.join(missing)} event in any run: the captures should produce every event type")
    # The second and third runs exist to cover the redacted and extraction keys.
    cover = [("redacted", "alert", "credential.password_redacted"),
             ("redacted", "alert", "credential.token_redacted"),
             ("redacted", "alert", "credential.response_redacted"),
             ("redacted", "alert", "credential.hashcat_redacted"),
             ("extract", "alert", "credential.password_masked"),
             ("extract", "alert", "credential.token_masked"),
             ("hmac", "alert", "credential.password_hmac"),
             ("hmac", "alert", "credential.token_hmac"),
             ("extract", "email", "email.eml_file"),
             ("extract", "fileinfo", "fileinfo.file"),
             ("extract", "alert", "evidence")]
    for mode, et, path in cover:
        if mode not in [m for m, _ in modes]:
            continue
        if path not in mode_paths.get((mode, et), set()):
            ok = False
            print(f"FAIL: no {et} event with {path} (the {mode} run should produce one)")

    per_type = own_schema_paths(own)
    never = sorted(set().union(*per_type.values()) - set().union(*seen_paths.values()))
    if never:
        print(f"\nnote: own-schema paths no capture exercises ({len(never)}): {', '.join(never)}")
    print("\nevents: " + ("OK" if ok else "FAILED"))
    return ok


# ---- README ----------------------------------------------------------------

PATH_RE = re.compile(r"^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$")


def readme_section(text):
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == README_HEADING
                  or l.startswith(README_HEADING)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [(i + 1, lines[i]) for i in range(start + 1, end)]


def readme_rows(section):
    """(line number, [paths]) for each table row whose first cell has
    backticked text."""
    rows = []
    for lineno, line in section:
        s = line.strip()
        if not s.startswith("|"):
            continue
        cells = re.split(r"(?<!\\)\|", s)
        if len(cells) < 3:
            continue
        first = cells[1].strip()
        if re.fullmatch(r":?-{3,}:?", first):
            continue
        items = []
        for tick in re.findall(r"`([^`]+)`", first):
            items += [t.strip() for t in tick.split(",") if t.strip()]
        if items:
            rows.append((lineno, items))
    return rows


def check_readme(repo):
    own = json.load(open(os.path.join(repo, OWN_SCHEMA), encoding="utf-8"))
    per_type = own_schema_paths(own)
    schema_paths = set().union(*per_type.values())
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as f:
        section = readme_section(f.read())
    if section is None:
        print(f"FAIL: README.md has no '{README_HEADING}' heading")
        return False
    rows = readme_rows(section)
    named = set()
    bad = []
    for lineno, items in rows:
        for p in items:
            if not PATH_RE.match(p):
                bad.append(f"README.md:{lineno}: `{p}` is not a key path (a.b, a.list[].c)")
            elif p not in schema_paths:
                bad.append(f"README.md:{lineno}: `{p}` is not a property of {OWN_SCHEMA} "
                           f"for any event type")
            else:
                named.add(p)
    # An object is documented by the rows of its keys: `credential.username`
    # names `credential` too.
    unnamed = sorted(p for p in schema_paths - named
                     if not any(n.startswith((p + ".", p + "[]")) for n in named))
    print(f"README '{README_HEADING[3:]}': {len(rows)} table rows with key paths, "
          f"{len(named)} of the schema's {len(schema_paths)} property paths named")
    for b in bad:
        print("FAIL " + b)
    if unnamed:
        print(f"FAIL: {len(unnamed)} property paths of {OWN_SCHEMA} named in no table row "
              f"of that section:")
        for p in unnamed:
            types = ",".join(et for et in EVENT_TYPES if p in per_type.get(et, ()))
            print(f"  {p}  ({types})")
    ok = not bad and not unnamed
    print("readme: " + ("OK" if ok else "FAILED"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", choices=("events", "readme", "all"), default="all")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--extra-captures", action="append", default=[], metavar="DIR",
                    help="also run over the captures under DIR (skipped when absent)")
    ap.add_argument("binary")
    ap.add_argument("repo_root")
    a = ap.parse_args()
    repo = os.path.abspath(a.repo_root)
    ok = True
    if a.check in ("events", "all"):
        broken = community_id_selfcheck()
        if broken:
            for b in broken:
                print("FAIL: community_id oracle self-check: " + b)
            return 1
        ok = check_events(os.path.abspath(a.binary), repo, a.jobs, a.extra_captures) and ok
    if a.check in ("readme", "all"):
        if a.check == "all":
            print()
        ok = check_readme(repo) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
