/* Fuzz target for IP fragment reassembly (capture/defrag.c), IPv4 and
 * IPv6, against its promises: every datagram handed back is bounded (65535
 * bytes of IPv4, or of IPv6 payload), has the header of a first fragment
 * with its length fields and checksum right, and carries, at every offset,
 * the byte the first fragment to arrive there put (README "IP fragments");
 * the memory held stays within frag_max_datagrams and frag_max_bytes.
 *
 * Byte 0: bits 0-1 frag_max_datagrams (4096, 3, 1, 0), bit 2
 * frag_max_bytes 600, bit 3 frag_max_per_datagram 3, bit 4 a timeout of
 * 5 ms. Then 5-byte records, each one fragment:
 *
 *   r[0] bit 0 IPv6; bits 1-2 which of four datagram ids; bit 3 more
 *        fragments; bit 5 captured one byte short; bits 6-7 IPv4 options
 *        (0, 4, 8, 40 bytes) or IPv6 extension headers before the
 *        fragment header (0-3);
 *   r[1..2] fragment offset in 8-byte units (13 bits, little endian);
 *   r[3] payload length, the payload following from the input;
 *   r[4] milliseconds since the previous fragment.
 *
 * With r[0] bit 4 the record is raw instead: r[3] + 256 * (r[1] & 1)
 * bytes from the input handed over as they are (any header, any damage),
 * their source address forced out of the built fragments' key space.
 *
 * The model keeps, per datagram key, the fragments defrag took. A datagram
 * may also end unseen (timeout, eviction, a cap): after any of those, the
 * next fragment taken may start a new one, so the check accepts the bytes
 * of any such possible start, and only those. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/defrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS 8       /* 2 versions x 4 ids */
#define MAX_RECS 256 /* fragments remembered per key */
#define NH_DATA 17   /* the protocol (IPv6: next header) of the built datagrams */

struct rec {
    uint32_t off, len;
    const uint8_t *p;
    size_t hdr_len; /* unfragmentable part: IPv4 header, IPv6 header + extensions */
    bool more;
    bool may_start; /* a datagram of this key may have ended just before */
};

struct key_model {
    struct rec recs[MAX_RECS];
    size_t n;
    bool overflow;  /* more than MAX_RECS: no check until the next datagram */
    uint64_t ended; /* datagram ends (of any key) counted at the last record */
};

static struct key_model K[KEYS];
static uint8_t paint[65536 + 512];
static bool painted[65536 + 512];

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Ends of datagrams defrag does not announce: expired, evicted, dropped
 * (a cap, too large; also fragments refused, which only adds starts). */
static uint64_t ends(const struct ms_defrag *d)
{
    struct ms_defrag_stats st;
    ms_defrag_get_stats(d, &st);
    return st.timeouts + st.evicted + st.dropped;
}

/* What any datagram handed back must be, built or raw. */
static void check_shape(const uint8_t *p, size_t n)
{
    if (n < 1)
        abort();
    if (p[0] >> 4 == 4) {
        size_t ihl = (size_t)(p[0] & 15u) * 4;
        if (n > 65535 || n < 20 || ihl < 20 || ihl > n || be16(p + 2) != n)
            abort();
        if ((p[6] & 0x3f) != 0 || p[7] != 0) /* MF and offset cleared */
            abort();
        uint32_t acc = 0; /* RFC 1071: the header sums to 0xffff */
        for (size_t i = 0; i < ihl; i += 2)
            acc += be16(p + i);
        while (acc >> 16)
            acc = (acc & 0xffffu) + (acc >> 16);
        if (acc != 0xffffu)
            abort();
    } else if (p[0] >> 4 == 6) {
        if (n < 40 || n - 40 > 65535 || be16(p + 4) != n - 40)
            abort();
    } else {
        abort();
    }
}

/* Whether out is what the fragments of km from index k on make: the
 * first fragment at offset 0 gives the header, the first last fragment
 * the end, and the first arrival at each offset its byte. */
static bool matches_from(const struct key_model *km, size_t k, const uint8_t *out, size_t n)
{
    const struct rec *first = NULL, *last = NULL;
    for (size_t j = k; j < km->n; j++) {
        if (!first && km->recs[j].off == 0)
            first = &km->recs[j];
        if (!last && !km->recs[j].more)
            last = &km->recs[j];
    }
    if (!first || !last)
        return false;
    size_t end = last->off + last->len;
    if (n != first->hdr_len + end)
        return false;
    memset(painted, 0, end);
    for (size_t j = k; j < km->n; j++) {
        const struct rec *r = &km->recs[j];
        if (r->off + r->len > end)
            return false;
        for (size_t i = 0; i < r->len; i++) {
            if (!painted[r->off + i]) {
                painted[r->off + i] = true;
                paint[r->off + i] = r->p[i];
            }
        }
    }
    for (size_t o = 0; o < end; o++)
        if (!painted[o] || out[first->hdr_len + o] != paint[o])
            return false;
    if (out[0] >> 4 == 4)
        return out[0] == (0x40 | first->hdr_len / 4) && out[9] == NH_DATA;
    /* IPv6: the byte that named the fragment header names the data. */
    size_t nh_off = first->hdr_len == 40 ? 6 : first->hdr_len - 8;
    return out[nh_off] == NH_DATA;
}

static void check_datagram(const struct key_model *km, const uint8_t *out, size_t n)
{
    if (km->overflow)
        return;
    for (size_t k = 0; k < km->n; k++)
        if ((k == 0 || km->recs[k].may_start) && matches_from(km, k, out, n))
            return;
    abort();
}

/* Builds fragment r of key key into b (room for 40 + 24 + 8 + 255 bytes);
 * returns its IP length and the unfragmentable part's length. */
static size_t build(uint8_t *b, const uint8_t *r, unsigned key, const uint8_t *pl, size_t n,
                    size_t *hdr_len)
{
    static const size_t v4_opts[4] = { 0, 4, 8, 40 };
    unsigned units = (unsigned)(r[1] | r[2] << 8) & 0x1fffu, ext = r[0] >> 6;
    bool more = (r[0] & 0x08) != 0;
    size_t h;
    if (!(r[0] & 1)) {
        h = 20 + v4_opts[ext];
        memset(b, 1, h); /* options: NOP */
        b[0] = (uint8_t)(0x40 | h / 4);
        b[1] = 0;
        put16(b + 2, (unsigned)(h + n));
        put16(b + 4, 0x1000 + key);
        put16(b + 6, (more ? 0x2000u : 0) | units);
        b[8] = 64;
        b[9] = NH_DATA;
        put16(b + 10, 0);
        memcpy(b + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    } else {
        h = 40 + 8 * ext;
        memset(b, 0, h + 8);
        b[0] = 0x60;
        put16(b + 4, (unsigned)(h - 40 + 8 + n));
        b[6] = ext ? 0 : 44; /* hop-by-hop first, then destination options */
        b[7] = 64;
        b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 1;
        b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = 2;
        for (unsigned i = 0; i < ext; i++)
            b[40 + 8 * i] = i + 1 < ext ? 60 : 44;
        b[h] = NH_DATA;
        put16(b + h + 2, units << 3 | (more ? 1u : 0));
        put16(b + h + 4, 1);
        put16(b + h + 6, key);
        h += 8;
    }
    memcpy(b + h, pl, n);
    *hdr_len = (r[0] & 1) ? h - 8 : h;
    return h + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_dgrams[4] = { 4096, 3, 1, 0 };
    if (size < 1)
        return 0;
    struct ms_limits lim = ms_limits_default();
    lim.frag_max_datagrams = max_dgrams[data[0] & 3u];
    if (data[0] & 4)
        lim.frag_max_bytes = 600;
    if (data[0] & 8)
        lim.frag_max_per_datagram = 3;
    if (data[0] & 16)
        lim.frag_timeout_us = 5000;
    struct ms_defrag *d = ms_defrag_new(&lim);
    if (!d)
        return 0;
    memset(K, 0, sizeof(K));
    uint64_t ts = 1000000;
    size_t at = 1;
    while (at + 5 <= size) {
        const uint8_t *r = data + at;
        at += 5;
        ts += (uint64_t)r[4] * 1000;
        bool raw = (r[0] & 0x10) != 0;
        size_t n = raw ? (size_t)(r[3] | (r[1] & 1) << 8) : r[3];
        if (n > size - at)
            n = size - at;
        const uint8_t *pl = data + at;
        at += n;
        unsigned key = (r[0] & 1) * 4 + (r[0] >> 1 & 3u);
        size_t hdr_len = 0, len;
        /* Exact size: ASan sees any read past the captured bytes. */
        uint8_t *b = malloc(raw ? (n ? n : 1) : 40 + 24 + 8 + n);
        if (!b)
            abort();
        if (raw) {
            memcpy(b, pl, n);
            len = n;
            if (n >= 20 && b[0] >> 4 == 4)
                b[12] = 192;
            else if (n >= 40 && b[0] >> 4 == 6)
                b[8] = 0xfe;
        } else {
            len = build(b, r, key, pl, n, &hdr_len);
            if ((r[0] & 0x20) && len > 0)
                len--;
        }
        const uint8_t *out;
        size_t out_len;
        unsigned ev;
        enum ms_defrag_status st = ms_defrag_packet(d, ts, b, len, &out, &out_len, &ev);
        uint64_t now_ends = ends(d);
        if (st == MS_DEFRAG_DONE)
            check_shape(out, out_len);
        struct key_model *km = &K[key];
        bool taken = st == MS_DEFRAG_DONE || (st == MS_DEFRAG_HELD && !(ev & MS_DEFRAG_EV_INVALID));
        if (!raw && taken) {
            if (km->n == MAX_RECS) {
                km->overflow = true;
            } else {
                struct rec *rc = &km->recs[km->n++];
                rc->off = ((unsigned)(r[1] | r[2] << 8) & 0x1fffu) * 8;
                rc->len = (uint32_t)n;
                rc->p = pl;
                rc->hdr_len = hdr_len;
                rc->more = (r[0] & 0x08) != 0;
                rc->may_start = now_ends != km->ended;
            }
            km->ended = now_ends;
            if (st == MS_DEFRAG_DONE) {
                check_datagram(km, out, out_len);
                memset(km, 0, sizeof(*km));
                km->ended = now_ends;
            }
        }
        if (ms_defrag_datagrams(d) > lim.frag_max_datagrams ||
            ms_defrag_bytes(d) > lim.frag_max_bytes)
            abort();
        free(b);
    }
    ms_defrag_free(d);
    return 0;
}
