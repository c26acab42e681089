#!/usr/bin/python3
"""-r inputs beyond one plain file (README, Usage): compressed captures
(gzip, xz, zstd, told by magic bytes, also on standard input) and folders
(-r DIR: the folder's files in name order, as one stream).

A compressed capture must give exactly the events of the plain one, but
for pcap_filename, which names the compressed file. Damage in the
compressed data is reported as a truncated capture is: what was read
before it is kept, one warning, exit 0. The decompressors' window cap
(MS_DECOMP_WINDOW_MAX, 128 MiB) is checked at max-1, max and max+1 on
streams built here.

gzip and xz come from Python's modules; zstd from the zstd command
(scripts/install-deps.sh test). Without it: exit 77 (skipped), or 1 under
MS_REQUIRE_ALL=1.

usage: test_inputs.py MAILSPILL PCAPS_DIR"""
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

BIN, PCAPS = sys.argv[1], sys.argv[2]
DEMO = os.path.join(PCAPS, "pop3/demo-userpass-retr.pcap")
PCAPNG = os.path.join(PCAPS, "capture/pcapng-eth-sll.pcapng")
SMTP = os.path.join(PCAPS, "smtp/auth-mechanisms.pcap")
IMAP = os.path.join(PCAPS, "imap/logins-fetch-append.pcap")
OTHER = os.path.join(PCAPS, "chain/1-submit-smtp.pcap")

if not shutil.which("zstd"):
    if os.environ.get("MS_REQUIRE_ALL") == "1":
        print("FAIL: would skip (no zstd command), and MS_REQUIRE_ALL=1 forbids skipping")
        sys.exit(1)
    print("SKIP: no zstd command (scripts/install-deps.sh test)")
    sys.exit(77)

results = []
TMP = tempfile.mkdtemp(prefix="ms-inputs.")


def run(args, stdin=None):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=120)


def events(out):
    return [json.loads(l) for l in out.decode("utf-8").splitlines()]


def without_name(evs):
    out = []
    for e in evs:
        e = dict(e)
        e.pop("pcap_filename", None)
        out.append(e)
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def zstd(data, *opts):
    return subprocess.run(["zstd", "-q", "-c", *opts], input=data, capture_output=True,
                          check=True).stdout


COMPRESS = {
    "gz": lambda d: gzip.compress(d, mtime=0),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ),
    "zst": zstd,
}


def case(fn):
    try:
        fn()
        results.append(True)
        print(f"PASS {fn.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {fn.__name__}: {e}")


def plain_run(path):
    r = run(["-r", path])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    evs = events(r.stdout)
    assert any(e["event_type"] == "alert" for e in evs), path
    return evs


def test_compressed_same_events():
    """Every compression of a pcap and of a pcapng file: the same events
    (stats included), pcap_filename naming the compressed file; nothing on
    standard error."""
    for cap in (DEMO, PCAPNG):
        want = plain_run(cap)
        for ext, comp in COMPRESS.items():
            path = write(os.path.join(TMP, os.path.basename(cap) + "." + ext), comp(read(cap)))
            r = run(["-r", path])
            assert r.returncode == 0 and r.stderr == b"", (path, r.returncode, r.stderr)
            got = events(r.stdout)
            assert without_name(got) == without_name(want), path
            assert all(e["pcap_filename"] == path for e in got if "flow_id" in e), path


def test_compressed_stdin():
    """-r - takes compressed data too: the same events, with no file name."""
    for cap in (DEMO, PCAPNG):
        want = without_name(plain_run(cap))
        for ext, comp in COMPRESS.items():
            r = run(["-r", "-"], stdin=comp(read(cap)))
            assert r.returncode == 0 and r.stderr == b"", (cap, ext, r.stderr)
            got = events(r.stdout)
            assert got == want, (cap, ext)
            assert all("pcap_filename" not in e for e in got)


def test_plain_through_pipe_path():
    """A plain capture named by a path that is a pipe (-r /dev/stdin, as
    -r <(cat x.pcap) gives) is read from its first byte: it used to be
    reopened by path after its first 4 bytes were read, and failed."""
    for cap in (DEMO, PCAPNG):
        want = without_name(plain_run(cap))
        r = run(["-r", "/dev/stdin"], stdin=read(cap))
        assert r.returncode == 0 and r.stderr == b"", (cap, r.stderr)
        assert without_name(events(r.stdout)) == want, cap


def test_concatenated():
    """Concatenated gzip members, xz streams and zstd frames decompress as
    one (cat a.gz b.gz), as the tools themselves do."""
    data = read(DEMO)
    want = without_name(plain_run(DEMO))
    cut = len(data) // 3
    for ext, comp in COMPRESS.items():
        path = write(os.path.join(TMP, "two-parts.pcap." + ext), comp(data[:cut]) + comp(data[cut:]))
        r = run(["-r", path])
        assert r.returncode == 0 and r.stderr == b"", (ext, r.stderr)
        assert without_name(events(r.stdout)) == want, ext


def decompressed_prefix(ext, blob):
    """What the library decodes of a cut compressed file (all it can)."""
    if ext == "gz":
        return zlib.decompressobj(wbits=31).decompress(blob)
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)


def test_truncated_compressed():
    """A .gz or .xz cut after the login: the events of the bytes before the
    cut (those of the plain capture cut at the same place), a warning that
    names the damage, exit 0."""
    data = read(DEMO)
    reply = data.index(b"+OK Logged in.")
    for ext in ("gz", "xz"):
        blob = COMPRESS[ext](data)
        cut = next(n for n in range(16, len(blob))
                   if len(decompressed_prefix(ext, blob[:n])) > reply + 400)
        prefix = decompressed_prefix(ext, blob[:cut])
        assert len(prefix) < len(data)
        path = write(os.path.join(TMP, "cut.pcap." + ext), blob[:cut])
        r = run(["--show-passwords", "-r", path])
        err = r.stderr.decode()
        assert r.returncode == 0, (ext, r.returncode, err)
        assert err.count("\n") == 1 and "warning" in err, err
        assert f"{path}: truncated {ext if ext == 'xz' else 'gzip'} data" in err, err
        got = events(r.stdout)
        same = run(["--show-passwords", "-r", write(os.path.join(TMP, "cut.pcap"), prefix)])
        assert without_name(got) == without_name(events(same.stdout)), ext
        assert any(e["event_type"] == "alert" and e["credential"]["outcome"] == "success"
                   for e in got), got
    # zstd decodes whole blocks (here the file is one): a cut inside it
    # leaves nothing before the capture's header, an error; a cut in the
    # frame's checksum loses nothing but still warns.
    blob = COMPRESS["zst"](data)
    path = write(os.path.join(TMP, "cut.pcap.zst"), blob[:len(blob) // 2])
    r = run(["-r", path])
    assert r.returncode == 1 and r.stdout == b"", r
    assert r.stderr.decode() == f"mailspill: {path}: truncated zstd data\n", r.stderr
    path = write(os.path.join(TMP, "cut2.pcap.zst"), blob[:-2])
    r = run(["-r", path])
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().count("\n") == 1 and "truncated zstd data" in r.stderr.decode()
    assert without_name(events(r.stdout)) == without_name(plain_run(DEMO))


def test_damaged_compressed():
    """Corrupt or trailing data: a warning naming it, what came before kept."""
    data = read(DEMO)
    want = without_name(plain_run(DEMO))
    # Trailing bytes that start no member/frame: after the whole capture.
    for ext, needle in (("gz", "damaged gzip data"), ("zst", "damaged zstd data")):
        path = write(os.path.join(TMP, "trailing.pcap." + ext), COMPRESS[ext](data) + b"garbage!" * 4)
        r = run(["-r", path])
        assert r.returncode == 0 and needle in r.stderr.decode(), (ext, r.stderr)
        assert r.stderr.decode().count("\n") == 1, r.stderr
        assert without_name(events(r.stdout)) == want, ext
    # LZMA2 checks its data as it goes: a flipped byte stops it there.
    blob = bytearray(COMPRESS["xz"](data))
    blob[len(blob) * 3 // 4] ^= 0x55
    path = write(os.path.join(TMP, "flipped.pcap.xz"), bytes(blob))
    r = run(["-r", path])
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr.decode() and path in r.stderr.decode(), r.stderr
    got = without_name(events(r.stdout))
    assert 0 < len(got) < len(want), got


def test_compressed_not_a_capture():
    """A compressed file whose content is no capture: as a plain one, the
    error of a single -r FILE (exit 1, one line)."""
    for ext, comp in COMPRESS.items():
        path = write(os.path.join(TMP, "notes.txt." + ext), comp(b"not a capture\n" * 50))
        r = run(["-r", path])
        assert r.returncode == 1 and r.stdout == b"", (ext, r)
        err = r.stderr.decode()
        assert err.count("\n") == 1 and path in err and "warning" not in err, err


def zstd_raw_frame(data, window_descriptor):
    """A zstd frame (RFC 8878 3.1.1) of raw blocks that declares the window
    window_descriptor encodes: no content size, no checksum."""
    out = bytes([0x28, 0xB5, 0x2F, 0xFD, 0x00, window_descriptor])
    for off in range(0, len(data), 1 << 17):
        chunk = data[off:off + (1 << 17)]
        last = off + len(chunk) >= len(data)
        out += struct.pack("<I", (len(chunk) << 3) | int(last))[:3] + chunk
    return out


def xz_with_dict(data, dict_byte):
    """An xz file whose LZMA2 filter declares the dictionary size that
    dict_byte encodes ((2 | b & 1) << (b // 2 + 11)); the data is
    compressed with a small one, and the block header's CRC32 redone."""
    blob = bytearray(lzma.compress(data, format=lzma.FORMAT_XZ, filters=[
        {"id": lzma.FILTER_LZMA2, "dict_size": 1 << 16}]))
    hdr = 12
    size = (blob[hdr] + 1) * 4
    flags = blob[hdr + 1]
    assert flags & 3 == 0, "one filter"
    p = hdr + 2

    def varint(p):
        while blob[p] & 0x80:
            p += 1
        return p + 1
    if flags & 0x40:
        p = varint(p)
    if flags & 0x80:
        p = varint(p)
    assert blob[p] == 0x21 and blob[p + 1] == 1, "LZMA2, one property byte"
    blob[p + 2] = dict_byte
    blob[hdr + size - 4:hdr + size] = struct.pack("<I", zlib.crc32(bytes(blob[hdr:hdr + size - 4])))
    return bytes(blob)


def test_window_cap():
    """The decompressors' window cap, 2^27 bytes: a stream declaring up to
    it is read; one declaring more is refused (exit 1, one line naming the
    cap) before anything is allocated for it."""
    data = read(DEMO)
    want = without_name(plain_run(DEMO))
    # zstd Window_Descriptor: exponent << 3 | mantissa, 2^(10+e) * (1 + m/8).
    for wd, ok in ((0x7F, True),   # 2^26 * 15/8: the largest below 2^27
                   (0x88, True),   # 2^27
                   (0x89, False)):  # 2^27 * 9/8
        path = write(os.path.join(TMP, f"window-{wd:02x}.pcap.zst"), zstd_raw_frame(data, wd))
        r = run(["-r", path])
        if ok:
            assert r.returncode == 0 and r.stderr == b"", (hex(wd), r.stderr)
            assert without_name(events(r.stdout)) == want, hex(wd)
        else:
            assert r.returncode == 1 and r.stdout == b"", (hex(wd), r)
            assert r.stderr.decode() == (f"mailspill: {path}: zstd data needs a window larger "
                                         "than the cap of 128 MiB\n"), r.stderr
    # LZMA2 dictionary sizes: 96 MiB (29), 128 MiB (30), 192 MiB (31): the
    # next one past 128 MiB.
    for b, ok in ((29, True), (30, True), (31, False)):
        path = write(os.path.join(TMP, f"dict-{b}.pcap.xz"), xz_with_dict(data, b))
        r = run(["-r", path])
        if ok:
            assert r.returncode == 0 and r.stderr == b"", (b, r.stderr)
            assert without_name(events(r.stdout)) == want, b
        else:
            err = r.stderr.decode()
            assert r.returncode == 1 and r.stdout == b"", (b, r)
            assert err.count("\n") == 1 and err.startswith(f"mailspill: {path}: xz data needs ")
            assert "a dictionary of at most 128 MiB" in err, err


def test_folder():
    """-r DIR: its regular files in name order (strcmp: "10-" before "9-"),
    symbolic links to files too, each as if given with -r; a file that is
    not a capture is skipped with one warning; hidden files and subfolders
    are not read."""
    d = os.path.join(TMP, "folder")
    os.makedirs(os.path.join(d, "sub"))
    first = write(os.path.join(d, "10-smtp.pcap"), read(SMTP))
    second = os.path.join(d, "9-imap.pcap")
    os.symlink(os.path.abspath(IMAP), second)
    third = write(os.path.join(d, "a-demo.pcapng.gz"), gzip.compress(read(PCAPNG)))
    write(os.path.join(d, "README.txt"), b"These captures come from the lab.\n")
    write(os.path.join(d, ".hidden.pcap"), read(OTHER))
    write(os.path.join(d, "sub", "nested.pcap"), read(OTHER))
    want = run(["-r", first, "-r", second, "-r", third])
    assert want.returncode == 0 and want.stderr == b"", want.stderr
    for arg in (d, d + "/"):
        r = run(["-r", arg])
        assert r.returncode == 0, r.stderr
        err = r.stderr.decode().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith("mailspill: warning: " + os.path.join(d, "README.txt") + ": "), err
        assert err[0].endswith("; skipped"), err
        assert r.stdout == want.stdout, arg
    names = [e["pcap_filename"] for e in events(r.stdout) if "pcap_filename" in e]
    assert names == sorted(names, key=[first, second, third].index), names
    assert set(names) == {first, second, third}, set(names)
    # A folder among files: the same stream.
    r = run(["-r", DEMO, "-r", d])
    assert r.returncode == 0
    both = run(["-r", DEMO, "-r", first, "-r", second, "-r", third])
    assert r.stdout == both.stdout


def test_empty_folder():
    """A folder with nothing to read: exit 1, one line, no output; also when
    its only files are hidden, in a subfolder or not captures (warned)."""
    d = os.path.join(TMP, "empty")
    os.makedirs(d)
    r = run(["-r", d])
    assert r.returncode == 1 and r.stdout == b"", r
    assert r.stderr.decode() == f"mailspill: {d}: no capture file in this folder\n", r.stderr
    os.makedirs(os.path.join(d, "sub"))
    write(os.path.join(d, "sub", "x.pcap"), read(DEMO))
    write(os.path.join(d, ".x.pcap"), read(DEMO))
    r = run(["-r", d])
    assert r.returncode == 1 and r.stdout == b"", r
    assert r.stderr.decode() == f"mailspill: {d}: no capture file in this folder\n", r.stderr
    write(os.path.join(d, "notes.txt"), b"no capture here\n" * 4)
    r = run(["-r", d])
    err = r.stderr.decode().splitlines()
    assert r.returncode == 1 and r.stdout == b"", r
    assert len(err) == 2 and "warning" in err[0] and "notes.txt" in err[0], err
    assert err[1] == f"mailspill: {d}: no capture file in this folder", err


def test_folder_keeps_fatal_errors():
    """In a folder, only what is not a readable capture is skipped: a bad
    filter still stops the run at the first file (exit 1, one line)."""
    d = os.path.join(TMP, "filtered")
    os.makedirs(d)
    write(os.path.join(d, "a.pcap"), read(DEMO))
    write(os.path.join(d, "b.pcap"), read(DEMO))
    r = run(["-r", d, "no", "such", "filter"])
    err = r.stderr.decode()
    assert r.returncode == 1 and err.count("\n") == 1 and "filter" in err, err
    assert "warning" not in err, err


for t in (test_compressed_same_events, test_compressed_stdin, test_plain_through_pipe_path,
          test_concatenated,
          test_truncated_compressed, test_damaged_compressed, test_compressed_not_a_capture,
          test_window_cap, test_folder, test_empty_folder, test_folder_keeps_fatal_errors):
    case(t)
shutil.rmtree(TMP, ignore_errors=True)
print(f"{results.count(True)} passed, {results.count(False)} failed")
sys.exit(0 if all(results) else 1)
