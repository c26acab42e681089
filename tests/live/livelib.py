"""Helpers shared by the live tests (they import it from their own folder)."""
import os


def capture_ready(pid):
    """True once the process holds a packet socket: the live source is
    open, so the handlers (installed before it) are in place."""
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            inodes = {l.split()[8] for l in f.readlines()[1:] if len(l.split()) > 8}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    except OSError:
        pass
    return False
