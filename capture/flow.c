#include "flow.h"

#include "flow_recent.h"

#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/community_id.h"
#include "../common/siphash.h"

struct ms_flow_table {
    struct ms_flow **buckets;
    /* A power of two, doubled (flows rehashed) when the flows outnumber
     * it, up to max_buckets (max_flows'): a table sized for max_flows up
     * front (512 KiB at the default) made the bucket's load a cache miss
     * on most packets, with 2,000 flows in flight. */
    size_t nbuckets, max_buckets;
    size_t max_flows;
    uint64_t timeout_us;
    struct ms_lru lru; /* least recently used first */
    ms_flow_end_fn on_end;
    void *user;
    struct ms_flow_stats stats;
    /* The flow the last lookup found or made: consecutive packets are
     * often one flow's (39% of the mixed benchmark's, 23% of the
     * mail-heavy one's), and a match skips the tuple's hash. */
    struct ms_flow *last;
    struct ms_flow_recent *recent; /* created at the first flow that ends */
    size_t recent_max;
    /* Key of the bucket hash, random per table: tuples that collide
     * cannot be picked in advance (flow_id stays unkeyed: reproducible). */
    uint8_t hash_key[MS_SIPHASH_KEY_LEN];
};

/* FNV-1a, 64-bit: deterministic so flow ids are reproducible run to run. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The endpoints in one order whichever way the packet went, so that both
 * directions hash alike: version, lower address and port, higher ones. */
static size_t canonical_tuple(uint8_t ver, const uint8_t *a, uint16_t ap, const uint8_t *b,
                              uint16_t bp, uint8_t out[37])
{
    size_t alen = ver == 4 ? 4 : 16;
    ms_endpoint_order(alen, &a, &ap, &b, &bp);
    out[0] = ver;
    memcpy(out + 1, a, alen);
    memcpy(out + 1 + alen, &ap, 2);
    memcpy(out + 3 + alen, b, alen);
    memcpy(out + 3 + 2 * alen, &bp, 2);
    return 5 + 2 * alen;
}

/* The bucket (and ended-flow record) key: SipHash under the table's key. */
static uint64_t keyed_hash(const struct ms_flow_table *t, uint8_t ver, const uint8_t *a,
                           uint16_t ap, const uint8_t *b, uint16_t bp)
{
    uint8_t buf[37];
    size_t n = canonical_tuple(ver, a, ap, b, bp, buf);
    return ms_siphash24(t->hash_key, buf, n);
}

/* FNV-1a of the same canonical tuple, unkeyed, so that flow_id is the same
 * from run to run (the bytes hashed are those the sequential form took). */
static uint64_t tuple_hash(uint8_t ver, const uint8_t *a, uint16_t ap, const uint8_t *b,
                           uint16_t bp)
{
    uint8_t buf[37];
    size_t n = canonical_tuple(ver, a, ap, b, bp, buf);
    return fnv1a(0xcbf29ce484222325ull, buf, n);
}

struct ms_flow_table *ms_flow_table_new(size_t max_flows, uint64_t timeout_us, size_t recent_max,
                                        ms_flow_end_fn on_end, void *user)
{
    struct ms_flow_table *t = ms_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (max_flows == 0)
        max_flows = 1;
    t->nbuckets = MS_FLOW_MIN_BUCKETS;
    t->max_buckets = MS_FLOW_MIN_BUCKETS;
    while (t->max_buckets < max_flows && t->max_buckets < MS_FLOW_MAX_BUCKETS)
        t->max_buckets <<= 1;
    /* sizeof(*buckets) is meant: buckets is an array of pointers, each element a
     * pointer (the check expects an array of the structs themselves). */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): see above */
    t->buckets = ms_calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        ms_free(t);
        return NULL;
    }
    t->max_flows = max_flows;
    t->timeout_us = timeout_us;
    t->recent_max = recent_max;
    ms_siphash_random_key(t->hash_key);
    ms_lru_init(&t->lru);
    t->on_end = on_end;
    t->user = user;
    return t;
}

/* The least recently used flow, NULL when there is none. */
static struct ms_flow *lru_oldest(const struct ms_flow_table *t)
{
    struct ms_lru_node *n = ms_lru_oldest(&t->lru);
    return n ? MS_LRU_ENTRY(n, struct ms_flow, lru) : NULL;
}

/* Records an ended connection (flow_recent.h); cli: its client half, for a
 * SYN's ISN, or NULL. */
static void remember(struct ms_flow_table *t, uint64_t key, uint64_t ts_us,
                     const struct ms_tcp_half *cli)
{
    if (!t->recent)
        t->recent = ms_flow_recent_new(t->recent_max, t->timeout_us);
    if (!t->recent)
        return;
    ms_flow_recent_add(t->recent, key, ts_us);
    if (cli && cli->syn)
        ms_flow_recent_set_isn(t->recent, key, cli->isn);
}

/* A flow's bucket and ended-flow record key, hashed again at its end
 * rather than kept (8 bytes a flow, against one hash a flow). */
static uint64_t flow_key(const struct ms_flow_table *t, const struct ms_flow *f)
{
    return keyed_hash(t, f->ip_version, f->cli_addr, f->cli_port, f->srv_addr, f->srv_port);
}

static void end_flow(struct ms_flow_table *t, struct ms_flow *f, enum ms_flow_end_reason why)
{
    f->end_reason = (uint8_t)why;
    if (t->last == f)
        t->last = NULL;
    uint64_t key = flow_key(t, f);
    struct ms_flow **link = &t->buckets[key & (t->nbuckets - 1)];
    while (*link && *link != f)
        link = &(*link)->hnext;
    if (*link)
        *link = f->hnext;
    ms_lru_remove(&t->lru, &f->lru);
    t->stats.active--;
    t->stats.ended++;
    if (t->on_end)
        t->on_end(t->user, f);
    /* A flow without payload leaves nothing that could come late: only a
     * SYN or payload opens a flow. One dropped for lack of memory may have
     * lost its first packet. */
    if (why != MS_FLOW_END_SHUTDOWN && why != MS_FLOW_END_TIMEOUT &&
        (f->payload_dirs || why == MS_FLOW_END_NOMEM) && t->recent_max > 0)
        remember(t, key, f->last_ts_us, &f->tcp.dir[MS_TO_SERVER]);
    ms_free(f->mac);
    ms_free(f);
}

void ms_flow_end(struct ms_flow_table *t, struct ms_flow *f)
{
    end_flow(t, f, MS_FLOW_END_CLOSED);
}

void ms_flow_drop(struct ms_flow_table *t, struct ms_flow *f, const struct ms_pkt *p)
{
    end_flow(t, f, p->payload_len > 0 ? MS_FLOW_END_NOMEM : MS_FLOW_END_CLOSED);
}

/* a and b hold the same address of alen bytes (4 or 16), compared with
 * constant lengths: inline loads, no memcmp call per lookup. */
static inline bool same_addr(const uint8_t *a, const uint8_t *b, size_t alen)
{
    return alen == 4 ? memcmp(a, b, 4) == 0 : memcmp(a, b, 16) == 0;
}

static bool same_endpoints(const struct ms_flow *f, const struct ms_pkt *p, enum ms_dir *dir)
{
    size_t alen = p->ip_version == 4 ? 4 : 16;
    if (f->ip_version != p->ip_version)
        return false;
    if (f->cli_port == p->sport && f->srv_port == p->dport &&
        same_addr(f->cli_addr, p->src, alen) && same_addr(f->srv_addr, p->dst, alen)) {
        *dir = MS_TO_SERVER;
        return true;
    }
    if (f->cli_port == p->dport && f->srv_port == p->sport &&
        same_addr(f->cli_addr, p->dst, alen) && same_addr(f->srv_addr, p->src, alen)) {
        *dir = MS_TO_CLIENT;
        return true;
    }
    return false;
}

/* Ports that only a mail server listens on (IANA): the other side is the
 * client whatever its port. */
static bool mail_port(uint16_t port)
{
    switch (port) {
    case 25:
    case 110:
    case 143:
    case 465:
    case 587:
    case 993:
    case 995:
    case 2525:
    case 4190:
        return true;
    default:
        return false;
    }
}

/* Who is the client: the sender of a bare SYN, the receiver of a SYN-ACK;
 * mid-connection, the side not on a mail port, else the side with the
 * ephemeral (>= 1024, then higher) port. */
static bool sender_is_client(const struct ms_pkt *p, uint8_t *source)
{
    bool syn = p->tcp_flags & MS_TH_SYN, ack = p->tcp_flags & MS_TH_ACK;
    if (syn && !ack) {
        *source = MS_FLOW_DIR_SYN;
        return true;
    }
    if (syn && ack) {
        *source = MS_FLOW_DIR_SYNACK;
        return false;
    }
    *source = MS_FLOW_DIR_PORTS;
    if (mail_port(p->dport) != mail_port(p->sport))
        return mail_port(p->dport);
    if ((p->sport < 1024) != (p->dport < 1024))
        return p->dport < 1024;
    return p->sport >= p->dport;
}

/* A bare SYN on a flow that was closing, or silent for MS_FLOW_REUSE_IDLE_US
 * (its FIN or RST not captured), other than a retransmission of the SYN
 * that opened it: the ports were reused for a new connection. */
static bool is_port_reuse(const struct ms_flow *f, const struct ms_pkt *p, enum ms_dir dir)
{
    if ((p->tcp_flags & (MS_TH_SYN | MS_TH_ACK | MS_TH_RST)) != MS_TH_SYN)
        return false;
    bool idle = p->ts_us > f->last_ts_us && p->ts_us - f->last_ts_us >= MS_FLOW_REUSE_IDLE_US;
    if (!ms_tcp_session_closing(&f->tcp) && !idle)
        return false;
    /* A side never seen before opens its part of this connection (a tap
     * recorded the server's whole reply before the client's SYN). */
    const struct ms_tcp_half *h = &f->tcp.dir[dir];
    return h->started && !(h->syn && h->isn == p->seq);
}

/* How much a flow is worth keeping: the directions that carried payload
 * (0, 1 or 2). */
static unsigned keep_rank(const struct ms_flow *f)
{
    return (f->payload_dirs & 1u) + ((f->payload_dirs >> 1) & 1u);
}

/* The flow to evict, never keep: among the MS_FLOW_EVICT_SCAN least
 * recently used flows, the one of lowest keep_rank, the least recently
 * used among equals (the idea of Suricata's emergency mode, whose
 * timeouts end handshake-only flows soonest). Half-open flows of a SYN
 * flood go first, and a live session is not evicted while such flows sit
 * near the tail; a table full of live sessions loses its LRU tail as before. The
 * scan is bounded, so eviction stays O(1). NULL: nothing but keep. */
static struct ms_flow *evict_victim(const struct ms_flow_table *t, const struct ms_flow *keep)
{
    struct ms_flow *best = NULL;
    unsigned best_rank = 3, seen = 0;
    for (struct ms_lru_node *n = ms_lru_oldest(&t->lru); n && seen < MS_FLOW_EVICT_SCAN;
         n = ms_lru_newer(n)) {
        struct ms_flow *f = MS_LRU_ENTRY(n, struct ms_flow, lru);
        if (f == keep)
            continue;
        seen++;
        unsigned r = keep_rank(f);
        if (r < best_rank) {
            best = f;
            best_rank = r;
            if (r == 0)
                break;
        }
    }
    return best;
}

/* Twice the buckets, every flow moved to its new one; out of memory, the
 * table stays as it is (longer chains, nothing lost). */
static void grow(struct ms_flow_table *t)
{
    size_t n = t->nbuckets * 2;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    struct ms_flow **nb = ms_calloc(n, sizeof(*nb));
    if (!nb)
        return;
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct ms_flow *f = t->buckets[b];
        while (f) {
            struct ms_flow *next = f->hnext;
            size_t to = flow_key(t, f) & (n - 1);
            f->hnext = nb[to];
            nb[to] = f;
            f = next;
        }
    }
    ms_free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

struct ms_flow *ms_flow_lookup(struct ms_flow_table *t, const struct ms_pkt *p, bool create,
                               enum ms_dir *dir, bool *created)
{
    *created = false;
    struct ms_flow *last = t->last;
    if (last && same_endpoints(last, p, dir) && !is_port_reuse(last, p, *dir)) {
        last->last_ts_us = p->ts_us;
        ms_lru_touch(&t->lru, &last->lru);
        return last;
    }
    uint64_t key = keyed_hash(t, p->ip_version, p->src, p->sport, p->dst, p->dport);
    size_t b = key & (t->nbuckets - 1);
    for (struct ms_flow *f = t->buckets[b]; f; f = f->hnext) {
        if (same_endpoints(f, p, dir)) {
            if (is_port_reuse(f, p, *dir)) {
                t->stats.reused++;
                end_flow(t, f, MS_FLOW_END_REUSED);
                break;
            }
            f->last_ts_us = p->ts_us;
            ms_lru_touch(&t->lru, &f->lru);
            t->last = f;
            return f;
        }
    }
    if (!create)
        return NULL;
    if (t->recent && ms_flow_recent_hit(t->recent, key, p->ts_us)) {
        /* A SYN opens a new connection, unless it is a late copy of the
         * ended one's (its SYN, or its SYN-ACK). */
        uint32_t isn;
        bool syn = p->tcp_flags & MS_TH_SYN, ack = p->tcp_flags & MS_TH_ACK;
        bool copy = syn && ms_flow_recent_isn(t->recent, key, &isn) &&
                    (ack ? p->ack == isn + 1 : p->seq == isn);
        if (!syn || copy) {
            t->stats.late_packets++;
            return NULL;
        }
        ms_flow_recent_forget(t->recent, key);
    }
    if (t->stats.active >= t->max_flows && lru_oldest(t)) {
        t->stats.evicted++;
        end_flow(t, evict_victim(t, NULL), MS_FLOW_END_EVICTED);
    }
    struct ms_flow *f = ms_calloc(1, sizeof(*f));
    if (!f) {
        /* The packet is lost to its connection: with payload, it is
         * remembered as ended (ms_flow_drop), so that a later packet does
         * not start it with these bytes missing unseen. */
        t->stats.nomem++;
        if (p->payload_len > 0 && t->recent_max > 0)
            remember(t, key, p->ts_us, NULL);
        return NULL;
    }
    f->ip_version = p->ip_version;
    size_t alen = p->ip_version == 4 ? 4 : 16;
    if (sender_is_client(p, &f->dir_source)) {
        memcpy(f->cli_addr, p->src, alen);
        memcpy(f->srv_addr, p->dst, alen);
        f->cli_port = p->sport;
        f->srv_port = p->dport;
        *dir = MS_TO_SERVER;
    } else {
        memcpy(f->cli_addr, p->dst, alen);
        memcpy(f->srv_addr, p->src, alen);
        f->cli_port = p->dport;
        f->srv_port = p->sport;
        *dir = MS_TO_CLIENT;
    }
    if (p->mac.present && (f->mac = ms_malloc(sizeof(*f->mac))) != NULL) {
        *f->mac = p->mac;
        if (*dir == MS_TO_CLIENT) {
            memcpy(f->mac->src, p->mac.dst, MS_MAC_LEN);
            memcpy(f->mac->dst, p->mac.src, MS_MAC_LEN);
        }
    }
    f->first_ts_us = f->last_ts_us = p->ts_us;
    /* Suricata's flow_id is a positive 51-bit-safe integer (JSON numbers
     * above 2^53 lose precision in many consumers). */
    uint64_t h = tuple_hash(f->ip_version, f->cli_addr, f->cli_port, f->srv_addr, f->srv_port);
    h = fnv1a(h, &f->first_ts_us, sizeof(f->first_ts_us));
    f->flow_id = h & ((1ull << 51) - 1);
    if (f->flow_id == 0) /* 0 means "no flow" to the output */
        f->flow_id = 1;
    ms_tcp_session_init(&f->tcp, NULL);
    f->hnext = t->buckets[b];
    t->buckets[b] = f;
    t->last = f;
    ms_lru_push(&t->lru, &f->lru);
    t->stats.created++;
    t->stats.active++;
    if (t->stats.active > t->nbuckets && t->nbuckets < t->max_buckets)
        grow(t);
    if (t->stats.active > t->stats.peak)
        t->stats.peak = t->stats.active;
    *created = true;
    return f;
}

bool ms_flow_table_evict_lru(struct ms_flow_table *t, const struct ms_flow *keep)
{
    struct ms_flow *f = evict_victim(t, keep);
    if (!f)
        return false;
    t->stats.evicted++;
    end_flow(t, f, MS_FLOW_END_EVICTED);
    return true;
}

void ms_flow_swap(struct ms_flow_table *t, struct ms_flow *f)
{
    uint8_t a[16];
    memcpy(a, f->cli_addr, sizeof(a));
    memcpy(f->cli_addr, f->srv_addr, sizeof(a));
    memcpy(f->srv_addr, a, sizeof(a));
    uint16_t port = f->cli_port;
    f->cli_port = f->srv_port;
    f->srv_port = port;
    ms_tcp_session_swap(&f->tcp);
    if (f->mac) {
        uint8_t mac[MS_MAC_LEN];
        memcpy(mac, f->mac->src, MS_MAC_LEN);
        memcpy(f->mac->src, f->mac->dst, MS_MAC_LEN);
        memcpy(f->mac->dst, mac, MS_MAC_LEN);
    }
    f->payload_dirs = (uint8_t)(((f->payload_dirs & 1u) << 1) | ((f->payload_dirs >> 1) & 1u));
    /* The hash is symmetric: the flow stays in its bucket. */
    f->swapped = true;
    t->stats.swapped++;
}

void ms_flow_table_expire(struct ms_flow_table *t, uint64_t now_us)
{
    struct ms_flow *f;
    while ((f = lru_oldest(t)) && now_us > f->last_ts_us &&
           now_us - f->last_ts_us > t->timeout_us) {
        t->stats.timed_out++;
        end_flow(t, f, MS_FLOW_END_TIMEOUT);
    }
}

uint64_t ms_flow_table_next_due(const struct ms_flow_table *t)
{
    const struct ms_flow *f = lru_oldest(t);
    if (!f || f->last_ts_us > UINT64_MAX - 1 - t->timeout_us)
        return UINT64_MAX;
    return f->last_ts_us + t->timeout_us + 1;
}

void ms_flow_table_end_all(struct ms_flow_table *t)
{
    /* Oldest first, so events come out roughly in capture order. */
    struct ms_flow *f;
    while ((f = lru_oldest(t)))
        end_flow(t, f, MS_FLOW_END_SHUTDOWN);
}

size_t ms_flow_table_longest_chain(const struct ms_flow_table *t)
{
    size_t best = 0;
    for (size_t b = 0; b < t->nbuckets; b++) {
        size_t n = 0;
        for (const struct ms_flow *f = t->buckets[b]; f; f = f->hnext)
            n++;
        best = n > best ? n : best;
    }
    return best;
}

const struct ms_flow_stats *ms_flow_table_stats(const struct ms_flow_table *t)
{
    return &t->stats;
}

void ms_flow_table_free(struct ms_flow_table *t)
{
    if (!t)
        return;
    ms_flow_table_end_all(t);
    ms_flow_recent_free(t->recent);
    ms_free(t->buckets);
    ms_free(t);
}
