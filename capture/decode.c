/* Frame decoding: Ethernet (with 802.1Q/802.1ad tags and PPPoE sessions),
 * Linux SLL and SLL2, BSD null/loopback, raw IPv4/IPv6; then IPv4 (RFC 791),
 * IPv6 with extension headers (RFC 8200) and TCP (RFC 9293).
 * Style of tcpdump's GET_ macros: every multi-byte read goes through a helper
 * that has already been told the length is there. */
#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>

#define ETH_IPV4 0x0800u
#define ETH_IPV6 0x86DDu
#define ETH_VLAN 0x8100u
#define ETH_QINQ 0x88A8u
#define ETH_QINQ_OLD 0x9100u
#define ETH_PPPOE_SESS 0x8864u

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#define LINKTYPE_RAW_ALT 101 /* LINKTYPE_RAW as written in pcap files */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

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
        return true;
    default:
        return false;
    }
}

static enum ms_decode_status decode_tcp(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    if (len < 20)
        return MS_DECODE_TRUNCATED;
    size_t hlen = (size_t)(p[12] >> 4) * 4;
    if (hlen < 20)
        return MS_DECODE_MALFORMED;
    if (len < hlen)
        return MS_DECODE_TRUNCATED;
    out->sport = get_be16(p);
    out->dport = get_be16(p + 2);
    out->seq = get_be32(p + 4);
    out->ack = get_be32(p + 8);
    out->tcp_flags = p[13];
    out->payload = p + hlen;
    out->payload_len = len - hlen;
    return MS_DECODE_TCP;
}

static enum ms_decode_status decode_ipv4(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    if (len < 20)
        return MS_DECODE_TRUNCATED;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = get_be16(p + 2);
    if (ihl < 20 || total < ihl)
        return MS_DECODE_MALFORMED;
    /* Ethernet pads short frames: trust the IP length, not the frame's.
     * A snaplen-cut frame is shorter than total; decode what is there. */
    if (total < len)
        len = total;
    if (len < ihl)
        return MS_DECODE_TRUNCATED;
    uint16_t frag = get_be16(p + 6);
    if ((frag & 0x3fffu) != 0)   /* MF set or offset non-zero */
        return MS_DECODE_FRAGMENT;
    out->ip_version = 4;
    memset(out->src, 0, sizeof(out->src));
    memset(out->dst, 0, sizeof(out->dst));
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    out->l3 = p;
    out->l3_len = len;
    if (p[9] != 6)
        return MS_DECODE_NOT_TCP;
    return decode_tcp(p + ihl, len - ihl, out);
}

static enum ms_decode_status decode_ipv6(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    if (len < 40)
        return MS_DECODE_TRUNCATED;
    size_t plen = get_be16(p + 4);
    if (40 + plen < len)
        len = 40 + plen;
    out->ip_version = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    out->l3 = p;
    out->l3_len = len;
    uint8_t nh = p[6];
    size_t off = 40;
    /* Walk extension headers; a bounded count stops a crafted chain. */
    for (int i = 0; i < 16; i++) {
        switch (nh) {
        case 6:
            return decode_tcp(p + off, len - off, out);
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
            if (len - off < 8)
                return MS_DECODE_TRUNCATED;
            nh = p[off];
            {
                size_t ext = ((size_t)p[off + 1] + 1) * 8;
                if (len - off < ext)
                    return MS_DECODE_TRUNCATED;
                off += ext;
            }
            break;
        case 44:  /* fragment */
            return MS_DECODE_FRAGMENT;
        default:
            return MS_DECODE_NOT_TCP;
        }
    }
    return MS_DECODE_MALFORMED;
}

enum ms_decode_status ms_decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    if (len < 1)
        return MS_DECODE_TRUNCATED;
    switch (p[0] >> 4) {
    case 4: return decode_ipv4(p, len, out);
    case 6: return decode_ipv6(p, len, out);
    default: return MS_DECODE_MALFORMED;
    }
}

static enum ms_decode_status decode_ethertype(uint16_t type, const uint8_t *p, size_t len,
                                              struct ms_pkt *out);

/* RFC 2516 PPPoE session: ver/type, code, session id, length, then PPP. */
static enum ms_decode_status decode_pppoe(const uint8_t *p, size_t len, struct ms_pkt *out)
{
    if (len < 8)
        return MS_DECODE_TRUNCATED;
    uint16_t proto = get_be16(p + 6);
    if (proto == 0x0021)
        return ms_decode_ip(p + 8, len - 8, out);
    if (proto == 0x0057)
        return ms_decode_ip(p + 8, len - 8, out);
    return MS_DECODE_NOT_TCP;
}

static enum ms_decode_status decode_ethertype(uint16_t type, const uint8_t *p, size_t len,
                                              struct ms_pkt *out)
{
    /* VLAN tags stack (QinQ); bounded so a run of tags cannot loop long. */
    for (int tags = 0; tags < 8; tags++) {
        if (type != ETH_VLAN && type != ETH_QINQ && type != ETH_QINQ_OLD)
            break;
        if (len < 4)
            return MS_DECODE_TRUNCATED;
        type = get_be16(p + 2);
        p += 4;
        len -= 4;
    }
    switch (type) {
    case ETH_IPV4:
    case ETH_IPV6:
        return ms_decode_ip(p, len, out);
    case ETH_PPPOE_SESS:
        return decode_pppoe(p, len, out);
    default:
        return MS_DECODE_NOT_TCP;
    }
}

enum ms_decode_status ms_decode_frame(int lt, const uint8_t *f, size_t caplen, struct ms_pkt *out)
{
    switch (lt) {
    case DLT_EN10MB:
        if (caplen < 14)
            return MS_DECODE_TRUNCATED;
        return decode_ethertype(get_be16(f + 12), f + 14, caplen - 14, out);
    case DLT_NULL:
    case DLT_LOOP: {
        /* 4-byte address family, host order for NULL, network for LOOP;
         * the IP version nibble tells us what follows either way. */
        if (caplen < 4)
            return MS_DECODE_TRUNCATED;
        return ms_decode_ip(f + 4, caplen - 4, out);
    }
    case DLT_RAW:
    case LINKTYPE_RAW_ALT:
    case DLT_IPV4:
    case DLT_IPV6:
        return ms_decode_ip(f, caplen, out);
    case DLT_LINUX_SLL:
        /* 16-byte header; protocol type in its last two bytes. */
        if (caplen < 16)
            return MS_DECODE_TRUNCATED;
        return decode_ethertype(get_be16(f + 14), f + 16, caplen - 16, out);
    case DLT_LINUX_SLL2:
        /* 20-byte header; protocol type first. */
        if (caplen < 20)
            return MS_DECODE_TRUNCATED;
        return decode_ethertype(get_be16(f), f + 20, caplen - 20, out);
    default:
        return MS_DECODE_UNSUPPORTED;
    }
}
