#!/usr/bin/python3
"""make mutation: plants each bug of tests/mutation/mutants/*.mut, alone, in
a scratch copy of the tree, and runs the tests labelled for it. Every mutant
must be caught (some test fails). A mutant whose search text is no longer
found exactly once fails too: the code moved, so update the mutant.

A .mut file:
    # what the bug is (first comment line: shown in the report)
    file: output/json.c
    labels: golden|cli          (a ctest -L regex)
    --- search
    exact text, one or more lines
    --- replace
    the text put in its place
A mutant must compile: one that does not is reported BROKEN (it tests
nothing). The scratch copy is built once and its tests must pass (else nothing can
be said); each mutant then changes one file, which an incremental build
recompiles, and the file is restored afterwards.

usage: run.py [--keep DIR] [MUTANT ...]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse(path):
    meta, sections, cur = {}, {"search": [], "replace": []}, None
    title = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if cur is None and line.startswith("#"):
                title = title or line.lstrip("# ").strip()
                continue
            if line in ("--- search", "--- replace"):
                cur = line[4:]
                continue
            if cur:
                sections[cur].append(line)
            elif line.strip():
                k, _, v = line.partition(":")
                meta[k.strip()] = v.strip()
    for k in ("file", "labels"):
        if k not in meta:
            raise ValueError(f"{path}: no '{k}:'")
    search = "\n".join(sections["search"])
    if not search:
        raise ValueError(f"{path}: empty search")
    return {"name": os.path.basename(path)[:-4], "title": title or "", "file": meta["file"],
            "labels": meta["labels"], "search": search, "replace": "\n".join(sections["replace"])}


def sh(cmd, cwd, timeout=1800):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="scratch directory to use and keep (default: a temporary one)")
    ap.add_argument("mutants", nargs="*")
    a = ap.parse_args()
    paths = a.mutants or sorted(os.path.join(HERE, "mutants", f)
                                for f in os.listdir(os.path.join(HERE, "mutants"))
                                if f.endswith(".mut"))
    mutants = [parse(p) for p in paths]
    if not mutants:
        print("no mutant")
        return 1
    scratch = a.keep or tempfile.mkdtemp(prefix="mailspill-mutation-")
    # Tests drop privileges (-Z nobody) and must still read the captures.
    os.makedirs(scratch, exist_ok=True)
    os.chmod(scratch, 0o755)
    src = os.path.join(scratch, "src")
    try:
        # The tracked files plus what is added but not committed yet.
        files = sh(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split("\n")
        for rel in filter(None, files):
            if not os.path.isfile(os.path.join(ROOT, rel)):
                continue
            dst = os.path.join(src, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), dst)
        if os.path.isdir(os.path.join(ROOT, "..", "shared")) and not os.path.exists(
                os.path.join(scratch, "shared")):
            os.symlink(os.path.abspath(os.path.join(ROOT, "..", "shared")),
                       os.path.join(scratch, "shared"))
        build = os.path.join(src, "build-mutation")
        r = sh(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                "-DMS_LTO=OFF"], src)
        if r.returncode != 0:
            print(r.stdout[-3000:], r.stderr[-3000:])
            return 1
        jobs = str(os.cpu_count() or 2)
        r = sh(["cmake", "--build", build, "-j", jobs], src)
        if r.returncode != 0:
            print("the unmutated tree does not build:", r.stderr[-3000:])
            return 1
        # A mutant is caught only if its tests pass without it: check first.
        for labels in sorted({m["labels"] for m in mutants}):
            r = sh(["ctest", "-L", labels, "-j", jobs, "--timeout", "300", "--output-on-failure"],
                   build)
            if r.returncode != 0:
                print(f"the unmutated tree fails ctest -L '{labels}':")
                print(r.stdout[-6000:])
                return 1
        failed = []
        for m in mutants:
            t0 = time.time()
            target = os.path.join(src, m["file"])
            with open(target, encoding="utf-8") as f:
                orig = f.read()
            n = orig.count(m["search"])
            if n != 1:
                print(f"STALE   {m['name']}: search text found {n} times in {m['file']}")
                failed.append(m["name"])
                continue
            try:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(orig.replace(m["search"], m["replace"]))
                r = sh(["cmake", "--build", build, "-j", jobs], src)
                if r.returncode != 0:
                    # A mutant that does not compile plants no bug: fix it.
                    verdict, caught = "BROKEN: the mutant does not compile", False
                else:
                    r = sh(["ctest", "-L", m["labels"], "-j", jobs, "--timeout", "300"], build)
                    caught = r.returncode != 0
                    fails = [l.split(" - ")[1].split(" (")[0] for l in r.stdout.splitlines()
                             if " - " in l and "(Failed" in l or "(Timeout" in l and " - " in l]
                    verdict = ("caught by " + ", ".join(fails[:4]) + (" ..." if len(fails) > 4 else "")
                               if caught else "SURVIVED: -L " + m["labels"] + " passed")
            finally:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(orig)
                os.utime(target)
            print(f"{'caught ' if caught else 'MISSED '} {m['name']} ({time.time() - t0:.0f} s): "
                  f"{m['title']} -- {verdict}")
            if not caught:
                failed.append(m["name"])
        # Leave the build matching the sources.
        sh(["cmake", "--build", build, "-j", jobs], src)
        print(f"\n{len(mutants) - len(failed)} of {len(mutants)} mutants caught")
        if failed:
            print("not caught or stale: " + ", ".join(failed))
        return 1 if failed else 0
    finally:
        if not a.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
