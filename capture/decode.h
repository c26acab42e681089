/* Link layer -> IP -> TCP decoding of one captured frame into a view.
 * Every read is bounds-checked against the captured length; nothing is
 * copied: the view points into the caller's frame. Any input gives a status,
 * never a crash. Tunnels (MPLS, GRE, IP-in-IP) are looked through: the view
 * describes the innermost IP packet. */
#ifndef MS_DECODE_H
#define MS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wifi.h"

#define MS_TH_FIN 0x01u
#define MS_TH_SYN 0x02u
#define MS_TH_RST 0x04u
#define MS_TH_PSH 0x08u
#define MS_TH_ACK 0x10u

/* The link-layer addresses of a packet that came over 802.11 (the
 * `ether` object of its flow's events): the source and destination
 * stations, and the BSSID (none on a WDS link). */
struct ms_link_addrs {
    bool present;
    bool has_bssid;
    uint8_t src[MS_MAC_LEN], dst[MS_MAC_LEN], bssid[MS_MAC_LEN];
};

struct ms_pkt {
    uint64_t ts_us;           /* capture time, microseconds since the epoch */
    uint8_t ip_version;       /* 4 or 6 */
    uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    const uint8_t *l3; /* IP header, for nDPI; for MS_DECODE_FRAGMENT the
                                 * whole fragment (trimmed to the IP length) */
    size_t l3_len;
    const uint8_t *payload;
    size_t payload_len;
    /* The TCP checksum was verified over a segment captured whole and it is
     * wrong (NIC offload on the capturing host, or damage). Such segments are
     * still processed; see tcp_csum_checked for whether a check was done. */
    bool tcp_csum_bad;
    bool tcp_csum_checked;
    bool tcp_csum_skip; /* decoding through ms_decode_*_no_csum */
    /* What ms_pkt_tcp_csum_bad sums later (a segment captured whole; NULL
     * otherwise): it points into the decoded bytes. */
    const uint8_t *tcp_seg, *pseudo_dst;
    size_t tcp_seg_len;
    struct ms_link_addrs mac; /* 802.11 frames only (present false otherwise) */
};

enum ms_decode_status {
    MS_DECODE_TCP = 0,     /* *out holds a TCP segment */
    MS_DECODE_NOT_TCP,     /* well-formed, but nothing for us (ARP, UDP, ...) */
    MS_DECODE_FRAGMENT,    /* an IP fragment: out->l3/l3_len hold it for defrag */
    MS_DECODE_TRUNCATED,   /* the frame ends before a header does */
    MS_DECODE_MALFORMED,   /* a header field is impossible */
    MS_DECODE_UNSUPPORTED, /* a link or network type we do not decode */
    MS_DECODE_PROTECTED,   /* an encrypted 802.11 data frame (WEP/WPA): skipped */
};

/* True for the pcap link types (DLT_*) ms_decode_frame understands. */
bool ms_decode_linktype_supported(int linktype);
/* The LINKTYPE number a pcap file header gives for a link type of a frame
 * (libpcap's DLT_RAW is 12 or 14 by platform, the file's 101): what
 * --evidence writes, so that its files read the same everywhere. */
int ms_decode_linktype_for_file(int linktype);

enum ms_decode_status ms_decode_frame(int linktype, const uint8_t *frame, size_t caplen,
                                      struct ms_pkt *out);

/* Decodes from the IP header on (raw IP links, and after link layers). */
enum ms_decode_status ms_decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out);

/* The same without summing the TCP checksum (tcp_csum_checked stays
 * false): the pipelines sum it later (ms_pkt_tcp_csum_bad) but for flows
 * classified as not mail, --threads' reader not at all. */
enum ms_decode_status ms_decode_frame_no_csum(int linktype, const uint8_t *frame, size_t caplen,
                                              struct ms_pkt *out);
enum ms_decode_status ms_decode_ip_no_csum(const uint8_t *p, size_t len, struct ms_pkt *out);
/* True when the segment's TCP checksum is wrong, summed now if decoding
 * left it (its bytes still valid); false when right or not summable. */
bool ms_pkt_tcp_csum_bad(const struct ms_pkt *p);

/* Locates the IEEE 802.11 frame of an 802.11 link type (plain, radiotap,
 * PPI): MAC header, body (past header padding, FCS excluded), addresses.
 * MS_DECODE_TCP (0) means *out was filled, whatever the frame's type;
 * MS_DECODE_NOT_TCP for link types that are not 802.11; TRUNCATED or
 * MALFORMED (a failed FCS too) otherwise. out->ts_us is left 0. */
enum ms_decode_status ms_decode_wifi(int linktype, const uint8_t *frame, size_t caplen,
                                     struct ms_wifi_frame *out);

/* The link-layer addresses of an MSDU of f: its own sa/da (A-MSDU
 * subframes: pass them; NULL: f's). */
void ms_decode_wifi_addrs(const struct ms_wifi_frame *f, const uint8_t *sa, const uint8_t *da,
                          struct ms_link_addrs *out);

/* An 802.11 MSDU (a data frame's body in the clear or decrypted, or an
 * A-MSDU subframe's): LLC/SNAP (RFC 1042 / 802.1H), then IP on. */
enum ms_decode_status ms_decode_llc(const uint8_t *p, size_t len, struct ms_pkt *out);
enum ms_decode_status ms_decode_llc_no_csum(const uint8_t *p, size_t len, struct ms_pkt *out);
/* The ethertype behind an MSDU's LLC/SNAP header, and what follows it;
 * false when it has none. */
bool ms_decode_llc_type(const uint8_t *p, size_t len, uint16_t *type, const uint8_t **payload,
                        size_t *payload_len);

/* A-MSDU subframes (IEEE 802.11-2020 9.3.2.2.2): DA, SA, length (big
 * endian), the MSDU, padding to a multiple of 4 except after the last. */
struct ms_amsdu_iter {
    const uint8_t *p;
    size_t len, off;
    bool bad; /* stopped at a subframe running past the body */
};
void ms_amsdu_init(struct ms_amsdu_iter *it, const uint8_t *body, size_t len);
/* The next subframe; false at the end (it->bad: the body was cut inside one). */
bool ms_amsdu_next(struct ms_amsdu_iter *it, const uint8_t **da, const uint8_t **sa,
                   const uint8_t **msdu, size_t *msdu_len);

/* Internet checksum (RFC 1071) of the TCP segment seg[0..len) with the
 * IPv4 or IPv6 pseudo-header; 0 when the stored checksum is right. */
uint16_t ms_tcp_checksum(int ip_version, const uint8_t *src, const uint8_t *dst, const uint8_t *seg,
                         size_t len);

#endif
