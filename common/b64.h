/* Base64 decoding (RFC 4648 §4, as used by RFC 2045 §6.8 and SASL).
 *
 * Streaming: state lives in struct ms_b64, so input can arrive in pieces of
 * any size and the output is the same however it was cut. Whitespace (SP, HT,
 * CR, LF) is skipped, so padding split across lines ("NA=\n=") works.
 * Anything else outside the alphabet is skipped and counted in `invalid`
 * rather than failing: MIME bodies in the wild carry junk, and the caller
 * decides whether that is worth an anomaly.
 *
 *   struct ms_b64 s; ms_b64_init(&s);
 *   n = ms_b64_decode(&s, in, len, out);     out: MS_B64_OUT_MAX(len) bytes
 *   n = ms_b64_finish(&s, out);              out: 2 bytes (unpadded tail)
 *
 * ms_b64_decode_buf is the one-shot, strict flavour for SASL: any invalid
 * character or a dangling sextet is MS_ERR_PROTO. */
#ifndef MS_B64_H
#define MS_B64_H

#include <stddef.h>
#include <stdint.h>
#include "rc.h"

struct ms_b64 {
    uint32_t acc;     /* sextets of the current 4-character quantum */
    unsigned n;       /* positions of the quantum filled, data and '=' */
    unsigned pad;     /* how many of those positions are '=' */
    uint64_t invalid; /* characters skipped as invalid, misplaced '=' */
};

/* Upper bound of what one ms_b64_decode call writes for n input bytes:
 * every output byte takes 8 bits of sextets, and up to 3 sextets may be
 * pending from an earlier call, i.e. floor((n + 3) * 3 / 4), written so it
 * cannot overflow. ("AB=" emits its byte at the '=', before the quantum
 * is complete, so the usual n / 4 * 3 is not enough.) */
#define MS_B64_OUT_MAX(n) ((n) / 4 * 3 + ((n) % 4 + 3) * 3 / 4)

void ms_b64_init(struct ms_b64 *s);
/* Decodes n bytes, returns the number of bytes written to out. */
size_t ms_b64_decode(struct ms_b64 *s, const uint8_t *in, size_t n, uint8_t *out);
/* Ends the stream: decodes an unpadded final quantum (0-2 bytes to out) and
 * resets the state (invalid is kept). */
size_t ms_b64_finish(struct ms_b64 *s, uint8_t *out);

/* One shot. Writes at most cap bytes to out and their count to *out_len.
 * MS_ERR_PROTO on invalid input, MS_ERR_LIMIT if out is too small.
 * Whitespace is skipped; missing final padding is accepted. */
enum ms_rc ms_b64_decode_buf(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                             size_t *out_len);

#endif
