/* Link layer -> IP -> TCP decoding of one captured frame into a view.
 * Every read is bounds-checked against the captured length; nothing is
 * copied: the view points into the caller's frame. */
#ifndef MS_DECODE_H
#define MS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_TH_FIN 0x01u
#define MS_TH_SYN 0x02u
#define MS_TH_RST 0x04u
#define MS_TH_PSH 0x08u
#define MS_TH_ACK 0x10u

struct ms_pkt {
    uint64_t ts_us;             /* capture time, microseconds since the epoch */
    uint8_t ip_version;         /* 4 or 6 */
    uint8_t src[16], dst[16];   /* IPv4 uses the first 4 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    const uint8_t *l3;          /* IP header, for nDPI */
    size_t l3_len;
    const uint8_t *payload;
    size_t payload_len;
};

enum ms_decode_status {
    MS_DECODE_TCP = 0,       /* *out holds a TCP segment */
    MS_DECODE_NOT_TCP,       /* well-formed, but nothing for us (ARP, UDP, ...) */
    MS_DECODE_FRAGMENT,      /* an IP fragment (reassembly not done here) */
    MS_DECODE_TRUNCATED,     /* the frame ends before a header does */
    MS_DECODE_MALFORMED,     /* a header field is impossible */
    MS_DECODE_UNSUPPORTED,   /* a link or network type we do not decode */
};

/* True for the pcap link types (DLT_*) ms_decode_frame understands. */
bool ms_decode_linktype_supported(int linktype);

enum ms_decode_status ms_decode_frame(int linktype, const uint8_t *frame, size_t caplen,
                                      struct ms_pkt *out);

/* Decodes from the IP header on (raw IP links, and after link layers). */
enum ms_decode_status ms_decode_ip(const uint8_t *p, size_t len, struct ms_pkt *out);

#endif
