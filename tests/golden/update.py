#!/usr/bin/python3
"""The golden update mode: reruns the capture generators that need no
server (they derive captures from transcripts or from other captures, and
write the expected events from what they put in, never from mailspill's
output) into a scratch tree, and shows how each file differs from pcaps/.
With --apply it copies the differing files into pcaps/ for review with
git diff. The generators that record real servers (pop3_capture.sh, ...)
need root and the servers: pcaps/gen/regenerate.sh runs everything.

usage: tests/golden/update.py [--apply]"""
import difflib
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.path.join(ROOT, "pcaps", "gen")
# (generator, its output directory argument relative to pcaps/), in
# regenerate.sh's order: later ones read what earlier ones wrote.
GENERATORS = [
    ("capture_cases.py", "capture"),
    ("stream_gen.py", "stream"),
    ("sasl_cases.py", "."),
    ("tap_reorder.py", "stream"),
    ("eve_cases.py", "eve"),
    ("stripping_cases.py", "stripping"),
    ("wpa_gen.py", "wifi"),
]


def main():
    apply = "--apply" in sys.argv[1:]
    changed = []
    with tempfile.TemporaryDirectory(prefix="mailspill-golden-") as tmp:
        scratch = os.path.join(tmp, "pcaps")
        shutil.copytree(os.path.join(ROOT, "pcaps"), scratch)
        for gen, out in GENERATORS:
            r = subprocess.run(["/usr/bin/python3", os.path.join(scratch, "gen", gen),
                                os.path.normpath(os.path.join(scratch, out))],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{gen} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
                return 1
        for d, _, files in os.walk(scratch):
            for f in sorted(files):
                new = os.path.join(d, f)
                rel = os.path.relpath(new, scratch)
                old = os.path.join(ROOT, "pcaps", rel)
                if os.path.exists(old) and filecmp.cmp(old, new, shallow=False):
                    continue
                changed.append(rel)
                if f.endswith((".json", ".md", ".txt")):
                    a = open(old, encoding="utf-8").read().splitlines() if os.path.exists(old) else []
                    b = open(new, encoding="utf-8").read().splitlines()
                    sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(
                        a, b, "a/pcaps/" + rel, "b/pcaps/" + rel, lineterm=""))
                else:
                    print(f"binary pcaps/{rel} differs" if os.path.exists(old)
                          else f"new pcaps/{rel}")
                if apply:
                    os.makedirs(os.path.dirname(old), exist_ok=True)
                    shutil.copy2(new, old)
    print(f"\n{len(changed)} file(s) differ" + (": copied into pcaps/, review with git diff"
                                                if apply and changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
