#include "sasl.h"

#include <string.h>

#include "../common/ascii.h"
#include "../common/b64.h"

void ms_sasl_init(struct ms_sasl *s, const struct ms_limits *lim)
{
    memset(s, 0, sizeof(*s));
    ms_buf_init(&s->authzid, lim->max_secret);
    ms_buf_init(&s->user, lim->max_secret);
    ms_buf_init(&s->pass, lim->max_secret);
    ms_buf_init(&s->challenge, lim->max_secret);
}

void ms_sasl_free(struct ms_sasl *s)
{
    ms_buf_free(&s->authzid);
    ms_buf_free(&s->user);
    ms_buf_free(&s->pass);
    ms_buf_free(&s->challenge);
}

static void keep(struct ms_sasl *s, struct ms_buf *b, const uint8_t *p, size_t n)
{
    ms_buf_reset(b);
    if (ms_buf_append_some(b, p, n) < n)
        s->truncated = true;
}

/* RFC 4616: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
static void plain_message(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    const uint8_t *nul1 = memchr(m, 0, n);
    const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, 0, n - (size_t)(nul1 - m) - 1) : NULL;
    if (!nul2) {
        /* Without both separators any split would be a guess. */
        s->malformed = true;
        s->anomaly = "sasl_plain_malformed";
        return;
    }
    keep(s, &s->authzid, m, (size_t)(nul1 - m));
    keep(s, &s->user, nul1 + 1, (size_t)(nul2 - nul1 - 1));
    keep(s, &s->pass, nul2 + 1, n - (size_t)(nul2 - m) - 1);
    s->have_user = s->have_pass = true;
}

static void decoded(struct ms_sasl *s, const uint8_t *m, size_t n)
{
    switch (s->mech) {
    case MS_SASL_PLAIN:
        plain_message(s, m, n);
        break;
    case MS_SASL_LOGIN:
        /* First response the user name, second the password. */
        if (!s->have_user) {
            keep(s, &s->user, m, n);
            s->have_user = true;
        } else if (!s->have_pass) {
            keep(s, &s->pass, m, n);
            s->have_pass = true;
        }
        break;
    case MS_SASL_OTHER:
        break;
    }
}

void ms_sasl_response(struct ms_sasl *s, const uint8_t *line, size_t len)
{
    s->responses++;
    if (len == 1 && line[0] == '*') {
        s->cancelled = true; /* RFC 4954 4: the client gave up */
        return;
    }
    if (s->mech == MS_SASL_OTHER)
        return;
    if (len == 1 && line[0] == '=') {
        decoded(s, (const uint8_t *)"", 0); /* an empty response */
        return;
    }
    /* Responses are base64 of at most a few KB; decode into a bounded
     * stack buffer, cutting (and flagging) anything longer. */
    uint8_t out[3072];
    size_t take = len;
    if (take > (sizeof(out) / 3) * 4) {
        take = (sizeof(out) / 3) * 4;
        s->truncated = true;
    }
    size_t n = 0;
    if (ms_b64_decode_buf(line, take, out, sizeof(out), &n) != MS_OK) {
        s->malformed = true;
        s->anomaly = "sasl_invalid_base64";
        return;
    }
    decoded(s, out, n);
}

void ms_sasl_challenge(struct ms_sasl *s, const uint8_t *b64, size_t len)
{
    uint8_t out[3072];
    size_t n = 0;
    ms_buf_reset(&s->challenge);
    /* A challenge that is not base64 is kept as sent: some servers put
     * plain text after "+ " (RFC 5034 allows only base64, not all obey). */
    if (ms_b64_decode_buf(b64, len, out, sizeof(out), &n) == MS_OK)
        keep(s, &s->challenge, out, n);
    else
        keep(s, &s->challenge, b64, len);
}

void ms_sasl_start(struct ms_sasl *s, const uint8_t *mech, size_t mlen, const uint8_t *ir,
                   size_t irlen, bool has_ir)
{
    s->responses = 0;
    s->cancelled = s->malformed = s->truncated = false;
    s->have_user = s->have_pass = false;
    s->anomaly = NULL;
    ms_buf_reset(&s->authzid);
    ms_buf_reset(&s->user);
    ms_buf_reset(&s->pass);
    ms_buf_reset(&s->challenge);
    size_t i = 0;
    for (; i < mlen && i < sizeof(s->mech_name) - 1; i++)
        s->mech_name[i] = (char)(mech[i] >= 'a' && mech[i] <= 'z' ? mech[i] - 32 : mech[i]);
    s->mech_name[i] = '\0';
    if (ms_ascii_eq(mech, mlen, "PLAIN"))
        s->mech = MS_SASL_PLAIN;
    else if (ms_ascii_eq(mech, mlen, "LOGIN"))
        s->mech = MS_SASL_LOGIN;
    else
        s->mech = MS_SASL_OTHER;
    if (has_ir)
        ms_sasl_response(s, ir, irlen);
}

static struct ms_bytes bytes_of(const struct ms_buf *b)
{
    return ms_bytes_of(b->p ? b->p : (const uint8_t *)"", b->len);
}

bool ms_sasl_credential(const struct ms_sasl *s, struct ms_ev_credential *c)
{
    if (!s->have_user && !s->have_pass)
        return false;
    c->mechanism = s->mech_name;
    c->username = s->have_user ? bytes_of(&s->user) : MS_BYTES_NONE;
    c->authzid = s->authzid.len ? bytes_of(&s->authzid) : MS_BYTES_NONE;
    c->password = s->have_pass ? bytes_of(&s->pass) : MS_BYTES_NONE;
    c->incomplete = s->truncated || !s->have_user || !s->have_pass;
    return true;
}
