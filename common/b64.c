/* Streaming base64 decoder, RFC 4648 §4 alphabet, RFC 2045 §6.8 leniency. */
#include "b64.h"

#include <stdbool.h>
#include <string.h>

#define B64_SKIP 0xfe /* whitespace */
#define B64_BAD 0xff  /* outside the alphabet */
#define B64_PAD 0xfd  /* '=' */

/* Value of each byte: a sextet (0-63), or one of the markers above. A
 * table, so the hot loop is four loads and an OR per quantum. */
#define S B64_SKIP
#define X B64_BAD
#define P B64_PAD
/* clang-format off */
static const uint8_t b64_val[256] = {
     X,  X,  X,  X,  X,  X,  X,  X,  X,  S,  S,  X,  X,  S,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     S,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, 62,  X,  X,  X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  X,  X,  X,  P,  X,  X,
     X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,  X,  X,  X,  X,  X,
     X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
     X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
/* clang-format on */
#undef S
#undef X
#undef P

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define B64_WORDS 1
/* The same values, placed where a quantum's bytes go in a little-endian
 * word: byte 0 = a << 2 | b >> 4, byte 1 = b << 4 | c >> 2, byte 2 =
 * c << 6 | d; every byte outside the alphabet sets bit 24. OR-ing one
 * entry of each table decodes four characters (the technique of
 * Chromium's modp_b64): about half the instructions of shifting the four
 * sextets into place. */
#define B64_SEXTET(c)                            \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'      \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 \
     : (c) == '+'               ? 62             \
     : (c) == '/'               ? 63             \
                                : 64) /* outside */
#define B64_OUTSIDE 0x01000000u
#define B64_PLACE(c, expr) (B64_SEXTET(c) > 63 ? B64_OUTSIDE : (uint32_t)(expr))
#define B64_U(c) ((uint32_t)B64_SEXTET(c))
#define B64_D0(c) B64_PLACE(c, B64_U(c) << 2)
#define B64_D1(c) B64_PLACE(c, B64_U(c) >> 4 | (B64_U(c) & 0xf) << 12)
#define B64_D2(c) B64_PLACE(c, (B64_U(c) >> 2) << 8 | (B64_U(c) & 0x3) << 22)
#define B64_D3(c) B64_PLACE(c, B64_U(c) << 16)
#define B64_R4(f, i) f(i), f((i) + 1), f((i) + 2), f((i) + 3)
#define B64_R16(f, i) B64_R4(f, i), B64_R4(f, (i) + 4), B64_R4(f, (i) + 8), B64_R4(f, (i) + 12)
#define B64_R64(f, i) \
    B64_R16(f, i), B64_R16(f, (i) + 16), B64_R16(f, (i) + 32), B64_R16(f, (i) + 48)
#define B64_R256(f) B64_R64(f, 0), B64_R64(f, 64), B64_R64(f, 128), B64_R64(f, 192)
static const uint32_t b64_d0[256] = { B64_R256(B64_D0) };
static const uint32_t b64_d1[256] = { B64_R256(B64_D1) };
static const uint32_t b64_d2[256] = { B64_R256(B64_D2) };
static const uint32_t b64_d3[256] = { B64_R256(B64_D3) };
#endif

/* Whole quanta of four alphabet characters from in[*i], while at least
 * eight characters are left: each writes a 4-byte word, of which the
 * fourth byte is the next quantum's place (MS_B64_OUT_MAX leaves room for
 * it while a quantum follows). Stops at the first quantum holding any
 * other byte. Little-endian only; elsewhere the loop below does it all. */
static void quanta_words(const uint8_t *in, size_t n, size_t *i, uint8_t *out, size_t *o)
{
#ifdef B64_WORDS
    size_t ii = *i, oo = *o;
    while (n - ii >= 12) { /* two at a time: half the loop's own cost */
        uint32_t x = b64_d0[in[ii]] | b64_d1[in[ii + 1]] | b64_d2[in[ii + 2]] | b64_d3[in[ii + 3]];
        uint32_t y = b64_d0[in[ii + 4]] | b64_d1[in[ii + 5]] | b64_d2[in[ii + 6]] |
                     b64_d3[in[ii + 7]];
        if ((x | y) >= B64_OUTSIDE)
            break;
        memcpy(out + oo, &x, 4);
        memcpy(out + oo + 3, &y, 4);
        oo += 6;
        ii += 8;
    }
    while (n - ii >= 8) {
        uint32_t x = b64_d0[in[ii]] | b64_d1[in[ii + 1]] | b64_d2[in[ii + 2]] | b64_d3[in[ii + 3]];
        if (x >= B64_OUTSIDE)
            break;
        memcpy(out + oo, &x, 4);
        oo += 3;
        ii += 4;
    }
    *i = ii;
    *o = oo;
#else
    (void)in, (void)n, (void)i, (void)out, (void)o;
#endif
}

void ms_b64_init(struct ms_b64 *s)
{
    memset(s, 0, sizeof(*s));
}

static void quantum_reset(struct ms_b64 *s)
{
    s->acc = 0;
    s->n = 0;
    s->pad = 0;
}

/* Bytes carried by the data sextets of the current quantum: 2 sextets hold
 * one byte, 3 hold two (RFC 4648 §4, the "=" and "==" cases). */
static size_t emit_partial(const struct ms_b64 *s, uint8_t *out)
{
    if (s->n == 2) {
        out[0] = (uint8_t)(s->acc >> 4);
        return 1;
    }
    if (s->n == 3) {
        out[0] = (uint8_t)(s->acc >> 10);
        out[1] = (uint8_t)(s->acc >> 2);
        return 2;
    }
    return 0;
}

/* One character through the quantum state: the general path, for
 * whitespace, junk, padding and quanta cut by a chunk or line edge. */
static size_t decode_one(struct ms_b64 *s, uint8_t v, uint8_t *out)
{
    size_t o = 0;
    if (v == B64_SKIP)
        return 0;
    if (v == B64_BAD) {
        s->invalid++;
        return 0;
    }
    if (v == B64_PAD) {
        if (s->pad == 0) {
            /* First '=': it ends the data of this quantum. One data
             * sextet cannot make a byte, so "x=" is invalid. */
            if (s->n < 2) {
                s->invalid++;
                quantum_reset(s);
                return 0;
            }
            o = emit_partial(s, out);
        }
        s->pad++;
        if (++s->n == 4)
            quantum_reset(s);
        return o;
    }
    if (s->pad > 0) {
        /* Data after "xx=" without the second '=': the padding was cut
         * short. Start a new quantum with this character. */
        s->invalid++;
        quantum_reset(s);
    }
    s->acc = (s->acc << 6) | v;
    if (++s->n == 4) {
        out[0] = (uint8_t)(s->acc >> 16);
        out[1] = (uint8_t)(s->acc >> 8);
        out[2] = (uint8_t)s->acc;
        quantum_reset(s);
        return 3;
    }
    return 0;
}

size_t ms_b64_decode(struct ms_b64 *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        /* Between quanta, whole quanta of four alphabet characters decode
         * from locals: OR-ing the four values is below 64 only when none
         * is a marker. A line of MIME base64 is 19 such quanta. */
        if (s->n == 0) {
            quanta_words(in, n, &i, out, &o);
            while (n - i >= 4) {
                uint32_t a = b64_val[in[i]], b = b64_val[in[i + 1]];
                uint32_t c = b64_val[in[i + 2]], d = b64_val[in[i + 3]];
                if ((a | b | c | d) >= 64)
                    break;
                uint32_t q = a << 18 | b << 12 | c << 6 | d;
                out[o] = (uint8_t)(q >> 16);
                out[o + 1] = (uint8_t)(q >> 8);
                out[o + 2] = (uint8_t)q;
                o += 3;
                i += 4;
            }
            if (i == n)
                break;
        }
        o += decode_one(s, b64_val[in[i]], out + o);
        i++;
    }
    return o;
}

size_t ms_b64_finish(struct ms_b64 *s, uint8_t *out)
{
    size_t o = 0;

    /* Missing padding is tolerated (RFC 4648 §3.2 lets a spec omit it);
     * incomplete padding already produced its bytes at the first '='. */
    if (s->pad == 0) {
        if (s->n == 1)
            s->invalid++;
        o = emit_partial(s, out);
    }
    quantum_reset(s);
    return o;
}

enum ms_rc ms_b64_decode_buf(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    struct ms_b64 s;
    uint8_t tmp[MS_B64_OUT_MAX(64)];
    size_t off = 0, len = 0;
    bool over = false;

    ms_b64_init(&s);
    /* Decode through a small bounce buffer so out needs only the real
     * decoded size, not the worst case. The last round (take == 0) flushes
     * an unpadded tail. */
    for (;;) {
        size_t take = n - off < 64 ? n - off : 64;
        size_t got = take ? ms_b64_decode(&s, in + off, take, tmp) : ms_b64_finish(&s, tmp);

        if (got > cap - len) {
            over = true;
            got = cap - len;
        }
        if (got > 0)
            memcpy(out + len, tmp, got);
        len += got;
        if (take == 0)
            break;
        off += take;
    }
    *out_len = len;
    if (s.invalid > 0)
        return MS_ERR_PROTO;
    return over ? MS_ERR_LIMIT : MS_OK;
}
