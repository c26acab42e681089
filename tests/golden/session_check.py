"""Session events checked by consistency with the other events of their
flow and with the capture itself (tests/golden/check_capture.py calls
check_sessions). For every session event (README, Event types: session):

- one per flow, the last event of its flow; every flow that has a
  credential or an email has one;
- logins: the counts by outcome are those of the flow's credential alerts,
  login_list their first MS_SESSION_MAX_LOGINS (user name cut to 64 bytes,
  mechanism, outcome); messages: the flow's email events; anomalies: its
  anomaly events, anomaly_codes their distinct codes in order (first 8);
- starttls_offered: true when any of the flow's credentials says true,
  false or absent when none does, absent when no credential has the key
  and the session says nothing either way is allowed;
- tls "implicit": no credential, no email, no posture keys;
- bytes_toserver / bytes_toclient (wire_bytes; tests/golden/session_bytes.py
  runs it once over every capture, so that scapy is loaded once): the TCP
  payload bytes of the flow's
  packets each way, computed here from the capture with scapy (its own
  decoder, defragmenting IPv4), matched by the event's addresses and ports;
- a STARTTLS stripping alert names a session of the same server
  (dest_ip, dest_port, app_proto) that offered STARTTLS before the alert
  (offered_timestamp: when the offer was seen, no later than that
  session's end), no other alert names that offer (one alert per offer),
  and its own flow's
  session saw a whole listing without the offer. These only check the tool
  against itself (capabilities_complete is its own word): the captures of
  pcaps/stripping/ state in their expected files which alerts there must
  be, whatever the tool says of its listings."""
import collections

MAX_LOGINS = 8
MAX_CODES = 8
USER_MAX = 64


def _payload_bytes(capture):
    """Per TCP tuple (src_ip, src_port, dst_ip, dst_port): its payload bytes,
    and why they may not be one flow's (None: they are)."""
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import rdpcap, TCP, IP, IPv6, Padding, IPv6ExtHdrFragment  # noqa: E402
    import ipaddress
    pkts = rdpcap(capture)
    out = collections.Counter()
    why = {}
    frags = False
    isns = collections.defaultdict(set)
    fin = collections.defaultdict(bool)
    for p in pkts:
        if (IP in p and (p[IP].flags.MF or p[IP].frag)) or p.haslayer(IPv6ExtHdrFragment) \
                or (IPv6 in p and p[IPv6].nh == 44):
            frags = True
        if TCP not in p:
            continue
        t = p[TCP]
        ip = t.underlayer
        if not isinstance(ip, (IP, IPv6)):
            continue
        n = len(bytes(t.payload))
        pad = t.getlayer(Padding)
        if pad is not None:
            n -= len(bytes(pad))
        k = (str(ipaddress.ip_address(ip.src)), t.sport, str(ipaddress.ip_address(ip.dst)), t.dport)
        r = (k[2], k[3], k[0], k[1])
        if (fin[k] or fin[r]) and n:
            why[k] = why[r] = "payload after a FIN (the flow may have ended before it)"
        out[k] += n
        if t.flags.F:
            fin[k] = True
        if t.flags.R:
            why[k] = why[r] = "a RST (packets after it belong to no flow)"
        if t.flags.S:
            isns[k].add(t.seq)
            if len(isns[k]) > 1:
                why[k] = why[r] = "the tuple was used by more than one connection"
    if frags:
        for k in list(out):
            why[k] = "IP fragments (scapy reassembles them differently or not at all)"
    return out, why


def _addr(a):
    import ipaddress
    return str(ipaddress.ip_address(a))


def check_sessions(capture, events, wire_bytes=True):
    ok = True

    def fail(*msg):
        nonlocal ok
        ok = False
        print("SESSION:", *msg)

    by_flow = collections.defaultdict(list)
    for e in events:
        if "flow_id" in e:
            by_flow[e["flow_id"]].append(e)
    sessions = [e for e in events if e.get("event_type") == "session"]
    seen = set()
    for s in sessions:
        fid = s["flow_id"]
        if fid in seen:
            fail("two session events for flow", fid)
        seen.add(fid)
        flow = by_flow[fid]
        if flow[-1] is not s:
            fail("events of flow", fid, "after its session event:", flow[flow.index(s) + 1:])
        creds = [e["credential"] for e in flow if e.get("event_type") == "alert"
                 and "credential" in e]
        emails = [e for e in flow if e.get("event_type") == "email"]
        anomalies = [e["anomaly"] for e in flow if e.get("event_type") == "anomaly"]
        se = s["session"]
        if se["tls"] == "implicit":
            if creds or emails or any(k in se for k in ("starttls_offered", "logins",
                                                         "auth_mechanisms", "messages")):
                fail("implicit TLS session with content or posture:", s)
        else:
            outc = collections.Counter(c["outcome"] for c in creds)
            want = {"total": len(creds), "success": outc["success"],
                    "failure": outc["failure"], "unknown": outc["unknown"]}
            if se.get("logins") != want:
                fail("flow", fid, "logins", se.get("logins"), "credentials say", want)
            wl = []
            got_list = se.get("login_list", [])
            for i, c in enumerate(creds[:MAX_LOGINS]):
                item = {"mechanism": c["mechanism"], "outcome": c["outcome"]}
                if "username" in c:
                    item["username"] = c["username"]
                    u = c["username"].encode("utf-8", "surrogatepass")
                    if len(u) > USER_MAX and i < len(got_list):
                        # Cut at 64 bytes; a cut mid-character shows U+FFFD.
                        g = got_list[i].get("username", "").rstrip("\ufffd")
                        if c["username"].startswith(g) and len(g.encode()) >= USER_MAX - 3:
                            item["username"] = got_list[i]["username"]
                wl.append(item)
            if se.get("login_list", []) != wl:
                fail("flow", fid, "login_list", se.get("login_list"), "credentials say", wl)
            if se.get("messages") != len(emails):
                fail("flow", fid, "messages", se.get("messages"), "email events", len(emails))
            if se.get("anomalies") != len(anomalies):
                fail("flow", fid, "anomalies", se.get("anomalies"), "events", len(anomalies))
            codes = []
            for a in anomalies:
                if a["event"] not in codes:
                    codes.append(a["event"])
            if se.get("anomaly_codes", []) != codes[:MAX_CODES]:
                fail("flow", fid, "anomaly_codes", se.get("anomaly_codes"), "events", codes)
            offered = [c.get("starttls_offered") for c in creds]
            if True in offered and se.get("starttls_offered") is not True:
                fail("flow", fid, "a credential says STARTTLS was offered, the session",
                     se.get("starttls_offered"))
            if any(o is not None for o in offered) and "starttls_offered" not in se:
                fail("flow", fid, "credentials know whether STARTTLS was offered, the session not")
        if s.get("app_proto") not in ("pop3", "imap", "smtp"):
            fail("flow", fid, "session app_proto", s.get("app_proto"))
    for fid, flow in by_flow.items():
        if any(e.get("event_type") in ("email",) or "credential" in e for e in flow) \
                and fid not in seen:
            fail("flow", fid, "has credentials or emails but no session event")
    # Stripping alerts. An offer is remembered when it is seen (before its
    # session ends, which may be after the alert that names it), so the
    # offering session is looked for among all session events.
    offering = {e["flow_id"]: e for e in sessions if e["session"].get("starttls_offered") is True}
    named = set()  # offering flows an alert named: one alert per offer
    for e in events:
        if "starttls_stripped" not in e:
            continue
        srv = (e.get("dest_ip"), e.get("dest_port"), e.get("app_proto"))
        st = e["starttls_stripped"]
        off = offering.get(st.get("offered_flow_id"))
        if st.get("stripped_flow_id") != e.get("flow_id") or off is None or \
                (off.get("dest_ip"), off.get("dest_port"), off.get("app_proto")) != srv or \
                not st.get("offered_timestamp", "~") <= min(off["timestamp"], e["timestamp"]) or \
                off["flow_id"] in named:
            fail("stripping alert does not name a session of its server that offered STARTTLS "
                 "before it, once:", e)
        named.add(st.get("offered_flow_id"))
        mine = [x for x in by_flow[e["flow_id"]] if x.get("event_type") == "session"]
        if not mine or mine[0]["session"].get("starttls_offered") is True or \
                not mine[0]["session"].get("capabilities_complete"):
            fail("stripping alert on a session that offered STARTTLS or saw no whole listing:", e)
    # And the other way: a session whose listing was whole without the
    # offer, ending after a session of its server that offered it ended,
    # has its stripping alert, unless an alert used that offer up.
    latest_offer = {}
    for e in sessions:
        srv = (e.get("dest_ip"), e.get("dest_port"), e.get("app_proto"))
        se = e["session"]
        if se.get("starttls_offered") is True:
            if e["flow_id"] not in named:
                latest_offer[srv] = e
        elif se.get("capabilities_complete"):
            alerted = any("starttls_stripped" in x for x in by_flow[e["flow_id"]])
            if srv in latest_offer and not alerted:
                fail("flow", e["flow_id"], "lost STARTTLS after flow",
                     latest_offer[srv]["flow_id"], "offered it, with no stripping alert")
            if alerted:
                latest_offer.pop(srv, None)  # one alert per offer
    if sessions and wire_bytes:
        wire, why = _payload_bytes(capture)
        tuples = collections.Counter((_addr(s["src_ip"]), s["src_port"], _addr(s["dest_ip"]),
                                      s["dest_port"]) for s in sessions)
        checked = 0
        for s in sessions:
            k = (_addr(s["src_ip"]), s["src_port"], _addr(s["dest_ip"]), s["dest_port"])
            r = (k[2], k[3], k[0], k[1])
            reason = why.get(k)
            if k not in wire and r not in wire:
                reason = "scapy decodes none of its packets (its link or tunnel layers)"
            elif tuples[k] > 1:
                reason = "more than one session of the tuple"
            if reason:
                print(f"session bytes of flow {s['flow_id']} not checked: {reason}")
                continue
            checked += 1
            se = s["session"]
            if (se["bytes_toserver"], se["bytes_toclient"]) != (wire.get(k, 0), wire.get(r, 0)):
                fail("flow", s["flow_id"], k, "bytes", (se["bytes_toserver"], se["bytes_toclient"]),
                     "the capture's TCP payload", (wire.get(k, 0), wire.get(r, 0)))
        print(f"{len(sessions)} session events, {checked} with bytes checked against the capture")
    return ok
