/* The escaping is json-c's json_escape_str with NOSLASHESCAPE: the five
 * short escapes, \u00xx (lower case) for the other control bytes, every
 * other byte as it is; numbers as %d / PRId64 print them. */
#include "jsonw.h"

#include <assert.h>
#include <string.h>

#include "../common/utf8.h"

void ms_jw_init(struct ms_jw *w)
{
    memset(w, 0, sizeof(*w));
    ms_buf_init(&w->b, MS_JSON_RECORD_MAX);
    ms_buf_init(&w->scratch, MS_JSON_RECORD_MAX);
}

enum ms_rc ms_jw_reserve(struct ms_jw *w, size_t n)
{
    ms_buf_reset(&w->b);
    ms_buf_reset(&w->scratch);
    if (ms_buf_reserve(&w->b, n) != MS_OK ||
        ms_buf_reserve(&w->scratch, MS_JSON_SCRATCH_START) != MS_OK)
        return MS_ERR_NOMEM;
    return MS_OK;
}

void ms_jw_free(struct ms_jw *w)
{
    ms_buf_free(&w->b);
    ms_buf_free(&w->scratch);
}

void ms_jw_reset(struct ms_jw *w)
{
    ms_buf_reset(&w->b);
    w->rc = MS_OK;
    w->depth = 0;
    w->more[0] = false;
}

static void put_slow(struct ms_jw *w, const void *p, size_t n)
{
    if (w->rc != MS_OK)
        return;
    enum ms_rc rc = ms_buf_append(&w->b, p, n);
    if (rc != MS_OK)
        w->rc = rc;
}

/* Most appends fit in the memory the buffer already has (it is kept
 * from record to record): no call then. cap never exceeds the cap. */
static inline void put(struct ms_jw *w, const void *p, size_t n)
{
    if (w->b.cap - w->b.len >= n && w->rc == MS_OK) {
        if (n)
            memcpy(w->b.p + w->b.len, p, n);
        w->b.len += n;
        return;
    }
    put_slow(w, p, n);
}

static void put_c(struct ms_jw *w, char c)
{
    put(w, &c, 1);
}

/* A byte that json-c writes escaped. */
static inline bool needs_escape(uint8_t c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static void put_escape(struct ms_jw *w, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = { '\\', 0, 0, 0, 0, 0 };
    size_t n = 2;
    switch (c) {
    case '\b':
        e[1] = 'b';
        break;
    case '\n':
        e[1] = 'n';
        break;
    case '\r':
        e[1] = 'r';
        break;
    case '\t':
        e[1] = 't';
        break;
    case '\f':
        e[1] = 'f';
        break;
    case '"':
    case '\\':
        e[1] = (char)c;
        break;
    default:
        memcpy(e + 1, "u00", 3);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        n = 6;
        break;
    }
    put(w, e, n);
}

/* Bytes from p on, up to len, that are ASCII and need no escape: 8 at a
 * time (the byte loop was a tenth of mailspill's CPU on the mail-heavy
 * benchmark, most of it in short keys and values with nothing to escape).
 * A word has such a byte when one is below 0x20 or 0x80 and up, or equals
 * '"' or '\\' (the classic has-less and has-zero tests, exact for "any"). */
static inline bool word_plain(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) | x | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) == 0;
}

static size_t plain_ascii(const uint8_t *p, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        if (!word_plain(p + i))
            break;
    }
    /* The last few bytes as the last word (overlapping), not one by one. */
    if (i == len || (i + 8 > len && len >= 8 && word_plain(p + len - 8)))
        return len;
    while (i < len && p[i] < 0x80 && !needs_escape(p[i]))
        i++;
    return i;
}

static void put_escaped(struct ms_jw *w, const uint8_t *p, size_t len)
{
    size_t run = 0; /* bytes from p + run on are not written yet */
    /* The usual text has nothing to escape: one pass, one copy. */
    size_t i = plain_ascii(p, len);
    for (; i < len; i++) {
        if (needs_escape(p[i])) {
            put(w, p + run, i - run);
            put_escape(w, p[i]);
            run = i + 1;
        }
    }
    put(w, p + run, len - run);
}

/* The comma before a member and its name, written in place when there is
 * room (put after put cost a call each). The name is not escaped: member
 * names are ours (jsonw.h), and checking each cost 2.4% of the mail-heavy
 * run's instructions; debug builds (the sanitizer tests) check. */
static void member(struct ms_jw *w, const char *key, size_t kl)
{
    assert(!key || plain_ascii((const uint8_t *)key, kl) == kl);
    if (w->rc == MS_OK && w->b.cap - w->b.len >= kl + 4) {
        uint8_t *o = w->b.p + w->b.len;
        if (w->more[w->depth])
            *o++ = ',';
        w->more[w->depth] = true;
        if (key) {
            *o++ = '"';
            memcpy(o, key, kl);
            o += kl;
            *o++ = '"';
            *o++ = ':';
        }
        w->b.len = (size_t)(o - w->b.p);
        return;
    }
    if (w->more[w->depth])
        put_c(w, ',');
    w->more[w->depth] = true;
    if (key) {
        put_c(w, '"');
        put(w, key, kl);
        put(w, "\":", 2);
    }
}

static void open_container(struct ms_jw *w, const char *key, size_t kl, char c)
{
    member(w, key, kl);
    put_c(w, c);
    if (w->depth == MS_JSON_DEPTH_MAX) {
        w->rc = MS_ERR_LIMIT; /* our own layout's bug: never written */
        return;
    }
    w->more[++w->depth] = false;
}

void ms_jw_open_object_k(struct ms_jw *w, const char *key, size_t kl)
{
    open_container(w, key, kl, '{');
}

void ms_jw_open_array_k(struct ms_jw *w, const char *key, size_t kl)
{
    open_container(w, key, kl, '[');
}

static void close_container(struct ms_jw *w, char c)
{
    put_c(w, c);
    if (w->depth > 0)
        w->depth--;
}

void ms_jw_close_object(struct ms_jw *w)
{
    close_container(w, '}');
}

void ms_jw_close_array(struct ms_jw *w)
{
    close_container(w, ']');
}

struct ms_jw_mark ms_jw_mark(const struct ms_jw *w)
{
    return (struct ms_jw_mark){ w->b.len, w->depth, w->more[w->depth] };
}

bool ms_jw_empty(const struct ms_jw *w)
{
    return !w->more[w->depth];
}

void ms_jw_drop(struct ms_jw *w, struct ms_jw_mark m)
{
    if (m.len <= w->b.len)
        w->b.len = m.len;
    w->depth = m.depth;
    w->more[m.depth] = m.more;
}

/* s in quotes, as it is (plain ASCII: the caller's word), written in
 * place when there is room. */
static void put_quoted_plain(struct ms_jw *w, const char *s, size_t len)
{
    if (w->rc == MS_OK && w->b.cap - w->b.len >= len + 2) {
        uint8_t *o = w->b.p + w->b.len;
        *o++ = '"';
        if (len)
            memcpy(o, s, len);
        o[len] = '"';
        w->b.len += len + 2;
        return;
    }
    put_c(w, '"');
    put(w, s, len);
    put_c(w, '"');
}

void ms_jw_string_k(struct ms_jw *w, const char *key, size_t kl, const char *s, size_t len)
{
    member(w, key, kl);
    if (plain_ascii((const uint8_t *)s, len) == len) {
        put_quoted_plain(w, s, len);
        return;
    }
    put_c(w, '"');
    put_escaped(w, (const uint8_t *)s, len);
    put_c(w, '"');
}

void ms_jw_ascii_k(struct ms_jw *w, const char *key, size_t kl, const char *s, size_t len)
{
    assert(plain_ascii((const uint8_t *)s, len) == len);
    member(w, key, kl);
    put_quoted_plain(w, s, len);
}

void ms_jw_bytes_k(struct ms_jw *w, const char *key, size_t kl, struct ms_bytes b)
{
    if (!b.p)
        return;
    member(w, key, kl);
    put_c(w, '"');
    const uint8_t *p = b.p;
    size_t run = 0;
    for (size_t i = plain_ascii(p, b.len); i < b.len;) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (needs_escape(c)) {
                put(w, p + run, i - run);
                put_escape(w, c);
                run = i + 1;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = ms_utf8_seq(p + i, b.len - i, &cp);
        if (k == 0) {
            put(w, p + run, i - run);
            put(w, "\xef\xbf\xbd", 3);
            run = ++i;
        } else {
            i += k;
        }
    }
    put(w, p + run, b.len - run);
    put_c(w, '"');
}

void ms_jw_int_k(struct ms_jw *w, const char *key, size_t kl, int64_t v)
{
    char d[24];
    size_t n = sizeof(d);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--n] = '-';
    member(w, key, kl);
    put(w, d + n, sizeof(d) - n);
}

void ms_jw_bool_k(struct ms_jw *w, const char *key, size_t kl, bool v)
{
    member(w, key, kl);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}
