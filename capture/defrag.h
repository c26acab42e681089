/* IPv4 (RFC 791 3.2) and IPv6 (RFC 8200 4.5) fragment reassembly.
 * Feed every packet ms_decode_* reported as MS_DECODE_FRAGMENT (its l3 view:
 * the IP packet from its header on). When a datagram completes, the whole
 * datagram comes back, valid until the next ms_defrag_packet or
 * ms_defrag_free call, to be decoded again with ms_decode_ip.
 * Bounded by struct ms_limits (frag_*); time is the capture clock.
 * Overlap policy: first arrival wins (see defrag.c). */
#ifndef MS_DEFRAG_H
#define MS_DEFRAG_H

#include <stddef.h>
#include <stdint.h>
#include "../common/anomaly.h"
#include "../common/limits.h"

struct ms_defrag;

enum ms_defrag_status {
    MS_DEFRAG_HELD = 0, /* stored; the datagram is not complete yet */
    MS_DEFRAG_DONE,     /* *out, *out_len: the reassembled datagram */
    MS_DEFRAG_DROPPED,  /* not kept: invalid, truncated, too large or over a cap */
};

/* Things worth an anomaly event (bits of *events). */
#define MS_DEFRAG_EV_OVERLAP_DIFF 0x1u /* overlapping fragments carry different bytes */
#define MS_DEFRAG_EV_TOO_LARGE 0x2u    /* reassembly would pass 65535 bytes */
#define MS_DEFRAG_EV_INVALID 0x4u      /* bad length, conflicting end of datagram */
#define MS_DEFRAG_EV_NOMEM 0x8u        /* out of memory: the datagram was dropped */

struct ms_defrag_stats {
    uint64_t reassembled; /* datagrams completed */
    uint64_t timeouts;    /* datagrams expired incomplete */
    uint64_t evicted;     /* datagrams removed to make room (count or bytes cap) */
    uint64_t dropped;     /* fragments or datagrams refused (invalid, too big, frag cap) */
    uint64_t overlaps;    /* fragments overlapping held bytes with different data */
};

struct ms_defrag *ms_defrag_new(const struct ms_limits *lim);
/* ip/len: one fragment. *events gets MS_DEFRAG_EV_* bits (0 when nothing
 * odd); an overlap with different data is reported once per datagram. */
enum ms_defrag_status ms_defrag_packet(struct ms_defrag *d, uint64_t ts_us, const uint8_t *ip,
                                       size_t len, const uint8_t **out, size_t *out_len,
                                       unsigned *events);
/* The anomaly (common/anomalies.def) one MS_DEFRAG_EV_* bit stands for;
 * its registry description is the event's detail. */
enum ms_anomaly ms_defrag_event_anomaly(unsigned ev);
/* Ends datagrams whose first fragment is older than the timeout. */
void ms_defrag_expire(struct ms_defrag *d, uint64_t now_us);
void ms_defrag_get_stats(const struct ms_defrag *d, struct ms_defrag_stats *st);
size_t ms_defrag_datagrams(const struct ms_defrag *d); /* in progress */
size_t ms_defrag_bytes(const struct ms_defrag *d);     /* fragment bytes held */
void ms_defrag_free(struct ms_defrag *d);

#endif
