"""The extra command-line arguments a capture of pcaps/ is read with.

A capture <name>.pcap may have a sidecar <name>.args: mailspill arguments
(shell words, split with shlex; # starts a comment) that every test reading
the capture for its events adds before -r, e.g. the passphrase file of the
WPA2 captures of pcaps/wifi. A relative path in it is relative to the
repository root (the directory holding pcaps/); each word naming an
existing file or directory from there is given as an absolute path, so the
tests may run from any directory."""
import os
import shlex


def repo_of(capture):
    """The directory holding the pcaps/ the capture is under."""
    d = os.path.dirname(os.path.abspath(capture))
    while os.path.basename(d) != "pcaps":
        up = os.path.dirname(d)
        if up == d:
            raise ValueError(f"{capture} is not under a pcaps/ directory")
        d = up
    return os.path.dirname(d)


def capture_args(capture):
    """The arguments of capture's .args sidecar ([] without one)."""
    path = capture.rsplit(".", 1)[0] + ".args"
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        words = shlex.split(f.read(), comments=True)
    repo = repo_of(capture)
    return [os.path.join(repo, w) if not w.startswith("-") and not os.path.isabs(w)
            and os.path.exists(os.path.join(repo, w)) else w for w in words]
