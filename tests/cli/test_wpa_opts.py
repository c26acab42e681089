#!/usr/bin/python3
"""The 802.11 options and plumbing around WPA2 decryption (README "Wi-Fi"):
--wpa-passphrase SSID:PASSPHRASE (escapes, lengths, printable ASCII),
--wpa-passphrase-file (comments, CRLF, errors by line number, a warning
when others may read it), --wpa-psk, --monitor; no error or output ever
holds a passphrase or a PSK. Then, on a capture built here with scapy from
an Ethernet session: the same session carried in 802.11 A-MSDU aggregates,
in the clear, gives the same logins and messages with the stations in
ether, with one thread and with two. (Decrypted captures are checked by the
golden tests of pcaps/wifi and tests/cli/test_wpa.py.)

usage: test_wpa_opts.py BINARY PCAPS_DIR"""
import json
import os
import subprocess
import sys
import tempfile

BIN, PCAPS = sys.argv[1], sys.argv[2]
ETH = os.path.join(PCAPS, "capture", "eth.pcap")
WIFI = os.path.join(PCAPS, "capture", "wifi-radiotap-protected.pcap")
SECRET = "espresso at the counter, 42"
PSK = "c43d282ec29fa3d62e16a16ea6e41bd6ad8ee6635245d7ddb1445d8b132571c1"

results = []


def run(args):
    return subprocess.run([BIN] + args, capture_output=True, timeout=120)


def case(fn):
    try:
        fn()
        print("ok  ", fn.__name__)
        results.append(True)
    except AssertionError as e:
        print("FAIL", fn.__name__, e)
        results.append(False)


def no_secret(r, *secrets):
    for s in secrets:
        for stream in (r.stdout, r.stderr):
            assert s.encode() not in stream, "a secret was printed: %r" % stream[-300:]


def usage_error(args, words, secrets=()):
    r = run(args + ["-r", ETH])
    err = r.stderr.decode()
    assert r.returncode == 2, "exit %d for %s: %s" % (r.returncode, args, err)
    assert all(w in err for w in words), "%s: %r lacks %s" % (args, err, words)
    assert "Try 'mailspill --help'" in err
    no_secret(r, *secrets)


def events(out, kind=None):
    evs = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
    return [e for e in evs if kind is None or e["event_type"] == kind]


def test_option_errors():
    usage_error(["--wpa-passphrase", "Cafe:short7!"], ["--wpa-passphrase", '"Cafe"', "7 characters",
                                                       "8 to 63"], ["short7!"])
    long = "x" * 64
    usage_error(["--wpa-passphrase", "Cafe:" + long], ["64 characters"], [long])
    usage_error(["--wpa-passphrase", "Cafe:tab\there-it-is"], ["printable ASCII", "position 4"],
                ["here-it-is"])
    # No colon: the argument may be the passphrase itself; never shown.
    usage_error(["--wpa-passphrase", SECRET.replace(":", "")], ["no colon"],
                [SECRET.replace(":", "")])
    usage_error(["--wpa-passphrase", ":" + SECRET], ["SSID", "empty"], [SECRET])
    usage_error(["--wpa-passphrase", "S" * 33 + ":" + SECRET], ["longer than 32"], [SECRET])
    usage_error(["--wpa-psk", PSK[:-1]], ["--wpa-psk", "64 hexadecimal digits", "63 characters"],
                [PSK[:-1]])
    usage_error(["--wpa-psk", PSK[:-1] + "g"], ["character 64"], [PSK[:-1]])
    usage_error(["--monitor"], ["--monitor", "live capture"])


def test_accepted_and_escaped():
    # \: is a colon and \\ a backslash in the SSID; the passphrase keeps
    # its colons; a PSK in either case.
    for args in (["--wpa-passphrase", "Ca\\:fe\\\\1:" + SECRET],
                 ["--wpa-passphrase", "x" * 32 + ":" + "y" * 63],
                 ["--wpa-passphrase", "Cafe:" + SECRET, "--wpa-passphrase", "Bar:" + SECRET],
                 ["--wpa-psk", PSK.upper()]):
        r = run(args + ["-r", WIFI])
        assert r.returncode == 0, "%s: exit %d %r" % (args, r.returncode, r.stderr)
        no_secret(r, SECRET, PSK, PSK.upper(), "y" * 63)
        # With a secret the protected frame is tried (no handshake in this
        # capture), not reported as "no passphrase given".
        anomalies = [e["anomaly"]["event"] for e in events(r.stdout, "anomaly")]
        assert "wifi_no_passphrase" not in anomalies, anomalies
        assert len(events(r.stdout, "alert")) == 1


def test_passphrase_file():
    with tempfile.TemporaryDirectory() as d:
        good = os.path.join(d, "good.psk")
        with open(good, "w") as f:
            f.write("# the hotspot\r\n\r\nCafe Corner:%s\r\nBack\\:Room:%s\n" % (SECRET, SECRET))
        os.chmod(good, 0o600)
        r = run(["--wpa-passphrase-file", good, "-r", WIFI])
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        no_secret(r, SECRET)
        # Readable by others: said, and read all the same.
        os.chmod(good, 0o644)
        r = run(["--wpa-passphrase-file", good, "-r", WIFI])
        assert r.returncode == 0, r.stderr
        assert b"warning" in r.stderr and b"readable by others" in r.stderr, r.stderr
        # A bad line: its number, never its content; exit 1 as --hash-key.
        bad = os.path.join(d, "bad.psk")
        with open(bad, "w") as f:
            f.write("# comment\nCafe:%s\nCafe:tooshrt\n" % SECRET)
        os.chmod(bad, 0o600)
        r = run(["--wpa-passphrase-file", bad, "-r", WIFI])
        err = r.stderr.decode()
        assert r.returncode == 1, (r.returncode, err)
        assert "line 3" in err and "8 to 63" in err and err.count("\n") == 1, err
        no_secret(r, SECRET, "tooshrt")
        assert r.stdout == b""
        with open(bad, "w") as f:
            f.write("# comment\n%s\n" % SECRET.replace(":", ""))
        r = run(["--wpa-passphrase-file", bad, "-r", WIFI])
        assert r.returncode == 1 and b"line 2" in r.stderr and b"no colon" in r.stderr, r.stderr
        no_secret(r, SECRET.replace(":", ""))
        # Only comments: nothing to decrypt with is an error, not a no-op.
        with open(bad, "w") as f:
            f.write("# nothing yet\n\n")
        r = run(["--wpa-passphrase-file", bad, "-r", WIFI])
        assert r.returncode == 1 and b"no SSID:PASSPHRASE line" in r.stderr, r.stderr
        # A passphrase typed where the file name belongs: not repeated.
        r = run(["--wpa-passphrase-file", SECRET, "-r", WIFI])
        assert r.returncode == 1 and b"cannot open the passphrase file" in r.stderr, r.stderr
        no_secret(r, SECRET)


def test_notice_without_secret():
    # Protected frames and no secret: one notice for the run, not one per
    # frame, and the login in the clear is still found.
    r = run(["-r", WIFI, "-r", WIFI])
    assert r.returncode == 0, r.stderr
    notices = [e for e in events(r.stdout, "anomaly")
               if e["anomaly"]["event"] == "wifi_no_passphrase"]
    assert len(notices) == 1, notices
    assert "--wpa-passphrase" in notices[0]["anomaly"]["detail"]
    assert "src_ip" not in notices[0] and notices[0]["ether"]["src_mac"]


def amsdu_capture(path):
    """eth.pcap's session in radiotap 802.11 QoS data frames in the clear,
    To DS (client) and From DS (server), two packets of a direction in a
    row put in one A-MSDU; a beacon first and an EAPOL frame (ignored
    without secrets) in between."""
    from scapy.all import rdpcap, wrpcap, Ether, RadioTap, Dot11, Dot11QoS, Dot11Beacon, \
        Dot11Elt, LLC, SNAP, Raw
    import struct
    pkts = rdpcap(ETH)
    cli_mac = pkts[0][Ether].src
    srv_mac = pkts[0][Ether].dst
    bssid = "02:00:00:00:bb:bb"
    out = [RadioTap() / Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=bssid,
                              addr3=bssid) / Dot11Beacon() / Dot11Elt(ID=0, info=b"Open Cafe")]

    def sub(src, dst, ipb):
        msdu = bytes(LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(code=0x0800)) + ipb
        return bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + \
            struct.pack(">H", len(msdu)) + msdu

    i, seq, n_amsdu = 0, 0, 0
    while i < len(pkts):
        e = pkts[i]
        group = [e]
        if i + 1 < len(pkts) and pkts[i + 1][Ether].src == e[Ether].src:
            group.append(pkts[i + 1])
        i += len(group)
        from_client = e[Ether].src == cli_mac
        body = b""
        for k, g in enumerate(group):
            s = sub(g[Ether].src, g[Ether].dst, bytes(g[Ether].payload))
            if k + 1 < len(group):
                s += b"\0" * (-len(s) % 4)
            body += s
        n_amsdu += 1
        if from_client:
            d = Dot11(type=2, subtype=8, FCfield="to-DS", addr1=bssid, addr2=cli_mac, addr3=bssid)
        else:
            d = Dot11(type=2, subtype=8, FCfield="from-DS", addr1=cli_mac, addr2=bssid,
                      addr3=bssid)
        seq += 1
        d.SC = seq << 4
        f = RadioTap() / d / Dot11QoS(A_MSDU_Present=1) / Raw(body)
        f.time = e.time
        out.append(f)
        if seq == 2:  # an EAPOL-Key frame in the clear, as a handshake's
            eap = RadioTap() / Dot11(type=2, subtype=8, FCfield="from-DS", addr1=cli_mac,
                                     addr2=bssid, addr3=bssid) / Dot11QoS() / \
                LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(code=0x888e) / \
                Raw(b"\x02\x03\x00\x5f" + b"\x02" + b"\0" * 94)
            eap.time = e.time
            out.append(eap)
    wrpcap(path, out, linktype=127)
    return cli_mac, srv_mac, bssid, n_amsdu


def test_amsdu_in_the_clear():
    try:
        import scapy.all  # noqa: F401
    except ImportError:
        print("skip: no scapy")
        return
    with tempfile.TemporaryDirectory() as d:
        cap = os.path.join(d, "amsdu.pcap")
        cli_mac, srv_mac, bssid, n = amsdu_capture(cap)
        want = run(["--show-passwords", "-r", ETH])
        assert want.returncode == 0
        strip = ("timestamp", "flow_id", "pcap_filename", "pcap_cnt", "ether")

        def key(evs):
            return sorted(json.dumps({k: v for k, v in e.items() if k not in strip},
                                     sort_keys=True) for e in evs)

        base = [e for e in events(want.stdout) if e["event_type"] in ("alert", "email",
                                                                       "fileinfo")]
        assert base, "eth.pcap has logins"
        for threads in ("1", "2"):
            r = run(["--show-passwords", "--threads", threads, "-r", cap])
            assert r.returncode == 0, r.stderr
            got = [e for e in events(r.stdout) if e["event_type"] in ("alert", "email",
                                                                       "fileinfo")]
            assert key(got) == key(base), "threads %s: %s" % (threads, key(got))
            for e in got:
                eth = e["ether"]
                way = (eth["src_mac"], eth["dest_mac"])
                assert eth["bssid"] == bssid, eth
                assert way in ((cli_mac, srv_mac), (srv_mac, cli_mac)), eth
                if e["event_type"] == "alert":
                    assert way == (cli_mac, srv_mac), eth
            st = events(r.stdout, "stats")[0]["stats"]
            assert st["decoder"]["wifi_amsdu"] == n, st["decoder"]
            assert st["decoder"]["unsupported"] == 0, st["decoder"]
            assert not events(r.stdout, "anomaly")


def hotspot_line():
    # "Cafe Corner"'s line of the generated captures' passphrase file.
    with open(os.path.join(PCAPS, "wifi", "hotspot.psk")) as f:
        return next(l.rstrip("\n") for l in f if l.startswith("Cafe Corner:"))


def test_file_with_bom():
    # Notepad's UTF-8: a byte order mark, CRLF. The first line's SSID is
    # still "Cafe Corner": its client's logins are read.
    ccmp = os.path.join(PCAPS, "wifi", "wpa2-ccmp.pcap")
    line = hotspot_line()
    with tempfile.TemporaryDirectory() as d:
        psk = os.path.join(d, "bom.psk")
        with open(psk, "wb") as f:
            f.write(b"\xef\xbb\xbf" + line.encode() + b"\r\n")
        os.chmod(psk, 0o600)
        r = run(["--wpa-passphrase-file", psk, "-r", ccmp])
        assert r.returncode == 0, r.stderr
        alerts = events(r.stdout, "alert")
        assert alerts and all(e["ether"]["bssid"] for e in alerts), r.stdout[-300:]
        assert not any("no passphrase" in json.dumps(e) for e in events(r.stdout, "anomaly"))
        no_secret(r, line.split(":", 1)[1])


def test_argv_wiped():
    # --wpa-passphrase and --wpa-psk are gone from /proc/PID/cmdline while
    # the capture is read (here: a pipe that stays open).
    line = hotspot_line()
    p = subprocess.Popen([BIN, "--wpa-passphrase", line, "--wpa-psk", PSK, "-r", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(ETH, "rb") as f:
            p.stdin.write(f.read(24))  # the file header: the reader waits for packets
            p.stdin.flush()
        cmdline = b""
        for _ in range(50):
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                cmdline = f.read()
            if b"-r" in cmdline and line.split(":", 1)[1].encode() not in cmdline:
                break
            subprocess.run(["sleep", "0.1"])
        assert b"--wpa-passphrase" in cmdline, cmdline
        for s in (line.split(":", 1)[1], PSK, "Cafe Corner"):
            assert s.encode() not in cmdline, "%r still in argv" % s
    finally:
        out, err = p.communicate(timeout=60)  # closes the pipe: the end of the capture
    assert p.returncode == 0, err


for t in (test_option_errors, test_accepted_and_escaped, test_passphrase_file,
          test_notice_without_secret, test_amsdu_in_the_clear, test_file_with_bom,
          test_argv_wiped):
    case(t)
print(f"{results.count(True)} passed, {results.count(False)} failed")
sys.exit(0 if all(results) else 1)
