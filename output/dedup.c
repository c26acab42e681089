/* The --dedup table (output/dedup.h): a chained hash table of entries
 * keyed by a keyed digest, on a recency list for eviction. */
#include "dedup.h"

#include <string.h>

#include "../common/alloc.h"
#include "../common/lru.h"
#include "../common/sha256.h"
#include "../common/siphash.h"
#include "output.h"

#define DIGEST_LEN 16
#define KEY_LEN 32
#define MAX_BUCKETS ((size_t)1 << 16)

struct entry {
    struct entry *hnext;
    struct ms_lru_node lru;
    uint8_t digest[DIGEST_LEN]; /* of the fields: never the fields themselves */
    uint64_t report_us;         /* the last report: its period starts here */
    uint64_t suppressed;        /* since that report */
    uint64_t first_us, last_us; /* of the suppressed ones */
};

struct ms_dedup {
    uint64_t period_us;
    size_t max_entries, nbuckets;
    struct entry **buckets;
    struct ms_lru lru;
    uint8_t key[KEY_LEN]; /* random per run: digests cannot be computed outside */
    struct ms_dedup_stats st;
};

struct ms_dedup *ms_dedup_new(uint64_t period_us, size_t max_entries)
{
    struct ms_dedup *d = ms_calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->period_us = period_us;
    d->max_entries = max_entries;
    d->nbuckets = 16;
    while (d->nbuckets < max_entries && d->nbuckets < MAX_BUCKETS)
        d->nbuckets <<= 1;
    d->buckets = ms_calloc(d->nbuckets, sizeof(struct entry *));
    if (!d->buckets) {
        ms_free(d);
        return NULL;
    }
    ms_lru_init(&d->lru);
    ms_siphash_random_key(d->key);
    ms_siphash_random_key(d->key + MS_SIPHASH_KEY_LEN);
    return d;
}

/* A field with its length first, so that ("ab", "c") and ("a", "bc")
 * differ; absent fields (NULL) differ from empty ones. */
static void put(struct ms_sha256 *h, const void *p, size_t n)
{
    uint8_t hdr[9];
    uint64_t len = p ? (uint64_t)n : UINT64_MAX;
    hdr[0] = p != NULL;
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (uint8_t)(len >> (8 * i));
    ms_sha256_update(h, hdr, sizeof(hdr));
    if (p && n)
        ms_sha256_update(h, p, n);
}

static void put_str(struct ms_sha256 *h, const char *s)
{
    put(h, s, s ? strlen(s) : 0);
}

static void put_bytes(struct ms_sha256 *h, struct ms_bytes b)
{
    put(h, b.p, b.len);
}

/* The digest of what makes two alerts the same: server, protocol,
 * mechanism (its own signature), user, secret, outcome. */
static void digest(const struct ms_dedup *d, const struct ms_flow_meta *m,
                   const struct ms_event *ev, uint8_t out[DIGEST_LEN])
{
    const struct ms_ev_credential *c = &ev->u.cred;
    struct ms_sha256 h;
    ms_sha256_init(&h);
    ms_sha256_update(&h, d->key, sizeof(d->key));
    uint8_t v = m->ip_version;
    put(&h, &v, 1);
    put(&h, m->dest_addr, m->dest_addr ? (m->ip_version == 6 ? 16 : 4) : 0);
    uint8_t port[2] = { (uint8_t)(m->dest_port >> 8), (uint8_t)m->dest_port };
    put(&h, port, 2);
    put_str(&h, ev->app_proto);
    put_str(&h, c->command);
    put_str(&h, c->mechanism);
    put_bytes(&h, c->username);
    put_bytes(&h, c->authzid);
    put_bytes(&h, c->password);
    put_bytes(&h, c->token);
    put_bytes(&h, c->response);
    uint8_t oc = (uint8_t)c->outcome;
    put(&h, &oc, 1);
    uint8_t full[MS_SHA256_LEN];
    ms_sha256_final(&h, full);
    memcpy(out, full, DIGEST_LEN);
}

static size_t bucket_of(const struct ms_dedup *d, const uint8_t dg[DIGEST_LEN])
{
    uint64_t x;
    memcpy(&x, dg, sizeof(x));
    return (size_t)(x & (d->nbuckets - 1));
}

static void unlink_entry(struct ms_dedup *d, struct entry *e)
{
    struct entry **pp = &d->buckets[bucket_of(d, e->digest)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    ms_lru_remove(&d->lru, &e->lru);
    d->st.entries--;
}

/* The table is full: the least recently seen entry goes. Its unreported
 * repeats stay in st.unreported. */
static void evict_one(struct ms_dedup *d)
{
    struct ms_lru_node *n = ms_lru_oldest(&d->lru);
    if (!n)
        return;
    struct entry *e = MS_LRU_ENTRY(n, struct entry, lru);
    unlink_entry(d, e);
    ms_free(e);
    d->st.evicted++;
}

bool ms_dedup_check(struct ms_dedup *d, const struct ms_flow_meta *m, const struct ms_event *ev,
                    struct ms_dedup_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    if (ev->kind != MS_EV_CREDENTIAL)
        return true;
    uint8_t dg[DIGEST_LEN];
    digest(d, m, ev, dg);
    uint64_t now = m->ts_us;
    size_t b = bucket_of(d, dg);
    struct entry *e = d->buckets[b];
    while (e && memcmp(e->digest, dg, DIGEST_LEN) != 0)
        e = e->hnext;
    if (!e) {
        if (d->st.entries >= d->max_entries)
            evict_one(d);
        e = ms_calloc(1, sizeof(*e));
        if (!e)
            return true; /* reported, as if the table were off */
        memcpy(e->digest, dg, DIGEST_LEN);
        e->report_us = now;
        e->hnext = d->buckets[b];
        d->buckets[b] = e;
        ms_lru_push(&d->lru, &e->lru);
        d->st.entries++;
        return true;
    }
    ms_lru_touch(&d->lru, &e->lru);
    /* Within the period, either way: a capture clock that went back a
     * little (files read out of order) is within; one that went back a
     * period or more (a folder of older captures, a clock stepped back)
     * starts a new one, or repeats days apart would never be reported. */
    uint64_t apart = now >= e->report_us ? now - e->report_us : e->report_us - now;
    if (apart < d->period_us) {
        if (e->suppressed++ == 0)
            e->first_us = now;
        e->last_us = now;
        d->st.suppressed++;
        d->st.unreported++;
        return false;
    }
    rep->suppressed = e->suppressed;
    rep->first_us = e->first_us;
    rep->last_us = e->last_us;
    d->st.unreported -= e->suppressed;
    e->suppressed = 0;
    e->report_us = now;
    return true;
}

uint64_t ms_dedup_period_us(const struct ms_dedup *d)
{
    return d->period_us;
}

void ms_dedup_get_stats(const struct ms_dedup *d, struct ms_dedup_stats *st)
{
    *st = d->st;
}

void ms_dedup_foreach_block(const struct ms_dedup *d,
                            void (*fn)(void *user, const void *p, size_t n), void *user)
{
    fn(user, d, sizeof(*d));
    for (const struct ms_lru_node *n = ms_lru_oldest(&d->lru); n; n = ms_lru_newer(n))
        fn(user, MS_LRU_ENTRY(n, struct entry, lru), sizeof(struct entry));
}

void ms_dedup_free(struct ms_dedup *d)
{
    if (!d)
        return;
    struct ms_lru_node *n;
    while ((n = ms_lru_oldest(&d->lru))) {
        struct entry *e = MS_LRU_ENTRY(n, struct entry, lru);
        ms_lru_remove(&d->lru, n);
        ms_free(e);
    }
    ms_free(d->buckets);
    explicit_bzero(d->key, sizeof(d->key));
    ms_free(d);
}
