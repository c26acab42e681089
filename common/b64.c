/* Streaming base64 decoder, RFC 4648 §4 alphabet, RFC 2045 §6.8 leniency. */
#include "b64.h"

#include <stdbool.h>
#include <string.h>

#define B64_SKIP 0xfe /* whitespace */
#define B64_BAD 0xff  /* outside the alphabet */
#define B64_PAD 0xfd  /* '=' */

/* Value of a base64 character, or one of the markers above. A switch on
 * ranges keeps the table const-free of 256 hand-written entries. */
static uint8_t b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (uint8_t)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (uint8_t)(c - '0' + 52);
    switch (c) {
    case '+':
        return 62;
    case '/':
        return 63;
    case '=':
        return B64_PAD;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        return B64_SKIP;
    default:
        return B64_BAD;
    }
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

size_t ms_b64_decode(struct ms_b64 *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t v = b64_val(in[i]);

        if (v == B64_SKIP)
            continue;
        if (v == B64_BAD) {
            s->invalid++;
            continue;
        }
        if (v == B64_PAD) {
            if (s->pad == 0) {
                /* First '=': it ends the data of this quantum. One data
                 * sextet cannot make a byte, so "x=" is invalid. */
                if (s->n < 2) {
                    s->invalid++;
                    quantum_reset(s);
                    continue;
                }
                o += emit_partial(s, out + o);
            }
            s->pad++;
            if (++s->n == 4)
                quantum_reset(s);
            continue;
        }
        if (s->pad > 0) {
            /* Data after "xx=" without the second '=': the padding was
             * cut short. Start a new quantum with this character. */
            s->invalid++;
            quantum_reset(s);
        }
        s->acc = (s->acc << 6) | v;
        if (++s->n == 4) {
            out[o++] = (uint8_t)(s->acc >> 16);
            out[o++] = (uint8_t)(s->acc >> 8);
            out[o++] = (uint8_t)s->acc;
            quantum_reset(s);
        }
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
