/* A cap on bytes that several threads draw on at once (--threads: the
 * workers' --extract files, their --evidence buffers), so that a run with
 * N workers keeps what one thread keeps, not what a 1/N share allows. */
#ifndef MS_BUDGET_H
#define MS_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ms_budget {
    _Atomic uint64_t used;
    uint64_t max;
};

static inline void ms_budget_init(struct ms_budget *b, uint64_t max)
{
    atomic_init(&b->used, 0);
    b->max = max;
}

/* Takes n bytes if they fit under max; false (nothing taken) if not. */
static inline bool ms_budget_try(struct ms_budget *b, uint64_t n)
{
    uint64_t cur = atomic_load_explicit(&b->used, memory_order_relaxed);
    do {
        if (cur > b->max || n > b->max - cur)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&b->used, &cur, cur + n, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

/* Takes n bytes whatever the cap (what is held anyway: bookkeeping). */
static inline void ms_budget_add(struct ms_budget *b, uint64_t n)
{
    atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed);
}

static inline void ms_budget_sub(struct ms_budget *b, uint64_t n)
{
    atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

#endif
