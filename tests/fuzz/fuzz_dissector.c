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

/* A tap that reads every byte it is given and names no file. */
static uint8_t tap_sum;

static void tap_bytes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tap_sum ^= p[i];
}

static void *tap_msg_begin(const struct ms_msg_tap *tap, const struct ms_sink *sink)
{
    (void)sink;
    return (void *)tap;
}

static void tap_msg_data(void *msg, const uint8_t *p, size_t n)
{
    (void)msg;
    tap_bytes(p, n);
}

static void *tap_att_begin(void *msg, size_t index, const struct ms_attachment *a)
{
    (void)index;
    tap_bytes(a->filename.p, a->filename.len);
    return msg;
}

static struct ms_bytes tap_end(void *h)
{
    (void)h;
    return MS_BYTES_NONE;
}

static const struct ms_msg_tap fuzz_tap = {
    .msg_begin = tap_msg_begin,
    .msg_data = tap_msg_data,
    .att_begin = tap_att_begin,
    .att_data = tap_msg_data,
    .att_end = tap_end,
    .msg_end = tap_end,
};

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
        for (size_t u = 0; u < ev->u.email.n_urls; u++)
            for (size_t i = 0; i < ev->u.email.urls[u].len; i++)
                x ^= ev->u.email.urls[u].p[i];
        for (size_t i = 0; i < ev->u.email.body_excerpt.len; i++)
            x ^= ev->u.email.body_excerpt.p[i];
        for (size_t e = 0; e < ev->u.email.n_mime_errors; e++)
            x ^= (uint8_t)ev->u.email.mime_errors[e][0];
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
    if (nd == 0)
        return 0;
    size_t idx = data[0] & 0x07u;
    const struct ms_dissector *d = ms_dissectors[idx < nd ? idx : 0];
    struct ms_limits lim = ms_limits_default();
    lim.body_excerpt = 256;
    if (data[0] & 0x80) {
        lim.body_excerpt = 7;
        lim.mime_max_urls = 2;
        lim.mime_max_url_len = 9;
        lim.max_line = 16;
        lim.max_secret = 4;
        lim.max_pending_cmds = 2;
        lim.mime_max_header = 32;
        lim.mime_max_depth = 2;
        lim.mime_max_parts = 2;
        lim.mime_max_addrs = 2;
    }
    struct ms_sink sink = { .emit = discard, .tap = &fuzz_tap };
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
