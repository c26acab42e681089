#!/usr/bin/python3
"""The python half of starttls_capture.sh: a STARTTLS-stripping proxy, the
clients, and the expected events of pcaps/starttls/.

  starttls_gen.py proxy --listen IP --upstream IP --plan PORT=MODE[,MODE...] ...
      A TCP proxy in the server's namespace: the Nth connection to PORT is
      forwarded as the Nth MODE says (the last one repeats): pass (bytes as
      they are) or strip (a man in the middle: STARTTLS/STLS removed from
      the server's capability listings, a STARTTLS/STLS command refused
      without reaching the server).
  starttls_gen.py clients --host IP --expected FILE --pass PW
      For POP3, IMAP and SMTP: a session that sees STARTTLS offered and
      logs in in the clear anyway; one that uses STARTTLS; one through the
      stripping proxy that logs in in the clear; then an implicit-TLS
      session (995, 993, 465). Writes the expected events (credentials,
      session events without their bytes, the stripping alerts) from what
      the clients sent and the servers answered, never from mailspill.
  starttls_gen.py bytes --pcap FILE --expected FILE
      Fills each expected session event's bytes_toserver/bytes_toclient with
      the TCP payload bytes of its connection's packets, read from the
      capture here (gencommon.read_pcap), and checks the capture."""
import argparse
import imaplib
import json
import os
import poplib
import smtplib
import socket
import ssl
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gencommon import SID_BASE, SID_PROTO, append_events, die, read_pcap, with_alert  # noqa: E402

USER = "alice"
STRIP_SLOT = 50  # README: base + 100 x protocol + 50, severity 1


# ---- proxy --------------------------------------------------------------------

def _strip_line(port, line):
    """The server's line as the man in the middle forwards it (None: dropped)."""
    body = line.rstrip(b"\r\n")
    if port == 110 and body.upper() == b"STLS":
        return None
    if port == 25 and body[:3] == b"250" and body[4:].upper() == b"STARTTLS":
        return None
    if port == 143 and b"CAPABILITY" in body.upper():
        words = [w for w in body.split(b" ") if w.upper() not in (b"STARTTLS", b"LOGINDISABLED")]
        return b" ".join(words) + line[len(body):]
    return line


def _refusal(port, line):
    """The reply to a STARTTLS/STLS command the proxy keeps from the server."""
    word = line.split(b" ")
    if port == 110 and line.strip().upper() == b"STLS":
        return b"-ERR not available\r\n"
    if port == 25 and line.strip().upper() == b"STARTTLS":
        return b"502 5.5.1 not available\r\n"
    if port == 143 and len(word) >= 2 and word[1].strip().upper() == b"STARTTLS":
        return word[0] + b" BAD not available\r\n"
    return None


def _pump(src, dst, fn=None):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if fn is None:
                dst.sendall(data)
                continue
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                fn(line + b"\n")
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_WR if s is dst else socket.SHUT_RD)
        except OSError:
            pass


def _serve(client, upstream, port, mode):
    server = socket.create_connection((upstream, port))
    if mode == "pass":
        t = threading.Thread(target=_pump, args=(server, client), daemon=True)
        t.start()
        _pump(client, server)
        t.join()
    else:
        def to_client(line):
            out = _strip_line(port, line)
            if out is not None:
                client.sendall(out)

        def to_server(line):
            refuse = _refusal(port, line)
            if refuse is not None:
                client.sendall(refuse)
            else:
                server.sendall(line)
        t = threading.Thread(target=_pump, args=(server, client, to_client), daemon=True)
        t.start()
        _pump(client, server, to_server)
        t.join()
    client.close()
    server.close()


def _listen(addr, upstream, port, modes):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    n = 0
    while True:
        c, _ = ls.accept()
        mode = modes[min(n, len(modes) - 1)]
        n += 1
        threading.Thread(target=_serve, args=(c, upstream, port, mode), daemon=True).start()


def cmd_proxy(a):
    threads = []
    for plan in a.plan:
        port, modes = plan.split("=")
        t = threading.Thread(target=_listen, args=(a.listen, a.upstream, int(port),
                                                   modes.split(",")), daemon=True)
        t.start()
        threads.append(t)
    print("proxy ready", flush=True)
    for t in threads:
        t.join()


# ---- clients ------------------------------------------------------------------

def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _base(proto, sock, host, port):
    return {"app_proto": proto, "src_ip": sock.getsockname()[0], "src_port": sock.getsockname()[1],
            "dest_ip": host, "dest_port": port}


def _cred(base, command, mech, pw, reply, offered):
    return with_alert(dict(base, event_type="alert", credential={
        "command": command, "mechanism": mech, "username": USER, "password": pw,
        "outcome": "success", "server_reply": reply, "tls": False,
        "starttls_offered": offered}))


def _session(base, tls, offered, mechs, login=None):
    s = {"tls": tls, "starttls_offered": offered, "capabilities_complete": True,
         "auth_mechanisms": mechs,
         "logins": {"total": 1 if login else 0, "success": 1 if login else 0,
                    "failure": 0, "unknown": 0},
         "messages": 0, "anomalies": 0}
    if login:
        s["login_list"] = [{"username": USER, "mechanism": login, "outcome": "success"}]
    return dict(base, event_type="session", session=s)


def _implicit(base):
    return dict(base, event_type="session", session={"tls": "implicit"})


def _stripped(base):
    return dict(base, event_type="alert", alert={
        "action": "allowed", "gid": 1, "rev": 1, "severity": 1,
        "signature_id": SID_BASE + 100 * SID_PROTO[base["app_proto"]] + STRIP_SLOT},
        starttls_stripped={})


def pop3_session(host, pw, mode):
    p = poplib.POP3(host, 110, timeout=20)
    base = _base("pop3", p.sock, host, 110)
    caps = p.capa()
    offered = "STLS" in caps
    if offered != (mode != "strip"):
        die(f"POP3 {mode}: STLS offered: {offered}")
    mechs = [m.upper() for m in caps.get("SASL", [])]
    ev = []
    if mode == "starttls":
        p.stls(_ctx())
        p.user(USER)
        p.pass_(pw)
        p.quit()
        return [_session(base, "starttls", True, mechs)]
    p.user(USER)
    reply = p.pass_(pw).decode()
    p.quit()
    ev.append(_cred(base, "USER", "USER", pw, reply, offered))
    if mode == "strip":
        ev.append(_stripped(base))
    ev.append(_session(base, "none", offered, mechs, "USER"))
    return ev


def imap_session(host, pw, mode):
    i = imaplib.IMAP4(host, 143, timeout=20)
    base = _base("imap", i.sock, host, 143)
    offered = "STARTTLS" in i.capabilities
    if offered != (mode != "strip"):
        die(f"IMAP {mode}: STARTTLS offered: {offered}")
    mechs = [c[5:].upper() for c in i.capabilities if c.upper().startswith("AUTH=")]
    if mode == "starttls":
        i.starttls(_ctx())
        i.login(USER, pw)
        i.logout()
        return [_session(base, "starttls", True, mechs)]
    tag = (i.tagpre + str(i.tagnum).encode()).decode()
    typ, data = i.login(USER, pw)
    i.logout()
    ev = [_cred(base, "LOGIN", "LOGIN", pw, f"{tag} {typ} {data[0].decode()}", offered)]
    if mode == "strip":
        ev.append(_stripped(base))
    ev.append(_session(base, "none", offered, mechs, "LOGIN"))
    return ev


def smtp_session(host, pw, mode):
    s = smtplib.SMTP(host, 25, local_hostname="client.example.net", timeout=20)
    base = _base("smtp", s.sock, host, 25)
    s.ehlo()
    offered = s.has_extn("starttls")
    if offered != (mode != "strip"):
        die(f"SMTP {mode}: STARTTLS offered: {offered}")
    mechs = [m.upper() for m in s.esmtp_features.get("auth", "").split()]
    if mode == "starttls":
        s.starttls(context=_ctx())
        s.ehlo()
        s.login(USER, pw)
        s.quit()
        return [_session(base, "starttls", True, mechs)]
    s.user, s.password = USER, pw
    code, text = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
    s.quit()
    ev = [_cred(base, "AUTH", "PLAIN", pw, f"{code} {text.decode()}", offered)]
    if mode == "strip":
        ev.append(_stripped(base))
    ev.append(_session(base, "none", offered, mechs, "PLAIN"))
    return ev


def implicit_sessions(host, pw):
    ev = []
    p = poplib.POP3_SSL(host, 995, context=_ctx(), timeout=20)
    ev.append(_implicit(_base("pop3", p.sock, host, 995)))
    p.user(USER)
    p.pass_(pw)
    p.quit()
    i = imaplib.IMAP4_SSL(host, 993, ssl_context=_ctx(), timeout=20)
    ev.append(_implicit(_base("imap", i.sock, host, 993)))
    i.login(USER, pw)
    i.logout()
    s = smtplib.SMTP_SSL(host, 465, local_hostname="client.example.net", context=_ctx(),
                         timeout=20)
    ev.append(_implicit(_base("smtp", s.sock, host, 465)))
    s.login(USER, pw)
    s.quit()
    return ev


def cmd_clients(a):
    events = []
    for fn in (pop3_session, imap_session, smtp_session):
        for mode in ("clear", "starttls", "strip"):
            events += fn(a.host, a.pw, mode)
    events += implicit_sessions(a.host, a.pw)
    # The run's counters these sessions fix: 12 connections, the 3
    # STARTTLS and 3 implicit-TLS ones encrypted, 6 logins and 3
    # stripping alerts, a session event each.
    events.append({"event_type": "stats", "stats": {
        "flow": {"created": 12},
        "app_layer": {"flow": {"pop3": 3, "imap": 3, "smtp": 3, "encrypted": 6, "other": 0}},
        "output": {"alert": 9, "email": 0, "fileinfo": 0, "anomaly": 0, "session": 12}}})
    append_events(a.expected, events)


# ---- bytes --------------------------------------------------------------------

def cmd_bytes(a):
    wire = {}
    for caplen, wirelen, pkt in read_pcap(a.pcap):
        if caplen != wirelen or struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            die("packet not whole or not IPv4")
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        ip = ip[:struct.unpack("!H", ip[2:4])[0]]
        tcp = ip[ihl:]
        key = (socket.inet_ntoa(ip[12:16]), struct.unpack("!H", tcp[0:2])[0],
               socket.inet_ntoa(ip[16:20]), struct.unpack("!H", tcp[2:4])[0])
        wire[key] = wire.get(key, 0) + len(tcp) - (tcp[12] >> 4) * 4
    with open(a.expected, encoding="utf-8") as f:
        events = [json.loads(l) for l in f if l.strip()]
    for e in events:
        if e.get("event_type") != "session":
            continue
        k = (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
        if k not in wire:
            die(f"no packet of the session {k} in the capture")
        e["session"]["bytes_toserver"] = wire[k]
        e["session"]["bytes_toclient"] = wire.get((k[2], k[3], k[0], k[1]), 0)
    with open(a.expected, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(f"    {os.path.basename(a.pcap)}: {len(wire)} directions, {len(events)} expected events")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--listen", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--plan", action="append", required=True)
    c = sub.add_parser("clients")
    c.add_argument("--host", required=True)
    c.add_argument("--expected", required=True)
    c.add_argument("--pass", dest="pw", required=True)
    b = sub.add_parser("bytes")
    b.add_argument("--pcap", required=True)
    b.add_argument("--expected", required=True)
    a = ap.parse_args()
    {"proxy": cmd_proxy, "clients": cmd_clients, "bytes": cmd_bytes}[a.cmd](a)


if __name__ == "__main__":
    main()
