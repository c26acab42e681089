/* Frame decoding.
 *
 * Link layers: Ethernet II and 802.3+LLC/SNAP, 802.1Q / 802.1ad / 0x9100
 * tag stacks, PPPoE sessions (RFC 2516), Linux SLL and SLL2, BSD null and
 * loopback, raw IPv4/IPv6, IEEE 802.11 data frames (IEEE 802.11-2020 9.2-9.3:
 * plain, radiotap, PPI) with QoS, HT control, 4-address (WDS) headers and
 * LLC/SNAP (RFC 1042 / 802.1H).
 * Tunnels: MPLS label stacks (RFC 3032; pseudowire control word RFC 4385),
 * GRE (RFC 2784/2890 incl. 0x6558 transparent Ethernet bridging, PPTP's
 * enhanced GRE RFC 2637, ERSPAN II/III), IP-in-IP (protocol 4 and 41),
 * VXLAN (RFC 7348, UDP 4789) and Geneve (RFC 8926, UDP 6081), which cloud
 * traffic mirroring (AWS, Azure, GCP) delivers captures in.
 * Network: IPv4 (RFC 791), IPv6 with extension headers (RFC 8200 4.1-4.6),
 * TCP (RFC 9293 3.1) with checksum validation (RFC 9293 3.1, RFC 8200 8.1).
 *
 * Style of tcpdump's GET_ macros: every multi-byte read goes through a helper
 * after the length was checked. Tunnels nest at most MS_DECODE_MAX_DEPTH times so a
 * crafted packet cannot recurse deeply. */
#include "decode.h"

#include "../common/bytes.h"
#include "../common/limits.h"

#include <pcap/dlt.h>
#include <string.h>

#define ETH_IPV4 0x0800u
#define ETH_IPV6 0x86DDu
#define ETH_VLAN 0x8100u
#define ETH_QINQ 0x88A8u
#define ETH_QINQ_OLD 0x9100u
#define ETH_PPPOE_SESS 0x8864u
#define ETH_MPLS_UC 0x8847u
#define ETH_MPLS_MC 0x8848u
#define ETH_TEB 0x6558u /* transparent Ethernet bridging (GRE) */
#define ETH_ERSPAN2 0x88BEu
#define ETH_ERSPAN3 0x22EBu
#define ETH_PPP 0x880Bu /* PPTP enhanced GRE payload */

#define IPPROTO_V_IPIP 4
#define IPPROTO_V_TCP 6
#define IPPROTO_V_UDP 17
#define UDP_VXLAN 4789
#define UDP_GENEVE 6081
#define IPPROTO_V_IPV6 41
#define IPPROTO_V_GRE 47

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IEEE802_11
#define DLT_IEEE802_11 105
#endif
#ifndef DLT_IEEE802_11_RADIO
#define DLT_IEEE802_11_RADIO 127
#endif
#ifndef DLT_PPI
#define DLT_PPI 192
#endif
#define LINKTYPE_RAW_ALT 101 /* LINKTYPE_RAW as written in pcap files */

bool ms_decode_linktype_supported(int lt)
{
    switch (lt) {
    case DLT_EN10MB:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_RAW:
    case LINKTYPE_RAW_ALT:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_IEEE802_11:
    case DLT_IEEE802_11_RADIO:
    case DLT_PPI:
        return true;
    default:
        return false;
    }
}

int ms_decode_linktype_for_file(int linktype)
{
    /* libpcap's DLT values are the pcap file's LINKTYPE values except for a
     * few that differ by platform; of those, mailspill reads these two. */
    if (linktype == DLT_RAW)
        return LINKTYPE_RAW_ALT;
    if (linktype == DLT_LOOP)
        return 108; /* LINKTYPE_LOOP (DLT_LOOP is 12 on OpenBSD) */
    return linktype;
}

/* ---- checksums -------------------------------------------------------- */

/* x added to s with the carry out added back in. */
static inline uint64_t add_carry(uint64_t s, uint64_t x)
{
    s += x;
    return s + (s < x);
}

/* A ones' complement sum of 64-bit words in the host's order, folded and
 * put in network order at the end (fold): RFC 1071 2(B), the sum does not
 * depend on byte order, and 2(C), wider words folded give the 16-bit sum
 * (2^32 and 2^64 are 1 modulo 2^16 - 1). n is even but for the last bytes
 * summed, whose odd byte is the high one of a word padded with zero. Every
 * segment's bytes pass here once: first 32 bytes a step, as sums of 32-bit
 * halves in 64-bit lanes, which cannot carry out before 2^31 steps (no
 * carry chain, and SSE2 or NEON adds the lanes; an add-with-carry chain 8
 * bytes a step, with a fold and a swap per call for the 4-byte addresses
 * too, was 2% of the mail-heavy run's instructions). */
static uint64_t sum_host(uint64_t s, const uint8_t *p, size_t n)
{
    typedef uint64_t u64x2 __attribute__((vector_size(16)));
    const u64x2 low = { 0xffffffffu, 0xffffffffu };
    u64x2 lo = { 0, 0 }, hi = { 0, 0 };
    size_t steps = n / 32 < ((size_t)1 << 31) ? n / 32 : 0;
    for (size_t i = 0; i < steps; i++, p += 32) {
        u64x2 x, y;
        memcpy(&x, p, sizeof(x));
        memcpy(&y, p + 16, sizeof(y));
        lo += (x & low) + (y & low);
        hi += (x >> 32) + (y >> 32);
    }
    if (steps) {
        n -= steps * 32;
        u64x2 v = (lo & low) + (lo >> 32) + (hi & low) + (hi >> 32);
        s = add_carry(s, v[0] + v[1]);
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t x;
        memcpy(&x, p, sizeof(x));
        s = add_carry(s, x);
    }
    if (n >= 4) {
        uint32_t x;
        memcpy(&x, p, sizeof(x));
        s = add_carry(s, x);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t x;
        memcpy(&x, p, sizeof(x));
        s = add_carry(s, x);
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = { p[0], 0 };
        uint16_t x;
        memcpy(&x, last, sizeof(x));
        s = add_carry(s, x);
    }
    return s;
}

static uint16_t fold(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    while (s >> 16)
        s = (s & 0xffffu) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s = ((s & 0xffu) << 8) | (s >> 8);
#endif
    return (uint16_t)s;
}

uint16_t ms_tcp_checksum(int ip_version, const uint8_t *src, const uint8_t *dst, const uint8_t *seg,
                         size_t len)
{
    size_t alen = ip_version == 4 ? 4 : 16;
    /* IPv6's pseudo-header after the addresses: the 32-bit upper-layer
     * length, three zero bytes, the next header. IPv4's (zero, protocol,
     * 16-bit TCP length) sums to the same words. */
    const uint8_t rest[8] = {
        (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0,
        IPPROTO_V_TCP
    };
    uint64_t s = sum_host(0, src, alen);
    s = sum_host(s, dst, alen);
    s = sum_host(s, rest, sizeof(rest));
    s = sum_host(s, seg, len);
    return (uint16_t)~fold(s);
}

/* ---- TCP -------------------------------------------------------------- */

/* RFC 9293 3.1: ports, sequence, acknowledgment, data offset (in 32-bit
 * words, at least 5), flags, ..., options, data. complete: the segment was
 * captured whole, so its checksum can be verified against pseudo_*. */
static enum ms_decode_status decode_tcp(const uint8_t *p, size_t len, struct ms_pkt *out,
                                        bool complete, const uint8_t *pseudo_dst)
{
    if (len < 20)
        return MS_DECODE_TRUNCATED;
    size_t hlen = (size_t)(p[12] >> 4) * 4;
    if (hlen < 20)
        return MS_DECODE_MALFORMED;
    if (len < hlen)
        return MS_DECODE_TRUNCATED;
    out->sport = ms_be16(p);
    out->dport = ms_be16(p + 2);
    out->seq = ms_be32(p + 4);
    out->ack = ms_be32(p + 8);
    out->tcp_flags = p[13];
    out->payload = p + hlen;
    out->payload_len = len - hlen;
    out->tcp_csum_checked = false;
    out->tcp_csum_bad = false;
    out->tcp_seg = NULL;
    out->pseudo_dst = NULL;
    out->tcp_seg_len = 0;
    if (complete && pseudo_dst) {
        out->tcp_seg = p;
        out->pseudo_dst = pseudo_dst;
        out->tcp_seg_len = len;
        if (!out->tcp_csum_skip) {
            out->tcp_csum_bad = ms_pkt_tcp_csum_bad(out);
            out->tcp_csum_checked = true;
        }
    }
    return MS_DECODE_TCP;
}

bool ms_pkt_tcp_csum_bad(const struct ms_pkt *p)
{
    if (p->tcp_csum_checked)
        return p->tcp_csum_bad;
    return p->tcp_seg &&
           ms_tcp_checksum(p->ip_version, p->src, p->pseudo_dst, p->tcp_seg, p->tcp_seg_len) != 0;
}

/* ---- IP ---------------------------------------------------------------- */

static enum ms_decode_status decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out, int depth);
static enum ms_decode_status decode_gre(const uint8_t *p, size_t len, struct ms_pkt *out,
                                        int depth);
static enum ms_decode_status decode_udp(const uint8_t *p, size_t len, struct ms_pkt *out,
                                        int depth);

/* What an IPv4 protocol / IPv6 next header carries, once the IP header is
 * done: TCP, or a tunnel to look into. */
static enum ms_decode_status ip_payload(unsigned proto, const uint8_t *p, size_t len,
                                        struct ms_pkt *out, int depth, bool complete,
                                        const uint8_t *pseudo_dst)
{
    switch (proto) {
    case IPPROTO_V_TCP:
        return decode_tcp(p, len, out, complete, pseudo_dst);
    case IPPROTO_V_IPIP:
    case IPPROTO_V_IPV6:
        /* RFC 2003 / RFC 4213: the inner header's version nibble must agree. */
        if (len < 1)
            return MS_DECODE_TRUNCATED;
        if ((p[0] >> 4) != (proto == IPPROTO_V_IPIP ? 4 : 6))
            return MS_DECODE_MALFORMED;
        return decode_ip(p, len, out, depth + 1);
    case IPPROTO_V_GRE:
        return decode_gre(p, len, out, depth + 1);
    case IPPROTO_V_UDP:
        return decode_udp(p, len, out, depth + 1);
    default:
        return MS_DECODE_NOT_TCP;
    }
}

/* RFC 791 3.1: version/IHL, TOS, total length, id, flags/fragment offset,
 * TTL, protocol, header checksum, source, destination, options. */
static enum ms_decode_status decode_ipv4(const uint8_t *p, size_t len, struct ms_pkt *out,
                                         int depth)
{
    if (len < 20)
        return MS_DECODE_TRUNCATED;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = ms_be16(p + 2);
    /* A total length of 0 is what Linux writes into segments captured
     * before TCP segmentation offload split them (as Wireshark assumes):
     * the frame holds the whole datagram. */
    if (total == 0 && len > ihl)
        total = len;
    if (ihl < 20 || total < ihl)
        return MS_DECODE_MALFORMED;
    /* Ethernet pads short frames: trust the IP length, not the frame's.
     * A snaplen-cut frame is shorter than total; decode what is there. */
    bool complete = total <= len;
    if (total < len)
        len = total;
    if (len < ihl)
        return MS_DECODE_TRUNCATED;
    out->ip_version = 4;
    memset(out->src, 0, sizeof(out->src));
    memset(out->dst, 0, sizeof(out->dst));
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    out->l3 = p;
    out->l3_len = len;
    uint16_t frag = ms_be16(p + 6);
    if ((frag & 0x3fffu) != 0) /* MF set or offset non-zero */
        return MS_DECODE_FRAGMENT;
    return ip_payload(p[9], p + ihl, len - ihl, out, depth, complete, out->dst);
}

/* RFC 8200 3 and 4: fixed 40-byte header, then a chain of extension headers
 * (hop-by-hop, routing, destination options, AH, mobility: "next header,
 * length" first) ending in an upper-layer protocol. */
static enum ms_decode_status decode_ipv6(const uint8_t *p, size_t len, struct ms_pkt *out,
                                         int depth)
{
    if (len < 40)
        return MS_DECODE_TRUNCATED;
    size_t plen = ms_be16(p + 4);
    bool complete = 40 + plen <= len;
    if (40 + plen < len)
        len = 40 + plen;
    out->ip_version = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    out->l3 = p;
    out->l3_len = len;
    uint8_t nh = p[6];
    size_t off = 40;
    /* The pseudo-header uses the final destination (RFC 8200 8.1); with a
     * routing header still to be processed that address is elsewhere, so
     * the checksum is then not verified. */
    const uint8_t *pseudo_dst = out->dst;
    /* A bounded count stops a crafted chain. */
    for (int i = 0; i < 16; i++) {
        size_t ext;
        switch (nh) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility (RFC 6275) */
            if (len - off < 8)
                return MS_DECODE_TRUNCATED;
            ext = ((size_t)p[off + 1] + 1) * 8;
            if (nh == 43 && p[off + 3] != 0) /* segments left */
                pseudo_dst = NULL;
            break;
        case 51: /* AH (RFC 4302 2.2): length in 32-bit words minus 2 */
            if (len - off < 8)
                return MS_DECODE_TRUNCATED;
            ext = ((size_t)p[off + 1] + 2) * 4;
            break;
        case 44: /* fragment (RFC 8200 4.5) */
            if (len - off < 8)
                return MS_DECODE_TRUNCATED;
            /* An atomic fragment (offset 0, M 0) is a whole packet and is
             * processed in isolation (RFC 6946 4). */
            if ((ms_be16(p + off + 2) & 0xfff9u) != 0)
                return MS_DECODE_FRAGMENT;
            ext = 8;
            break;
        default:
            return ip_payload(nh, p + off, len - off, out, depth, complete, pseudo_dst);
        }
        if (len - off < ext)
            return MS_DECODE_TRUNCATED;
        nh = p[off];
        off += ext;
    }
    return MS_DECODE_MALFORMED;
}

static enum ms_decode_status decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out, int depth)
{
    if (depth > MS_DECODE_MAX_DEPTH)
        return MS_DECODE_UNSUPPORTED;
    if (len < 1)
        return MS_DECODE_TRUNCATED;
    switch (p[0] >> 4) {
    case 4:
        return decode_ipv4(p, len, out, depth);
    case 6:
        return decode_ipv6(p, len, out, depth);
    default:
        return MS_DECODE_MALFORMED;
    }
}

enum ms_decode_status ms_decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    out->tcp_csum_skip = false;
    return decode_ip(p, len, out, 0);
}

enum ms_decode_status ms_decode_ip_no_csum(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    out->tcp_csum_skip = true;
    return decode_ip(p, len, out, 0);
}

/* ---- layer 2 and tunnels ---------------------------------------------- */

static enum ms_decode_status decode_ethertype(uint16_t type, const uint8_t *p, size_t len,
                                              struct ms_pkt *out, int depth);
static enum ms_decode_status decode_eth(const uint8_t *p, size_t len, struct ms_pkt *out,
                                        int depth);

/* PPP protocol field (RFC 1661 2, may be compressed to one byte when odd),
 * optionally after the HDLC address/control bytes FF 03 (RFC 1662 3.1). */
static enum ms_decode_status decode_ppp(const uint8_t *p, size_t len, struct ms_pkt *out, int depth)
{
    if (len >= 1 && p[0] == 0xff) {
        /* 0xff is the HDLC address, never a (compressed) protocol. */
        if (len < 2)
            return MS_DECODE_TRUNCATED;
        if (p[1] != 0x03)
            return MS_DECODE_MALFORMED;
        p += 2;
        len -= 2;
    }
    if (len < 1)
        return MS_DECODE_TRUNCATED;
    unsigned proto;
    if (p[0] & 1) {
        proto = p[0];
        p += 1;
        len -= 1;
    } else {
        if (len < 2)
            return MS_DECODE_TRUNCATED;
        proto = ms_be16(p);
        p += 2;
        len -= 2;
    }
    if (proto == 0x0021 || proto == 0x0057)
        return decode_ip(p, len, out, depth + 1);
    return MS_DECODE_NOT_TCP;
}

/* RFC 2516 PPPoE session: ver/type, code, session id, length, then PPP. */
static enum ms_decode_status decode_pppoe(const uint8_t *p, size_t len, struct ms_pkt *out,
                                          int depth)
{
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    if (p[0] != 0x11)
        return MS_DECODE_MALFORMED;
    size_t plen = ms_be16(p + 4);
    /* The PPPoE length covers the PPP frame; Ethernet padding follows it. */
    if (plen + 6 < len)
        len = plen + 6;
    if (len < 8) /* a length too short to hold the PPP protocol */
        return MS_DECODE_MALFORMED;
    uint16_t proto = ms_be16(p + 6);
    if (proto == 0x0021 || proto == 0x0057)
        return decode_ip(p + 8, len - 8, out, depth + 1);
    return MS_DECODE_NOT_TCP;
}

/* RFC 3032 2.1: 4-byte entries (label 20, TC 3, S 1, TTL 8) until the
 * bottom-of-stack bit. What follows has no type field: the first nibble
 * says IPv4 (4) or IPv6 (6); 0 is the pseudowire control word (RFC 4385 3)
 * followed by an Ethernet frame (RFC 4448). */
static enum ms_decode_status decode_mpls(const uint8_t *p, size_t len, struct ms_pkt *out,
                                         int depth)
{
    for (int i = 0;; i++) {
        if (i >= 16)
            return MS_DECODE_MALFORMED;
        if (len < 4)
            return MS_DECODE_TRUNCATED;
        bool bottom = (p[2] & 1) != 0;
        p += 4;
        len -= 4;
        if (bottom)
            break;
    }
    if (len < 1)
        return MS_DECODE_TRUNCATED;
    switch (p[0] >> 4) {
    case 4:
    case 6:
        return decode_ip(p, len, out, depth + 1);
    case 0:
        if (len < 4)
            return MS_DECODE_TRUNCATED;
        return decode_eth(p + 4, len - 4, out, depth + 1);
    default:
        return MS_DECODE_UNSUPPORTED;
    }
}

/* GRE. Version 0 (RFC 2784 2.1, RFC 2890 2): C R K S s Recur Flags Ver,
 * protocol type, [checksum, reserved1] if C, [key] if K, [sequence] if S.
 * The R bit (RFC 1701 source routing) is obsolete and not decoded.
 * Version 1 (PPTP, RFC 2637 4.1): K always, [seq] if S, [ack] if A, PPP.
 * Payload by ethertype; 0x6558 is a whole Ethernet frame; ERSPAN II/III
 * carry a mirrored Ethernet frame after their own header. */
static enum ms_decode_status decode_gre(const uint8_t *p, size_t len, struct ms_pkt *out, int depth)
{
    if (depth > MS_DECODE_MAX_DEPTH)
        return MS_DECODE_UNSUPPORTED;
    if (len < 4)
        return MS_DECODE_TRUNCATED;
    uint16_t flags = ms_be16(p);
    uint16_t proto = ms_be16(p + 2);
    size_t off = 4;
    switch (flags & 7u) {
    case 0:
        if (flags & 0x4000u)
            return MS_DECODE_UNSUPPORTED;
        if (flags & 0x8000u)
            off += 4;
        if (flags & 0x2000u)
            off += 4;
        if (flags & 0x1000u)
            off += 4;
        break;
    case 1:
        if (!(flags & 0x2000u) || proto != ETH_PPP)
            return MS_DECODE_MALFORMED;
        off += 4;
        if (flags & 0x1000u)
            off += 4;
        if (flags & 0x0080u)
            off += 4;
        if (len < off)
            return MS_DECODE_TRUNCATED;
        return decode_ppp(p + off, len - off, out, depth);
    default:
        return MS_DECODE_UNSUPPORTED;
    }
    if (len < off)
        return MS_DECODE_TRUNCATED;
    p += off;
    len -= off;
    switch (proto) {
    case ETH_TEB:
        return decode_eth(p, len, out, depth + 1);
    case ETH_ERSPAN2:
        /* ERSPAN type II: 8 bytes, version 1 in the top nibble. */
        if (len < 8)
            return MS_DECODE_TRUNCATED;
        if ((p[0] >> 4) != 1)
            return MS_DECODE_UNSUPPORTED;
        return decode_eth(p + 8, len - 8, out, depth + 1);
    case ETH_ERSPAN3: {
        /* ERSPAN type III: 12 bytes, version 2, plus an 8-byte platform
         * subheader when the O bit (last bit of byte 11) is set. */
        if (len < 12)
            return MS_DECODE_TRUNCATED;
        if ((p[0] >> 4) != 2)
            return MS_DECODE_UNSUPPORTED;
        size_t h = (p[11] & 1) ? 20 : 12;
        if (len < h)
            return MS_DECODE_TRUNCATED;
        return decode_eth(p + h, len - h, out, depth + 1);
    }
    default:
        return decode_ethertype(proto, p, len, out, depth + 1);
    }
}

/* UDP (RFC 768) only matters as a tunnel: VXLAN (RFC 7348 5: flags with
 * the I bit 0x08, 3 reserved, 24-bit VNI, 1 reserved, then an Ethernet
 * frame) and Geneve (RFC 8926 3.4: version 0 and option length in 4-byte
 * words, flags, protocol type, VNI, reserved, options). */
static enum ms_decode_status decode_udp(const uint8_t *p, size_t len, struct ms_pkt *out, int depth)
{
    if (depth > MS_DECODE_MAX_DEPTH)
        return MS_DECODE_UNSUPPORTED;
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    uint16_t dport = ms_be16(p + 2);
    p += 8;
    len -= 8;
    if (dport == UDP_VXLAN) {
        if (len < 8)
            return MS_DECODE_TRUNCATED;
        if (!(p[0] & 0x08u))
            return MS_DECODE_NOT_TCP;
        return decode_eth(p + 8, len - 8, out, depth + 1);
    }
    if (dport == UDP_GENEVE) {
        if (len < 8)
            return MS_DECODE_TRUNCATED;
        if ((p[0] >> 6) != 0)
            return MS_DECODE_UNSUPPORTED;
        size_t h = 8 + (size_t)(p[0] & 0x3fu) * 4;
        if (len < h)
            return MS_DECODE_TRUNCATED;
        uint16_t proto = ms_be16(p + 2);
        if (proto == ETH_TEB)
            return decode_eth(p + h, len - h, out, depth + 1);
        return decode_ethertype(proto, p + h, len - h, out, depth + 1);
    }
    return MS_DECODE_NOT_TCP;
}

static enum ms_decode_status decode_ethertype(uint16_t type, const uint8_t *p, size_t len,
                                              struct ms_pkt *out, int depth)
{
    if (depth > MS_DECODE_MAX_DEPTH)
        return MS_DECODE_UNSUPPORTED;
    /* VLAN tags stack (QinQ); bounded so a run of tags cannot loop long. */
    for (int tags = 0; tags < 8; tags++) {
        if (type != ETH_VLAN && type != ETH_QINQ && type != ETH_QINQ_OLD)
            break;
        if (len < 4)
            return MS_DECODE_TRUNCATED;
        type = ms_be16(p + 2);
        p += 4;
        len -= 4;
    }
    switch (type) {
    case ETH_IPV4:
    case ETH_IPV6:
        return decode_ip(p, len, out, depth);
    case ETH_PPPOE_SESS:
        return decode_pppoe(p, len, out, depth);
    case ETH_MPLS_UC:
    case ETH_MPLS_MC:
        return decode_mpls(p, len, out, depth);
    case ETH_TEB:
        return decode_eth(p, len, out, depth + 1);
    default:
        return MS_DECODE_NOT_TCP;
    }
}

/* RFC 1042 / IEEE 802.1H: LLC AA AA 03 + OUI 00-00-00 (or 00-00-F8,
 * bridge tunnel) + ethertype. Other LLC payloads carry no IP. */
static enum ms_decode_status decode_llc_snap(const uint8_t *p, size_t len, struct ms_pkt *out,
                                             int depth)
{
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03 || p[3] != 0 || p[4] != 0 ||
        (p[5] != 0 && p[5] != 0xf8))
        return MS_DECODE_NOT_TCP;
    return decode_ethertype(ms_be16(p + 6), p + 8, len - 8, out, depth);
}

/* Ethernet II (type >= 0x0600) or IEEE 802.3 (a length) with LLC/SNAP. */
static enum ms_decode_status decode_eth(const uint8_t *p, size_t len, struct ms_pkt *out, int depth)
{
    if (len < 14)
        return MS_DECODE_TRUNCATED;
    uint16_t type = ms_be16(p + 12);
    if (type >= 0x0600)
        return decode_ethertype(type, p + 14, len - 14, out, depth);
    if (type > 1500)
        return MS_DECODE_MALFORMED;
    size_t n = len - 14 < type ? len - 14 : type;
    return decode_llc_snap(p + 14, n, out, depth);
}

/* IEEE 802.11-2020 9.2.3/9.3.2.1: frame control (2, little endian:
 * protocol version 2 bits, type 2, subtype 4; then flags To DS, From DS,
 * More Fragments, Retry, Power Mgmt, More Data, Protected, +HTC/Order),
 * duration (2), then by type. Management (9.3.3.1): address 1-3, sequence
 * control, HT control (4) with the Order bit. Data (9.3.2.1): address 1-3,
 * sequence control, address 4 when To DS and From DS are both set (WDS),
 * QoS control (2) in QoS subtypes, HT control (4) when a QoS frame has the
 * Order bit. Control and extension frames are located with no body. pad:
 * radiotap says the header is padded to a multiple of 4. */
static enum ms_decode_status locate_80211(const uint8_t *p, size_t len, bool pad,
                                          struct ms_wifi_frame *w)
{
    memset(w, 0, sizeof(*w));
    if (len < 2)
        return MS_DECODE_TRUNCATED;
    uint8_t fc0 = p[0], fc1 = p[1];
    if ((fc0 & 3u) != 0)
        return MS_DECODE_MALFORMED;
    w->type = (uint8_t)((fc0 >> 2) & 3u);
    w->subtype = (uint8_t)(fc0 >> 4);
    w->flags = fc1;
    w->hdr = p;
    if (w->type == 1 || w->type == 3) {
        /* Every control frame has the receiver address; RTS, PS-Poll and
         * block acks a transmitter address too. */
        if (len < 10)
            return MS_DECODE_TRUNCATED;
        w->ra = p + 4;
        if (w->type == 1 && len >= 16)
            w->ta = p + 10;
        w->hdr_len = len;
        w->body = p + len;
        return MS_DECODE_TCP;
    }
    size_t hdr = 24;
    size_t qos_off = 0;
    bool wds = w->type == 2 && (fc1 & 3u) == 3u;
    if (wds)
        hdr += 6;
    if (w->type == 2 && (w->subtype & 0x8u)) {
        w->qos = true;
        qos_off = hdr;
        hdr += 2;
    }
    if ((fc1 & 0x80u) && (w->type == 0 || w->qos))
        hdr += 4;
    size_t body = pad ? (hdr + 3) & ~(size_t)3 : hdr;
    if (len < body)
        return MS_DECODE_TRUNCATED;
    w->hdr_len = hdr;
    w->body = p + body;
    w->body_len = len - body;
    if (w->qos) {
        w->tid = p[qos_off] & 0x0fu;
        w->amsdu = (p[qos_off] & 0x80u) != 0;
    }
    const uint8_t *a1 = p + 4, *a2 = p + 10, *a3 = p + 16;
    w->ra = a1;
    w->ta = a2;
    if (w->type == 0) {
        w->da = a1;
        w->sa = a2;
        w->bssid = a3;
        return MS_DECODE_TCP;
    }
    /* Table 9-30. In an A-MSDU the stations are in the subframes and
     * address 3 is the BSSID. */
    switch (fc1 & 3u) {
    case 0: /* IBSS, or a station to station direct link */
        w->da = a1;
        w->sa = a2;
        w->bssid = a3;
        break;
    case 1: /* To DS */
        w->bssid = a1;
        w->sa = a2;
        w->da = w->amsdu ? a1 : a3;
        break;
    case 2: /* From DS */
        w->da = a1;
        w->bssid = a2;
        w->sa = w->amsdu ? a2 : a3;
        break;
    default: /* WDS: the BSS is not named */
        w->da = w->amsdu ? a1 : a3;
        w->sa = w->amsdu ? a2 : p + 24;
        break;
    }
    return MS_DECODE_TCP;
}

void ms_decode_wifi_addrs(const struct ms_wifi_frame *f, const uint8_t *sa, const uint8_t *da,
                          struct ms_link_addrs *out)
{
    memset(out, 0, sizeof(*out));
    if (!sa)
        sa = f->sa;
    if (!da)
        da = f->da;
    if (!sa || !da)
        return;
    out->present = true;
    memcpy(out->src, sa, MS_MAC_LEN);
    memcpy(out->dst, da, MS_MAC_LEN);
    if (f->bssid) {
        out->has_bssid = true;
        memcpy(out->bssid, f->bssid, MS_MAC_LEN);
    }
}

/* A data frame in the clear to one MSDU: protected frames, 802.11
 * fragments (More Fragments, or a fragment number) and A-MSDU aggregates
 * are left to the pipeline (ms_decode_wifi). */
static enum ms_decode_status decode_80211(const uint8_t *p, size_t len, struct ms_pkt *out,
                                          int depth, bool pad)
{
    if (len < 2)
        return MS_DECODE_TRUNCATED;
    if ((p[0] & 3u) != 0)
        return MS_DECODE_MALFORMED;
    /* Management, control and extension frames carry no IP, and neither
     * do null-function subtypes (bit 2 of the subtype). */
    if (((p[0] >> 2) & 3u) != 2 || (p[0] & 0x40u))
        return MS_DECODE_NOT_TCP;
    struct ms_wifi_frame w;
    enum ms_decode_status st = locate_80211(p, len, pad, &w);
    if (st != MS_DECODE_TCP)
        return st;
    /* WEP/TKIP/CCMP/GCMP: without keys the body is noise. */
    if (w.flags & 0x40u)
        return MS_DECODE_PROTECTED;
    if ((w.flags & 0x04u) || (ms_le16(p + 22) & 0x000fu) || w.amsdu)
        return MS_DECODE_UNSUPPORTED;
    ms_decode_wifi_addrs(&w, NULL, NULL, &out->mac);
    return decode_llc_snap(w.body, w.body_len, out, depth);
}

/* Radiotap (radiotap.org): version 0, pad, length (LE16), present words
 * (LE32, bit 31 chains another word), then fields aligned to their natural
 * size from the start of the header. Only Flags (bit 1, after TSFT bit 0)
 * matters: FCS at the end (0x10), header padding (0x20), bad FCS (0x40).
 * frame, flen: the 802.11 frame without radiotap and FCS. */
static enum ms_decode_status strip_radiotap(const uint8_t *p, size_t len, const uint8_t **frame,
                                            size_t *flen, bool *pad)
{
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    if (p[0] != 0)
        return MS_DECODE_MALFORMED;
    size_t rlen = ms_le16(p + 2);
    if (rlen < 8)
        return MS_DECODE_MALFORMED;
    if (len < rlen)
        return MS_DECODE_TRUNCATED;
    uint32_t present = ms_le32(p + 4);
    size_t off = 8;
    uint32_t w = present;
    while (w & 0x80000000u) {
        if (rlen < off + 4)
            return MS_DECODE_MALFORMED;
        w = ms_le32(p + off);
        off += 4;
    }
    uint8_t flags = 0;
    if (present & 0x1u)
        off = ((off + 7) & ~(size_t)7) + 8;
    if (present & 0x2u) {
        if (rlen < off + 1)
            return MS_DECODE_MALFORMED;
        flags = p[off];
    }
    if (flags & 0x40u)
        return MS_DECODE_MALFORMED; /* failed FCS: no station accepted it */
    p += rlen;
    len -= rlen;
    if (flags & 0x10u) {
        if (len < 4)
            return MS_DECODE_TRUNCATED;
        len -= 4;
    }
    *frame = p;
    *flen = len;
    *pad = (flags & 0x20u) != 0;
    return MS_DECODE_TCP;
}

static enum ms_decode_status decode_radiotap(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    const uint8_t *f;
    size_t flen;
    bool pad;
    enum ms_decode_status st = strip_radiotap(p, len, &f, &flen, &pad);
    if (st != MS_DECODE_TCP)
        return st;
    return decode_80211(f, flen, out, 0, pad);
}

/* PPI (Per-Packet Information, CACE 2007): version 0, flags (bit 0: fields
 * 32-bit aligned), length (LE16), DLT of the frame that follows (LE32),
 * then TLV fields (type LE16, length LE16). Only the 802.11-Common field
 * (type 2: TSF 8, flags LE16, ...) matters: its flags say an FCS ends the
 * frame (0x1, as Kismet writes) and that it failed (0x4). */
static enum ms_decode_status strip_ppi(const uint8_t *p, size_t len, int *dlt,
                                       const uint8_t **frame, size_t *flen)
{
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    if (p[0] != 0)
        return MS_DECODE_MALFORMED;
    size_t hlen = ms_le16(p + 2);
    if (hlen < 8)
        return MS_DECODE_MALFORMED;
    if (len < hlen)
        return MS_DECODE_TRUNCATED;
    bool aligned = (p[1] & 0x1u) != 0;
    uint16_t wflags = 0;
    for (size_t off = 8; off + 4 <= hlen;) {
        size_t ftype = ms_le16(p + off), fl = ms_le16(p + off + 2);
        if (hlen - off - 4 < fl)
            break; /* a damaged field: the frame is still where hlen says */
        if (ftype == 2 && fl >= 10)
            wflags = ms_le16(p + off + 4 + 8);
        off += 4 + fl;
        if (aligned)
            off = (off + 3) & ~(size_t)3;
    }
    if (wflags & 0x4u)
        return MS_DECODE_MALFORMED; /* failed FCS: no station accepted it */
    *dlt = (int)ms_le32(p + 4);
    *frame = p + hlen;
    *flen = len - hlen;
    if (wflags & 0x1u) {
        if (*flen < 4)
            return MS_DECODE_TRUNCATED;
        *flen -= 4;
    }
    return MS_DECODE_TCP;
}

static enum ms_decode_status decode_link(int lt, const uint8_t *f, size_t caplen,
                                         struct ms_pkt *out, bool allow_ppi);

static enum ms_decode_status decode_ppi(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    int dlt;
    const uint8_t *f;
    size_t flen;
    enum ms_decode_status st = strip_ppi(p, len, &dlt, &f, &flen);
    if (st != MS_DECODE_TCP)
        return st;
    return decode_link(dlt, f, flen, out, false);
}

static enum ms_decode_status decode_link(int lt, const uint8_t *f, size_t caplen,
                                         struct ms_pkt *out, bool allow_ppi)
{
    switch (lt) {
    case DLT_EN10MB:
        return decode_eth(f, caplen, out, 0);
    case DLT_NULL:
    case DLT_LOOP: {
        /* 4-byte address family, host order for NULL, network for LOOP;
         * the IP version nibble tells us what follows either way. */
        if (caplen < 4)
            return MS_DECODE_TRUNCATED;
        return decode_ip(f + 4, caplen - 4, out, 0);
    }
    case DLT_RAW:
    case LINKTYPE_RAW_ALT:
    case DLT_IPV4:
    case DLT_IPV6:
        return decode_ip(f, caplen, out, 0);
    case DLT_LINUX_SLL:
        /* 16-byte header; protocol type in its last two bytes. */
        if (caplen < 16)
            return MS_DECODE_TRUNCATED;
        return decode_ethertype(ms_be16(f + 14), f + 16, caplen - 16, out, 0);
    case DLT_LINUX_SLL2:
        /* 20-byte header; protocol type first. */
        if (caplen < 20)
            return MS_DECODE_TRUNCATED;
        return decode_ethertype(ms_be16(f), f + 20, caplen - 20, out, 0);
    case DLT_IEEE802_11:
        return decode_80211(f, caplen, out, 0, false);
    case DLT_IEEE802_11_RADIO:
        return decode_radiotap(f, caplen, out);
    case DLT_PPI:
        if (!allow_ppi)
            return MS_DECODE_UNSUPPORTED;
        return decode_ppi(f, caplen, out);
    default:
        return MS_DECODE_UNSUPPORTED;
    }
}

enum ms_decode_status ms_decode_frame(int linktype, const uint8_t *frame, size_t caplen,
                                      struct ms_pkt *out)
{
    out->tcp_csum_skip = false;
    out->mac.present = false;
    return decode_link(linktype, frame, caplen, out, true);
}

enum ms_decode_status ms_decode_frame_no_csum(int linktype, const uint8_t *frame, size_t caplen,
                                              struct ms_pkt *out)
{
    out->tcp_csum_skip = true;
    out->mac.present = false;
    return decode_link(linktype, frame, caplen, out, true);
}

enum ms_decode_status ms_decode_wifi(int linktype, const uint8_t *frame, size_t caplen,
                                     struct ms_wifi_frame *out)
{
    const uint8_t *f = frame;
    size_t flen = caplen;
    bool pad = false;
    enum ms_decode_status st = MS_DECODE_TCP;
    if (linktype == DLT_PPI) {
        st = strip_ppi(frame, caplen, &linktype, &f, &flen);
        if (st != MS_DECODE_TCP)
            return st;
        frame = f;
        caplen = flen;
    }
    switch (linktype) {
    case DLT_IEEE802_11:
        break;
    case DLT_IEEE802_11_RADIO:
        st = strip_radiotap(frame, caplen, &f, &flen, &pad);
        break;
    default:
        return MS_DECODE_NOT_TCP;
    }
    if (st != MS_DECODE_TCP)
        return st;
    return locate_80211(f, flen, pad, out);
}

enum ms_decode_status ms_decode_llc(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    out->tcp_csum_skip = false;
    return decode_llc_snap(p, len, out, 0);
}

enum ms_decode_status ms_decode_llc_no_csum(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    out->tcp_csum_skip = true;
    return decode_llc_snap(p, len, out, 0);
}

bool ms_decode_llc_type(const uint8_t *p, size_t len, uint16_t *type, const uint8_t **payload,
                        size_t *payload_len)
{
    if (len < 8 || p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03 || p[3] != 0 || p[4] != 0 ||
        (p[5] != 0 && p[5] != 0xf8))
        return false;
    *type = ms_be16(p + 6);
    *payload = p + 8;
    *payload_len = len - 8;
    return true;
}

void ms_amsdu_init(struct ms_amsdu_iter *it, const uint8_t *body, size_t len)
{
    it->p = body;
    it->len = len;
    it->off = 0;
    it->bad = false;
}

bool ms_amsdu_next(struct ms_amsdu_iter *it, const uint8_t **da, const uint8_t **sa,
                   const uint8_t **msdu, size_t *msdu_len)
{
    if (it->bad || it->off >= it->len)
        return false;
    size_t left = it->len - it->off;
    const uint8_t *s = it->p + it->off;
    if (left < 14) {
        it->bad = true;
        return false;
    }
    size_t n = ms_be16(s + 12);
    if (left - 14 < n) {
        it->bad = true;
        return false;
    }
    *da = s;
    *sa = s + 6;
    *msdu = s + 14;
    *msdu_len = n;
    size_t sub = 14 + n;
    /* Padding follows every subframe but the last: past the end of the
     * body it is the last one. */
    size_t padded = (sub + 3) & ~(size_t)3;
    it->off += padded <= left ? padded : left;
    return true;
}
