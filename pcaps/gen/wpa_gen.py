#!/usr/bin/python3
"""Builds the WPA2-Personal test captures (pcaps/wifi/) from the project's
own recorded mail sessions.

Each source capture (Ethernet frames a real client and a real server
exchanged, pcaps/pop3, imap, smtp) is carried over a WPA2 hotspot: every
frame becomes an 802.11 QoS data frame (To DS client -> AP, From DS AP ->
client; address 3 the wired gateway behind the AP), its Ethernet payload
behind LLC/SNAP, encrypted with CCMP under the client's pairwise key. The
radio side is written the way a monitor-mode capture sees it: radiotap with
the FCS at the end, beacons, authentication, (re)association with the RSN
element, the EAPOL 4-way handshake with real MICs and the group key wrapped
in message 3, CCMP packet numbers increasing per transmitter, group frames
under the GTK; and what real air does: 802.11 retransmissions (Retry bit,
same sequence number and PN), a retransmitted message 1, a lost message 4,
a re-key of the PTK mid-session (a new 4-way handshake inside CCMP under the
old key) with a frame sent under the old key arriving after it, null-data
and QoS-null frames, a second network's beacons, a client whose handshake
happened before the capture started.

The crypto is this script's own, from IEEE 802.11-2020 and Python's
hashlib/hmac and python3-cryptography (AES-CCM, RFC 3394 key wrap, CMAC),
never mailspill's; the known-answer tests at the top (802.11 Annex J's PSK
and CCMP vectors) run first. tshark is the independent oracle
(tests/cli/test_wpa_oracle.py).

Expected events are the source captures' own expected events (same
addresses and ports), with Suricata's `ether` object holding the MACs this
script gave the stations, plus the anomalies of the clients that cannot be
read and a partial stats line; never mailspill's output. The passphrases are
in pcaps/wifi/hotspot.psk (the file the captures' .args sidecars name).

Usage: /usr/bin/python3 pcaps/gen/wpa_gen.py [OUTDIR]   (default pcaps/wifi)
Needs python3-cryptography; no root, no network; about 2 seconds.
"""
import hashlib
import hmac
import json
import os
import random
import struct
import sys
import zlib

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.dirname(HERE)

# ---------------------------------------------------------------------------
# Key hierarchy (IEEE 802.11-2020 12.7.1)


def pmk_of(passphrase, ssid):
    """J.4.1: PBKDF2-HMAC-SHA1, 4096 iterations, 256 bits."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32)


def prf_sha1(key, label, data, bits):
    """12.7.1.2 PRF-n (HMAC-SHA1): the AKM 2 PTK."""
    out, i = b"", 0
    while len(out) * 8 < bits:
        out += hmac.new(key, label + b"\0" + data + bytes([i]), hashlib.sha1).digest()
        i += 1
    return out[:bits // 8]


def kdf_sha256(key, label, data, bits):
    """12.7.1.6.2 KDF-Hash-Length with SHA-256: the AKM 6 PTK."""
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack("<H", i) + label + data + struct.pack("<H", bits),
                        hashlib.sha256).digest()
        i += 1
    return out[:bits // 8]


def ptk_of(pmk, aa, spa, anonce, snonce, akm):
    """12.7.1.3 (AKM 2) / 12.7.1.7.2 (AKM 6): KCK, KEK, TK for CCMP-128."""
    data = min(aa, spa) + max(aa, spa) + min(anonce, snonce) + max(anonce, snonce)
    kdf = prf_sha1 if akm == 2 else kdf_sha256
    p = kdf(pmk, b"Pairwise key expansion", data, 384)
    return p[:16], p[16:32], p[32:48]


def pmkid_of(pmk, aa, spa, akm):
    data = b"PMK Name" + aa + spa
    if akm == 2:
        return hmac.new(pmk, data, hashlib.sha1).digest()[:16]
    return hmac.new(pmk, data, hashlib.sha256).digest()[:16]


def eapol_mic(kck, frame, version):
    """12.7.2: key descriptor version 2 HMAC-SHA1-128, version 3 AES-128-CMAC."""
    if version == 2:
        return hmac.new(kck, frame, hashlib.sha1).digest()[:16]
    c = cmac.CMAC(algorithms.AES(kck))
    c.update(frame)
    return c.finalize()


# ---------------------------------------------------------------------------
# CCMP (IEEE 802.11-2020 12.5.3)


def ccmp_aad_nonce(hdr, pn):
    """12.5.3.3.3 AAD and 12.5.3.3.4 nonce of a data frame's MAC header."""
    fc0, fc1 = hdr[0], hdr[1]
    qos = (fc0 & 0x0C) == 0x08 and bool(fc0 & 0x80)
    a4 = (fc1 & 0x03) == 0x03
    # Subtype bits 4-6 of a data frame masked; Retry, PwrMgt, MoreData
    # masked; Protected set; +HTC/Order masked when there is a QoS field.
    fc0m = fc0 & 0x8F
    fc1m = (fc1 & 0xC7) | 0x40
    if qos:
        fc1m &= 0x7F
    aad = bytes([fc0m, fc1m]) + hdr[4:22] + bytes([hdr[22] & 0x0F, 0])
    off = 24
    if a4:
        aad += hdr[24:30]
        off = 30
    tid = 0
    if qos:
        # Only the TID: the A-MSDU Present bit is masked too unless both
        # ends negotiated SPP A-MSDU, which these stations do not.
        tid = hdr[off] & 0x0F
        aad += bytes([tid, 0])
    nonce = bytes([tid]) + hdr[10:16] + pn.to_bytes(6, "big")
    return aad, nonce


def ccmp_encrypt(tk, hdr, body, pn, keyid=0):
    aad, nonce = ccmp_aad_nonce(hdr, pn)
    p = pn.to_bytes(6, "little")
    ccmp_hdr = bytes([p[0], p[1], 0, 0x20 | (keyid << 6), p[2], p[3], p[4], p[5]])
    return ccmp_hdr + AESCCM(tk, tag_length=8).encrypt(nonce, body, aad)


def self_test():
    """IEEE 802.11 Annex J known answers, so a slip here is caught before
    any capture is written: J.4.2 (PSK) and the CCMP test vector (J.6.4 in
    802.11-2012 numbering: Retry set in FC, sequence number non-zero)."""
    assert pmk_of("password", "IEEE").hex() == \
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    assert pmk_of("ThisIsAPassword", "ThisIsASSID").hex() == \
        "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"
    tk = bytes.fromhex("c97c1f67ce371185514a8a19f2bdd52f")
    hdr = bytes.fromhex("0848c32c0fd2e128a57c5030f1844408abaea5b8fcba8033")
    pt = bytes.fromhex("f8ba1a55d02f85ae967bb62fb6cda8eb7e78a050")
    want = bytes.fromhex("0ce70020769703b5f3d0a2fe9a3dbf2342a643e43246e80c3c04d01978"
                         "45ce0b16f97623")
    assert ccmp_encrypt(tk, hdr, pt, 0xB5039776E70C) == want


# ---------------------------------------------------------------------------
# Frames


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


BCAST = b"\xff" * 6
LLC = b"\xaa\xaa\x03\x00\x00\x00"


def rsn_ie(akms, mfp=None):
    """The RSN element: CCMP group and pairwise; AKM list; MFP capable /
    required with BIP-CMAC as group management cipher."""
    body = struct.pack("<H", 1) + b"\x00\x0f\xac\x04" + struct.pack("<H", 1) + b"\x00\x0f\xac\x04"
    body += struct.pack("<H", len(akms)) + b"".join(b"\x00\x0f\xac" + bytes([a]) for a in akms)
    caps = 0x000C  # 16 PTKSA replay counters (what hostapd advertises with WMM)
    if mfp == "capable":
        caps |= 0x0080
    elif mfp == "required":
        caps |= 0x00C0
    body += struct.pack("<H", caps)
    if mfp:
        body += struct.pack("<H", 0) + b"\x00\x0f\xac\x06"
    return bytes([48, len(body)]) + body


def ie(eid, data):
    return bytes([eid, len(data)]) + data


RATES = ie(1, bytes([0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24]))
WMM = ie(221, bytes.fromhex("0050f2020101000003a4000027a4000042435e0062322f00"))


def radiotap(freq=2437, signal=-42):
    """TSFT, Flags (FCS at end), Rate, Channel, dBm antenna signal."""
    present = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)
    body = struct.pack("<Q", 0) + bytes([0x10, 0x6C]) + struct.pack("<HH", freq, 0x00C0) + \
        struct.pack("<b", signal)
    return struct.pack("<BBHI", 0, 0, 8 + len(body), present) + body


def with_fcs(frame):
    return frame + struct.pack("<I", zlib.crc32(frame) & 0xFFFFFFFF)


class Air:
    """The frames of one capture, in time order. Sequence numbers are given
    when the file is written, in time order, per counter (a transmitter's
    management and non-QoS frames; a transmitter's QoS data per receiver
    and TID, as 10.3.2.14.2 has it): CCMP leaves the sequence number out of
    its AAD, so it can be set after encryption. A retransmission carries
    its original's number. Each frame is wrapped in radiotap, FCS last."""

    def __init__(self):
        self.frames = []   # [t_us, id, 802.11 frame, counter or None, original id, signal]

    def put(self, t, frame, counter=None, copy_of=None, signal=-42):
        self.frames.append([t, len(self.frames), frame, counter, copy_of, signal])
        return len(self.frames) - 1

    def mgmt(self, t, subtype, a1, a2, a3, body, signal=-42):
        hdr = bytes([subtype << 4, 0]) + struct.pack("<H", 314 if a1 != BCAST else 0) + a1 + a2 + a3 + \
            struct.pack("<H", 0)
        self.put(t, hdr + body, counter=("mgmt", a2), signal=signal)

    def data_hdr(self, to_ds, a1, a2, a3, tid, retry=False, amsdu=False, protected=True,
                 subtype=8, pwrmgt=False):
        flags = (0x01 if to_ds else 0x02) | (0x40 if protected else 0) | (0x08 if retry else 0) | \
            (0x10 if pwrmgt else 0)
        hdr = bytes([0x08 | (subtype << 4), flags]) + struct.pack("<H", 44) + a1 + a2 + a3 + \
            struct.pack("<H", 0)
        if subtype & 0x8:
            hdr += bytes([tid | (0x80 if amsdu else 0), 0])
        return hdr

    def write(self, path):
        seqs, given = {}, {}
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127))
            for t, fid, fr, counter, copy_of, signal in sorted(self.frames, key=lambda r: (r[0], r[1])):
                if copy_of is not None:
                    sn = given[copy_of]
                elif counter is not None:
                    sn = seqs.get(counter, random.Random(repr(counter)).randrange(4096))
                    seqs[counter] = (sn + 1) % 4096
                else:
                    sn = 0
                given[fid] = sn
                fr = fr[:22] + struct.pack("<H", sn << 4) + fr[24:]
                fr = radiotap(signal=signal) + with_fcs(fr)
                f.write(struct.pack("<IIII", t // 10**6, t % 10**6, len(fr), len(fr)) + fr)
        return len(self.frames)


class Network:
    def __init__(self, ssid, bssid, akms=(2,), mfp=None, channel=6):
        self.ssid, self.bssid, self.akms, self.mfp = ssid, mac(bssid), list(akms), mfp
        self.channel = channel
        self.gtk = hashlib.sha256(b"gtk " + ssid.encode()).digest()[:16]
        self.igtk = hashlib.sha256(b"igtk " + ssid.encode()).digest()[:16]
        self.gtk_pn = 0x30

    def beacon_body(self, t):
        cap = 0x0431  # ESS, privacy, short preamble, short slot time
        b = struct.pack("<QHH", t, 100, cap) + ie(0, self.ssid.encode()) + RATES + \
            ie(3, bytes([self.channel])) + rsn_ie(self.akms, self.mfp) + WMM
        return b

    def beacons(self, air, t0, t1, signal=-40):
        t = t0
        while t < t1:
            air.mgmt(t, 8, BCAST, self.bssid, self.bssid, self.beacon_body(t), signal)
            t += 102400


class Client:
    """One station of a network: its keys, replay counter, packet numbers."""

    def __init__(self, net, mac_, gateway, passphrase, akm=2, tid=0):
        self.net, self.mac, self.gw = net, mac(mac_), mac(gateway)
        self.akm = akm
        self.version = 2 if akm == 2 else 3
        self.pmk = pmk_of(passphrase, net.ssid)
        self.replay = 0
        self.tk = None          # the key in use: (tk, {transmitter: next PN})
        self.tid = tid
        self.qos = True         # False: plain data frames (subtype 0), as legacy stations send
        self.rnd = random.Random(mac_)

    def rsn(self):
        return rsn_ie([self.akm], self.net.mfp)

    # ---- management
    def associate(self, air, t):
        n = self.net
        air.mgmt(t, 11, n.bssid, self.mac, n.bssid, struct.pack("<HHH", 0, 1, 0))
        air.mgmt(t + 900, 11, self.mac, n.bssid, n.bssid, struct.pack("<HHH", 0, 2, 0))
        air.mgmt(t + 2000, 0, n.bssid, self.mac, n.bssid,
                 struct.pack("<HH", 0x0431, 10) + ie(0, n.ssid.encode()) + RATES + self.rsn() + WMM)
        air.mgmt(t + 3000, 1, self.mac, n.bssid, n.bssid,
                 struct.pack("<HHH", 0x0431, 0, 0xC001) + RATES + WMM)

    # ---- EAPOL-Key frames (12.7.2)
    def eapol_key(self, info, nonce, key_data=b"", rsc=0, key_len=16, kck=None):
        body = bytes([2]) + struct.pack(">HHQ", info | self.version, key_len, self.replay) + nonce + \
            bytes(16) + struct.pack("<Q", rsc) + bytes(8) + bytes(16) + \
            struct.pack(">H", len(key_data)) + key_data
        frame = bytes([2, 3]) + struct.pack(">H", len(body)) + body
        if kck is not None:
            mic = eapol_mic(kck, frame, self.version)
            frame = frame[:81] + mic + frame[97:]
        return frame

    def handshake(self, air, t, lose=(), m1_twice=False, m3_twice=False, protected_by=None):
        """The 4-way handshake; lose: message numbers not captured.
        protected_by: the current keys, for a re-key inside CCMP. Returns
        the time after it."""
        n = self.net
        anonce = self.rnd.randbytes(32)
        snonce = self.rnd.randbytes(32)
        kck, kek, tk = ptk_of(self.pmk, n.bssid, self.mac, anonce, snonce, self.akm)
        pmkid = ie(221, b"\x00\x0f\xac\x04" + pmkid_of(self.pmk, n.bssid, self.mac, self.akm))
        ACK, MIC, SECURE, ENC, INSTALL, PAIR = 0x80, 0x100, 0x200, 0x1000, 0x40, 0x08
        msgs = []
        self.replay += 1
        m1 = self.eapol_key(PAIR | ACK, anonce, pmkid if protected_by is None else b"")
        msgs.append((1, False, m1))
        if m1_twice:
            # hostapd resends message 1 with the next replay counter and the
            # same ANonce; the client answers the one it got last.
            self.replay += 1
            msgs.append((1, False, self.eapol_key(PAIR | ACK, anonce, pmkid)))
        msgs.append((2, True, self.eapol_key(PAIR | MIC, snonce, self.rsn(), key_len=0, kck=kck)))
        self.replay += 1
        kde = ie(221, b"\x00\x0f\xac\x01" + bytes([1, 0]) + n.gtk)
        if n.mfp:
            kde += ie(221, b"\x00\x0f\xac\x09" + struct.pack("<H", 4) + bytes(6) + n.igtk)
        kd = rsn_ie(n.akms, n.mfp) + kde
        if len(kd) % 8 or len(kd) < 16:
            kd += b"\xdd" + bytes((8 - (len(kd) + 1) % 8) % 8)
        for k in range(2 if m3_twice else 1):
            if k:
                # No message 4 reached the AP: it resends message 3 with
                # the next replay counter, and the client answers again.
                self.replay += 1
            m3 = self.eapol_key(PAIR | INSTALL | ACK | MIC | SECURE | ENC, anonce,
                                aes_key_wrap(kek, kd), rsc=n.gtk_pn, kck=kck)
            msgs.append((3, False, m3))
            msgs.append((4, True, self.eapol_key(PAIR | MIC | SECURE, bytes(32), key_len=0,
                                                 kck=kck)))
        for i, (num, up, frame) in enumerate(msgs):
            if num in lose:
                continue
            # The authenticator is the AP itself: address 3 is the BSSID.
            self.send(air, t + i * 1500, up, b"\x88\x8e" + frame, tid=7, key=protected_by,
                      dst=n.bssid)
        self.tk = {"tk": tk, "pn": {}}
        return t + len(msgs) * 1500

    # ---- data
    def key_now(self):
        return self.tk

    def send(self, air, t, up, ethertype_payload, tid=None, key=None, retry_copy=False,
             dst=None, amsdu=None):
        """One QoS data frame (plain data when not self.qos) at t (an MSDU: ethertype + payload, or A-MSDU
        subframes (da, sa, ethertype+payload) when amsdu is given). key: the
        PTK state to encrypt with (None: in the clear). dst: address 3 (the
        destination To DS, the source From DS) if not the gateway. retry_copy: the
        frame captured a second time 150 us later, Retry set: the same
        sequence number, PN and ciphertext."""
        tid = self.tid if tid is None else tid
        n = self.net
        ta = self.mac if up else n.bssid
        if up:
            a1, a2, a3 = n.bssid, self.mac, dst or self.gw
        else:
            a1, a2, a3 = self.mac, n.bssid, dst or self.gw
        if amsdu:
            body = b""
            for i, (da, sa, msdu) in enumerate(amsdu):
                sub = da + sa + struct.pack(">H", len(LLC) + len(msdu)) + LLC + msdu
                if i + 1 < len(amsdu):
                    sub += bytes((4 - len(sub) % 4) % 4)
                body += sub
        else:
            body = LLC + ethertype_payload
        pn = None
        if key is not None:
            pn = key["pn"].get(ta, 1)
            assert pn > key.setdefault("last_t", {}).get(ta, (-1, 0))[1] and \
                t > key["last_t"].get(ta, (-1, 0))[0], "PNs must grow with time"
            key["pn"][ta] = pn + 1
            key["last_t"][ta] = (t, pn)
        first = None
        for retry in ((False, True) if retry_copy else (False,)):
            qos = self.qos or bool(amsdu)
            hdr = air.data_hdr(up, a1, a2, a3, tid, retry=retry, amsdu=bool(amsdu),
                               protected=key is not None, subtype=8 if qos else 0)
            payload = body if key is None else ccmp_encrypt(key["tk"], hdr, body, pn)
            if first is None:
                first = air.put(t, hdr + payload,
                                counter=("qos", ta, a1, tid) if qos else ("mgmt", ta))
            else:
                air.put(t + 150, hdr + payload, copy_of=first)

    def null(self, air, t, qos):
        """A (QoS) null-data frame: power management, never protected."""
        n = self.net
        hdr = air.data_hdr(True, n.bssid, self.mac, n.bssid, 0, protected=False,
                           subtype=12 if qos else 4, pwrmgt=True)
        air.put(t, hdr, counter=("qos", self.mac, n.bssid, 0) if qos else ("mgmt", self.mac))


def group_frame(air, t, net, sa, payload):
    """A group-addressed frame from the AP (From DS, A1 broadcast or
    multicast) under the GTK, key index 1."""
    da = BCAST if payload[:2] == b"\x08\x06" else mac("01:00:5e:00:00:fb")
    hdr = air.data_hdr(False, da, net.bssid, sa, 0)
    net.gtk_pn += 1
    air.put(t, hdr + ccmp_encrypt(net.gtk, hdr, LLC + payload, net.gtk_pn, keyid=1),
            counter=("qos", net.bssid, da, 0))


def arp_request(sender_mac, sender_ip, target_ip):
    return b"\x08\x06" + struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + sender_mac + \
        bytes(map(int, sender_ip.split("."))) + bytes(6) + bytes(map(int, target_ip.split(".")))


def mdns_query(src_mac, src_ip, name):
    """An IPv4 mDNS query (UDP 5353 to 224.0.0.251), checksums right."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + \
        struct.pack(">HH", 12, 1)
    dns = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + q
    src = bytes(map(int, src_ip.split(".")))
    dst = bytes([224, 0, 0, 251])
    udp = struct.pack(">HHHH", 5353, 5353, 8 + len(dns), 0) + dns
    csum = inet_csum(src + dst + struct.pack(">BBH", 0, 17, len(udp)) + udp)
    udp = udp[:6] + struct.pack(">H", csum or 0xFFFF) + udp[8:]
    iph = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(udp), 0, 0x4000, 255, 17, 0) + src + dst
    iph = iph[:10] + struct.pack(">H", inet_csum(iph)) + iph[12:]
    return b"\x08\x00" + iph + udp


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# ---------------------------------------------------------------------------
# Sources


def read_source(rel):
    """(t_us relative to the first frame, ethertype+payload, ip src) of each
    Ethernet frame of a pcaps/ capture."""
    data = open(os.path.join(PCAPS, rel), "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D) and struct.unpack("<I", data[20:24])[0] == 1, rel
    div = 1 if magic == 0xA1B2C3D4 else 1000
    out, off, t0 = [], 24, None
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        assert incl == orig, f"{rel}: a truncated frame"
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec * 10**6 + frac // div
        t0 = t if t0 is None else t0
        out.append((t - t0, fr[12:], ".".join(map(str, fr[26:30]))))
    return out


def source_events(rel, ether):
    """The source capture's expected events but its stats line, each given
    the ether object of its flow."""
    out = []
    with open(os.path.join(PCAPS, rel.rsplit(".", 1)[0] + ".expected.json"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            if e.get("event_type") in ("stats", "session"):
                continue
            e["ether"] = dict(ether)
            out.append(e)
    return out


def ether_of(client):
    return {"src_mac": mac_str(client.mac), "dest_mac": mac_str(client.gw),
            "bssid": mac_str(client.net.bssid)}


def anomaly(code, client, detail=None):
    """The once-per-client anomaly of a client whose frames cannot be read:
    no IP addresses (it is a link-layer fact), the station and network in
    the ether object."""
    return {"event_type": "anomaly", "src_ip": None, "dest_ip": None, "src_port": None,
            "dest_port": None, "app_proto": None,
            "ether": {"src_mac": mac_str(client.mac), "bssid": mac_str(client.net.bssid)},
            "anomaly": {"type": "decode", "event": code, "app_proto": None, "layer": None}}


def stats_line(events, frames):
    counts = {k: sum(1 for e in events if e["event_type"] == k) for k in ("alert", "email", "anomaly")}
    counts["fileinfo"] = sum(len(e["email"].get("attachments", [])) for e in events
                             if e["event_type"] == "email")
    return {"event_type": "stats", "stats": {"decoder": {"pkts": frames, "truncated": 0,
                                                          "malformed": 0}, "output": counts}}


def play(air, client, cip, src, t0, key=None, retry_every=0, amsdu=0, last=0):
    """The source session's frames, client's address cip, from time t0 on;
    each frame at least 300 us after the one before (last: the time of the
    frame before), so that retransmission copies fit in between. key: the
    PTK state (default the client's current one); retry_every: each n-th
    frame also captured as an 802.11 retransmission; amsdu: up to that many
    consecutive same-direction frames less than 20 ms apart in one A-MSDU.
    Returns the time of the last frame."""
    key = key or client.tk
    i = 0
    while i < len(src):
        t, payload, ipsrc = src[i]
        t = max(t0 + t, last + 300)
        up = ipsrc == cip
        n = 1
        if amsdu:
            while n < amsdu and i + n < len(src) and (src[i + n][2] == cip) == up and \
                    src[i + n][0] - src[i][0] < 20000:
                n += 1
        if n > 1:
            sa, da = (client.mac, client.gw) if up else (client.gw, client.mac)
            client.send(air, t, up, None, key=key, amsdu=[(da, sa, p) for _, p, _ in src[i:i + n]])
        else:
            client.send(air, t, up, payload, key=key,
                        retry_copy=bool(retry_every) and i % retry_every == retry_every - 1)
        last = t
        i += n
    return last


# ---------------------------------------------------------------------------
# The captures

GW = "00:1a:2b:3c:4d:01"          # the hotspot's router, behind the AP
PASS_CAFE = "espresso at the counter, 42"
PASS_BACK = "the real one is on the sign"
PASS_BACK_WRONG = "the one someone guessed"
PASS_5G = "Cafe 5G: ask at the bar!"
PASS_WPA3 = "transition mode, psk-sha256"


def wpa2_ccmp(out):
    """Three clients of "Cafe Corner" and a second network's beacons."""
    air = Air()
    net = Network("Cafe Corner", "00:1a:2b:3c:4d:5e")
    other = Network("Bakery Staff", "06:1a:2b:77:88:99", channel=6)
    a = Client(net, "d8:3a:dd:10:20:0a", GW, PASS_CAFE)
    b = Client(net, "d8:3a:dd:10:20:0b", GW, PASS_CAFE)
    c = Client(net, "d8:3a:dd:10:20:0c", GW, PASS_CAFE)
    src_a = read_source("pop3/demo-userpass-retr.pcap")
    src_b = read_source("imap/nonstandard-port-1143.pcap")
    src_c = read_source("pop3/auth-plain-authzid.pcap")
    T = 1767225600 * 10**6
    # B associated before the capture began: its keys are not in it.
    b.tk = {"tk": random.Random("b-tk").randbytes(16), "pn": {net.bssid: 0x2F31, b.mac: 0x1C02}}
    b.send(air, T + 150000, True, mdns_query(b.mac, "10.44.3.5", "_airplay._tcp.local"), key=b.tk,
           dst=mac("01:00:5e:00:00:fb"))
    b.null(air, T + 890000, qos=False)
    b_end = play(air, b, "10.44.3.5", src_b, T + 900000, retry_every=5)
    # A: authentication, association, message 1 twice, 2, 3, 4; its mail
    # session re-keyed where the server's first long segment of a message
    # is due: a new 4-way handshake inside CCMP under the first PTK; that
    # segment was queued under the first key and goes out after message 4,
    # then everything under the second key.
    a.associate(air, T + 200000)
    t = a.handshake(air, T + 210000, m1_twice=True)
    first = a.tk
    split = next(i for i, (_, p, ip) in enumerate(src_a)
                 if i > 10 and ip == "10.0.0.1" and len(p) > 800)
    t0 = t + 300000
    last = play(air, a, "10.0.0.5", src_a[:split], t0, retry_every=9)
    after = a.handshake(air, last + 2000, protected_by=first)
    a.send(air, after + 500, False, src_a[split][1], key=first)
    shift = after + 1000 - (t0 + src_a[split][0])
    a_end = play(air, a, "10.0.0.5", src_a[split + 1:], t0 + shift, retry_every=11,
                 last=after + 1000)
    # Group traffic: A's mDNS query (To DS, under its PTK), relayed by the
    # AP to everyone under the GTK; the gateway's ARP broadcast.
    q = mdns_query(a.mac, "10.0.0.5", "_imaps._tcp.local")
    a.send(air, a_end + 20000, True, q, dst=mac("01:00:5e:00:00:fb"), key=a.tk)
    group_frame(air, a_end + 21000, net, a.mac, q)
    group_frame(air, a_end + 30000, net, a.gw, arp_request(a.gw, "10.0.0.1", "10.0.0.5"))
    a.null(air, a_end + 40000, qos=False)
    a.null(air, a_end + 41000, qos=True)
    # C: message 3 twice (the AP missed the first message 4); neither
    # message 4 was captured (the AP got the second: the data flows).
    c.associate(air, T + 600000)
    tc = c.handshake(air, T + 610000, lose=(4,), m3_twice=True)
    c.null(air, tc + 20000, qos=True)
    c_end = play(air, c, "10.61.0.5", src_c, tc + 50000, retry_every=7)
    end = max(a_end, b_end, c_end) + 60000
    net.beacons(air, T, end)
    other.beacons(air, T + 37000, end, signal=-71)
    frames = air.write(os.path.join(out, "wpa2-ccmp.pcap"))
    events = source_events("pop3/demo-userpass-retr.pcap", ether_of(a)) + \
        source_events("pop3/auth-plain-authzid.pcap", ether_of(c)) + \
        [anomaly("wifi_no_handshake", b)]
    return events, frames


def one_client(out, name, net, client, source, cip, T, **kw):
    air = Air()
    client.associate(air, T + 100000)
    t = client.handshake(air, T + 110000)
    end = play(air, client, cip, read_source(source), t + 100000, **kw)
    net.beacons(air, T, end + 50000)
    return air.write(os.path.join(out, name + ".pcap"))


def wpa2_wrong_passphrase(out):
    """A network whose passphrase in hotspot.psk is wrong."""
    net = Network("Cafe Back Room", "00:1a:2b:3c:4d:7f")
    d = Client(net, "3c:22:fb:45:67:0d", GW, PASS_BACK)
    frames = one_client(out, "wpa2-wrong-passphrase", net, d, "pop3/nonstandard-port-2110.pcap",
                        "10.0.0.5", 1767229200 * 10**6)
    return [anomaly("wifi_wrong_passphrase", d)], frames


def wpa2_amsdu(out):
    """An 802.11n client aggregating: A-MSDUs of up to 3 MSDUs, TID 5."""
    net = Network("Cafe Corner 5G", "00:1a:2b:3c:4d:60", channel=36)
    e = Client(net, "a4:83:e7:31:00:0e", GW, PASS_5G, tid=5)
    frames = one_client(out, "wpa2-amsdu", net, e, "imap/logins-fetch-append.pcap", "10.44.3.5",
                        1767232800 * 10**6, amsdu=3)
    return source_events("imap/logins-fetch-append.pcap", ether_of(e)), frames


def wpa2_psk_sha256(out):
    """A WPA3-transition-style network offering AKM 2 and 6 with MFP
    capable; the client picks PSK-SHA256 (AKM 6): key descriptor version
    3, AES-CMAC MICs, the PTK from KDF-SHA256, an IGTK in message 3."""
    net = Network("Cafe Corner WPA3", "00:1a:2b:3c:4d:61", akms=(2, 6), mfp="capable")
    f = Client(net, "f0:9f:c2:aa:00:0f", GW, PASS_WPA3, akm=6)
    frames = one_client(out, "wpa2-psk-sha256", net, f, "smtp/auth-mechanisms.pcap", "10.53.25.5",
                        1767236400 * 10**6, retry_every=13)
    return source_events("smtp/auth-mechanisms.pcap", ether_of(f)), frames


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(PCAPS, "wifi")
    self_test()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "hotspot.psk"), "w", encoding="utf-8") as f:
        f.write("# SSID:PASSPHRASE of the networks of pcaps/wifi (pcaps/gen/wpa_gen.py).\n"
                "# \"Cafe Back Room\"'s line is wrong on purpose: its real passphrase is\n"
                f"# in pcaps/README.md, and wpa2-wrong-passphrase.pcap must say so.\n"
                f"Cafe Corner:{PASS_CAFE}\n"
                f"Cafe Back Room:{PASS_BACK_WRONG}\n"
                f"Cafe Corner 5G:{PASS_5G}\n")
    psk_arg = "--wpa-passphrase-file pcaps/wifi/hotspot.psk\n"
    pmk_wpa3 = pmk_of(PASS_WPA3, "Cafe Corner WPA3").hex()
    for build, args in ((wpa2_ccmp, psk_arg), (wpa2_wrong_passphrase, psk_arg),
                        (wpa2_amsdu, psk_arg), (wpa2_psk_sha256, f"--wpa-psk {pmk_wpa3}\n")):
        events, frames = build(out)
        name = build.__name__.replace("_", "-")
        with open(os.path.join(out, name + ".expected.json"), "w", encoding="utf-8") as f:
            for e in events + [stats_line(events, frames)]:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        with open(os.path.join(out, name + ".args"), "w", encoding="utf-8") as f:
            f.write(args)
        size = os.path.getsize(os.path.join(out, name + ".pcap"))
        assert size < 300 * 1024, f"{name}.pcap is {size} bytes"
        print(f"{name}.pcap: {frames} frames, {size} bytes, {len(events)} events")


if __name__ == "__main__":
    main()
