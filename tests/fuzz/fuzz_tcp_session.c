/* Fuzz target for one TCP connection as a tap records it (capture/
 * tcp_session.c): the input is a byte 0 that picks the caps and the wait
 * window, then 8-byte records, one packet each:
 *
 *   [0] bit 0 direction, bits 1-4 SYN/FIN/RST/ACK, bit 5 no ACK number
 *   [1..2] sequence offset from the side's ISN (little endian)
 *   [3..4] ACK offset from the peer's ISN
 *   [5] payload length, [6..7] ignored
 *
 * Every payload byte is a function of its direction and sequence number,
 * so whatever order, overlap, duplicate, gap or mid-stream start the
 * records make, each delivered byte must be the one that belongs at its
 * sequence number (read back from the half, which has just moved past the
 * chunk). A wrong byte, or a crash, hang or leak in reassembly, conversation order,
 * the window or the flush, aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/tcp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISN_C 0xfffffc00u /* wraps within the first 1024 bytes */
#define ISN_S 0x7ffffff0u

struct check {
    const struct ms_tcp_session *s;
};

static uint8_t byte_at(unsigned dir, uint32_t seq)
{
    return (uint8_t)(seq * 131u + dir * 7u + (seq >> 8));
}

static void on_data(void *user, unsigned dir, const uint8_t *p, size_t n,
                    const struct ms_seg_meta *m)
{
    struct check *c = user;
    (void)m;
    uint32_t seq = c->s->dir[dir].next_seq - (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != byte_at(dir, seq + (uint32_t)i))
            abort();
    }
}

static void on_gap(void *user, unsigned dir, uint64_t missing, const struct ms_seg_meta *m)
{
    (void)user;
    (void)dir;
    (void)missing;
    (void)m;
}

static const struct ms_stream_ops ops = { on_data, on_gap, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ms_limits lim = ms_limits_default();
    uint8_t opt = data[0];
    lim.reasm_wait_pkts = (opt & 3u) == 0 ? 2048 : (opt & 3u) * 3;
    lim.reasm_max_flow = (opt & 4u) ? 4096 : 1u << 20;
    lim.reasm_max_total = (opt & 8u) ? 2048 : 1u << 24;
    lim.reasm_window = (opt & 16u) ? 0 : 64;
    lim.reasm_wait_us = (opt & 32u) ? 1000 : 10000000;
    struct ms_tcp_ctx ctx;
    ms_tcp_ctx_init(&ctx, &lim, &ops);
    struct check chk;
    memset(&chk, 0, sizeof(chk));
    struct ms_tcp_session s;
    ms_tcp_session_init(&s, &chk);
    chk.s = &s;
    /* Position 0 of each direction is the byte after its SYN. */
    const uint32_t isn[2] = { ISN_C, ISN_S };
    uint8_t payload[256];
    uint64_t pkt_no = 0;
    bool done = false;
    for (size_t at = 1; at + 8 <= size && !done; at += 8) {
        const uint8_t *r = data + at;
        unsigned dir = r[0] & 1u;
        uint16_t so = (uint16_t)(r[1] | r[2] << 8), ao = (uint16_t)(r[3] | r[4] << 8);
        struct ms_pkt p;
        memset(&p, 0, sizeof(p));
        p.tcp_flags = (uint8_t)(((r[0] & 2u) ? MS_TH_SYN : 0) | ((r[0] & 4u) ? MS_TH_FIN : 0) |
                                ((r[0] & 8u) ? MS_TH_RST : 0) | ((r[0] & 16u) ? MS_TH_ACK : 0));
        /* A SYN sits at the ISN; data at ISN + 1 + offset. */
        p.seq = (p.tcp_flags & MS_TH_SYN) ? isn[dir] : isn[dir] + 1u + so;
        p.ack = (r[0] & 32u) ? 0 : isn[dir ^ 1u] + 1u + ao;
        size_t n = r[5];
        uint32_t first = (p.tcp_flags & MS_TH_SYN) ? p.seq + 1u : p.seq;
        for (size_t i = 0; i < n; i++)
            payload[i] = byte_at(dir, first + (uint32_t)i);
        p.payload = payload;
        p.payload_len = n;
        p.ts_us = 1000000000ull + pkt_no * 100;
        struct ms_seg_meta m = { p.ts_us, ++pkt_no, NULL };
        if (ms_tcp_session_packet(&ctx, &s, dir, &p, &m) == MS_TCP_DONE)
            done = true;
        struct ms_tcp_session *o;
        while ((o = ms_tcp_ctx_overdue(&ctx, p.ts_us)))
            if (ms_tcp_session_expire(&ctx, o, &m, m.ts_us) == MS_TCP_DONE)
                done = true;
    }
    struct ms_seg_meta m = { 2000000000ull, pkt_no + 1, NULL };
    ms_tcp_session_flush(&ctx, &s, &m);
    ms_tcp_session_free(&ctx, &s);
    if (ctx.budget.used != 0 || ctx.budget.window_mem != 0 || !TAILQ_EMPTY(&ctx.waitq))
        abort();
    return 0;
}
