/* Community ID v1 (https://github.com/corelight/community-id-spec): a flow
 * hash that Suricata, Zeek and others log as `community_id`, so that records
 * of one flow can be joined across tools by plain string comparison. */
#ifndef MS_COMMUNITY_ID_H
#define MS_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "rc.h"

/* "1:" + 28 base64 chars of a SHA-1 digest + NUL is 31; 32 keeps it even. */
#define MS_COMMUNITY_ID_LEN 32

/* Community ID v1 ("1:" + base64 of SHA-1) of a flow, as Suricata and Zeek
 * compute it. The result is the same whichever endpoint is passed as source.
 *
 * saddr/daddr hold 4 (ip_version 4) or 16 (ip_version 6) bytes in network
 * order. What sport/dport mean depends on proto, as in the spec:
 *   TCP (6), UDP (17), SCTP (132): the ports, host order.
 *   ICMP (1), ICMPv6 (58): the message type and code; request/reply types
 *     are paired as Zeek does, other types are hashed one-way (unordered).
 *   any other protocol: ignored; the hash covers addresses and proto only.
 * The seed is 0 unless the operator set one in Suricata/Zeek to match.
 *
 * MS_ERR_ARG on a NULL pointer or an ip_version other than 4 or 6;
 * MS_ERR_LIMIT if outlen < 31 (out then holds "" when outlen > 0). */
/* Puts two endpoints (addresses of alen bytes, network order) in the
 * spec's canonical order: the smaller address first, bytewise, the smaller
 * port first when the addresses are equal. The flow table keys a
 * connection's two directions alike by the same order, and the JSON
 * writer its memo of ids. */
static inline void ms_endpoint_order(size_t alen, const uint8_t **a, uint16_t *ap,
                                     const uint8_t **b, uint16_t *bp)
{
    int c = memcmp(*a, *b, alen);
    if (c > 0 || (c == 0 && *ap > *bp)) {
        const uint8_t *t = *a;
        uint16_t tp = *ap;
        *a = *b;
        *b = t;
        *ap = *bp;
        *bp = tp;
    }
}

enum ms_rc ms_community_id_v1(uint16_t seed, uint8_t ip_version, const uint8_t *saddr,
                              const uint8_t *daddr, uint8_t proto, uint16_t sport, uint16_t dport,
                              char *out, size_t outlen);

#endif
