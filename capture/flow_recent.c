#include "flow_recent.h"

#include <stdlib.h>

#include "../common/alloc.h"

#define NONE UINT32_MAX

/* An entry is on its bucket's chain and on the age list (oldest first)
 * while used, on the free list otherwise. */
struct entry {
    uint64_t key;
    uint64_t ts_us;
    uint32_t next;         /* bucket chain */
    uint32_t older, newer; /* age list; newer doubles as the free list's link */
    uint32_t isn;
    bool has_isn;
};

struct ms_flow_recent {
    struct entry *e;
    uint32_t *bucket;
    size_t max, nbuckets; /* nbuckets: a power of two >= 2 * max */
    uint32_t oldest, newest, free;
    size_t count;
    uint64_t ttl_us;
};

struct ms_flow_recent *ms_flow_recent_new(size_t max, uint64_t ttl_us)
{
    if (max == 0)
        max = 1;
    if (max > (size_t)1 << 28)
        max = (size_t)1 << 28;
    struct ms_flow_recent *r = ms_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->max = max;
    r->ttl_us = ttl_us;
    r->nbuckets = 2;
    while (r->nbuckets < 2 * max)
        r->nbuckets <<= 1;
    r->e = ms_malloc(max * sizeof(*r->e));
    r->bucket = ms_malloc(r->nbuckets * sizeof(*r->bucket));
    if (!r->e || !r->bucket) {
        ms_flow_recent_free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->nbuckets; i++)
        r->bucket[i] = NONE;
    for (size_t i = 0; i < max; i++)
        r->e[i].newer = i + 1 < max ? (uint32_t)(i + 1) : NONE;
    r->free = 0;
    r->oldest = r->newest = NONE;
    return r;
}

static void age_unlink(struct ms_flow_recent *r, uint32_t idx)
{
    struct entry *x = &r->e[idx];
    if (x->older != NONE)
        r->e[x->older].newer = x->newer;
    else
        r->oldest = x->newer;
    if (x->newer != NONE)
        r->e[x->newer].older = x->older;
    else
        r->newest = x->older;
}

static void age_push(struct ms_flow_recent *r, uint32_t idx)
{
    struct entry *x = &r->e[idx];
    x->older = r->newest;
    x->newer = NONE;
    if (r->newest != NONE)
        r->e[r->newest].newer = idx;
    else
        r->oldest = idx;
    r->newest = idx;
}

static void drop(struct ms_flow_recent *r, uint32_t idx)
{
    struct entry *x = &r->e[idx];
    uint32_t *link = &r->bucket[x->key & (r->nbuckets - 1)];
    while (*link != NONE && *link != idx)
        link = &r->e[*link].next;
    if (*link == idx)
        *link = x->next;
    age_unlink(r, idx);
    x->newer = r->free;
    r->free = idx;
    r->count--;
}

static struct entry *find(struct ms_flow_recent *r, uint64_t key, uint32_t *idx)
{
    for (uint32_t i = r->bucket[key & (r->nbuckets - 1)]; i != NONE; i = r->e[i].next) {
        if (r->e[i].key == key) {
            *idx = i;
            return &r->e[i];
        }
    }
    return NULL;
}

enum ms_rc ms_flow_recent_add(struct ms_flow_recent *r, uint64_t key, uint64_t now_us)
{
    uint32_t idx;
    struct entry *x = find(r, key, &idx);
    if (x) {
        x->ts_us = now_us;
        age_unlink(r, idx);
        age_push(r, idx);
        return MS_OK;
    }
    if (r->free == NONE)
        drop(r, r->oldest);
    idx = r->free;
    x = &r->e[idx];
    r->free = x->newer;
    x->key = key;
    x->ts_us = now_us;
    x->has_isn = false;
    uint32_t *head = &r->bucket[key & (r->nbuckets - 1)];
    x->next = *head;
    *head = idx;
    age_push(r, idx);
    r->count++;
    return MS_OK;
}

bool ms_flow_recent_hit(struct ms_flow_recent *r, uint64_t key, uint64_t now_us)
{
    uint32_t idx;
    struct entry *x = find(r, key, &idx);
    if (!x)
        return false;
    if (now_us > x->ts_us && now_us - x->ts_us > r->ttl_us) {
        drop(r, idx);
        return false;
    }
    if (now_us > x->ts_us)
        x->ts_us = now_us;
    return true;
}

void ms_flow_recent_set_isn(struct ms_flow_recent *r, uint64_t key, uint32_t isn)
{
    uint32_t idx;
    struct entry *x = find(r, key, &idx);
    if (x) {
        x->isn = isn;
        x->has_isn = true;
    }
}

bool ms_flow_recent_isn(struct ms_flow_recent *r, uint64_t key, uint32_t *isn)
{
    uint32_t idx;
    struct entry *x = find(r, key, &idx);
    if (!x || !x->has_isn)
        return false;
    *isn = x->isn;
    return true;
}

void ms_flow_recent_forget(struct ms_flow_recent *r, uint64_t key)
{
    uint32_t idx;
    if (find(r, key, &idx))
        drop(r, idx);
}

size_t ms_flow_recent_count(const struct ms_flow_recent *r)
{
    return r ? r->count : 0;
}

size_t ms_flow_recent_mem(const struct ms_flow_recent *r)
{
    return r ? sizeof(*r) + r->max * sizeof(*r->e) + r->nbuckets * sizeof(*r->bucket) : 0;
}

void ms_flow_recent_free(struct ms_flow_recent *r)
{
    if (!r)
        return;
    ms_free(r->e);
    ms_free(r->bucket);
    ms_free(r);
}
