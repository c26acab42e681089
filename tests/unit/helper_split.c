#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_split.h"

static void put_bytes(struct ms_buf *log, const char *key, struct ms_bytes b)
{
    char tmp[64];
    if (!b.p) {
        snprintf(tmp, sizeof(tmp), " %s=null", key);
        ms_buf_append(log, tmp, strlen(tmp));
        return;
    }
    snprintf(tmp, sizeof(tmp), " %s=[", key);
    ms_buf_append(log, tmp, strlen(tmp));
    ms_buf_append(log, b.p, b.len);
    ms_buf_append(log, "]", 1);
}

static void put_num(struct ms_buf *log, const char *key, unsigned long long v)
{
    char tmp[96];
    snprintf(tmp, sizeof(tmp), " %s=%llu", key, v);
    ms_buf_append(log, tmp, strlen(tmp));
}

static void put_hash(struct ms_buf *log, const char *key, const uint8_t *h)
{
    char tmp[80];
    int at = snprintf(tmp, sizeof(tmp), " %s=", key);
    for (int i = 0; i < 32; i++)
        at += snprintf(tmp + at, sizeof(tmp) - (size_t)at, "%02x", h[i]);
    ms_buf_append(log, tmp, (size_t)at);
}

/* One line per event holding every field, so any difference shows. */
static void record(void *user, const struct ms_event *ev)
{
    struct ms_buf *log = user;
    switch (ev->kind) {
    case MS_EV_CREDENTIAL: {
        const struct ms_ev_credential *c = &ev->u.cred;
        ms_buf_append(log, "CRED ", 5);
        ms_buf_append(log, c->command, strlen(c->command));
        ms_buf_append(log, " ", 1);
        ms_buf_append(log, c->mechanism, strlen(c->mechanism));
        put_bytes(log, "user", c->username);
        if (c->authzid.p)
            put_bytes(log, "authzid", c->authzid);
        put_bytes(log, "pass", c->password);
        put_num(log, "outcome", c->outcome);
        put_bytes(log, "reply", c->server_reply);
        put_num(log, "incomplete", c->incomplete);
        break;
    }
    case MS_EV_EMAIL: {
        const struct ms_ev_email *e = &ev->u.email;
        ms_buf_append(log, "EMAIL ", 6);
        ms_buf_append(log, e->command, strlen(e->command));
        put_bytes(log, "from", e->from);
        for (size_t i = 0; i < e->n_to; i++)
            put_bytes(log, "to", e->to[i]);
        for (size_t i = 0; i < e->n_cc; i++)
            put_bytes(log, "cc", e->cc[i]);
        put_bytes(log, "subject", e->subject);
        put_bytes(log, "date", e->date);
        put_bytes(log, "msgid", e->message_id);
        put_num(log, "size", e->size);
        put_hash(log, "sha256", e->sha256);
        for (size_t i = 0; i < e->n_attachments; i++) {
            put_bytes(log, "att", e->attachments[i].filename);
            put_bytes(log, "type", e->attachments[i].content_type);
            put_num(log, "size", e->attachments[i].size);
            put_hash(log, "sha256", e->attachments[i].sha256);
            put_num(log, "att_truncated", e->attachments[i].truncated);
            put_num(log, "att_gap", e->attachments[i].gap);
        }
        put_num(log, "truncated", e->truncated);
        break;
    }
    case MS_EV_ANOMALY:
        ms_buf_append(log, "ANOMALY ", 8);
        ms_buf_append(log, ev->u.anomaly.code, strlen(ev->u.anomaly.code));
        break;
    case MS_EV_SESSION: /* the app layer's, never a dissector's */
    case MS_EV_STARTTLS_STRIPPED:
    case MS_EV_COUNT:
        break;
    }
    ms_buf_append(log, "\n", 1);
}

char *ms_test_run_with(const struct ms_dissector *d, const struct ms_limits *lim,
                       const struct ms_chunk *chunks, size_t n, size_t split, ms_test_recorder rec)
{
    struct ms_buf log;
    ms_buf_init(&log, 1 << 24);
    struct ms_sink sink = { .emit = rec, .user = &log };
    void *st = d->create(lim, &sink);
    assert_non_null(st);
    for (size_t i = 0; i < n; i++) {
        if (chunks[i].gap) {
            d->gap(st, chunks[i].dir, chunks[i].gap);
            continue;
        }
        size_t len = chunks[i].len ? chunks[i].len : strlen(chunks[i].data);
        /* Each piece goes through an exact-size heap copy so ASan sees any
         * read past what the dissector was given. */
        size_t off = 0;
        while (off < len) {
            size_t take = len - off;
            if (split == 1)
                take = 1;
            else if (split > 1 && off == 0 && split - 1 < len)
                take = split - 1 ? split - 1 : len;
            uint8_t *copy = malloc(take ? take : 1);
            assert_non_null(copy);
            memcpy(copy, chunks[i].data + off, take);
            assert_int_equal(d->feed(st, chunks[i].dir, copy, take), MS_OK);
            free(copy);
            off += take;
        }
    }
    d->finish(st);
    d->destroy(st);
    ms_buf_append(&log, "", 1);
    char *out = (char *)log.p;
    if (!out)
        out = calloc(1, 1);
    return out;
}

char *ms_test_run_all_with(const struct ms_dissector *d, const struct ms_limits *lim,
                           const struct ms_chunk *chunks, size_t n, ms_test_recorder rec)
{
    char *whole = ms_test_run_with(d, lim, chunks, n, 0, rec);
    char *bytes = ms_test_run_with(d, lim, chunks, n, 1, rec);
    assert_string_equal(whole, bytes);
    free(bytes);
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = chunks[i].gap ? 0 : chunks[i].len ? chunks[i].len : strlen(chunks[i].data);
        if (len > maxlen)
            maxlen = len;
    }
    for (size_t k = 2; k <= maxlen; k++) {
        char *cut = ms_test_run_with(d, lim, chunks, n, k, rec);
        assert_string_equal(whole, cut);
        free(cut);
    }
    return whole;
}

char *ms_test_run(const struct ms_dissector *d, const struct ms_limits *lim,
                  const struct ms_chunk *chunks, size_t n, size_t split)
{
    return ms_test_run_with(d, lim, chunks, n, split, record);
}

char *ms_test_run_all(const struct ms_dissector *d, const struct ms_limits *lim,
                      const struct ms_chunk *chunks, size_t n)
{
    return ms_test_run_all_with(d, lim, chunks, n, record);
}
