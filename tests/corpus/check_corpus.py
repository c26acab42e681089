#!/usr/bin/python3
"""Runs mailspill on every third-party capture in ../shared/corpus and checks
its alerts against the corpus's expected.jsonl.

- Every expected login whose protocol/mechanism is in --require (or every
  one, with --require-all) must be
  reported with the same client, server, user name, password and outcome.
- Every alert mailspill reports must be an expected login (no false
  positives; a capture with no expected line must give no alert).
- mailspill must exit 0 on every file, damaged ones included.
Exits 77 (skipped) when the corpus is not there, 1 with MS_REQUIRE_ALL=1 (CI)."""
import argparse
import ipaddress
import json
import os
import subprocess
import sys


def endpoint(ip, port):
    # mailspill writes IPv6 in full, as Suricata does; the list in short form.
    ip = ipaddress.ip_address(ip).compressed
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# Challenge/response and token logins: where expected.jsonl gives one of
# these, the credential must carry the same value (NTLM's server challenge
# and NT response are credential.challenge/response; the LM response only
# appears in the hashcat line).
FIELD_MAP = {"token": "token", "challenge": "challenge", "response": "response",
             "domain": "domain", "workstation": "workstation",
             "server_challenge": "challenge", "nt_response": "response"}


def extra_fields_match(c, e):
    for ek, ck in FIELD_MAP.items():
        if e.get(ek) is not None and c.get(ck) != e[ek]:
            return False
    if e.get("lm_response") and e["lm_response"] not in (c.get("hashcat") or ""):
        return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("corpus")
    ap.add_argument("--require-all", action="store_true",
                    help="every login in expected.jsonl must be found")
    ap.add_argument("--require", action="append", default=[],
                    help="proto:MECHANISM that must be found, e.g. pop3:USER/PASS")
    args = ap.parse_args()
    exp_file = os.path.join(args.corpus, "expected.jsonl")
    if not os.path.exists(exp_file):
        # CI (.ci/run sets MS_REQUIRE_ALL=1) has the corpus: a skip there
        # would hide a missing input, so it fails.
        if os.environ.get("MS_REQUIRE_ALL") == "1":
            print(f"FAIL: no corpus at {args.corpus}, and MS_REQUIRE_ALL=1 forbids skipping")
            return 1
        print(f"SKIP: no corpus at {args.corpus}")
        return 77
    with open(exp_file, encoding="utf-8") as f:
        expected = [json.loads(l) for l in f if l.strip()]
    required = {tuple(r.split(":", 1)) for r in args.require}
    if args.require_all:
        required |= {(e["proto"], e["mechanism"]) for e in expected}

    captures = []
    for root, _, files in os.walk(os.path.join(args.corpus, "pcaps")):
        for name in files:
            captures.append(os.path.relpath(os.path.join(root, name), args.corpus))
    captures.sort()

    failures = 0
    found_required = 0
    for cap in captures:
        path = os.path.join(args.corpus, cap)
        run = subprocess.run([args.binary, "--show-passwords", "-r", path],
                             capture_output=True, timeout=600)
        if run.returncode != 0:
            print(f"FAIL {cap}: exit {run.returncode}: {run.stderr.decode(errors='replace').strip()}")
            failures += 1
            continue
        alerts = []
        for line in run.stdout.decode("utf-8").splitlines():
            ev = json.loads(line)
            if ev["event_type"] == "alert":
                alerts.append(ev)
        exp_here = [e for e in expected if e["pcap"] == cap]
        for e in exp_here:
            def same(a):
                c = a["credential"]
                return (a["app_proto"] == e["proto"]
                        and endpoint(a["src_ip"], a["src_port"]) == e["client"]
                        and endpoint(a["dest_ip"], a["dest_port"]) == e["server"]
                        and c.get("username") == e["username"]
                        and c.get("password") == e["password"]
                        and c["outcome"] == e["outcome"]
                        and extra_fields_match(c, e))
            hit = next((a for a in alerts if same(a)), None)
            key = (e["proto"], e["mechanism"])
            if hit:
                alerts.remove(hit)
                if key in required:
                    found_required += 1
            elif key in required:
                print(f"FAIL {cap}: missing {e['proto']} {e['mechanism']} {e['username']!r} "
                      f"{e['client']} -> {e['server']} outcome {e['outcome']}")
                failures += 1
        for a in alerts:
            c = a["credential"]
            print(f"FAIL {cap}: unexpected alert {a['app_proto']} {c['mechanism']} "
                  f"{c.get('username')!r} password {c.get('password')!r} outcome {c['outcome']}")
            failures += 1
    n_required = sum(1 for e in expected if (e["proto"], e["mechanism"]) in required)
    print(f"{len(captures)} captures, {found_required}/{n_required} required logins found, "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
