/* Fuzz target for the streaming MIME parser on its own (dissectors/mime.c,
 * mime_hdr.c, mime_url.c): headers, RFC 2047 encoded words, RFC 2231
 * parameters, nested multiparts, base64 and quoted-printable bodies.
 *
 * Byte 0: bit 7 tiny limits (every cap of the parser reached within a few
 * bytes), bit 6 a partial transfer (ms_mime_set_partial), bits 0-5 seed
 * the chunk sizes. The rest is the message; the separator
 * "\xde\xad\xbe\xef" marks a capture gap (ms_mime_set_gap) there.
 *
 * The message is parsed twice: each gap-free part in one feed, then in
 * input-chosen chunks of 1 to 64 bytes, each in its own exact-size
 * allocation so ASan sees a read past it. mime.h promises any chunking
 * gives the same result, so every field of the two email events, and
 * everything the message tap was given, must agree; size and sha256 must
 * describe exactly the bytes fed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "../../dissectors/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t sep[4] = { 0xde, 0xad, 0xbe, 0xef };

/* FNV-1a over a canonical form of the results: comparing two digests
 * needs no copy of either run's strings. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ull;
}

static void mix_u64(uint64_t *h, uint64_t v)
{
    mix(h, &v, sizeof(v));
}

/* Absent (NULL) and empty differ, and lengths separate the fields. */
static void mix_bytes(uint64_t *h, struct ms_bytes b)
{
    mix_u64(h, b.p ? b.len : UINT64_MAX);
    if (b.p)
        mix(h, b.p, b.len);
}

static void mix_str(uint64_t *h, const char *s)
{
    mix_bytes(h, s ? ms_bytes_of(s, strlen(s)) : MS_BYTES_NONE);
}

static uint64_t digest_email(const struct ms_ev_email *e)
{
    uint64_t h = 0xcbf29ce484222325ull;
    mix_bytes(&h, e->from);
    mix_u64(&h, e->n_to);
    for (size_t i = 0; i < e->n_to; i++)
        mix_bytes(&h, e->to[i]);
    mix_u64(&h, e->n_cc);
    for (size_t i = 0; i < e->n_cc; i++)
        mix_bytes(&h, e->cc[i]);
    mix_bytes(&h, e->subject);
    mix_bytes(&h, e->date);
    mix_bytes(&h, e->message_id);
    mix_u64(&h, e->size);
    mix(&h, e->sha256, 32);
    mix_u64(&h, e->n_attachments);
    for (size_t i = 0; i < e->n_attachments; i++) {
        const struct ms_attachment *a = &e->attachments[i];
        mix_bytes(&h, a->filename);
        mix_bytes(&h, a->content_type);
        mix_u64(&h, a->size);
        mix(&h, a->sha256, 32);
        mix_u64(&h, (uint64_t)a->truncated << 1 | a->gap);
    }
    mix_bytes(&h, e->body_excerpt);
    mix_u64(&h, e->n_urls);
    for (size_t i = 0; i < e->n_urls; i++)
        mix_bytes(&h, e->urls[i]);
    mix_u64(&h, e->n_mime_errors);
    for (size_t i = 0; i < e->n_mime_errors; i++)
        mix_str(&h, e->mime_errors[i]);
    mix_u64(&h, e->truncated);
    return h;
}

/* A message tap (what --extract gets) that digests all it is given. The
 * message's bytes and the attachments' decoded bytes are two streams:
 * how their calls interleave depends on the chunks, their contents not. */
struct tap_state {
    uint64_t msg, att;
};

static void *tap_msg_begin(const struct ms_msg_tap *tap, const struct ms_sink *sink)
{
    (void)sink;
    return tap->user;
}

static void tap_msg_data(void *st, const uint8_t *p, size_t n)
{
    mix(&((struct tap_state *)st)->msg, p, n);
}

static struct ms_bytes tap_msg_end(void *st)
{
    mix_u64(&((struct tap_state *)st)->msg, 0xe0d);
    return MS_BYTES_NONE;
}

static void *tap_att_begin(void *st, size_t index, const struct ms_attachment *a)
{
    struct tap_state *t = st;
    mix_u64(&t->att, index);
    mix_bytes(&t->att, a->filename);
    mix_bytes(&t->att, a->content_type);
    return st;
}

static void tap_att_data(void *st, const uint8_t *p, size_t n)
{
    mix(&((struct tap_state *)st)->att, p, n);
}

static struct ms_bytes tap_att_end(void *st)
{
    mix_u64(&((struct tap_state *)st)->att, 0xe0d);
    return MS_BYTES_NONE;
}

static void tiny_limits(struct ms_limits *lim)
{
    lim->body_excerpt = 7;
    lim->mime_max_urls = 2;
    lim->mime_max_url_len = 9;
    lim->mime_max_header = 32;
    lim->mime_max_depth = 2;
    lim->mime_max_parts = 2;
    lim->mime_max_addrs = 2;
    lim->mime_max_boundary = 8;
    lim->max_message = 300;
}

static size_t next_cut(uint32_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 17;
    *st ^= *st << 5;
    return 1 + *st % 64;
}

/* Feeds p[0..n) whole (seed 0) or in chunks, each in its own allocation. */
static void feed(struct ms_mime *m, const uint8_t *p, size_t n, uint32_t *seed)
{
    while (n > 0) {
        size_t k = seed ? next_cut(seed) : n;
        if (k > n)
            k = n;
        uint8_t *copy = malloc(k);
        if (!copy)
            abort();
        memcpy(copy, p, k);
        ms_mime_feed(m, copy, k);
        free(copy);
        p += k;
        n -= k;
    }
}

/* One parse of the message; false when out of memory. */
static bool run(const struct ms_limits *lim, const uint8_t *p, size_t n, uint8_t opt,
                uint32_t *seed, uint64_t *email, uint64_t *tapped)
{
    struct tap_state ts = { 0xcbf29ce484222325ull, 0xcbf29ce484222325ull };
    const struct ms_msg_tap tap = {
        .msg_begin = tap_msg_begin,
        .msg_data = tap_msg_data,
        .att_begin = tap_att_begin,
        .att_data = tap_att_data,
        .att_end = tap_att_end,
        .msg_end = tap_msg_end,
        .user = &ts,
    };
    const struct ms_sink sink = { .tap = &tap };
    struct ms_mime *m = ms_mime_new(lim, &sink);
    if (!m)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();
    uint64_t fed = 0;
    for (;;) {
        const uint8_t *end = memmem(p, n, sep, sizeof(sep));
        size_t k = end ? (size_t)(end - p) : n;
        feed(m, p, k, seed);
        EVP_DigestUpdate(md, p, k);
        fed += k;
        if (!end)
            break;
        ms_mime_set_gap(m);
        p += k + sizeof(sep);
        n -= k + sizeof(sep);
    }
    if (opt & 0x40)
        ms_mime_set_partial(m);
    struct ms_ev_email ev;
    memset(&ev, 0, sizeof(ev));
    ms_mime_finish(m, &ev);
    uint8_t sha[32];
    unsigned sha_len = 0;
    if (EVP_DigestFinal_ex(md, sha, &sha_len) != 1 || sha_len != 32)
        abort();
    EVP_MD_CTX_free(md);
    if (ev.size != fed || memcmp(ev.sha256, sha, 32) != 0)
        abort();
    *email = digest_email(&ev);
    mix_u64(&ts.msg, ts.att);
    *tapped = ts.msg;
    ms_mime_free(m);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ms_limits lim = ms_limits_default();
    lim.body_excerpt = 256;
    if (data[0] & 0x80)
        tiny_limits(&lim);
    uint32_t seed = 2463534242u ^ (data[0] & 0x3fu);
    uint64_t email_whole, tap_whole, email_cut, tap_cut;
    if (!run(&lim, data + 1, size - 1, data[0], NULL, &email_whole, &tap_whole) ||
        !run(&lim, data + 1, size - 1, data[0], &seed, &email_cut, &tap_cut))
        return 0;
    if (email_whole != email_cut || tap_whole != tap_cut)
        abort();
    return 0;
}
