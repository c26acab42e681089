/* STARTTLS stripping: which servers offered STARTTLS/STLS (itself, not
 * IMAP's LOGINDISABLED, which a stripping proxy may leave) in the clear,
 * so that a later session of the same server (address, port, protocol)
 * whose capability listing was seen whole without it raises an alert
 * naming both sessions. A man in the middle
 * that removes the offer makes the client log in in the clear.
 *
 * Bounded: at most max servers, the least recently seen forgotten past it
 * (an LRU on common/lru.h). A forgotten server raises no alert: memory is
 * the only evidence there is. Keys are hashed with SipHash under a random
 * key (an attacker picks addresses and ports). One memo per run, which
 * every worker thread uses (--threads): thread-safe, but for
 * ms_tls_memo_count (tests). */
#ifndef MS_TLS_MEMO_H
#define MS_TLS_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

struct ms_tls_server {
    uint8_t ip_version; /* 4 or 6 */
    uint8_t addr[16];   /* network order; the first 4 bytes for IPv4 */
    uint16_t port;
    uint8_t proto; /* enum ms_proto */
};

struct ms_tls_memo;

/* NULL when out of memory; max 0 is taken as 1. */
struct ms_tls_memo *ms_tls_memo_new(size_t max);
void ms_tls_memo_free(struct ms_tls_memo *m);

/* A session of s that ended at ts_us offered STARTTLS: s is remembered
 * with this session (the latest one that offered it). MS_ERR_NOMEM: not
 * remembered. */
enum ms_rc ms_tls_memo_offered(struct ms_tls_memo *m, const struct ms_tls_server *s,
                               uint64_t flow_id, uint64_t ts_us);
/* A session of s listed its capabilities whole without the offer: true
 * when s is remembered as having offered it, with that session's flow id
 * and end time. s is then forgotten (one alert per offer): later stripped
 * sessions raise none until s is seen offering STARTTLS again. */
bool ms_tls_memo_stripped(struct ms_tls_memo *m, const struct ms_tls_server *s, uint64_t *flow_id,
                          uint64_t *ts_us);
size_t ms_tls_memo_count(const struct ms_tls_memo *m);
/* Servers forgotten to stay within max, so far. */
uint64_t ms_tls_memo_evicted(const struct ms_tls_memo *m);

#endif
