/* Fuzz target for the streaming quoted-printable decoder (common/qp.c).
 * Byte 0 seeds the cuts and picks the encoding's options; the rest is used
 * twice:
 *
 *   - as quoted-printable text, decoded whole and again in input-chosen
 *     pieces: a cut may fall inside "=XX", a soft break or a run of
 *     trailing blanks, and the decoder must hold just enough state to give
 *     the same bytes and the same invalid count as in one go;
 *   - as raw bytes, encoded by the harness in the most defensive way
 *     (everything but printable ASCII as "=XX", in either case, soft breaks
 *     every 76 characters, CRLF or LF): decoding must give them back.
 *
 * Each piece's output goes to an allocation of exactly MS_QP_OUT_MAX bytes,
 * so ASan catches the decoder writing past its documented bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/qp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest raw input round-tripped; keeps executions fast. */
#define ROUND_TRIP_MAX 4096

static size_t next_cut(uint32_t *st, size_t max)
{
    *st ^= *st << 13;
    *st ^= *st >> 17;
    *st ^= *st << 5;
    return *st % (max + 1);
}

/* What decoding has produced so far, checked against an expected result
 * as it comes, so no bound on the total output has to be assumed. */
struct expect {
    const uint8_t *want;
    size_t len, at;
};

static void take(struct expect *e, const uint8_t *p, size_t n)
{
    if (n > e->len - e->at || memcmp(e->want + e->at, p, n) != 0)
        abort();
    e->at += n;
}

/* Decodes in[0..n) in pieces of at most max_piece bytes, comparing the
 * output with e; returns the invalid count. */
static uint64_t decode_pieces(const uint8_t *in, size_t n, size_t max_piece, uint32_t seed,
                              struct expect *e)
{
    struct ms_qp s;
    size_t at = 0;
    ms_qp_init(&s);
    while (at < n) {
        size_t k = next_cut(&seed, max_piece);
        if (k > n - at)
            k = n - at;
        uint8_t *out = malloc(MS_QP_OUT_MAX(k));
        if (!out)
            abort();
        take(e, out, ms_qp_decode(&s, in + at, k, out));
        free(out);
        at += k;
    }
    uint8_t tail[MS_QP_HOLD];
    take(e, tail, ms_qp_finish(&s, tail));
    if (e->at != e->len)
        abort();
    return s.invalid;
}

static void split_invariance(const uint8_t *in, size_t n, uint8_t opt)
{
    struct ms_qp s;
    uint8_t *whole = malloc(MS_QP_OUT_MAX(n) + MS_QP_HOLD);
    if (!whole)
        abort();
    ms_qp_init(&s);
    size_t nw = ms_qp_decode(&s, in, n, whole);
    if (nw > MS_QP_OUT_MAX(n))
        abort();
    nw += ms_qp_finish(&s, whole + nw);
    struct expect e = { whole, nw, 0 };
    if (decode_pieces(in, n, (size_t)1 << (opt & 7u), 2463534242u ^ opt, &e) != s.invalid)
        abort();
    free(whole);
}

static void round_trip(const uint8_t *raw, size_t n, uint8_t opt)
{
    static const char hex_uc[] = "0123456789ABCDEF", hex_lc[] = "0123456789abcdef";
    const char *hex = (opt & 0x40) ? hex_lc : hex_uc;
    if (n > ROUND_TRIP_MAX)
        n = ROUND_TRIP_MAX;
    /* Three characters a byte, and a soft break (3 bytes) a line. */
    uint8_t *text = malloc(3 * n + 3 * (n / 24 + 1));
    if (!text)
        abort();
    size_t t = 0, line = 0;
    for (size_t i = 0; i < n; i++) {
        /* A line is at most 76 characters, the "=" of the break included
         * (RFC 2045 6.7 rule 5). */
        if (line + 3 > 75) {
            text[t++] = '=';
            if (opt & 0x80)
                text[t++] = '\r';
            text[t++] = '\n';
            line = 0;
        }
        uint8_t c = raw[i];
        if (c > ' ' && c < 0x7f && c != '=') {
            text[t++] = c;
            line++;
        } else {
            text[t++] = '=';
            text[t++] = (uint8_t)hex[c >> 4];
            text[t++] = (uint8_t)hex[c & 15];
            line += 3;
        }
    }
    struct expect e = { raw, n, 0 };
    if (decode_pieces(text, t, (size_t)1 << (opt >> 3 & 7u), 88172645u ^ opt, &e) != 0)
        abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    split_invariance(data + 1, size - 1, data[0]);
    round_trip(data + 1, size - 1, data[0]);
    return 0;
}
