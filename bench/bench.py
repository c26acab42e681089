#!/usr/bin/python3
"""make bench: mailspill against the read floor and its peers (issue 13).

  bench.py MAILSPILL [--quick] [--dir DIR] [--no-peers] [--no-install]
                     [--timeout SEC] [--checks [CHECKS ARGS...]]

1. Builds, when absent, the mail-heavy and the mixed capture
   (bench/build_captures.py: the recorded real-server sessions of pcaps/
   re-addressed; 1 GiB each, 100 MiB with --quick) in DIR (default
   bench/data, or $MS_BENCH_DIR), with their truth (every login's user and
   secret and tuple). No room on the disk: that capture is skipped.
2. Times on each capture, one after the other, each tool as its own child
   (CPU user+sys and peak RSS from wait4 in bench/runner.c, wall clock),
   after one untimed read of the file (page cache warm): the floor
   (bench/floor.c: a bare pcap_next_ex loop), one SHA-256 pass over the
   file (bench/sha_pass.c, libcrypto), mailspill --show-passwords, again
   with --threads N for N = 2 .. cores when mailspill --help lists
   --threads, tshark -q -z credentials, ettercap -Tq, dsniff -n -p and
   ndpiReader -i. floor and sha_pass are compiled into DIR/bin with cc.
   The floor, SHA-256 and mailspill run 3 times, the least CPU kept (one
   run on a shared machine is mostly noise at a second); the peers once.
   Missing peers are installed (scripts/install-deps.sh bench) when root;
   a peer still missing is skipped with a line saying so.
3. Prints a table per capture and tool: MB/s and packets/s of wall clock,
   CPU seconds, wall seconds, peak RSS, CPU as a multiple of the floor's,
   and the logins found: exact (user, secret) pairs matched against the
   truth as multisets (a pair reported twice counts once per truth line);
   the users matched too, for tools that print no secret (tshark) or not
   every secret. Then the targets of issue 13 computed from the floor and
   SHA-256 numbers beside mailspill's, marked met / not met, the thread
   scaling when there are threads, and mailspill's CPU per byte on the
   smaller size (100 MiB; 3 MiB with --quick) and the larger
   one (1 GiB; 100 MiB with --quick), its start-up CPU (on an empty
   capture) taken off: flat means the cost does not grow with the input.

It reports and never judges a time. Exit status 1 when mailspill crashes
or misses a login of the truth (every template session is a golden test
that mailspill passes, so a miss is a regression: matched per session,
by client and server address and port, user and secret), 2 on bad use.
A peer that crashes or runs out of --timeout (default 900 s) is shown as
such, with the logins it printed until then, not as a
failure: the peers are not ours to fix.
--checks runs bench/checks.py (flood, throughput and tiny-segment bound
checks) instead, with the arguments that follow.
"""
import argparse
import base64
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import build_captures  # noqa: E402

MIB = 1 << 20
RUNNER = None           # DIR/bin/runner, compiled by compile_helpers
PEERS = ("tshark", "ettercap", "dsniff", "ndpiReader")


# ---- running ----

class Result:
    def __init__(self, tool, status, wall, cpu, rss, out, err):
        self.tool, self.status, self.wall, self.cpu, self.rss = tool, status, wall, cpu, rss
        self.out, self.err = out, err
        self.pairs = None      # Counter of (user, secret), None when the tool prints none
        self.users = None      # Counter of users
        self.exact = None      # mailspill only: Counter of (client, server, user, secret)
        self.note = ""
        self.best_wall = wall  # mailspill: the fastest of its runs (the speedup)

    def crashed(self):
        return self.status != "ok"


def measure(tool, cmd, workdir, timeout):
    """Runs cmd alone under bench/runner (its own rusage from wait4, see
    runner.c), output to files; killed past timeout seconds."""
    base = os.path.join(workdir, tool.replace(" ", "_"))
    out, err, rep = base + ".out", base + ".err", base + ".rusage"
    if os.path.exists(rep):
        os.unlink(rep)
    with open(out, "wb") as fo, open(err, "wb") as fe:
        t0 = time.monotonic()
        p = subprocess.Popen([RUNNER, rep] + cmd, stdout=fo, stderr=fe,
                             stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        wall = time.monotonic() - t0
    try:
        with open(rep) as f:
            st, user, system, rss = f.read().split()
    except (OSError, ValueError):
        return Result(tool, "timeout %.0f s" % timeout if wall >= timeout else
                      "runner exit %d" % p.returncode, wall, float("nan"), 0, out, err)
    st = int(st)
    if os.WIFSIGNALED(st):
        status = "signal %d" % os.WTERMSIG(st)
    elif os.WEXITSTATUS(st) != 0:
        status = "exit %d" % os.WEXITSTATUS(st)
    else:
        status = "ok"
    return Result(tool, status, wall, float(user) + float(system), int(rss) * 1024, out, err)


REPEAT = 3     # runs of floor, SHA-256 and mailspill, the best kept


def best_of(n, tool, cmd, workdir, timeout):
    """The run of least CPU of n: the floor is a second or less, so one
    run on a shared machine is mostly noise (page faults, steal)."""
    best = None
    for _ in range(n):
        r = measure(tool, cmd, workdir, timeout)
        if r.crashed():
            return r
        if best is None or r.cpu < best.cpu:
            best = r
    return best


def warm(path):
    """Reads the file once, untimed, so that no tool pays for the disk."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


# ---- what each tool found ----

def imap_unquote(s):
    """An IMAP quoted string as the protocol sent it, unquoted."""
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


def b64_text(s):
    """s decoded when it is base64 of UTF-8 text (SMTP AUTH LOGIN as sent)."""
    try:
        raw = base64.b64decode(s, validate=True)
        t = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return s
    return t if t and t.isprintable() and base64.b64encode(raw).decode() == s else s


def parse_mailspill(r):
    r.pairs, r.users, r.exact = collections.Counter(), collections.Counter(), collections.Counter()
    for line in read_text(r.out).splitlines():
        if '"credential"' not in line:
            continue
        ev = json.loads(line)
        c = ev.get("credential")
        if ev.get("event_type") != "alert" or not c:
            continue
        user, secret = c.get("username"), build_captures.secret_of(c)
        r.pairs[(user, secret)] += 1
        r.users[user] += 1
        r.exact[(ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"], user, secret)] += 1


def parse_tshark(r):
    """The credentials table: packet, protocol, username, info; no secret."""
    r.users = collections.Counter()
    rows = False
    for line in read_text(r.out).splitlines():
        if line.startswith("------"):
            rows = True
            continue
        if not rows or line.startswith("====") or not line.strip():
            continue
        m = re.match(r"^\d+\s+(\S+)\s+(.*?)\s*(Username in packet \d+)?\s*$", line)
        if not m:
            continue
        proto, user = m.group(1), m.group(2)
        if user in ("", "(null)"):
            continue
        if proto == "IMAP":
            user = imap_unquote(user)
        elif proto == "SMTP":
            user = b64_text(user)
        r.users[user] += 1
    r.note = "prints users only"


def parse_ettercap(r):
    """ "PROTO : ip:port -> USER: u  PASS: p" and APOP's "MD5-digest: d <ts>"."""
    r.pairs, r.users = collections.Counter(), collections.Counter()
    for line in read_text(r.out).splitlines():
        m = re.match(r"^(\w+) : \S+ -> USER: (.*?)  (PASS|MD5-digest): (.*)$", line)
        if not m:
            continue
        proto, user, kind, secret = m.groups()
        if kind == "MD5-digest":
            secret = secret.split(" ")[0]
        if proto == "IMAP":
            user, secret = imap_unquote(user), imap_unquote(secret)
        r.pairs[(user, secret)] += 1
        r.users[user] += 1


IMAP_ARG = r'("(?:[^"\\]|\\.)*"|[^ "]+)'


def parse_dsniff(r):
    """Blocks after a "-----" line: "username [u] password [p]" (POP3),
    "LOGIN u p" (IMAP), "AUTH LOGIN b64 [u]" then "b64 [p]" (SMTP); and
    the "(n) APOP u digest" lines its POP3 decoder prints."""
    r.pairs, r.users = collections.Counter(), collections.Counter()
    lines = read_text(r.out).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^username \[(.*)\] password \[(.*)\]$", line)
        if m:
            pair = m.groups()
        elif re.match(r"^LOGIN " + IMAP_ARG + " " + IMAP_ARG + "$", line):
            m = re.match(r"^LOGIN " + IMAP_ARG + " " + IMAP_ARG + "$", line)
            pair = (imap_unquote(m.group(1)), imap_unquote(m.group(2)))
        elif re.match(r"^AUTH LOGIN \S+ \[(.*)\]$", line) and i + 1 < len(lines):
            m2 = re.match(r"^\S+ \[(.*)\]$", lines[i + 1])
            if not m2:
                continue
            pair = (re.match(r"^AUTH LOGIN \S+ \[(.*)\]$", line).group(1), m2.group(1))
        elif re.match(r"^\(\d+\) APOP (\S+) ([0-9a-f]{32})$", line):
            pair = re.match(r"^\(\d+\) APOP (\S+) ([0-9a-f]{32})$", line).groups()
        else:
            continue
        r.pairs[pair] += 1
        r.users[pair[0]] += 1


def parse_ndpi(r):
    m = re.search(r"Clear-Text Credentials\s+(\d+)", read_text(r.out))
    r.note = "no secrets; %s flows flagged clear-text credentials" % (m.group(1) if m else "0")


def matched(found, want):
    if found is None:
        return None
    return sum(min(n, found[k]) for k, n in want.items())


# ---- the run ----

def compile_helpers(bindir):
    os.makedirs(bindir, exist_ok=True)
    out = {}
    global RUNNER
    for name, lib in (("floor", "-lpcap"), ("sha_pass", "-lcrypto"), ("runner", None)):
        src = os.path.join(HERE, name + ".c")
        exe = os.path.join(bindir, name)
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-o", exe, src] + ([lib] if lib else []), check=True)
        out[name] = exe
    RUNNER = out["runner"]
    return out


def ensure_peers(args):
    missing = [t for t in PEERS if not shutil.which(t)]
    if missing and not args.no_install:
        if os.geteuid() == 0:
            print("installing the peers (%s): scripts/install-deps.sh bench" % " ".join(missing))
            rc = subprocess.run([os.path.join(REPO, "scripts", "install-deps.sh"), "bench"]).returncode
            if rc:
                print("could not install the peers (exit %d; no archive?)" % rc)
        else:
            print("not root: the missing peers (%s) are not installed" % " ".join(missing))
    return {t: shutil.which(t) for t in PEERS}


def truth_of(path):
    pairs, users, exact = collections.Counter(), collections.Counter(), collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            pairs[(t["user"], t["secret"])] += 1
            users[t["user"]] += 1
            exact[(t["client"][0], t["client"][1], t["server"][0], t["server"][1],
                   t["user"], t["secret"])] += 1
    return pairs, users, exact


def threads_supported(mailspill):
    p = subprocess.run([mailspill, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return "--threads" in p.stdout.decode(errors="replace")


def run_capture(label, pcap, truth_path, tools, args, workdir):
    size = os.path.getsize(pcap)
    want_pairs, want_users, want_exact = truth_of(truth_path)
    nlogins = sum(want_pairs.values())
    warm(pcap)
    fl = best_of(REPEAT, "floor", [tools["floor"], pcap], workdir, args.timeout)
    if fl.crashed():
        raise SystemExit("floor failed on %s: %s" % (pcap, read_text(fl.err)))
    pkts = int(read_text(fl.out).split()[0])
    results = [fl, best_of(REPEAT, "sha256", [tools["sha_pass"], pcap], workdir, args.timeout)]
    ms = [("mailspill", [])]
    if tools["threads"]:
        ms += [("mailspill -t%d" % n, ["--threads", str(n)])
               for n in range(2, (os.cpu_count() or 1) + 1)]
    # The thread counts' runs take turns (a slow spell of a shared machine
    # then falls on all of them alike, not on one count's three runs); the
    # table keeps each count's run of least CPU, the speedup compares the
    # fastest walls.
    runs = {name: [] for name, _ in ms}
    for _ in range(REPEAT):
        for name, extra in ms:
            if runs[name] and runs[name][-1].crashed():
                continue
            runs[name].append(measure(name, [args.mailspill, "--show-passwords"] + extra +
                                      ["-r", pcap], workdir, args.timeout))
    for name, _ in ms:
        done = runs[name]
        r = done[-1] if done[-1].crashed() else min(done, key=lambda x: x.cpu)
        if not r.crashed():
            r.best_wall = min(x.wall for x in done)
            parse_mailspill(r)
        results.append(r)
    peers = (("tshark", ["-q", "-z", "credentials", "-r", pcap], parse_tshark),
             ("ettercap", ["-Tq", "-r", pcap], parse_ettercap),
             ("dsniff", ["-n", "-p", pcap], parse_dsniff),
             ("ndpiReader", ["-i", pcap], parse_ndpi))
    for name, argv, parse in peers:
        if args.no_peers:
            continue
        if not tools[name]:
            print("%s: %s not installed, skipped" % (label, name))
            continue
        r = measure(name, [tools[name]] + argv, workdir, args.timeout)
        if not r.crashed() or r.status.startswith("timeout"):
            parse(r)    # after a timeout: what it printed until then
        results.append(r)
    print()
    print("%s: %s, %.1f MB, %d packets, %d logins in the truth"
          % (label, pcap, size / 1e6, pkts, nlogins))
    hdr = ("tool", "MB/s", "kpkt/s", "CPU s", "wall s", "RSS MiB", "CPU/floor",
           "pairs found", "users found")
    fmt = "| %-14s | %8s | %7s | %7s | %7s | %7s | %-12s | %-15s | %-15s |"
    print(fmt % hdr)
    print(fmt % tuple("-" * len(h) for h in hdr))
    for r in results:
        if r.pairs is None and r.users is None and r.tool not in ("floor", "sha256"):
            pairs = users = "n/a"
        elif r.tool in ("floor", "sha256"):
            pairs = users = "-"
        else:
            mp, mu = matched(r.pairs, want_pairs), matched(r.users, want_users)
            pairs = "n/a" if mp is None else "%d/%d" % (mp, nlogins)
            users = "n/a" if mu is None else "%d/%d" % (mu, nlogins)
        if r.crashed():
            print(fmt % (r.tool, "", "", "-" if r.cpu != r.cpu else "%.2f" % r.cpu, "%.2f" % r.wall,
                         "%.1f" % (r.rss / MIB) if r.rss else "", r.status, pairs,
                         users))
            if not r.status.startswith("timeout"):
                print("  %s: %s" % (r.tool, read_text(r.err)[-200:].strip().replace("\n", " ")))
            continue
        print(fmt % (r.tool, "%.1f" % (size / 1e6 / r.wall), "%.0f" % (pkts / 1e3 / r.wall),
                     "%.2f" % r.cpu, "%.2f" % r.wall, "%.1f" % (r.rss / MIB),
                     "%.1fx" % (r.cpu / fl.cpu) if fl.cpu > 0 else "-", pairs, users))
    for r in results:
        if r.note:
            print("  %s: %s" % (r.tool, r.note))
    ok = True
    for r in results:
        if not r.tool.startswith("mailspill"):
            continue
        if r.crashed():
            print("  FAIL: %s %s on %s" % (r.tool, r.status, pcap))
            ok = False
            continue
        got = matched(r.exact, want_exact)
        print("  %s: %d/%d logins matched per session (addresses, ports, user, secret)"
              % (r.tool, got, nlogins))
        if got != nlogins:
            missing = [k for k in want_exact if r.exact[k] < want_exact[k]][:5]
            print("  FAIL: %s missed %d logins, e.g. %s" % (r.tool, nlogins - got, missing))
            ok = False
    return {"size": size, "pkts": pkts, "results": {r.tool: r for r in results}, "ok": ok}


def targets(label, kind, res):
    """Issue 13's targets, computed from this run's floor and SHA-256."""
    rs = res["results"]
    fl, sha, ms = rs["floor"], rs.get("sha256"), rs.get("mailspill")
    if ms is None or ms.crashed():
        return
    print("%s: targets of issue 13 (reported, not enforced)" % label)
    if kind == "mail" and sha is not None and not sha.crashed():
        limit = fl.cpu + sha.cpu + 3 * fl.cpu
        print("  CPU <= floor + SHA-256 pass + 3x floor = %.2f + %.2f + %.2f = %.2f s: "
              "mailspill %.2f s (%.1fx the limit) -> %s"
              % (fl.cpu, sha.cpu, 3 * fl.cpu, limit, ms.cpu, ms.cpu / limit,
                 "met" if ms.cpu <= limit else "not met"))
        nd = rs.get("ndpiReader")
        if nd is not None and not nd.crashed() and nd.cpu > 0:
            print("  beside ndpiReader (target about 1.5x): mailspill CPU %.1fx ndpiReader's"
                  % (ms.cpu / nd.cpu))
    elif kind == "mixed":
        limit = 2 * fl.cpu
        print("  CPU <= 2x floor = %.2f s: mailspill %.2f s (%.1fx the floor) -> %s"
              % (limit, ms.cpu, ms.cpu / fl.cpu, "met" if ms.cpu <= limit else "not met"))
    print("  peak RSS < 64 MiB: mailspill %.1f MiB -> %s"
          % (ms.rss / MIB, "met" if ms.rss < 64 * MIB else "not met"))
    threads = sorted((int(k.split("-t")[1]), v) for k, v in rs.items()
                     if k.startswith("mailspill -t") and not v.crashed())
    if threads:
        print("  threads (wall speedup over 1 thread, fastest of %d turns each; target 1.6x at "
              "2 on 2 cores): %s" % (REPEAT, ", ".join("%d: %.2fx (%.2f s)" % (
                  n, ms.best_wall / r.best_wall, r.best_wall) for n, r in threads)) +
              "; 1 thread %.2f s" % ms.best_wall)


def cpu_per_byte(mailspill, captures, sizes, workdir, timeout, done):
    """mailspill's CPU ns per capture byte at both sizes, per capture kind."""
    print()
    # Start-up (nDPI's tables, mostly) is a fixed cost that would swamp a
    # small capture: measured on an empty one and shown apart.
    empty = os.path.join(workdir, "empty.pcap")
    with open(empty, "wb") as f:
        f.write(build_captures.PCAP_HDR)
    st = best_of(REPEAT, "mailspill-empty", [mailspill, "-r", empty], workdir, timeout)
    start = 0.0 if st.crashed() else st.cpu
    print("mailspill CPU per byte as the input grows (%s -> %s); start-up on an empty "
          "capture %.3f s, taken off" % (sizes + (start,)))
    for kind in ("mail", "mixed"):
        vals = []
        for size in sizes:
            pcap = captures.get((kind, size))
            if pcap is None:
                break
            r = done.get((kind, size))
            if r is None:
                warm(pcap)
                r = best_of(REPEAT, "mailspill-%s-%s" % (kind, size),
                            [mailspill, "--show-passwords", "-r", pcap], workdir, timeout)
                if r.crashed():
                    break
            vals.append((size, os.path.getsize(pcap), r.cpu))
        if len(vals) < 2:
            print("  %s: a capture is missing, no comparison" % kind)
            continue
        (s1, b1, c1), (s2, b2, c2) = vals
        n1, n2 = max(c1 - start, 0) / b1 * 1e9, max(c2 - start, 0) / b2 * 1e9
        print("  %-5s %s %.0f MB: %.2f ns/byte; %s %.0f MB: %.2f ns/byte; ratio %.2f"
              % (kind, s1, b1 / 1e6, n1, s2, b2 / 1e6, n2, n2 / n1 if n1 else float("nan")))


def main():
    sys.stdout.reconfigure(line_buffering=True)     # in order with the children's lines
    if "--checks" in sys.argv[1:]:
        argv = [a for a in sys.argv[1:] if a != "--checks"]
        return subprocess.run(["/usr/bin/python3", os.path.join(HERE, "checks.py")] + argv).returncode
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mailspill")
    ap.add_argument("--quick", action="store_true", help="100 MiB captures, not 1 GiB")
    ap.add_argument("--dir", default=os.environ.get("MS_BENCH_DIR", os.path.join(HERE, "data")))
    ap.add_argument("--no-peers", action="store_true", help="floor, SHA-256 and mailspill only")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per tool and capture")
    args = ap.parse_args()
    args.mailspill = os.path.abspath(args.mailspill)
    sizes = ("tiny", "quick") if args.quick else ("quick", "full")
    main_size = sizes[1]
    os.makedirs(args.dir, exist_ok=True)
    for size in sizes:
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "build_captures.py"),
                        "--" + size, "--dir", args.dir], check=True)
    captures = {}
    for kind in ("mail", "mixed"):
        for size in sizes:
            pcap, truth = build_captures.paths(args.dir, kind, size)
            if os.path.exists(pcap) and os.path.exists(truth):
                captures[(kind, size)] = pcap
    tools = compile_helpers(os.path.join(args.dir, "bin"))
    tools["threads"] = threads_supported(args.mailspill)
    if not tools["threads"]:
        print("mailspill --help lists no --threads: one thread only")
    tools.update({t: None for t in PEERS} if args.no_peers else ensure_peers(args))
    workdir = os.path.join(args.dir, "run")
    os.makedirs(workdir, exist_ok=True)
    print("machine: %s, %d CPUs; %s" % (cpu_model(), os.cpu_count() or 0,
                                         time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    ok = True
    done = {}
    for kind, label in (("mail", "mail-heavy"), ("mixed", "mixed")):
        pcap = captures.get((kind, main_size))
        if pcap is None:
            print("%s: no capture (no room on the disk?), skipped" % label)
            continue
        res = run_capture(label, pcap, build_captures.paths(args.dir, kind, main_size)[1],
                          tools, args, workdir)
        ok &= res["ok"]
        done[(kind, main_size)] = res["results"].get("mailspill")
        targets(label, kind, res)
    cpu_per_byte(args.mailspill, captures, sizes, workdir, args.timeout, done)
    return 0 if ok else 1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
