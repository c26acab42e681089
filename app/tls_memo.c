#include "tls_memo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/lru.h"
#include "../common/siphash.h"

struct entry {
    struct ms_tls_server key;
    uint64_t flow_id, ts_us;
    struct entry *next; /* bucket chain */
    struct ms_lru_node lru;
};

struct ms_tls_memo {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t max;
    struct ms_lru lru;
    _Atomic uint64_t evicted; /* read by the stats while workers use the memo */
    uint8_t key[MS_SIPHASH_KEY_LEN];
    pthread_mutex_t mu; /* --threads: every worker's sessions use the one memo */
};

/* An IPv4 address uses 4 of the 16 bytes: the rest are zeroed, so that
 * they never tell two keys of one server apart. */
static struct ms_tls_server canon(const struct ms_tls_server *s)
{
    struct ms_tls_server k;
    memset(&k, 0, sizeof(k));
    k.ip_version = s->ip_version;
    memcpy(k.addr, s->addr, s->ip_version == 6 ? 16 : 4);
    k.port = s->port;
    k.proto = s->proto;
    return k;
}

static bool same(const struct ms_tls_server *a, const struct ms_tls_server *b)
{
    return a->ip_version == b->ip_version && a->port == b->port && a->proto == b->proto &&
           memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static struct entry **slot(struct ms_tls_memo *m, const struct ms_tls_server *k)
{
    uint8_t b[20]; /* the key's fields, without padding */
    b[0] = k->ip_version;
    memcpy(b + 1, k->addr, 16);
    memcpy(b + 17, &k->port, 2);
    b[19] = k->proto;
    uint64_t h = ms_siphash24(m->key, b, sizeof(b));
    return &m->buckets[h & (m->nbuckets - 1)];
}

static struct entry *find(struct ms_tls_memo *m, const struct ms_tls_server *k)
{
    for (struct entry *e = *slot(m, k); e; e = e->next) {
        if (same(&e->key, k))
            return e;
    }
    return NULL;
}

static void unlink_entry(struct ms_tls_memo *m, struct entry *e)
{
    struct entry **pp = slot(m, &e->key);
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    ms_lru_remove(&m->lru, &e->lru);
}

struct ms_tls_memo *ms_tls_memo_new(size_t max)
{
    struct ms_tls_memo *m = ms_calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->max = max ? max : 1;
    m->nbuckets = 1;
    while (m->nbuckets < m->max && m->nbuckets < ((size_t)1 << 20))
        m->nbuckets <<= 1;
    /* sizeof(*buckets) is meant: an array of pointers (as capture/flow.c). */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): see above */
    m->buckets = ms_calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        ms_free(m);
        return NULL;
    }
    ms_lru_init(&m->lru);
    ms_siphash_random_key(m->key);
    /* Adaptive, as the output's: held for a lookup by every session of
     * every worker, a contended mu slept in the kernel at once (a third
     * of the futex waits of --threads 2 on mail-full once the output's
     * records went by the batch). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&m->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    return m;
}

void ms_tls_memo_free(struct ms_tls_memo *m)
{
    if (!m)
        return;
    struct ms_lru_node *n;
    while ((n = ms_lru_oldest(&m->lru)) != NULL) {
        struct entry *e = MS_LRU_ENTRY(n, struct entry, lru);
        ms_lru_remove(&m->lru, n);
        ms_free(e);
    }
    pthread_mutex_destroy(&m->mu);
    ms_free(m->buckets);
    ms_free(m);
}

static enum ms_rc offered(struct ms_tls_memo *m, const struct ms_tls_server *s, uint64_t flow_id,
                          uint64_t ts_us)
{
    struct ms_tls_server k = canon(s);
    struct entry *e = find(m, &k);
    if (!e) {
        if (ms_lru_count(&m->lru) >= m->max) {
            struct entry *old = MS_LRU_ENTRY(ms_lru_oldest(&m->lru), struct entry, lru);
            unlink_entry(m, old);
            ms_free(old);
            atomic_fetch_add_explicit(&m->evicted, 1, memory_order_relaxed);
        }
        e = ms_calloc(1, sizeof(*e));
        if (!e)
            return MS_ERR_NOMEM;
        e->key = k;
        struct entry **b = slot(m, &k);
        e->next = *b;
        *b = e;
        ms_lru_push(&m->lru, &e->lru);
    } else {
        ms_lru_touch(&m->lru, &e->lru);
    }
    e->flow_id = flow_id;
    e->ts_us = ts_us;
    return MS_OK;
}

enum ms_rc ms_tls_memo_offered(struct ms_tls_memo *m, const struct ms_tls_server *s,
                               uint64_t flow_id, uint64_t ts_us)
{
    pthread_mutex_lock(&m->mu);
    enum ms_rc rc = offered(m, s, flow_id, ts_us);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static bool stripped(struct ms_tls_memo *m, const struct ms_tls_server *s, uint64_t *flow_id,
                     uint64_t *ts_us)
{
    struct ms_tls_server k = canon(s);
    struct entry *e = find(m, &k);
    if (!e)
        return false;
    *flow_id = e->flow_id;
    *ts_us = e->ts_us;
    /* One alert per offer: a server whose admin turned STARTTLS off would
     * otherwise raise one at every later session, naming the same old
     * offer. The next offer seen remembers the server again. */
    unlink_entry(m, e);
    ms_free(e);
    return true;
}

bool ms_tls_memo_stripped(struct ms_tls_memo *m, const struct ms_tls_server *s, uint64_t *flow_id,
                          uint64_t *ts_us)
{
    pthread_mutex_lock(&m->mu);
    bool yes = stripped(m, s, flow_id, ts_us);
    pthread_mutex_unlock(&m->mu);
    return yes;
}

size_t ms_tls_memo_count(const struct ms_tls_memo *m)
{
    return ms_lru_count(&m->lru);
}

uint64_t ms_tls_memo_evicted(const struct ms_tls_memo *m)
{
    return atomic_load_explicit(&m->evicted, memory_order_relaxed);
}
