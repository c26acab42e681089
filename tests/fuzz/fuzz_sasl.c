/* Fuzz target for the SASL exchanges on their own (dissectors/sasl.c and,
 * through SASL NTLM, ntlm.c): every mechanism's decoding of challenges and
 * responses, in whatever order and number the input gives them.
 *
 * Byte 0: bit 0 tiny limits (4-byte secrets, 16-byte lines). The rest is
 * lines ended by "\n", each one call, picked by its first character:
 *
 *   M<mech>        ms_sasl_start, no initial response
 *   M<mech> <ir>   ms_sasl_start with one ("=" is the empty one)
 *   C<b64>         ms_sasl_challenge (the server's "+ " or "334 " text)
 *   R<line>        ms_sasl_response
 *   L              ms_sasl_lost_response
 *
 * Lines before the first M, and other lines, are ignored, as a protocol
 * parser never calls the others before a start. After each call the
 * credential is taken, as the dissectors do when a reply arrives: every
 * byte of it is read (ASan), and no secret may pass the max_secret cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dissectors/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink_byte;

static void touch(struct ms_bytes b, size_t cap)
{
    if (!b.p)
        return;
    if (b.len > cap)
        abort();
    uint8_t x = 0;
    for (size_t i = 0; i < b.len; i++)
        x ^= b.p[i];
    sink_byte ^= x;
}

static void check_credential(const struct ms_sasl *s, const struct ms_limits *lim)
{
    struct ms_ev_credential c;
    memset(&c, 0, sizeof(c));
    if (ms_sasl_credential(s, &c)) {
        touch(ms_bytes_of(c.mechanism, strlen(c.mechanism)), sizeof(s->mech_name));
        touch(c.username, lim->max_secret);
        touch(c.authzid, lim->max_secret);
        touch(c.password, lim->max_secret);
        touch(c.token, lim->max_secret);
        touch(c.domain, lim->max_secret);
        touch(c.workstation, lim->max_secret);
        /* Printable forms of one decoded message: bounded by the line cap
         * (sasl.c sizes them from it). */
        touch(c.challenge, 2 * lim->max_line + 16);
        touch(c.response, 2 * lim->max_line + 16);
        touch(c.hashcat, 4 * lim->max_line + 2 * lim->max_secret + 64);
        /* A mode names a line hashcat can load: never an empty one. */
        if (c.hashcat_mode != 0 && c.hashcat.len == 0)
            abort();
    }
    const char *detail = ms_sasl_anomaly_detail(s);
    touch(ms_bytes_of(detail, strlen(detail)), SIZE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ms_limits lim = ms_limits_default();
    if (data[0] & 1u) {
        lim.max_secret = 4;
        lim.max_line = 16;
    }
    struct ms_sasl s;
    ms_sasl_init(&s, &lim);
    bool started = false;
    const uint8_t *p = data + 1, *end = data + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* Each line in its own exact-size allocation: ASan sees a read past
         * it, which the input buffer would hide. */
        uint8_t *line = malloc(n ? n : 1);
        if (!line)
            abort();
        memcpy(line, p, n);
        p += n + (nl ? 1 : 0);
        uint8_t op = n ? line[0] : 0;
        const uint8_t *arg = line + (n ? 1 : 0);
        size_t alen = n ? n - 1 : 0;
        if (op == 'M') {
            const uint8_t *sp = memchr(arg, ' ', alen);
            size_t mlen = sp ? (size_t)(sp - arg) : alen;
            const uint8_t *ir = sp ? sp + 1 : NULL;
            size_t irlen = sp ? alen - mlen - 1 : 0;
            ms_sasl_start(&s, arg, mlen, ir, irlen, sp != NULL);
            started = true;
        } else if (started && op == 'C') {
            ms_sasl_challenge(&s, arg, alen);
        } else if (started && op == 'R') {
            ms_sasl_response(&s, arg, alen);
        } else if (started && op == 'L') {
            ms_sasl_lost_response(&s);
        }
        if (started)
            check_credential(&s, &lim);
        free(line);
    }
    ms_sasl_free(&s);
    return 0;
}
