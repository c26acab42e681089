#!/usr/bin/python3
"""--evidence DIR (README "Repeats, periodic stats, evidence") on a capture
made here (pop3gen.py) with three interleaved POP3 flows:

  A  a login that works, a RETR, QUIT, closed with FIN both ways and the
     client's last ACK;
  B  no login (banner, CAPA, QUIT): no alert, so no file;
  C  a long CAPA reply (about 6 KB in 24 segments) before a login the
     server refuses, then QUIT, ended by the client's RST.

Each alerted flow's file must be a valid pcap (read back here, and by
tcpdump when it is installed) of mode 0600 in a directory created 0700,
named (its name in DIR) by the flow's alert,
holding exactly the input's frames of that flow's 5-tuple, in capture
order with their times: every one for C, every one but the last ACK of
the close for A (it comes after the flow ended, README says so). Then the caps: with --evidence-flow-bytes 2k, C's
file holds the frames that fit in 2048 bytes of pcap records (16-byte
header each) before its alert, then the frames after the alert's packet
(pcap_cnt), and stats evidence.dropped_flow_cap counts the rest; with
--evidence-memcap 0 nothing is held, so the files hold only the frames
after each alert and dropped_memcap counts every frame held back. A file
already there is never overwritten (write_errors, no "evidence" key);
DIR as a symbolic link is refused. Last, pcaps/capture/pcapng-eth-sll.pcapng,
one flow whose client frames are on an Ethernet interface and server
frames on a Linux SLL one: the file is Ethernet (the first frame's link
type) with every Ethernet frame of the flow, and the SLL ones are counted
in evidence.linktype_mismatch."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pop3gen  # noqa: E402

BIN, REPO = sys.argv[1], sys.argv[2]
T0 = 1795000000 * 1000000
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def make_capture(path):
    msg = b"".join(b"Line %03d of the message body.\r\n" % i for i in range(40))
    a = pop3gen.session("10.0.0.5", 40001, "10.0.0.1", 110, T0, pop3gen.login_lines(
        b"alice", b"Summer 2026!pw", True,
        extra=[("c", b"RETR 1\r\n"), ("s", b"+OK %d octets\r\n" % len(msg) + msg + b".\r\n")]),
        close="fin")
    b = pop3gen.session("10.0.0.6", 40002, "10.0.0.1", 110, T0 + 500, [
        ("s", b"+OK POP3 ready.\r\n"), ("c", b"CAPA\r\n"), ("s", b"+OK\r\nUSER\r\n.\r\n"),
        ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n")], close="fin")
    capa = [("s", b"+OK Capability list follows\r\n")] + [
        ("s", (b"X-CAPABILITY-%02d " % i) + b"x" * 230 + b"\r\n") for i in range(24)]
    c = pop3gen.session("10.0.0.7", 40003, "10.0.0.1", 110, T0 + 300,
                        [("s", b"+OK POP3 ready.\r\n"), ("c", b"CAPA\r\n")] + capa +
                        [("s", b".\r\n")] + pop3gen.login_lines(b"bob", b"wrong guess", False)[1:],
                        close="rst")
    pkts = pop3gen.write_pcap(path, [a, b, c])
    # Numbered as pcap_cnt counts (from 1).
    return [(i + 1, ts, fr) for i, (ts, fr) in enumerate(pkts)]


def run(args):
    r = subprocess.run([BIN] + args, capture_output=True, timeout=60)
    return r, [json.loads(l) for l in r.stdout.decode().splitlines()]


def flow_frames(pkts, alert):
    """The input's frames of the alert's 5-tuple, numbered."""
    t = frozenset([(pop3gen.ip(alert["src_ip"]), alert["src_port"]),
                   (pop3gen.ip(alert["dest_ip"]), alert["dest_port"])])
    return [p for p in pkts if pop3gen.tuple_of(p[2]) == t]


def in_flow(frames):
    """The frames of the flow while it lived: a final bare ACK after FINs
    both ways comes after its end."""
    fins = [i for i, p in enumerate(frames) if pop3gen.tcp_flags(p[2]) & 0x01]
    if len(fins) >= 2 and fins[-1] == len(frames) - 2 and pop3gen.tcp_flags(frames[-1][2]) == 0x10:
        return frames[:-1]
    return frames


def check_file(path, want, label):
    if not check(os.path.isfile(path) and not os.path.islink(path), f"{label}: no file {path}"):
        return
    check(stat.S_IMODE(os.lstat(path).st_mode) == 0o600,
          f"{label}: mode {oct(stat.S_IMODE(os.lstat(path).st_mode))}")
    lt, recs = pop3gen.read_pcap(path)
    check(lt == pop3gen.LINKTYPE_ETHERNET, f"{label}: link type {lt}")
    got = [(ts, fr) for ts, fr in recs]
    exp = [(ts, fr) for _, ts, fr in want]
    check(got == exp, f"{label}: {len(got)} frames, expected {len(exp)} "
                      f"(first difference at {next((i for i, (g, e) in enumerate(zip(got, exp)) if g != e), min(len(got), len(exp)))})")
    if shutil.which("tcpdump"):
        r = subprocess.run(["tcpdump", "-n", "-r", path], capture_output=True, timeout=30)
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(exp),
              f"{label}: tcpdump -r: exit {r.returncode}, {len(r.stdout.splitlines())} lines")


def alerts_of(evs):
    return {e["src_ip"]: e for e in evs if e["event_type"] == "alert"}


def evidence_stats(evs):
    return [e for e in evs if e["event_type"] == "stats"][-1]["stats"].get("evidence")


def mixed_linktypes(tmp):
    cap = os.path.join(REPO, "pcaps", "capture", "pcapng-eth-sll.pcapng")
    frames = pop3gen.read_pcapng(cap)
    # The flow ends at its FINs both ways; a bare ACK after them is not in it.
    hdr = {1: 14, 113: 16}

    def flags(lt, fr):
        ihl = (fr[hdr[lt]] & 0x0f) * 4
        return fr[hdr[lt] + ihl + 13]
    fins = [i for i, (_, lt, fr) in enumerate(frames) if flags(lt, fr) & 0x01]
    if len(fins) >= 2 and fins[-1] == len(frames) - 2 and flags(*frames[-1][1:]) == 0x10:
        frames = frames[:-1]
    d = os.path.join(tmp, "ev-mixed")
    r, evs = run(["--evidence", d, "-r", cap])
    al = [e for e in evs if e["event_type"] == "alert"]
    if not check(len(al) == 1 and "evidence" in al[0], f"mixed: alerts {al}"):
        return
    lt, recs = pop3gen.read_pcap(os.path.join(d, al[0]["evidence"]))
    eth = [fr for _, l, fr in frames if l == 1]
    check(lt == 1 and [fr for _, fr in recs] == eth,
          f"mixed: link type {lt}, {len(recs)} frames, expected the {len(eth)} Ethernet ones")
    st = evidence_stats(evs)
    sll = sum(1 for _, l, _ in frames if l == 113)
    check(st["linktype_mismatch"] == sll and sll > 0,
          f"mixed: linktype_mismatch {st['linktype_mismatch']}, expected {sll}")
    check(f"warning: {sll} packets were left out of --evidence files: their link type".encode()
          in r.stderr, f"mixed: no warning line: {r.stderr!r}")


def raw_ip_linktype(tmp):
    """A raw-IP capture (LINKTYPE_RAW, 101, which libpcap hands on as its
    DLT_RAW, 12 on Linux): the evidence file says 101, as the pcap format
    does, so that it reads the same on every platform."""
    cap = os.path.join(REPO, "pcaps", "capture", "raw-ip.pcap")
    d = os.path.join(tmp, "ev-raw")
    _, evs = run(["--evidence", d, "-r", cap])
    al = [e for e in evs if e["event_type"] == "alert"]
    if not check(len(al) == 1 and "evidence" in al[0], f"raw: alerts {al}"):
        return
    lt, recs = pop3gen.read_pcap(os.path.join(d, al[0]["evidence"]))
    _, src = pop3gen.read_pcap(cap)
    check(lt == 101 and recs and [fr for _, fr in recs] == [fr for _, fr in src][:len(recs)],
          f"raw: link type {lt} (expected 101), {len(recs)} frames")


def main():
    with tempfile.TemporaryDirectory(prefix="ms-evidence-") as tmp:
        cap = os.path.join(tmp, "three.pcap")
        pkts = make_capture(cap)

        r, evs = run(["-r", cap])
        check(not any("evidence" in e for e in evs), "without --evidence: an evidence key")
        check(evidence_stats(evs) is None, "without --evidence: stats.evidence")

        # Default caps: whole flows.
        d = os.path.join(tmp, "ev")
        r, evs = run(["--evidence", d, "-r", cap])
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}")
        check(stat.S_IMODE(os.stat(d).st_mode) == 0o700, "DIR not created 0700")
        al = alerts_of(evs)
        check(sorted(al) == ["10.0.0.5", "10.0.0.7"], f"alerts from {sorted(al)}")
        files = sorted(os.listdir(d))
        check(files == sorted(f"{e['flow_id']}.pcap" for e in al.values()),
              f"files {files}: one per alerted flow, none for B")
        total = 0
        for src, a in al.items():
            check(a.get("evidence") == f"{a['flow_id']}.pcap",
                  f"{src}: evidence {a.get('evidence')}")
            want = in_flow(flow_frames(pkts, a))
            total += len(want)
            check_file(os.path.join(d, f"{a['flow_id']}.pcap"), want, f"default {src}")
        check(len(flow_frames(pkts, al["10.0.0.5"])) == len(in_flow(flow_frames(pkts, al["10.0.0.5"]))) + 1,
              "A should end with the ACK after its close")
        st = evidence_stats(evs)
        check(st and st["files"] == 2 and st["packets"] == total and st["dropped_flow_cap"] == 0
              and st["dropped_memcap"] == 0 and st["write_errors"] == 0, f"stats {st}")

        # The per-flow cap: C keeps the frames that fit before its alert.
        cap_bytes = 2048
        d2 = os.path.join(tmp, "ev-flowcap")
        r, evs = run(["--evidence", d2, "--evidence-flow-bytes", "2k", "-r", cap])
        al = alerts_of(evs)
        dropped = 0
        for src, a in al.items():
            frames = in_flow(flow_frames(pkts, a))
            held, used, full = [], 0, False
            for p in frames:
                if p[0] > a["pcap_cnt"]:
                    held.append(p)
                    continue
                if not full and used + 16 + len(p[2]) <= cap_bytes:
                    used += 16 + len(p[2])
                    held.append(p)
                else:
                    full = True
                    dropped += 1
            check_file(os.path.join(d2, a.get("evidence", "-")), held, f"flow cap {src}")
        st = evidence_stats(evs)
        check(dropped > 0, "the per-flow cap test drops nothing: the capture is too small")
        # B holds its frames too (no alert yet): what it could not hold is counted.
        b_frames = [p for p in pkts if pop3gen.tuple_of(p[2]) ==
                    frozenset([(pop3gen.ip("10.0.0.6"), 40002), (pop3gen.ip("10.0.0.1"), 110)])]
        b_size = sum(16 + len(p[2]) for p in in_flow(b_frames))
        check(b_size <= cap_bytes, "B should fit under the cap")
        check(st and st["dropped_flow_cap"] == dropped, f"flow cap: stats {st}, expected {dropped}")
        check(b"packets of flows were left out of --evidence files" in r.stderr,
              f"flow cap: no warning: {r.stderr!r}")

        # The global cap at 0: nothing held, only what follows each alert.
        d3 = os.path.join(tmp, "ev-memcap")
        r, evs = run(["--evidence", d3, "--evidence-memcap", "0", "-r", cap])
        al = alerts_of(evs)
        dropped = len(in_flow(b_frames))
        for src, a in al.items():
            frames = in_flow(flow_frames(pkts, a))
            dropped += sum(1 for p in frames if p[0] <= a["pcap_cnt"])
            check_file(os.path.join(d3, a.get("evidence", "-")),
                       [p for p in frames if p[0] > a["pcap_cnt"]],
                       f"memcap {src}")
        st = evidence_stats(evs)
        check(st and st["dropped_memcap"] == dropped and st["dropped_flow_cap"] == 0,
              f"memcap: stats {st}, expected dropped_memcap {dropped}")

        # An existing file is left alone; the other flow's is written.
        d4 = os.path.join(tmp, "ev-exists")
        os.mkdir(d4, 0o700)
        a_id = alerts_of(run(["-r", cap])[1])["10.0.0.5"]["flow_id"]
        planted = os.path.join(d4, f"{a_id}.pcap")
        with open(planted, "wb") as f:
            f.write(b"not mine")
        r, evs = run(["--evidence", d4, "-r", cap])
        al = alerts_of(evs)
        check("evidence" not in al["10.0.0.5"], "an existing file is named by the alert")
        check(open(planted, "rb").read() == b"not mine", "an existing file was overwritten")
        check("evidence" in al["10.0.0.7"], "the other flow lost its file")
        st = evidence_stats(evs)
        check(st and st["write_errors"] == 1 and st["files"] == 1, f"exists: stats {st}")

        # DIR as a symbolic link: refused before reading.
        real = os.path.join(tmp, "real")
        os.mkdir(real, 0o700)
        link = os.path.join(tmp, "link")
        os.symlink(real, link)
        r, evs = run(["--evidence", link, "-r", cap])
        check(r.returncode == 1 and b"symbolic link" in r.stderr and not os.listdir(real),
              f"symlinked DIR: exit {r.returncode} {r.stderr!r}")
        mixed_linktypes(tmp)
        raw_ip_linktype(tmp)
        for bad in ("0", "x"):
            r, _ = run(["--evidence", d, "--evidence-flow-bytes", bad, "-r", cap])
            check(r.returncode == 2, f"--evidence-flow-bytes {bad}: exit {r.returncode}")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("evidence: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
