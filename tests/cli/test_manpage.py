#!/usr/bin/python3
"""The manual page says what --help says, and so does the README; `cmake
--install` installs both the binary and the page, with one version.

  test_manpage.py MAILSPILL MANPAGE README BUILD_DIR

Options are compared as sets of names (--long and -x): one described in
one place and missing in another fails, naming it and where it is missing.
The page must render without a groff warning."""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def help_options(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    longs, shorts = set(), set()
    for line in out.splitlines():
        # Option lines start with two spaces and a dash: "  -r, --read FILE" or
        # "      --text"; descriptions never start with a dash.
        m = re.match(r"^ {2,8}(-\w)?(?:, )?(--[\w-]+)?", line)
        if not m or not (m.group(1) or m.group(2)):
            continue
        if m.group(1):
            shorts.add(m.group(1))
        if m.group(2):
            longs.add(m.group(2))
    return longs, shorts


def man_options(text):
    # Options are written \-\-name and \-x in roff source, in bold: take
    # those after a font request or a .B/.BR/.BI/.TP macro.
    plain = text.replace("\\-", "-")
    # Another program's options quoted in the text ("# hashcat -m MODE").
    plain = re.sub(r"hashcat -m", "", plain)
    longs = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", plain))
    shorts = set(re.findall(r"(?<![\w-])(-[A-Za-z])(?![\w-])", plain))
    return longs, shorts


def readme_options(text):
    # The Usage table (up to the next heading): `--name ...` and `-x ...`.
    m = re.search(r"^## Usage\n(.*?)^## ", text, re.S | re.M)
    if not m:
        fail("README.md has no ## Usage section")
    sect = m.group(1)
    longs = set(re.findall(r"`(--[a-z][\w-]*)", sect))
    longs |= set(re.findall(r"(?<=[ `/])(--[a-z][\w-]*)", sect))
    shorts = set(re.findall(r"\| `(-[A-Za-z])[ `]", sect))
    return longs, shorts


def compare(name_a, a, name_b, b):
    missing = sorted(a - b)
    if missing:
        fail("in %s but not in %s: %s" % (name_a, name_b, " ".join(missing)))


def main():
    binary, manpage, readme, build = sys.argv[1:5]
    hl, hs = help_options(binary)
    if len(hl) < 30 or "--read" not in hl or "-r" not in hs:
        fail("--help parsed into too few options (%d): the parser is out of date" % len(hl))
    man = open(manpage, encoding="utf-8").read()
    ml, ms = man_options(man)
    rl, rs = readme_options(open(readme, encoding="utf-8").read())
    # The page names other commands' options in examples (tcpdump's none
    # today); --help and -h/-V are options of the page as well.
    compare("--help", hl, "the manual page", ml)
    compare("the manual page", ml, "--help", hl)
    compare("--help", hs, "the manual page", ms)
    compare("the manual page", ms, "--help", hs)
    # The README's table leaves out --help/--version and the short forms
    # of options it gives as long ones.
    compare("--help", hl - {"--help", "--version", "--read", "--interface", "--output",
                            "--snaplen", "--buffer-size", "--no-promisc", "--user"},
            "README.md's Usage table", rl)
    compare("README.md's Usage table", rl, "--help", hl)
    compare("--help", hs - {"-h", "-V"}, "README.md's Usage table", rs)

    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", manpage],
                       capture_output=True, text=True)
    if shutil.which("groff") and (r.returncode != 0 or r.stderr.strip()):
        fail("groff warns about the page: " + r.stderr.strip())

    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not re.fullmatch(r"mailspill \d+\.\d+\.\d+", version):
        fail("--version printed %r" % version)
    th = re.search(r'^\.TH MAILSPILL 1 "[^"]*" "([^"]*)"', man, re.M)
    if not th or th.group(1) != version:
        fail("the page's .TH says %r, --version %r" % (th and th.group(1), version))

    with tempfile.TemporaryDirectory() as prefix:
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail("cmake --install: " + r.stdout + r.stderr)
        inst_bin = os.path.join(prefix, "bin", "mailspill")
        inst_man = os.path.join(prefix, "share", "man", "man1", "mailspill.1")
        for p in (inst_bin, inst_man):
            if not os.path.isfile(p):
                fail("cmake --install did not install " + p)
        if not os.access(inst_bin, os.X_OK):
            fail(inst_bin + " is not executable")
        iv = subprocess.run([inst_bin, "--version"], capture_output=True, text=True).stdout.strip()
        if iv != version:
            fail("the installed binary says %r, the built one %r" % (iv, version))
        if open(inst_man, encoding="utf-8").read() != man:
            fail("the installed page differs from the built one")
    print("ok: %d long and %d short options agree; page renders; installed with version %s"
          % (len(hl), len(hs), version))


if __name__ == "__main__":
    main()
