/* A small intrusive recency list (least recently used first out), on
 * <sys/queue.h> TAILQ: the flow table (capture/flow.c) and IP fragment
 * reassembly (capture/defrag.c) both keep one. An object embeds a struct
 * ms_lru_node and is reached back with MS_LRU_ENTRY. O(1) everything; no
 * allocation. A node is linked in at most one list at a time; unlinked
 * nodes are not touched. */
#ifndef MS_LRU_H
#define MS_LRU_H

#include <stddef.h>
#include <sys/queue.h>

struct ms_lru_node {
    TAILQ_ENTRY(ms_lru_node) link; /* the head side is the oldest */
};

struct ms_lru {
    TAILQ_HEAD(ms_lru_q, ms_lru_node) q;
    size_t count;
};

/* The object that embeds node n as its member m. */
#define MS_LRU_ENTRY(n, type, m) ((type *)(void *)((char *)(n)-offsetof(type, m)))

static inline void ms_lru_init(struct ms_lru *l)
{
    TAILQ_INIT(&l->q);
    l->count = 0;
}

/* Links n as the newest. */
static inline void ms_lru_push(struct ms_lru *l, struct ms_lru_node *n)
{
    TAILQ_INSERT_TAIL(&l->q, n, link);
    l->count++;
}

static inline void ms_lru_remove(struct ms_lru *l, struct ms_lru_node *n)
{
    TAILQ_REMOVE(&l->q, n, link);
    l->count--;
}

/* n was used now: it becomes the newest. */
static inline void ms_lru_touch(struct ms_lru *l, struct ms_lru_node *n)
{
    /* Already the newest (a flow's next packet): moving it would write its
     * neighbour's node, another object's cache line, for nothing. */
    if (TAILQ_NEXT(n, link) == NULL)
        return;
    TAILQ_REMOVE(&l->q, n, link);
    TAILQ_INSERT_TAIL(&l->q, n, link);
}

/* NULL when empty. */
static inline struct ms_lru_node *ms_lru_oldest(const struct ms_lru *l)
{
    /* The analyser, freeing the oldest node after ms_lru_remove, misses that
     * TAILQ_REMOVE stored its successor in tqh_first through the node's
     * tqe_prev (which points at tqh_first for the first node): the head
     * read here never holds a freed node. */
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, see above */
    return TAILQ_FIRST(&l->q);
}

static inline struct ms_lru_node *ms_lru_newest(const struct ms_lru *l)
{
    return TAILQ_LAST(&l->q, ms_lru_q);
}

/* The next more recently used node, NULL after the newest. */
static inline struct ms_lru_node *ms_lru_newer(const struct ms_lru_node *n)
{
    return TAILQ_NEXT(n, link);
}

static inline size_t ms_lru_count(const struct ms_lru *l)
{
    return l->count;
}

#endif
