/* See engine.h.
 *
 * Order: the reader numbers frames as one pipeline does (pcap_cnt), and
 * the packets it hands out in their order (seq: a frame's, and each of an
 * 802.11 A-MSDU's after the first counts one more), and gives every item
 * an order key: 2D+1 for packet D, 2D for what a worker is told before it
 * (the time, a new source, a stats request, the end), times
 * MS_THREADS_MAX plus the worker's index so that no two workers' keys are
 * equal: keys grow in the order the reader hands items out. Each worker
 * publishes the key of the item it is at (cur). A session about to use
 * the shared STARTTLS memo for a server waits until every other worker
 * that may still use it for that server before its key has done so
 * (memo_order): the memo then holds for that server what one thread would
 * have put there by then, so --threads gives the same stripping alerts.
 * Uses for different servers may come in another order: the memo keeps
 * servers apart, but for its cap (a memo past MS_TLS_MEMO_MAX may forget
 * another server than one thread would, as the flow caps split between
 * workers). A worker only waits for workers at a lower key, so the waits
 * cannot go round in a circle: the lowest key waits for no one.
 *
 * The reader's worker: reading files, worker 0 runs in the reader's thread
 * (on_reader): the reader hands it each of its items by a call, in the
 * order of the keys, so that all it has to do below a key is done before
 * the reader commits an item at that key to another worker's queue (which
 * publishes it: release/acquire). No other worker ever waits for it
 * (memo_order skips it; it keeps no gate), and it waits for the others as
 * any worker does. With a thread of its own it made three busy threads on
 * two cores, each preempted ~2,000 times a run. Live, the reader keeps its
 * thread to itself: it takes frames from the kernel's ring at once, and a
 * queue that cannot take one drops it (a call would hold the reader).
 *
 * Sharding: a flow goes to the worker of its lower endpoint (port, then
 * address): the server's, but for a server on a port above its clients'.
 * All of a server's sessions then mostly meet in one worker, which waits
 * for no other to use the memo for it. The reader's worker takes
 * MS_READER_WORKER_WEIGHT of the endpoints where each other worker takes
 * MS_WORKER_WEIGHT (its thread decodes and dispatches every frame too),
 * and the caps split in the same proportions.
 *
 * Time: every worker hears of every frame's time that could end something
 * in it (its own packets, and a header-only item for the others' frames:
 * tell_time), so timeouts happen at the frames they happen at with one
 * thread. Live, the wall clock's ticks are
 * passed on at most every MS_WORKER_WALL_TICK_US, and neither kind waits
 * for a full queue. */
#include "engine.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../capture/decode.h"
#include "../capture/flow.h"
#include "../common/alloc.h"
#include "../common/siphash.h"
#include "../output/output.h"
#include "../output/sink.h"
#include "tls_memo.h"
#include "workq.h"

enum item_kind {
    IT_FRAME = 1,
    IT_DATAGRAM,
    IT_DATAGRAM_MAC,
    IT_CLOCK,
    IT_WALL,
    IT_SOURCE,
    IT_STATS,
    IT_END
};

/* Fields written at every item or frame by one thread and read by another
 * sit on cache lines of their own: due and cur (the worker's) between
 * padding, the reader's per-frame fields in the engine apart from what the
 * workers read there. Padding, not _Alignas: the array of workers and the
 * engine come from calloc, which aligns to 16 bytes only (a review found
 * due at 16 mod 64). With cur beside the fields the reader reads at every
 * frame (q, disp, last_ts_us), every item's store took the line from the
 * reader: loads of that line were 28% of dispatch's samples at 2 threads.
 * The reader's per-frame fields of a worker are apart from those the
 * worker reads at every item too. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct worker {
    struct ms_engine *e;
    unsigned idx;
    struct ms_pipeline *pl;
    struct ms_output *port; /* reading files: its way to the output (NULL: the output) */
    struct ms_workq *q;
    pthread_t thread;
    bool started;
    bool on_reader; /* reading files: worker 0, run in the reader's thread (no q) */
    /* The memo's gate (memo_order), per endpoint slot of each table
     * (slot_of): the key of the last packet given to this worker with an
     * endpoint there (the reader's), and the worker's sessions whose
     * server is there (its own). */
    _Atomic uint64_t *disp;
    _Atomic uint32_t *live;
    /* The fields above are read by the worker at every item, those below
     * written by the reader at every frame: apart, or each frame moved
     * the line from one core to the other (perf: the worker's first load
     * after an item, of w->q, was half of worker_main's own samples). */
    uint8_t pad_before_reader[64];
    uint64_t last_ts_us; /* the reader's: capture time last told */
    /* The reader's: a time not told (the worker's clock would have ended
     * nothing), and its frame; told before a control item (tell_time). */
    bool untold;
    uint64_t untold_ts_us, untold_pkt_no;
    uint8_t pad_before_due[64];
    /* The worker's: ms_pipeline_worker_due after its last item (the reader
     * reads it at every frame). */
    _Atomic uint64_t due;
    uint8_t pad_after_due[64];
    /* The worker's: the order key of the item being handled (or last),
     * stored at every item, read by the other workers (memo_order). */
    _Atomic uint64_t cur;
    uint8_t pad_after_cur[64];
    struct ms_pipeline_stats snap; /* IT_STATS: the worker's counters */
};

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct ms_engine {
    /* Set before the workers start; the workers read them (memo_order,
     * memo_live). */
    unsigned n;
    bool live;
    struct worker *w;
    struct ms_tls_memo *memo; /* threads only: every worker's */
    uint8_t hash_key[MS_SIPHASH_KEY_LEN];
    struct ms_pipeline *reader;  /* threads only: decodes, reassembles IP, dispatches */
    unsigned w0_weight, weights; /* shard: worker 0's weight, and all workers' */
    uint8_t pad_before_reader[64];
    /* The reader's, written at every frame. */
    bool running;
    uint64_t pkt_no;        /* frames so far, as the pipelines count them */
    uint64_t seq;           /* packets handed out so far, as ordered (see the top) */
    uint64_t ts_us;         /* the latest frame's */
    uint64_t ts_max;        /* the latest of all frames' */
    bool tell_every_time;   /* live, or a frame's time went back (tell_time) */
    uint64_t last_wall_us;  /* live: the wall clock last passed on */
    struct ep_cache *eps;   /* the reader's: endpoint_hash's recent results */
    uint64_t last_flush_us; /* live: the workers last woken for what waits */
    unsigned target;        /* the worker of the frame being handled (n: none) */
    uint64_t drops;         /* live: packets a full queue had no room for */
    uint8_t pad_after_reader[64];
    /* IT_STATS: acknowledgements. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned acks;
};

/* ---- the workers ------------------------------------------------------ */

/* The reader's cache of endpoint hashes (dispatch hashes both endpoints
 * of every packet): direct-mapped on an unkeyed mix, each entry checked
 * whole, so chosen endpoints can only make it miss (a SipHash, as without
 * it), never give another endpoint's hash. */
struct ep_entry {
    uint64_t k[3]; /* the IP version and port, the address (k[0] 0: empty) */
    uint64_t h;
};
struct ep_cache {
    struct ep_entry e[MS_EP_CACHE_ENTRIES];
};

static uint64_t key_of(uint64_t base, unsigned idx)
{
    return base * MS_THREADS_MAX + idx;
}

static void handle(struct worker *w, const struct ms_work_item *it)
{
    const uint8_t *bytes = (const uint8_t *)(it + 1);
    switch (it->kind) {
    case IT_FRAME:
    case IT_DATAGRAM:
        ms_pipeline_worker_packet(w->pl, it->arg, it->ts_us, it->pkt_no, bytes, it->len,
                                  it->kind == IT_DATAGRAM, NULL);
        break;
    case IT_DATAGRAM_MAC: {
        /* The datagram, then its 802.11 addresses (see dispatch). */
        struct ms_link_addrs mac;
        size_t n = it->len - sizeof(mac);
        memcpy(&mac, bytes + n, sizeof(mac));
        ms_pipeline_worker_packet(w->pl, it->arg, it->ts_us, it->pkt_no, bytes, n, true, &mac);
        break;
    }
    case IT_CLOCK:
        ms_pipeline_worker_clock(w->pl, it->ts_us, it->pkt_no);
        break;
    case IT_WALL:
        ms_pipeline_tick(w->pl, it->ts_us);
        break;
    case IT_SOURCE:
        ms_pipeline_set_source_name(w->pl, it->ptr);
        ms_pipeline_set_offline(w->pl, it->arg != 0);
        break;
    case IT_STATS:
        if (w->port)
            ms_output_flush(w->port); /* its records before the stats event */
        ms_pipeline_own_stats(w->pl, &w->snap);
        pthread_mutex_lock(&w->e->mu);
        w->e->acks++;
        pthread_cond_signal(&w->e->cv);
        pthread_mutex_unlock(&w->e->mu);
        break;
    case IT_END:
        ms_pipeline_finish(w->pl);
        if (w->port)
            ms_output_flush(w->port); /* before the sinks close */
        /* Here, beside the other workers, not by the main thread after
         * every one of them (11 ms each). */
        ms_pipeline_free_classifier(w->pl);
        break;
    default:
        break;
    }
}

/* A due published holds until the worker's clock reaches it (it is one
 * for any packets to come: ms_pipeline_worker_due), so it is worked out
 * again only then: at every item, its loads of the oldest flow and the
 * first wait missed the cache (1.1% of a 2-thread run's samples). A due
 * that could have grown meanwhile only has the reader tell a time it
 * might have skipped. Once a frame's time goes back the worker's clock
 * may stay below the due for good: the reader then tells every time
 * (tell_every_time, which never goes back to false) and reads no due. */
static void publish_due(struct worker *w)
{
    uint64_t was = atomic_load_explicit(&w->due, memory_order_relaxed);
    if (ms_pipeline_worker_now(w->pl) < was)
        return;
    uint64_t due = ms_pipeline_worker_due(w->pl);
    if (due != was)
        atomic_store_explicit(&w->due, due, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        /* Out of packets for now: what its port holds goes out before it
         * waits (a pipe's next frame may be a while). */
        if (w->port && !ms_workq_ready(w->q))
            ms_output_flush(w->port);
        const struct ms_work_item *it = ms_workq_front(w->q);
        /* Release: what the items before did (live's counts, the memo's
         * uses) is seen by whoever sees this key (memo_order). */
        atomic_store_explicit(&w->cur, it->order, memory_order_release);
        bool end = it->kind == IT_END;
        handle(w, it);
        publish_due(w);
        ms_workq_release(w->q);
        if (end)
            return NULL;
    }
}

/* A keyed hash of one endpoint (the reader's key: an attacker picks
 * addresses and ports). */
static uint64_t endpoint_hash(const struct ms_engine *e, uint8_t ip_version, const uint8_t *addr,
                              uint16_t port)
{
    size_t alen = ip_version == 4 ? 4 : 16;
    uint8_t b[19];
    b[0] = ip_version;
    memcpy(b + 1, addr, alen);
    b[1 + alen] = (uint8_t)(port >> 8);
    b[2 + alen] = (uint8_t)port;
    return ms_siphash24(e->hash_key, b, 3 + alen);
}

/* An endpoint's slot in each of the gate's MS_MEMO_GATE_WAYS tables,
 * from bits of its hash apart from each other and from shard's (the top
 * 32): the index into disp and live. */
_Static_assert(MS_MEMO_GATE_WAYS <= 2 && MS_MEMO_GATE_SLOTS <= 65536 &&
                   (MS_MEMO_GATE_SLOTS & (MS_MEMO_GATE_SLOTS - 1)) == 0,
               "the gate's slots come from the low 32 bits of the hash, 16 per table");
static unsigned slot_of(uint64_t h, unsigned way)
{
    return way * MS_MEMO_GATE_SLOTS + (unsigned)((h >> (16 * way)) & (MS_MEMO_GATE_SLOTS - 1));
}

/* As endpoint_hash, through the reader's cache (its key compared as
 * three words: 130 -> 40 instructions a packet for both endpoints). */
static uint64_t endpoint_hash_cached(struct ms_engine *e, uint8_t ip_version, const uint8_t *addr,
                                     uint16_t port)
{
    uint64_t k[3] = { (uint64_t)ip_version | (uint64_t)port << 8, 0, 0 };
    uint32_t a4;
    if (ip_version == 4) {
        memcpy(&a4, addr, 4);
        k[1] = a4;
    } else {
        memcpy(&k[1], addr, 16);
        memcpy(&a4, addr + 12, 4);
    }
    uint32_t mix = (a4 ^ ((uint32_t)port << 16 | port)) * 0x9e3779b1u;
    struct ep_entry *en = &e->eps->e[mix >> (32 - MS_EP_CACHE_BITS)];
    if (en->k[0] != k[0] || en->k[1] != k[1] || en->k[2] != k[2]) {
        memcpy(en->k, k, sizeof(k));
        en->h = endpoint_hash(e, ip_version, addr, port);
    }
    return en->h;
}

/* Until worker o is at key or later, or has nothing queued. */
static void wait_for(struct worker *o, uint64_t key)
{
    for (unsigned spins = 0;
         atomic_load_explicit(&o->cur, memory_order_acquire) < key && !ms_workq_drained(o->q);
         spins++) {
        ms_workq_flush(o->q); /* it may sleep on a batch not yet signalled */
        if (spins < MS_WORKQ_SPINS) {
            sched_yield();
        } else {
            struct timespec ts = { 0, MS_MEMO_WAIT_SLEEP_NS };
            nanosleep(&ts, NULL);
        }
    }
}

/* The memo's order (see the top), before worker user's use of it for
 * server srv, at its key mine: each other worker o is waited for until it
 * can no longer use the memo for srv at a key below mine (the reader's
 * worker never can: it has done all it had below mine).
 *
 * o's uses for srv come from its sessions whose flow has srv as an
 * endpoint, which began at a packet with srv as an endpoint. The reader
 * stores each packet's key in disp of its worker at both its endpoints'
 * slots (in every table) before committing it, and keys grow in the order
 * it commits; this worker took its item at mine from its queue after that
 * commit (release/acquire), so each table's slot of srv, and t, the least
 * of them read below, is at least the key of o's last packet of srv below
 * mine (a later one, or another endpoint's, only makes t larger). When
 * t >= mine, o is waited for until it reaches mine, as if it held a
 * session of srv. Else every packet of srv o will have below mine is
 * at t or before: once o is past t (or drained: item t was committed
 * before this one), no session of srv can start in o below mine. o's
 * sessions whose server is in srv's slot are counted in live (in every
 * table) from their start (at a packet, before cur moves past it, with
 * release: seen here once cur is) until after their end, which may use
 * the memo at any item (a timeout, an eviction, the end of input): live 0
 * in any table means none is left,
 * and the decrement (release), after the last use, made that use visible
 * here. Else o is waited for until it reaches mine. A direction swap
 * moves a session's count to its new server's slot at a packet of the
 * flow, whose endpoints are both srv's and the old server's: a swap below
 * mine is seen once o is past t, one above mine comes after this use in
 * one thread's order too. Two servers sharing their slots only make this
 * wait more.
 *
 * Each use so sees every use for srv at a lower key, and none at a higher
 * one: a worker using the memo for srv later (at k > mine) finds this
 * session live in this worker, and waits until this worker reaches k. */
static void memo_order(void *user, const struct ms_tls_server *srv)
{
    const struct worker *me = user;
    const struct ms_engine *e = me->e;
    uint64_t mine = atomic_load(&me->cur);
    uint64_t h = endpoint_hash(e, srv->ip_version, srv->addr, srv->port);
    for (unsigned i = 0; i < e->n; i++) {
        struct worker *o = &e->w[i];
        if (o == me || o->on_reader)
            continue;
        uint64_t t = UINT64_MAX;
        for (unsigned way = 0; way < MS_MEMO_GATE_WAYS; way++) {
            uint64_t d = atomic_load_explicit(&o->disp[slot_of(h, way)], memory_order_relaxed);
            t = d < t ? d : t;
        }
        if (t < mine) {
            wait_for(o, t + 1);
            bool none = false;
            for (unsigned way = 0; way < MS_MEMO_GATE_WAYS; way++)
                none |= atomic_load_explicit(&o->live[slot_of(h, way)], memory_order_acquire) == 0;
            if (none)
                continue;
        }
        wait_for(o, mine);
    }
}

/* A session of flow f starts (+1) or has ended (-1) in worker user, or
 * its server changes (-1 before, +1 after). */
static void memo_live(void *user, const struct ms_flow *f, int delta)
{
    struct worker *w = user;
    if (w->on_reader)
        return; /* never waited for (memo_order) */
    uint64_t h = endpoint_hash(w->e, f->ip_version, f->srv_addr, f->srv_port);
    for (unsigned way = 0; way < MS_MEMO_GATE_WAYS; way++) {
        if (delta > 0)
            atomic_fetch_add_explicit(&w->live[slot_of(h, way)], 1, memory_order_release);
        else
            atomic_fetch_sub_explicit(&w->live[slot_of(h, way)], 1, memory_order_release);
    }
}

/* ---- the reader -------------------------------------------------------- */

static void flush_all(struct ms_engine *e)
{
    for (unsigned i = 0; i < e->n; i++) {
        if (e->w[i].q)
            ms_workq_flush(e->w[i].q);
    }
}

/* Room for an item of len bytes in worker w's queue; NULL when live and
 * full. Before the reader may wait, every worker is woken: one it waits
 * for may be waiting for another's batch. */
static struct ms_work_item *reserve(struct ms_engine *e, struct worker *w, uint32_t len,
                                    bool may_drop)
{
    struct ms_work_item *it = ms_workq_reserve(w->q, len, false);
    if (it)
        return it;
    if (may_drop)
        return NULL;
    flush_all(e);
    return ms_workq_reserve(w->q, len, true);
}

/* An item of kind without bytes, told as at frame pkt_no, with order base
 * (see the top); false when may_drop and w's queue is full. */
static bool send_item(struct ms_engine *e, struct worker *w, enum item_kind kind, uint64_t ts_us,
                      uint64_t pkt_no, int arg, const void *ptr, uint64_t base, bool may_drop)
{
    if (w->on_reader) { /* handled now, in the order of the keys (see the top) */
        struct ms_work_item here = { .kind = (uint8_t)kind,
                                     .arg = arg,
                                     .ts_us = ts_us,
                                     .pkt_no = pkt_no,
                                     .ptr = ptr,
                                     .order = key_of(base, w->idx) };
        atomic_store_explicit(&w->cur, here.order, memory_order_relaxed);
        handle(w, &here);
        publish_due(w);
        return true;
    }
    struct ms_work_item *it = reserve(e, w, 0, may_drop);
    if (!it)
        return false;
    it->kind = (uint8_t)kind;
    it->arg = arg;
    it->ts_us = ts_us;
    it->pkt_no = pkt_no;
    it->ptr = ptr;
    it->order = key_of(base, w->idx);
    ms_workq_commit(w->q, it);
    return true;
}

/* The time tell_time held back from w, told now with order base (at
 * least the key of what w was last given), as it would have been. */
static void tell_untold(struct ms_engine *e, struct worker *w, uint64_t base)
{
    if (!w->untold)
        return;
    w->untold = false;
    if (send_item(e, w, IT_CLOCK, w->untold_ts_us, w->untold_pkt_no, 0, NULL, base, false))
        w->last_ts_us = w->untold_ts_us;
}

/* One told before the next frame, waited for if need be; after the time
 * tell_time held back, which sets what the worker's end and stats carry. */
static void send_control(struct ms_engine *e, struct worker *w, enum item_kind kind, uint64_t ts_us,
                         int arg, const void *ptr)
{
    tell_untold(e, w, 2 * (e->seq + 1));
    (void)send_item(e, w, kind, ts_us, e->pkt_no, arg, ptr, 2 * (e->seq + 1), false);
}

/* The flow's worker: the hash of its lower endpoint (port, then address;
 * hs and hd: the source's and destination's), the same both ways, in
 * proportion to the workers' weights (the top 32 bits of the hash scaled
 * to their sum). */
static unsigned shard(const struct ms_engine *e, const struct ms_pkt *p, uint64_t hs, uint64_t hd)
{
    bool src_lower = p->sport != p->dport
                         ? p->sport < p->dport
                         : memcmp(p->src, p->dst, p->ip_version == 4 ? 4 : 16) <= 0;
    uint64_t x = ((src_lower ? hs : hd) >> 32) * e->weights >> 32; /* below weights */
    return x < e->w0_weight ? 0 : 1 + (unsigned)((x - e->w0_weight) / MS_WORKER_WEIGHT);
}

/* Every worker but except hears of the frame's time, as one pipeline's
 * flows would at this frame: a wait window or an idle flow then ends at
 * the same frame, and the next window starts at the same time, as with
 * one thread (noticed later, they gave other gaps and other stripping
 * alerts). Told before the frame's packet goes to its worker: a session
 * of that packet waiting for the others (memo_order) then waits for what
 * this time ends too. A time already told tells nothing new. Live, a full
 * queue skips it: the wall clock's ticks follow.
 *
 * Nor does a time before the worker's due (ms_pipeline_worker_due): while
 * frames' times never go back, its clock would end nothing then, whatever
 * the worker has yet to take from its queue, and its state is the same
 * told or not (such an item was one in two of a 2-thread reader's, 13% of
 * its instructions). Held back, the time is told before a control item
 * (send_control), for what the worker's end and stats carry, and when a
 * frame's time goes back (ms_engine_frame: from then on every time is
 * told, as the worker's flows may be out of time order). */
static void tell_time(struct ms_engine *e, unsigned except)
{
    for (unsigned i = 0; i < e->n; i++) {
        struct worker *w = &e->w[i];
        if (i == except || e->ts_us == w->last_ts_us)
            continue;
        if (!e->tell_every_time && e->ts_us < atomic_load_explicit(&w->due, memory_order_relaxed)) {
            if (!w->untold || w->untold_ts_us != e->ts_us) {
                w->untold = true;
                w->untold_ts_us = e->ts_us;
                w->untold_pkt_no = e->pkt_no;
            }
            continue;
        }
        w->untold = false;
        if (send_item(e, w, IT_CLOCK, e->ts_us, e->pkt_no, 0, NULL, 2 * e->seq, e->live))
            w->last_ts_us = e->ts_us;
    }
}

_Static_assert((MS_WORKER_QUEUE_MIN & (MS_WORKER_QUEUE_MIN - 1)) == 0 &&
                   MS_WORKQ_MAX_LEN(MS_WORKER_QUEUE_MIN) >=
                       MS_SNAPLEN_MAX + sizeof(struct ms_link_addrs),
               "any worker's queue takes a whole frame and a datagram's 802.11 addresses");
static void dispatch(void *user, const struct ms_pkt *p, uint64_t pkt_no, int linktype,
                     const uint8_t *bytes, size_t len, bool datagram)
{
    struct ms_engine *e = user;
    uint64_t hs = endpoint_hash_cached(e, p->ip_version, p->src, p->sport);
    uint64_t hd = endpoint_hash_cached(e, p->ip_version, p->dst, p->dport);
    struct worker *w = &e->w[shard(e, p, hs, hd)];
    if (e->target != e->n)
        e->seq++; /* the frame's second packet or later (an A-MSDU's) */
    e->target = w->idx;
    tell_time(e, w->idx);
    /* A datagram's 802.11 addresses are not in its bytes: they follow them
     * (a frame's are, and the worker decodes them again). */
    bool mac = datagram && p->mac.present;
    size_t total = len + (mac ? sizeof(p->mac) : 0);
    if (w->on_reader) { /* handled now, in the order of the keys (see the top) */
        atomic_store_explicit(&w->cur, key_of(2 * e->seq + 1, w->idx), memory_order_relaxed);
        /* A frame's packet as the reader decoded it (a datagram's is
         * decoded again, from its bytes, as a worker's queue gives them). */
        if (datagram)
            ms_pipeline_worker_packet(w->pl, linktype, p->ts_us, pkt_no, bytes, len, true,
                                      mac ? &p->mac : NULL);
        else
            ms_pipeline_worker_decoded(w->pl, linktype, pkt_no, p, bytes, len);
        publish_due(w);
        w->last_ts_us = p->ts_us;
        w->untold = false;
        return;
    }
    if (total > ms_workq_max_len(w->q))
        return; /* cannot be: frames are at most MS_SNAPLEN_MAX */
    struct ms_work_item *it = reserve(e, w, (uint32_t)total, e->live);
    if (!it) {
        e->drops++;
        return;
    }
    it->kind = mac ? IT_DATAGRAM_MAC : datagram ? IT_DATAGRAM : IT_FRAME;
    it->arg = linktype;
    it->ts_us = p->ts_us;
    it->pkt_no = pkt_no;
    it->ptr = NULL;
    it->order = key_of(2 * e->seq + 1, w->idx);
    /* Before the commit, which publishes them (memo_order). */
    for (unsigned way = 0; way < MS_MEMO_GATE_WAYS; way++) {
        atomic_store_explicit(&w->disp[slot_of(hs, way)], it->order, memory_order_relaxed);
        atomic_store_explicit(&w->disp[slot_of(hd, way)], it->order, memory_order_relaxed);
    }
    memcpy(it + 1, bytes, len);
    if (mac)
        memcpy((uint8_t *)(it + 1) + len, &p->mac, sizeof(p->mac));
    ms_workq_commit(w->q, it);
    w->last_ts_us = p->ts_us;
    w->untold = false;
}

/* ---- lifecycle --------------------------------------------------------- */

/* Worker i's share of the caps that bound the whole run, as of the flows
 * (shard; --extract's and --evidence's bytes are drawn from one cap:
 * common/budget.h). */
static struct ms_limits share(const struct ms_engine *e, const struct ms_limits *lim, unsigned i)
{
    struct ms_limits l = *lim;
    size_t w = i == 0 ? e->w0_weight : MS_WORKER_WEIGHT, all = e->weights;
#define SPLIT(f)                                                           \
    do {                                                                   \
        l.f = lim->f / all * w + lim->f % all * w / all; /* no overflow */ \
        if (l.f == 0)                                                      \
            l.f = 1;                                                       \
    } while (0)
    SPLIT(max_flows);
    SPLIT(flow_memcap);
    SPLIT(reasm_max_total);
    SPLIT(closed_flows_max);
#undef SPLIT
    return l;
}

struct ms_engine *ms_engine_new(const struct ms_limits *lim, struct ms_output *out,
                                unsigned nthreads, bool live)
{
    struct ms_engine *e = ms_calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->n = nthreads > 1 ? nthreads : 1;
    if (e->n > MS_THREADS_MAX)
        e->n = MS_THREADS_MAX;
    e->live = live;
    e->tell_every_time = live;
    bool w0_on_reader = e->n > 1 && !live; /* see the top */
    e->w0_weight = w0_on_reader ? MS_READER_WORKER_WEIGHT : MS_WORKER_WEIGHT;
    e->weights = e->w0_weight + (e->n - 1) * MS_WORKER_WEIGHT;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        ms_free(e);
        return NULL;
    }
    if (pthread_cond_init(&e->cv, NULL) != 0) {
        pthread_mutex_destroy(&e->mu);
        ms_free(e);
        return NULL;
    }
    e->w = ms_calloc(e->n, sizeof(*e->w));
    if (!e->w)
        goto fail;
    for (unsigned i = 0; i < e->n; i++) {
        e->w[i].e = e;
        e->w[i].idx = i;
        struct ms_limits wlim = share(e, lim, i);
        e->w[i].on_reader = i == 0 && w0_on_reader;
        /* Reading files, a worker's records go by the batch (output.h),
         * one thread's too (per event, it took the output's lock and the
         * sink queue's, shared with the sink's writer: pthread_mutex_unlock
         * was 1.5% of a mail-full run's samples; CPU 0.973 of before);
         * live, each at once. */
        if (!live) {
            e->w[i].port = ms_output_port_new(out);
            if (!e->w[i].port)
                goto fail;
        }
        e->w[i].pl = ms_pipeline_new(&wlim, e->w[i].port ? e->w[i].port : out);
        if (!e->w[i].pl)
            goto fail;
        /* Live, nDPI's module is ready before the first packet (built at
         * a first packet, it would hold a worker 20 ms while its queue
         * fills). Reading files, each worker builds its own if needed. */
        if (live && !ms_pipeline_build_classifier(e->w[i].pl))
            goto fail;
    }
    if (e->n == 1)
        return e;
    ms_siphash_random_key(e->hash_key);
    struct ms_dispatch d = { dispatch, e };
    e->reader = ms_pipeline_new_reader(lim, out, &d);
    e->memo = ms_tls_memo_new(MS_TLS_MEMO_MAX);
    e->eps = ms_calloc(1, sizeof(*e->eps));
    if (!e->reader || !e->memo || !e->eps)
        goto fail;
    ms_pipeline_share_memo(e->reader, e->memo, NULL, NULL, NULL); /* for its counter */
    size_t qbytes = live ? MS_WORKER_QUEUES_BYTES_LIVE / e->n : MS_WORKER_QUEUE_MIN;
    if (qbytes < MS_WORKER_QUEUE_MIN)
        qbytes = MS_WORKER_QUEUE_MIN;
    for (unsigned i = 0; i < e->n; i++) {
        ms_pipeline_share_memo(e->w[i].pl, e->memo, memo_order, memo_live, &e->w[i]);
        if (e->w[i].on_reader)
            continue;
        e->w[i].q = ms_workq_new(qbytes);
        e->w[i].disp = ms_calloc((size_t)MS_MEMO_GATE_WAYS * MS_MEMO_GATE_SLOTS,
                                 sizeof(*e->w[i].disp));
        e->w[i].live = ms_calloc((size_t)MS_MEMO_GATE_WAYS * MS_MEMO_GATE_SLOTS,
                                 sizeof(*e->w[i].live));
        if (!e->w[i].q || !e->w[i].disp || !e->w[i].live)
            goto fail;
    }
    return e;
fail:
    ms_engine_free(e);
    return NULL;
}

unsigned ms_engine_workers(const struct ms_engine *e)
{
    return e->n;
}

struct ms_pipeline *ms_engine_worker(struct ms_engine *e, unsigned i)
{
    return i < e->n ? e->w[i].pl : NULL;
}

enum ms_rc ms_engine_start(struct ms_engine *e, char *err, size_t errlen)
{
    if (e->n == 1)
        return MS_OK;
    /* Signals are the reader's (main.c's handlers); the workers block them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    enum ms_rc rc = MS_OK;
    for (unsigned i = 0; i < e->n && rc == MS_OK; i++) {
        if (e->w[i].on_reader) {
            e->w[i].started = true;
            continue;
        }
        int er = pthread_create(&e->w[i].thread, NULL, worker_main, &e->w[i]);
        if (er != 0) {
            unsigned own = e->w[0].on_reader ? 1 : 0; /* worker 0: no thread of its own */
            snprintf(err, errlen, "cannot start worker thread %u of %u: %s", i + 1 - own,
                     e->n - own, strerror(er));
            rc = MS_ERR_NOMEM;
        } else {
            e->w[i].started = true;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    e->running = true;
    if (rc != MS_OK)
        ms_engine_finish(e);
    return rc;
}

void ms_engine_set_wpa(struct ms_engine *e, struct ms_wpa *wpa)
{
    ms_pipeline_set_wpa(e->reader ? e->reader : e->w[0].pl, wpa);
}

void ms_engine_set_source(struct ms_engine *e, const char *name, bool offline)
{
    if (!e->running) {
        for (unsigned i = 0; i < e->n; i++) {
            ms_pipeline_set_source_name(e->w[i].pl, name);
            ms_pipeline_set_offline(e->w[i].pl, offline);
        }
    } else {
        for (unsigned i = 0; i < e->n; i++)
            send_control(e, &e->w[i], IT_SOURCE, e->ts_us, offline, name);
    }
    if (e->reader) {
        ms_pipeline_set_source_name(e->reader, name);
        ms_pipeline_set_offline(e->reader, offline);
    }
}

void ms_engine_frame(struct ms_engine *e, int linktype, uint64_t ts_us, const uint8_t *frame,
                     size_t caplen)
{
    if (!e->reader) {
        ms_pipeline_frame(e->w[0].pl, linktype, ts_us, frame, caplen);
        return;
    }
    e->pkt_no++;
    e->seq++;
    e->ts_us = ts_us;
    if (ts_us >= e->ts_max) {
        e->ts_max = ts_us;
    } else if (!e->tell_every_time) {
        e->tell_every_time = true; /* for good (tell_time) */
        for (unsigned i = 0; i < e->n; i++)
            tell_untold(e, &e->w[i], 2 * e->seq);
    }
    e->target = e->n;
    ms_pipeline_frame(e->reader, linktype, ts_us, frame, caplen);
    if (e->target == e->n)
        tell_time(e, e->n); /* no packet for a worker */
}

void ms_engine_tick(struct ms_engine *e, uint64_t wall_us)
{
    if (!e->reader) {
        ms_pipeline_tick(e->w[0].pl, wall_us);
        return;
    }
    /* Live: a sleeping worker is not left waiting for a whole batch of a
     * slow link's packets (1024 at 5 a second would be 3 minutes late). */
    if (wall_us < e->last_flush_us || wall_us - e->last_flush_us >= MS_WORKER_FLUSH_US) {
        e->last_flush_us = wall_us;
        flush_all(e);
    }
    if (wall_us > e->last_wall_us && wall_us - e->last_wall_us < MS_WORKER_WALL_TICK_US)
        return;
    e->last_wall_us = wall_us;
    /* Live only: a worker that is behind is not waited for. */
    for (unsigned i = 0; i < e->n; i++)
        (void)send_item(e, &e->w[i], IT_WALL, wall_us, e->pkt_no, 0, NULL, 2 * (e->seq + 1), true);
}

void ms_engine_idle(struct ms_engine *e)
{
    if (e->running)
        flush_all(e);
    /* Worker 0's records where it runs in this thread (one thread, or the
     * reader's worker): out before a wait. */
    if ((!e->reader || e->w[0].on_reader) && e->w[0].port)
        ms_output_flush(e->w[0].port);
}

void ms_engine_finish(struct ms_engine *e)
{
    if (!e->reader) {
        ms_pipeline_finish(e->w[0].pl);
        if (e->w[0].port)
            ms_output_flush(e->w[0].port);
        return;
    }
    if (!e->running)
        return;
    for (unsigned i = 0; i < e->n; i++) {
        if (e->w[i].started)
            send_control(e, &e->w[i], IT_END, e->ts_us, 0, NULL);
    }
    flush_all(e);
    for (unsigned i = 0; i < e->n; i++) {
        if (e->w[i].started && !e->w[i].on_reader)
            pthread_join(e->w[i].thread, NULL);
        e->w[i].started = false;
    }
    e->running = false;
}

/* Each worker's counters where it is now: asked in its queue's order when
 * it runs (the snapshot is taken between two of its items). */
static void worker_snapshots(struct ms_engine *e)
{
    if (!e->running) {
        for (unsigned i = 0; i < e->n; i++)
            ms_pipeline_own_stats(e->w[i].pl, &e->w[i].snap);
        return;
    }
    pthread_mutex_lock(&e->mu);
    e->acks = 0;
    pthread_mutex_unlock(&e->mu);
    for (unsigned i = 0; i < e->n; i++)
        send_control(e, &e->w[i], IT_STATS, e->ts_us, 0, NULL);
    flush_all(e);
    pthread_mutex_lock(&e->mu);
    while (e->acks < e->n)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

/* ms_engine_get_stats, the sinks synced (sync, when not NULL) after the
 * workers' snapshots, which hand over what their ports hold (one thread:
 * its port, emptied first). */
static void get_stats(struct ms_engine *e, const struct ms_capture_counters *kernel,
                      struct ms_pipeline_stats *st, struct ms_sinks *sync)
{
    struct ms_pipeline_stats part;
    struct ms_pipeline *first = e->reader ? e->reader : e->w[0].pl;
    if (!e->reader && e->w[0].port)
        ms_output_flush(e->w[0].port); /* one thread: as a worker's snapshot does */
    ms_pipeline_own_stats(first, st);
    if (e->reader) {
        worker_snapshots(e);
        for (unsigned i = 0; i < e->n; i++)
            ms_pipeline_stats_merge(st, &e->w[i].snap);
    }
    if (sync)
        ms_sinks_sync(sync);
    ms_pipeline_shared_stats(first, kernel, &part);
    ms_pipeline_stats_merge(st, &part);
    st->worker_drops = e->drops;
}

void ms_engine_get_stats(struct ms_engine *e, const struct ms_capture_counters *kernel,
                         struct ms_pipeline_stats *st)
{
    get_stats(e, kernel, st, NULL);
}

enum ms_rc ms_engine_emit_stats(struct ms_engine *e, const struct ms_capture_counters *kernel,
                                uint64_t ts_us, struct ms_sinks *sync)
{
    struct ms_pipeline_stats st;
    get_stats(e, kernel, &st, sync);
    return ms_pipeline_emit_these_stats(e->reader ? e->reader : e->w[0].pl, &st, kernel != NULL,
                                        ms_pipeline_has_evidence(e->w[0].pl), ts_us);
}

void ms_engine_free(struct ms_engine *e)
{
    if (!e)
        return;
    if (e->running)
        ms_engine_finish(e);
    for (unsigned i = 0; e->w && i < e->n; i++) {
        ms_pipeline_free(e->w[i].pl);
        ms_output_free(e->w[i].port); /* after its pipeline, which may write */
        ms_workq_free(e->w[i].q);
        ms_free(e->w[i].disp);
        ms_free(e->w[i].live);
    }
    ms_pipeline_free(e->reader);
    ms_tls_memo_free(e->memo); /* after the pipelines: their flows' ends use it */
    ms_free(e->eps);
    ms_free(e->w);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    ms_free(e);
}
