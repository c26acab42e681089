"""Helpers shared by the live tests (they import it from their own folder)."""
import os


def capture_ready(pid):
    """True once the process holds a packet socket that receives: the live
    source is open (so the handlers, installed before it, are in place)
    and bound. libpcap makes the socket with protocol 0 and binds it to
    ETH_P_ALL only once its ring is set up: in between, /proc/net/packet
    lists it with R (running) 0, and what is sent then is never seen (a
    CI run lost a whole replay so: live/sink-redis-killed, "0 records in
    the file")."""
    try:
        with open(f"/proc/{pid}/net/packet") as f:
            # sk RefCnt Type Proto Iface R Rmem User Inode
            rows = [l.split() for l in f.readlines()[1:]]
        running = {r[8] for r in rows if len(r) > 8 and r[5] == "1" and int(r[3], 16) != 0}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:[") and link[8:-1] in running:
                return True
    except (OSError, ValueError):
        pass
    return False
