#!/usr/bin/python3
"""The secrets options (README "Secrets"): --passwords MODE, --show-passwords
as its alias, --hash-key FILE and --hashes FILE: their usage errors, the key
file's rules (a final line end dropped, 32 to 4096 bytes, read from a pipe,
never printed), and the --hashes file's (mode 0600 whatever the umask, never
through a symbolic link, appended to, a line per hashcat line under its
mode's comment). What each mode writes over every capture is checked by
tests/golden/check_capture.py.

usage: test_secrets.py BINARY PCAPS_DIR"""
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import tempfile

BIN, PCAPS = sys.argv[1], sys.argv[2]
DEMO = os.path.join(PCAPS, "pop3", "demo-userpass-retr.pcap")
# Captures with hashcat lines of three modes (10200, 20; 5600).
MECH = os.path.join(PCAPS, "pop3", "mech-cram-digest-login-apop.pcap")
NTLM = os.path.join(PCAPS, "smtp", "auth-ntlm-v2.pcap")

results = []


def run(args, stdin=None, umask=None):
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=120,
                          preexec_fn=pre)


def events(out):
    return [json.loads(l) for l in out.decode("utf-8").splitlines()
            if l.strip() and json.loads(l)["event_type"] != "stats"]


def creds(out):
    return [e["credential"] for e in events(out) if e["event_type"] == "alert"]


def case(fn):
    try:
        fn()
        results.append(True)
        print(f"PASS {fn.__name__}")
    except AssertionError as e:
        results.append(False)
        print(f"FAIL {fn.__name__}: {e}")


def one_line_error(r, code, word):
    err = r.stderr.decode(errors="replace")
    assert r.returncode == code, (r.returncode, err)
    assert word in err, err
    assert r.stdout == b"", r.stdout[:200]


def write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data)
    os.close(fd)
    os.chmod(path, mode)


CLEAR = creds(run(["--show-passwords", "-r", DEMO]).stdout)
PASSWORDS = [c["password"] for c in CLEAR]


def hmacs(key):
    return [hmac.new(key, p.encode(), hashlib.sha256).hexdigest() for p in PASSWORDS]


def test_help():
    out = run(["--help"]).stdout.decode()
    for opt in ("--passwords MODE", "--show-passwords", "--hash-key FILE", "--hashes FILE"):
        assert opt in out, opt
    for mode in ("redact", "mask", "hash", "clear"):
        assert mode in out, mode


def test_usage_errors():
    one_line_error(run(["--passwords", "plain", "-r", DEMO]), 2, "--passwords")
    one_line_error(run(["--passwords", "", "-r", DEMO]), 2, "--passwords")
    one_line_error(run(["--passwords", "hash", "-r", DEMO]), 2, "--hash-key")
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        write(key, b"k" * 32)
        for other in ("redact", "mask", "clear"):
            one_line_error(run(["--passwords", other, "--hash-key", key, "-r", DEMO]), 2,
                           "--hash-key")
        # The last of --passwords and --show-passwords wins: hash mode
        # ends up without its key.
        one_line_error(run(["--passwords", "hash", "--show-passwords", "--hash-key", key,
                            "-r", DEMO]), 2, "--hash-key")


def test_modes_and_alias():
    shown = run(["--show-passwords", "-r", DEMO])
    assert shown.stdout == run(["--passwords", "clear", "-r", DEMO]).stdout
    assert run(["-r", DEMO]).stdout == run(["--passwords", "redact", "-r", DEMO]).stdout
    last = creds(run(["--show-passwords", "--passwords", "redact", "-r", DEMO]).stdout)
    assert all("password" not in c and c["password_redacted"] is True for c in last), last
    last = creds(run(["--passwords", "mask", "--show-passwords", "-r", DEMO]).stdout)
    assert [c["password"] for c in last] == PASSWORDS, last
    masked = creds(run(["--passwords", "mask", "-r", DEMO]).stdout)
    # "Summer 2026!pw": 14 characters, the first and the last kept.
    assert masked[0]["password_masked"] == "S************w", masked[0]
    assert masked[0]["password_length"] == 14, masked[0]
    text = run(["--text", "--passwords", "mask", "-r", DEMO]).stdout.decode()
    assert ' "alice" / "S************w" (accepted)' in text, text
    for c, e in zip(masked, CLEAR):
        # The alert does not depend on the mode.
        assert set(c) - {"password_masked", "password_length"} == set(e) - {"password"}


def test_hash_key_file():
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        text = b"0123456789abcdef0123456789abcdef"  # 32 bytes, the least
        for data in (text, text + b"\n", text + b"\r\n"):
            write(key, data)
            r = run(["--passwords", "hash", "--hash-key", key, "-r", DEMO])
            assert r.returncode == 0 and r.stderr == b"", r.stderr
            got = [c["password_hmac"] for c in creds(r.stdout)]
            assert got == hmacs(text), (data, got)
            # The same password, the same value: the demo's first and third
            # logins use one password.
            assert PASSWORDS[0] == PASSWORDS[2] and got[0] == got[2] and got[0] != got[1]
            t = run(["--text", "--passwords", "hash", "--hash-key", key, "-r", DEMO])
            assert f' "alice" / hmac:{hmacs(text)[0]} (accepted)' in t.stdout.decode()
        # A line end is dropped only from a one-line text key: one with
        # another line end before it is used whole.
        write(key, text + b"\n\n")
        got = [c["password_hmac"] for c in creds(
            run(["--passwords", "hash", "--hash-key", key, "-r", DEMO]).stdout)]
        assert got == hmacs(text + b"\n\n"), got
        # Binary keys, the longest accepted: every byte counts.
        big = bytes(range(256)) * 16
        write(key, big)
        r = run(["--passwords", "hash", "--hash-key", key, "-r", DEMO])
        assert r.returncode == 0, r.stderr
        assert [c["password_hmac"] for c in creds(r.stdout)] == hmacs(big)
        # A binary key that happens to end in 0x0a (head -c 32 /dev/urandom,
        # one time in 256) is used whole: only text keys lose a line end.
        binary = bytes(range(200, 231)) + b"\n"
        write(key, binary)
        r = run(["--passwords", "hash", "--hash-key", key, "-r", DEMO])
        assert r.returncode == 0, r.stderr
        assert [c["password_hmac"] for c in creds(r.stdout)] == hmacs(binary)
        # From a pipe (--hash-key <(command)).
        r = run(["--passwords", "hash", "--hash-key", "/dev/stdin", "-r", DEMO], stdin=text)
        assert r.returncode == 0, r.stderr
        assert [c["password_hmac"] for c in creds(r.stdout)] == hmacs(text)


def test_bad_key_files():
    secret = b"Do-Not-Print-This-Key-"
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        out = os.path.join(d, "events.json")
        cases = [(b"", "empty"), (b"\n", "empty"), (secret[:20] + b"0123456789a", "at least 32"),
                 (secret + b"x" * 4096, "longer than 4096")]
        for data, word in cases:
            write(key, data)
            write(out, b"earlier events\n")
            r = run(["--passwords", "hash", "--hash-key", key, "-o", out, "-r", DEMO])
            one_line_error(r, 1, word)
            err = r.stderr.decode()
            assert key in err and len(err.splitlines()) == 1, err
            assert secret[:8] not in r.stderr, err
            # Refused before anything is written: -o keeps its content.
            with open(out, "rb") as f:
                assert f.read() == b"earlier events\n"
        one_line_error(run(["--passwords", "hash", "--hash-key", os.path.join(d, "none"),
                            "-r", DEMO]), 1, "cannot open")
        # The key typed where its file's name belongs is not echoed.
        typed = "Zq8vN3kLw0pR7sT2yU5x"
        r = run(["--passwords", "hash", "--hash-key", typed, "-r", DEMO])
        one_line_error(r, 1, "cannot open the key file")
        assert typed.encode() not in r.stderr, r.stderr
        one_line_error(run(["--passwords", "hash", "--hash-key", d, "-r", DEMO]), 1,
                       "cannot read")
        # A key others may read works, with a warning that does not show it.
        write(key, secret + b"0123456789", 0o644)
        r = run(["--passwords", "hash", "--hash-key", key, "-r", DEMO])
        assert r.returncode == 0 and creds(r.stdout), r.stderr
        assert b"readable by others" in r.stderr and secret[:8] not in r.stderr, r.stderr


def hashcat_lines(capture):
    return [(c["hashcat_mode"], c["hashcat"].encode())
            for c in creds(run(["--show-passwords", "-r", capture]).stdout) if "hashcat" in c]


def parse_hashes(data):
    out, mode = [], None
    assert data.endswith(b"\n"), data[-40:]
    for line in data[:-1].split(b"\n"):
        if line.startswith(b"# hashcat -m "):
            mode = int(line[13:])
        else:
            assert not line.startswith(b"#"), line
            out.append((mode, line))
    return out


def test_hashes_file():
    want = hashcat_lines(MECH)
    assert {m for m, _ in want} == {10200, 20}, want
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hashes.txt")
        for mode in ("redact", "mask", "clear"):
            for view in ([], ["--text"]):
                if os.path.exists(path):
                    os.unlink(path)
                # umask 0: the file is still the owner's only.
                r = run(["--passwords", mode, "--hashes", path] + view + ["-r", MECH], umask=0)
                assert r.returncode == 0, r.stderr
                assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600, oct(os.lstat(path).st_mode)
                with open(path, "rb") as f:
                    data = f.read()
                assert parse_hashes(data) == want, (mode, view, data)
                # Group headers: one per run of lines of one mode.
                assert data.count(b"# hashcat -m ") == 1 + sum(
                    1 for a, b in zip(want, want[1:]) if a[0] != b[0]), data
                if mode != "clear":
                    for _, line in want:
                        assert line not in r.stdout, (mode, view)
        # Appended to, and an existing file of another mode made 0600.
        write(path, b"# kept\n", 0o644)
        r = run(["--hashes", path, "-r", NTLM])
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, "rb") as f:
            data = f.read()
        assert data.startswith(b"# kept\n# hashcat -m 5600\n"), data
        assert parse_hashes(data[len(b"# kept\n"):]) == hashcat_lines(NTLM)
        # A file another user owns could be read by that user: refused
        # (root only can make one here).
        if os.geteuid() == 0:
            theirs = os.path.join(d, "theirs.txt")
            write(theirs, b"")
            os.chown(theirs, 65534, 65534)
            one_line_error(run(["--hashes", theirs, "-r", MECH]), 1, "another user")
            assert os.path.getsize(theirs) == 0
        # No hashcat line, no content.
        empty = os.path.join(d, "none.txt")
        assert run(["--hashes", empty, "-r", DEMO]).returncode == 0
        assert os.path.getsize(empty) == 0 and stat.S_IMODE(os.stat(empty).st_mode) == 0o600


def test_hashes_never_follows_links():
    with tempfile.TemporaryDirectory() as d:
        target = os.path.join(d, "target")
        write(target, b"someone else's file\n", 0o644)
        link = os.path.join(d, "hashes.txt")
        os.symlink(target, link)
        r = run(["--hashes", link, "-r", MECH])
        one_line_error(r, 1, "symbolic link")
        with open(target, "rb") as f:
            assert f.read() == b"someone else's file\n"
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
        # A dangling link creates nothing where it points.
        dangling = os.path.join(d, "dangling")
        os.symlink(os.path.join(d, "created"), dangling)
        one_line_error(run(["--hashes", dangling, "-r", MECH]), 1, "symbolic link")
        assert not os.path.exists(os.path.join(d, "created"))
        one_line_error(run(["--hashes", d, "-r", MECH]), 1, "--hashes")
        # A hard link to another file would get the hashes (and its mode
        # changed): refused, the file untouched.
        hard = os.path.join(d, "hard")
        os.link(target, hard)
        one_line_error(run(["--hashes", hard, "-r", MECH]), 1, "hard links")
        with open(target, "rb") as f:
            assert f.read() == b"someone else's file\n"
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
        # A FIFO planted there is refused at once, not waited on.
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        one_line_error(run(["--hashes", fifo, "-r", MECH]), 1, "--hashes")
        one_line_error(run(["--hashes", os.path.join(d, "no", "dir"), "-r", MECH]), 1,
                       "--hashes")


for t in (test_help, test_usage_errors, test_modes_and_alias, test_hash_key_file,
          test_bad_key_files, test_hashes_file, test_hashes_never_follows_links):
    case(t)
print(f"{results.count(True)} passed, {results.count(False)} failed")
sys.exit(0 if all(results) else 1)
