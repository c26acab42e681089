/* Fuzz target for the streaming base64 decoder (common/b64.c). Byte 0
 * seeds the cuts and picks the line width; the rest is used twice:
 *
 *   - as base64 text, decoded whole and again in input-chosen pieces: the
 *     decoder keeps its state between calls so that any cut gives the same
 *     bytes and the same count of invalid characters (MIME lines and SASL
 *     responses reach it in arbitrary pieces);
 *   - as raw bytes, encoded by OpenSSL (not by us), wrapped in lines, maybe
 *     without its padding: both the streaming and the strict one-shot
 *     decoder must give them back exactly, with nothing counted invalid.
 *
 * Each piece's output goes to an allocation of exactly MS_B64_OUT_MAX bytes,
 * so ASan catches the decoder writing past its documented bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "../../common/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest raw input round-tripped: enough for every padding and line case,
 * small enough to keep executions fast. */
#define ROUND_TRIP_MAX 4096

/* Piece lengths from a small PRNG seeded by byte 0: a seed keeps its cuts
 * while the fuzzer mutates the text. */
static size_t next_cut(uint32_t *st, size_t max)
{
    *st ^= *st << 13;
    *st ^= *st >> 17;
    *st ^= *st << 5;
    return *st % (max + 1);
}

/* Decodes in[0..n) in pieces (all of it at once when max_piece is n) into
 * out, which has room for n + 8 bytes; returns the count. */
static size_t decode_pieces(const uint8_t *in, size_t n, size_t max_piece, uint32_t seed,
                            uint8_t *out, uint64_t *invalid)
{
    struct ms_b64 s;
    size_t o = 0, at = 0;
    ms_b64_init(&s);
    while (at < n) {
        size_t k = max_piece >= n ? n : next_cut(&seed, max_piece);
        if (k > n - at)
            k = n - at;
        uint8_t *piece = malloc(MS_B64_OUT_MAX(k)); /* never 0: 2 for k = 0 */
        if (!piece)
            abort();
        size_t got = ms_b64_decode(&s, in + at, k, piece);
        if (got > MS_B64_OUT_MAX(k))
            abort();
        memcpy(out + o, piece, got);
        o += got;
        free(piece);
        at += k;
    }
    o += ms_b64_finish(&s, out + o);
    *invalid = s.invalid;
    return o;
}

static void split_invariance(const uint8_t *in, size_t n, uint8_t opt)
{
    /* Every output byte takes four characters' worth of sextets, whatever
     * the cuts: 3 * n / 4 bytes, plus the unpadded tail. */
    size_t cap = n + 8;
    uint8_t *whole = malloc(cap), *cut = malloc(cap);
    if (!whole || !cut)
        abort();
    uint64_t inv_whole, inv_cut;
    size_t nw = decode_pieces(in, n, n, 0, whole, &inv_whole);
    size_t nc = decode_pieces(in, n, (size_t)1 << (opt & 7u), 2463534242u ^ opt, cut, &inv_cut);
    if (nw != nc || memcmp(whole, cut, nw) != 0 || inv_whole != inv_cut)
        abort();
    free(whole);
    free(cut);
}

static void round_trip(const uint8_t *raw, size_t n, uint8_t opt)
{
    if (n > ROUND_TRIP_MAX)
        n = ROUND_TRIP_MAX;
    size_t elen = 4 * ((n + 2) / 3);
    uint8_t *enc = malloc(elen + 1);
    /* Lines of 4 to 76 characters, CRLF or LF, as RFC 2045 and SASL
     * clients write them. */
    size_t width = 4 * (size_t)(1 + (opt >> 3 & 15u)), text_cap = elen + 2 * (elen / width + 1);
    uint8_t *text = malloc(text_cap);
    uint8_t *out = malloc(text_cap + 8);
    uint8_t *strict = malloc(n ? n : 1); /* exactly n: ASan sees an overrun */
    if (!enc || !text || !out || !strict)
        abort();
    if (EVP_EncodeBlock(enc, raw, (int)n) != (int)elen)
        abort();
    /* Missing final padding is accepted (RFC 4648 3.2). */
    if (opt & 0x80)
        while (elen > 0 && enc[elen - 1] == '=')
            elen--;
    size_t tlen = 0;
    for (size_t at = 0; at < elen; at += width) {
        size_t k = elen - at < width ? elen - at : width;
        memcpy(text + tlen, enc + at, k);
        tlen += k;
        if (opt & 0x40)
            text[tlen++] = '\r';
        text[tlen++] = '\n';
    }
    uint64_t invalid;
    size_t got = decode_pieces(text, tlen, (size_t)1 << (opt & 7u), 88172645u ^ opt, out, &invalid);
    if (got != n || memcmp(out, raw, n) != 0 || invalid != 0)
        abort();
    size_t slen = 0;
    if (ms_b64_decode_buf(text, tlen, strict, n, &slen) != MS_OK || slen != n ||
        memcmp(strict, raw, n) != 0)
        abort();
    /* One byte short of room: refused as a limit, never overrun. */
    if (n > 0 && ms_b64_decode_buf(text, tlen, strict, n - 1, &slen) != MS_ERR_LIMIT)
        abort();
    free(enc);
    free(text);
    free(out);
    free(strict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    split_invariance(data + 1, size - 1, data[0]);
    round_trip(data + 1, size - 1, data[0]);
    return 0;
}
