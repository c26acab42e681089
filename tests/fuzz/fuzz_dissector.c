/* Fuzz target for the stream dissectors (Suricata's harness shape): byte 0
 * picks the dissector (bits 0-2: index in ms_dissectors, 0 when out of
 * range, so seeds keep their meaning as dissectors are added), the first
 * direction (bit 6: server first) and tiny limits (bit 7); the rest is split into
 * chunks at the separator "\xde\xad\xbe\xef", alternating direction, each
 * copied to an exact-size allocation so ASan catches any over-read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dissectors/dissector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void discard(void *user, const struct ms_event *ev)
{
    /* Touch every byte a sink could read, so bad spans fault here. */
    volatile uint8_t x = 0;
    if (ev->kind == MS_EV_CREDENTIAL) {
        for (size_t i = 0; i < ev->u.cred.username.len; i++)
            x ^= ev->u.cred.username.p[i];
        for (size_t i = 0; i < ev->u.cred.password.len; i++)
            x ^= ev->u.cred.password.p[i];
        for (size_t i = 0; i < ev->u.cred.server_reply.len; i++)
            x ^= ev->u.cred.server_reply.p[i];
    } else if (ev->kind == MS_EV_EMAIL) {
        for (size_t i = 0; i < ev->u.email.subject.len; i++)
            x ^= ev->u.email.subject.p[i];
        for (size_t a = 0; a < ev->u.email.n_attachments; a++)
            for (size_t i = 0; i < ev->u.email.attachments[a].filename.len; i++)
                x ^= ev->u.email.attachments[a].filename.p[i];
    }
    (void)user;
    (void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sep[4] = { 0xde, 0xad, 0xbe, 0xef };
    if (size < 1)
        return 0;
    size_t nd = 0;
    while (ms_dissectors[nd])
        nd++;
    size_t idx = data[0] & 0x07u;
    const struct ms_dissector *d = ms_dissectors[idx < nd ? idx : 0];
    struct ms_limits lim = ms_limits_default();
    if (data[0] & 0x80) {
        lim.max_line = 16;
        lim.max_secret = 4;
        lim.max_pending_cmds = 2;
        lim.mime_max_header = 32;
        lim.mime_max_depth = 2;
        lim.mime_max_parts = 2;
        lim.mime_max_addrs = 2;
    }
    struct ms_sink sink = { .emit = discard };
    void *st = d->create(&lim, &sink);
    if (!st)
        return 0;
    data++;
    size--;
    unsigned dir = (data - 1)[0] & 0x40 ? 1 : 0;
    while (size > 0) {
        const uint8_t *end = memmem(data, size, sep, sizeof(sep));
        size_t n = end ? (size_t)(end - data) : size;
        if (n > 0) {
            uint8_t *copy = malloc(n);
            if (!copy)
                break;
            memcpy(copy, data, n);
            d->feed(st, dir, copy, n);
            free(copy);
        } else if (end) {
            d->gap(st, dir, 100); /* an empty chunk stands for a gap */
        }
        if (!end)
            break;
        data = end + sizeof(sep);
        size -= n + sizeof(sep);
        dir ^= 1;
    }
    d->finish(st);
    d->destroy(st);
    return 0;
}
