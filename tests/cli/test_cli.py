#!/usr/bin/python3
"""Command-line behaviour of the mailspill binary on the bundled demo
capture: output formats, redaction, sources, filters and bad input."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

BIN, DEMO = sys.argv[1], sys.argv[2]
EXPECTED = [json.loads(l) for l in open(DEMO.rsplit(".", 1)[0] + ".expected.json", encoding="utf-8")]
GOOD = next(e for e in EXPECTED if e["event_type"] == "alert" and e["credential"]["outcome"] == "success"
            and e["credential"]["mechanism"] == "USER")
PASSWORD = GOOD["credential"]["password"]
USER = GOOD["credential"]["username"]

results = []


def run(args, stdin=None):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=120)


def events(out, with_stats=False):
    """The events of a run; the closing stats event only when asked for."""
    evs = [json.loads(l) for l in out.decode("utf-8").splitlines()]
    return evs if with_stats else [e for e in evs if e["event_type"] != "stats"]


def case(fn):
    try:
        fn()
        results.append(True)
        print(f"PASS {fn.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {fn.__name__}: {e}")


def test_envelope():
    r = run(["-r", DEMO])
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    assert evs, "no events"
    ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")
    for e in evs:
        for k in ("timestamp", "flow_id", "event_type", "src_ip", "src_port", "dest_ip",
                  "dest_port", "proto", "app_proto", "pcap_filename"):
            assert k in e, f"missing {k} in {e}"
        assert ts.match(e["timestamp"]), e["timestamp"]
        assert isinstance(e["flow_id"], int) and e["flow_id"] > 0
        assert e["proto"] == "TCP" and e["pcap_filename"] == DEMO
    # One connection, one flow_id: the login and its messages share it.
    by_port = {}
    for e in evs:
        # A fileinfo record goes the file's way (from the server here).
        client = e["dest_port"] if e["event_type"] == "fileinfo" else e["src_port"]
        by_port.setdefault(client, set()).add(e["flow_id"])
    assert all(len(v) == 1 for v in by_port.values()), by_port
    ids = [next(iter(v)) for v in by_port.values()]
    assert len(set(ids)) == len(ids), "two connections share a flow_id"
    alerts = [e for e in evs if e["event_type"] == "alert"]
    assert alerts, "no alert"
    for e in alerts:
        assert e["alert"] == want_alert(e), (e["alert"], want_alert(e))


# The README's "alert" table: signature_id = base + 100 x protocol +
# mechanism; severity 1 for a cleartext secret the server accepted, 2 for one
# refused or unanswered, 3 for a challenge/response login (no reusable secret).
PROTO_NO = {"pop3": 1, "imap": 2, "smtp": 3}
MECH_NO = {"USER": 1, "APOP": 2, "PLAIN": 4, "CRAM-MD5": 6, "DIGEST-MD5": 7,
           "NTLM": 8, "XOAUTH2": 9, "OAUTHBEARER": 10}
CHALLENGE_RESPONSE = {"APOP", "CRAM-MD5", "DIGEST-MD5", "NTLM"}


def want_alert(e, sid_base=1610000):
    """The alert object an alert event must carry, from its app_proto and
    credential alone (README: a STARTTLS stripping alert has slot 50,
    severity 1)."""
    if "starttls_stripped" in e:
        return {"action": "allowed", "gid": 1,
                "signature_id": sid_base + 100 * PROTO_NO[e["app_proto"]] + 50, "rev": 1,
                "signature": f"MAILSPILL {e['app_proto'].upper()} STARTTLS stripped "
                             "(offered to an earlier session)",
                "category": "Attempted Information Leak", "severity": 1}
    c = e["credential"]
    mech, cmd = c["mechanism"], c["command"]
    if mech == "LOGIN":
        no = 3 if cmd == "LOGIN" else 5          # IMAP LOGIN / SASL LOGIN
    else:
        no = MECH_NO.get(mech, 99)
    if mech in CHALLENGE_RESPONSE:
        kind, severity = "challenge/response", 3
    else:
        # An incomplete login may be another account's: never 1.
        whole = c["outcome"] == "success" and not c.get("incomplete")
        kind, severity = "cleartext", 1 if whole else 2
    label = {"USER": "USER/PASS", "APOP": "APOP"}.get(mech, None)
    if label is None:
        label = "LOGIN" if cmd == "LOGIN" else f"{cmd} {mech}"
    return {"action": "allowed", "gid": 1,
            "signature_id": sid_base + 100 * PROTO_NO[e["app_proto"]] + no, "rev": 1,
            "signature": f"MAILSPILL {e['app_proto'].upper()} {kind} login ({label})",
            "category": "Potential Corporate Privacy Violation", "severity": severity}


def test_alert_values():
    """Every alert over every bundled capture carries the README's values;
    the demo's credentials are the ones its expected file lists, in order,
    with no other key than tls (false) and starttls_offered."""
    import glob
    evs = events(run(["--show-passwords", "-r", DEMO]).stdout)
    got = [e for e in evs if e["event_type"] == "alert"]
    exp = [e for e in EXPECTED if e["event_type"] == "alert"]
    assert len(got) == len(exp), (len(got), len(exp))
    for g, x in zip(got, exp):
        for k in ("app_proto", "src_ip", "dest_ip", "dest_port"):
            assert g[k] == x[k], (k, g, x)
        gc, xc = g["credential"], x["credential"]
        extra = set(gc) - set(xc)
        assert extra <= {"tls", "starttls_offered"}, (extra, gc, xc)
        assert gc["tls"] is False, gc
        for k, v in xc.items():
            assert gc.get(k) == v, (k, gc, xc)
        assert g["alert"]["severity"] == (1 if xc["outcome"] == "success" else 2), g
    seen = set()
    pcaps = glob.glob(os.path.join(os.path.dirname(os.path.dirname(DEMO)), "**", "*.pcap*"),
                      recursive=True)
    for pcap in pcaps:
        for e in events(run(["-r", pcap]).stdout):
            if e["event_type"] == "alert":
                assert e["alert"] == want_alert(e), (pcap, e["alert"], want_alert(e))
                seen.add((e["alert"]["signature_id"], e["alert"]["severity"]))
    # The bundled captures cover each severity.
    assert {s for _, s in seen} == {1, 2, 3}, seen


def test_redacted_by_default():
    evs = events(run(["-r", DEMO]).stdout)
    creds = [e["credential"] for e in evs if e["event_type"] == "alert"]
    assert creds
    for c in creds:
        assert "password" not in c, c
        assert c["password_redacted"] is True
    good = next(c for c in creds if c["outcome"] == "success" and c["mechanism"] == "USER")
    assert good["password_length"] == len(PASSWORD.encode()), good
    assert PASSWORD.encode() not in run(["-r", DEMO]).stdout


def test_show_passwords():
    evs = events(run(["--show-passwords", "-r", DEMO]).stdout)
    assert any(e.get("credential", {}).get("password") == PASSWORD for e in evs)


def test_text_view():
    r = run(["--text", "-r", DEMO])
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    # The first line has the date and the zone first (README "Text view").
    pat = re.compile(r"^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d( \S+ \(UTC[+-]\d{4}\))? POP3 10\.0\.0\.5:\d+ -> 10\.0\.0\.1:110 USER/PASS "
                     + re.escape(f'"{USER}"') + r" / \*{8} \(accepted\)$")
    assert any(pat.match(l) for l in lines), lines
    assert PASSWORD not in r.stdout.decode()
    shown = run(["--text", "--show-passwords", "-r", DEMO]).stdout.decode()
    assert f'USER/PASS "{USER}" / "{PASSWORD}" (accepted)' in shown, shown
    # Each login's line says what the server answered (the expected file's
    # outcome), one line per login, in order.
    words = {"success": "accepted", "failure": "rejected", "unknown": "outcome unknown"}
    want = [(e["credential"]["username"], e["credential"]["password"],
             words[e["credential"]["outcome"]]) for e in EXPECTED if e["event_type"] == "alert"]
    got = [l for l in shown.splitlines() if re.search(r" (USER/PASS|AUTH |APOP|LOGIN)", l)]
    assert len(got) == len(want), (got, want)
    for line, (user, pw, word) in zip(got, want):
        assert line.endswith(f' "{user}" / "{pw}" ({word})'), (line, word)


def test_output_file():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.json")
        r = run(["-r", DEMO, "-o", path])
        assert r.returncode == 0 and r.stdout == b""
        # It holds secrets: readable by its owner only, whatever the umask.
        assert os.stat(path).st_mode & 0o777 == 0o600, oct(os.stat(path).st_mode)
        with open(path, "rb") as f:
            assert f.read() == run(["-r", DEMO]).stdout


def test_stdin():
    with open(DEMO, "rb") as f:
        data = f.read()
    r = run(["-r", "-"], stdin=data)
    assert r.returncode == 0
    a = events(r.stdout)
    b = events(run(["-r", DEMO]).stdout)
    for e in b:
        del e["pcap_filename"]
    assert a == b
    assert all("pcap_filename" not in e for e in a)


def pcap_records(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, snap, lt = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xa1b2c3d4, hex(magic)
    recs, off = [], 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append((sec, usec, data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    return lt, snap, recs, data


def test_pcapng():
    lt, snap, recs, _ = pcap_records(DEMO)

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", lt, 0, snap))
    for sec, usec, pkt, orig in recs:
        ts = sec * 1000000 + usec
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, len(pkt), orig) + pkt)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "demo.pcapng")
        with open(path, "wb") as f:
            f.write(out)
        a = events(run(["-r", path]).stdout)
    b = events(run(["-r", DEMO]).stdout)
    for e in a + b:
        del e["pcap_filename"]
    assert a == b and a


def test_several_files_one_stream():
    """-r a -r b reads both in order as one stream: a session cut in two by
    the file boundary gives the same events, on the same flow, as one file."""
    lt, snap, recs, data = pcap_records(DEMO)
    off, cut = 24, None
    for sec, usec, pkt, orig in recs:
        off += 16 + len(pkt)
        if b"PASS " in pkt:
            cut = off  # right after the PASS command, before its reply
            break
    assert cut
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a.pcap"), os.path.join(d, "b.pcap")
        with open(a, "wb") as f:
            f.write(data[:cut])
        with open(b, "wb") as f:
            f.write(data[:24] + data[cut:])
        r = run(["--show-passwords", "-r", a, "-r", b])
        assert r.returncode == 0, r.stderr
        both = events(r.stdout)
        assert {e["pcap_filename"] for e in both} <= {a, b}
    whole = events(run(["--show-passwords", "-r", DEMO]).stdout)
    for e in both + whole:
        del e["pcap_filename"]
    assert both == whole, (both, whole)


def test_bpf_filter():
    r = run(["-r", DEMO, "tcp", "port", "9999"])
    assert r.returncode == 0 and events(r.stdout) == [], r.stdout
    r = run(["-r", DEMO, "tcp", "port", "110"])
    assert events(r.stdout) == events(run(["-r", DEMO]).stdout)
    r = run(["-r", DEMO, "no", "such", "filter"])
    assert r.returncode != 0 and b"filter" in r.stderr


def one_line_error(r, code, needle):
    err = r.stderr.decode()
    assert r.returncode == code, (r.returncode, err)
    assert len(err.strip().splitlines()) <= 2, err
    assert needle in err, err
    assert r.stdout == b""


def test_missing_file():
    one_line_error(run(["-r", "/nonexistent/x.pcap"]), 1, "/nonexistent/x.pcap")


def test_not_a_capture():
    with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
        f.write(b"this is not a capture file\n" * 10)
        f.flush()
        one_line_error(run(["-r", f.name]), 1, f.name)


def test_unknown_option():
    one_line_error(run(["--bogus", "-r", DEMO]), 2, "bogus")
    one_line_error(run([]), 2, "-r FILE")


def test_unsupported_linktype():
    hdr = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 147)
    with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
        f.write(hdr)
        f.flush()
        one_line_error(run(["-r", f.name]), 1, "unsupported link type 147")


def ng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def test_unsupported_linktype_pcapng():
    """Issue 11: a pcapng whose only interface has a link type mailspill
    cannot read fails as the classic pcap does (it used to exit 0 without a
    word); with a readable interface beside it, the run goes on and says
    once which interface was skipped."""
    lt, snap, recs, _ = pcap_records(DEMO)
    shb = ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    junk = b"\x45" + b"\0" * 39

    def epb(ifid, pkt, ts=0):
        return ng_block(6, struct.pack("<IIIII", ifid, ts >> 32, ts & 0xffffffff, len(pkt),
                                       len(pkt)) + pkt)
    only = shb + ng_block(1, struct.pack("<HHI", 147, 0, 65535)) + epb(0, junk)
    mixed = shb + ng_block(1, struct.pack("<HHI", 147, 0, 65535)) + \
        ng_block(1, struct.pack("<HHI", lt, 0, snap)) + epb(0, junk)
    for sec, usec, pkt, _orig in recs:
        mixed += epb(1, pkt, sec * 1000000 + usec)
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "only.pcapng"), os.path.join(d, "mixed.pcapng")
        with open(a, "wb") as f:
            f.write(only)
        with open(b, "wb") as f:
            f.write(mixed)
        r = run(["-r", a])
        err = r.stderr.decode()
        assert r.returncode == 1, (r.returncode, err)
        assert len(err.strip().splitlines()) == 1 and "unsupported link type 147" in err, err
        assert not [e for e in events(r.stdout)], r.stdout
        r = run(["-r", b])
        err = r.stderr.decode()
        assert r.returncode == 0, (r.returncode, err)
        assert err.count("warning") == 1 and "interface 0 has unsupported link type 147" in err, err
        got = events(r.stdout)
    want = events(run(["-r", DEMO]).stdout)
    for e in got:
        e["pcap_cnt"] -= 1  # the skipped packet came first
    for e in got + want:
        del e["pcap_filename"]
    assert got == want and got, (got, want)


def test_truncated_capture():
    lt, snap, recs, data = pcap_records(DEMO)
    # Cut inside the record after the one carrying the PASS reply.
    off = 24
    cut = None
    for sec, usec, pkt, orig in recs:
        off += 16 + len(pkt)
        if b"+OK Logged in." in pkt:
            cut = off + 20
            break
    assert cut
    with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
        f.write(data[:cut])
        f.flush()
        r = run(["--show-passwords", "-r", f.name])
    assert r.returncode == 0, r.stderr
    assert b"truncated" in r.stderr or b"warning" in r.stderr, r.stderr
    evs = events(r.stdout)
    assert any(e["event_type"] == "alert" and e["credential"]["password"] == PASSWORD
               and e["credential"]["outcome"] == "success" for e in evs), evs


def tcp_capture(turns, cport=41000, sport=25):
    """A classic pcap of one TCP connection (Ethernet, IPv4, checksums
    right): handshake, then each (from_client, bytes) turn as one segment
    with the peer's ACK after it, then FINs. Built by hand: the CLI tests
    need no scapy."""
    cli, srv = bytes([10, 66, 0, 5]), bytes([10, 66, 0, 1])

    def csum(b):
        b += b"\0" * (len(b) % 2)
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return ~s & 0xffff

    seq = {True: 1000, False: 9000}
    frames = []

    def seg(fc, flags, data=b""):
        a, b = (cli, srv) if fc else (srv, cli)
        sp, dp = (cport, sport) if fc else (sport, cport)
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq[fc], seq[not fc], 5 << 4, flags, 65535, 0, 0)
        c = csum(a + b + struct.pack("!BBH", 0, 6, len(tcp) + len(data)) + tcp + data)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(data), 0, 0x4000, 64, 6,
                         0, a, b)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frames.append(b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + tcp + data)
        seq[fc] += len(data) + (1 if flags & 0x03 else 0)

    seg(True, 0x02)
    seg(False, 0x12)
    seg(True, 0x10)
    for fc, data in turns:
        for off in range(0, len(data), 1400):
            seg(fc, 0x18, data[off:off + 1400])
        seg(not fc, 0x10)
    seg(True, 0x11)
    seg(False, 0x11)
    seg(True, 0x10)
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1800000000 + i, 0, len(f), len(f)) + f
    return out


def test_cap_warnings():
    """Issue 11: caps that cut data say so once each on standard error at
    the end of the run (README, Limits), not only in the JSON: a command
    line over the line cap, MIME nested past the depth cap, --extract past
    its byte cap. Nothing is said when no cap was hit."""
    depth = 12
    body = b"Subject: deep\r\nMIME-Version: 1.0\r\n"
    for k in range(depth):
        body += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (k, k)
    body += b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for k in reversed(range(depth)):
        body += b"--b%d--\r\n" % k
    s, c = False, True
    turns = [(s, b"220 mx ESMTP\r\n"), (c, b"EHLO x\r\n"), (s, b"250 mx\r\n"),
             (c, b"NOOP " + b"x" * 5000 + b"\r\n"), (s, b"500 too long\r\n"),
             (c, b"MAIL FROM:<a@example.net>\r\n"), (s, b"250 ok\r\n"),
             (c, b"RCPT TO:<b@example.org>\r\n"), (s, b"250 ok\r\n"),
             (c, b"DATA\r\n"), (s, b"354 go\r\n"), (c, body + b".\r\n"),
             (s, b"250 queued\r\n"), (c, b"QUIT\r\n"), (s, b"221 bye\r\n")]
    with tempfile.TemporaryDirectory() as d:
        cap = os.path.join(d, "caps.pcap")
        with open(cap, "wb") as f:
            f.write(tcp_capture(turns))
        x = os.path.join(d, "x")
        os.mkdir(x)
        r = run(["-r", cap, "--extract", x, "--extract-max-bytes", "10"])
        err = r.stderr.decode()
        assert r.returncode == 0, (r.returncode, err)
        evs = events(r.stdout)
        assert [e["smtp"]["mail_from"] for e in evs if e["event_type"] == "email"] == \
            ["<a@example.net>"], evs
        lines = err.strip().splitlines()
        for needle in ("(line_too_long", "(depth_exceeded)", "(extract_limit_reached)"):
            hits = [l for l in lines if needle in l]
            assert len(hits) == 1 and hits[0].startswith("mailspill: warning: 1 "), (needle, err)
        assert len(lines) == 3, err
    # A run within every cap: not a word.
    r = run(["-r", DEMO])
    assert r.returncode == 0 and r.stderr == b"", r.stderr


def test_sid_base():
    """Signature ids: one block from --sid-base, default in the local-use
    range, the same offset per protocol and mechanism."""
    base = [e["alert"]["signature_id"] for e in events(run(["-r", DEMO]).stdout)
            if e["event_type"] == "alert"]
    assert base and all(1610000 <= s <= 1610999 for s in base), base
    moved = [e["alert"]["signature_id"] for e in events(run(["--sid-base", "3000000", "-r", DEMO]).stdout)
             if e["event_type"] == "alert"]
    assert moved == [s - 1610000 + 3000000 for s in base], (base, moved)
    top = 2**32 - 1000
    last = [e["alert"]["signature_id"] for e in events(run(["--sid-base", str(top), "-r", DEMO]).stdout)
            if e["event_type"] == "alert"]
    assert last == [s - 1610000 + top for s in base], last
    for bad in ("0", "-1", str(top + 1), "1e6", ""):
        one_line_error(run(["--sid-base", bad, "-r", DEMO]), 2, "--sid-base")


def test_list_signatures():
    """--list-signatures is the sid-msg.map of every alert: distinct ids in
    the block, and every alert raised over the bundled captures is in it
    with the same text (severity aside, the text is the sid's)."""
    import glob
    r = run(["--list-signatures", "--sid-base", "2000000"])
    assert r.returncode == 0, r.stderr
    table = {}
    for line in r.stdout.decode().splitlines():
        sid, msg = line.split(" || ")
        assert int(sid) not in table, line
        table[int(sid)] = msg
    assert len(table) >= 24 and all(2000000 <= s <= 2000999 for s in table), table
    pcaps = glob.glob(os.path.join(os.path.dirname(os.path.dirname(DEMO)), "**", "*.pcap"),
                      recursive=True)
    seen = 0
    for pcap in pcaps:
        for e in events(run(["--sid-base", "2000000", "-r", pcap]).stdout):
            if e["event_type"] == "alert":
                a = e["alert"]
                assert table.get(a["signature_id"]) == a["signature"], (pcap, a)
                seen += 1
    assert seen > 100, seen


def test_file_output_has_no_sensor():
    """Reading a file, the output does not depend on the machine: no host,
    no in_iface, even with --sensor-name; every flow event has a
    community_id and no key is null or an empty list."""
    r = run(["--sensor-name", "s1", "-r", DEMO])
    assert r.returncode == 0, r.stderr
    assert b"--sensor-name applies to live capture" in r.stderr, r.stderr
    again = run(["-r", DEMO])
    assert r.stdout == again.stdout
    for e in events(r.stdout, with_stats=True):
        assert "host" not in e and "in_iface" not in e, e
        if "flow_id" in e:
            assert re.fullmatch(r"1:[A-Za-z0-9+/]{27}=", e["community_id"]), e

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                assert v, e
                for x in v:
                    walk(x)
            else:
                assert v is not None, e
        walk(e)
    one_line_error(run(["--sensor-name", "", "-r", DEMO]), 2, "--sensor-name")


for t in (test_envelope, test_alert_values, test_redacted_by_default, test_show_passwords, test_text_view,
          test_output_file, test_stdin, test_pcapng, test_several_files_one_stream,
          test_bpf_filter, test_missing_file,
          test_not_a_capture, test_unknown_option, test_unsupported_linktype,
          test_unsupported_linktype_pcapng,
          test_truncated_capture, test_cap_warnings, test_sid_base, test_list_signatures,
          test_file_output_has_no_sensor):
    case(t)
print(f"{results.count(True)} passed, {results.count(False)} failed")
sys.exit(0 if all(results) else 1)
