/* URL finder over decoded text, one byte at a time (so split-invariant).
 *
 * States:
 *   TEXT      ordinary text; the look-behind window is checked for a scheme
 *             ("http://" ...) or, in HTML, for "href"
 *   URL       collecting an absolute URL (RFC 3986 §3: scheme ":" hier-part)
 *   HREF_EQ   after "href": blanks, then "="        (HTML attribute syntax:
 *   HREF_Q    after "=": blanks, then a quote or     name [ws] "=" [ws] value,
 *             the first byte of an unquoted value     value quoted with " or '
 *   HREF_VAL  collecting the value                    or unquoted)
 */
#include "mime_url.h"

#include <string.h>
#include "../common/ascii.h"

enum { U_TEXT = 0, U_URL, U_HREF_EQ, U_HREF_Q, U_HREF_VAL };

static const struct {
    const char *s;
    size_t n;
} schemes[] = {
    { "http://", 7 },
    { "https://", 8 },
    { "ftp://", 6 },
    { "mailto:", 7 },
};

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). A
 * scheme glued to such a character is part of a longer word
 * ("xhttp://"), not a URL start. */
static bool scheme_char(uint8_t c)
{
    return ms_ascii_alnum(c) || c == '+' || c == '-' || c == '.';
}

static bool blank_or_eol(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

void ms_url_scan_init(struct ms_url_scan *s, size_t max_len, ms_url_cb cb, void *ctx)
{
    memset(s, 0, sizeof(*s));
    ms_buf_init(&s->cur, max_len);
    s->cb = cb;
    s->ctx = ctx;
}

void ms_url_scan_start(struct ms_url_scan *s, bool html)
{
    s->state = U_TEXT;
    s->html = html;
    s->nwin = 0;
    s->quote = 0;
    s->cut = false;
    s->drop = false;
    ms_buf_reset(&s->cur);
}

void ms_url_scan_free(struct ms_url_scan *s)
{
    ms_buf_free(&s->cur);
}

/* The window is twice the look-behind, so the shift happens once every
 * MS_URL_WIN bytes rather than at every byte. */
static void win_push(struct ms_url_scan *s, uint8_t c)
{
    if (s->nwin == sizeof(s->win)) {
        memmove(s->win, s->win + MS_URL_WIN, MS_URL_WIN);
        s->nwin = MS_URL_WIN;
    }
    s->win[s->nwin++] = c;
}

/* The same as k calls of win_push, in one copy: the window ends up holding
 * the last nwin bytes pushed since it was emptied, nwin running from
 * MS_URL_WIN + 1 to 2 * MS_URL_WIN once it has filled, as it does a byte
 * at a time (after_xmlns looks back as far as the window goes). */
static void win_push_run(struct ms_url_scan *s, const uint8_t *p, size_t k)
{
    size_t total = s->nwin + k;
    size_t nw = total <= sizeof(s->win)
                    ? total
                    : MS_URL_WIN + 1 + (total - sizeof(s->win) - 1) % MS_URL_WIN;
    size_t from_p = nw < k ? nw : k;
    size_t keep = nw - from_p; /* bytes kept from the old window */
    if (keep < s->nwin)        /* else the old bytes stay where they are */
        memmove(s->win, s->win + s->nwin - keep, keep);
    memcpy(s->win + keep, p + k - from_p, from_p);
    s->nwin = nw;
}

/* The bytes that can end a scheme ("...//", "mailto:") or "href": text
 * between them only passes through the window. */
static bool url_trigger(uint8_t c)
{
    return c == '/' || c == ':' || c == 'f' || c == 'F';
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when a byte of v is zero (the classic bit trick: exact for "any",
 * which is all that is asked). */
static uint64_t any_zero_byte(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

/* The first trigger at or after i, 8 bytes at a time: with bit 0x20 set
 * in every byte, 'F' becomes 'f' while '/' and ':' stay (0x0f and 0x1a
 * become them too: false alarms, which the exact test below sorts out). */
static size_t next_trigger(const uint8_t *p, size_t i, size_t n)
{
    for (;;) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w |= 0x20 * ONES;
            if (any_zero_byte(w ^ ('/' * ONES)) | any_zero_byte(w ^ (':' * ONES)) |
                any_zero_byte(w ^ ('f' * ONES)))
                break;
            i += 8;
        }
        /* The word that raised the alarm, or the tail. */
        size_t end = n - i >= 8 ? i + 8 : n;
        for (; i < end; i++) {
            if (url_trigger(p[i]))
                return i;
        }
        if (i == n)
            return n;
    }
}

static bool ns_name_char(uint8_t c)
{
    return ms_ascii_alnum(c) || c == ':' || c == '_' || c == '-' || c == '.';
}

/* True when the scheme starting at window position p is the value of an
 * XML namespace declaration:  xmlns[:prefix] [ws] = [ws] ["']  */
static bool after_xmlns(const struct ms_url_scan *s, size_t p)
{
    const uint8_t *w = s->win;
    size_t j = p, end;

    if (j > 0 && (w[j - 1] == '"' || w[j - 1] == '\''))
        j--;
    while (j > 0 && blank_or_eol(w[j - 1]))
        j--;
    if (j == 0 || w[j - 1] != '=')
        return false;
    j--;
    while (j > 0 && blank_or_eol(w[j - 1]))
        j--;
    end = j;
    while (j > 0 && ns_name_char(w[j - 1]))
        j--;
    return end - j >= 5 && ms_ascii_eq(w + j, 5, "xmlns") && (end - j == 5 || w[j + 5] == ':');
}

/* True when the window ends with kw (in any case), and kw starts the text or follows a
 * byte for which `glued` is false. */
static bool win_ends(const struct ms_url_scan *s, const char *kw, size_t n, bool (*glued)(uint8_t))
{
    if (s->nwin < n || !ms_ascii_eq(s->win + s->nwin - n, n, kw))
        return false;
    return s->nwin == n || !glued(s->win[s->nwin - n - 1]);
}

static bool href_glued(uint8_t c)
{
    return ms_ascii_alnum(c) || c == '-' || c == '_';
}

/* Appends to the candidate up to max_len; past it, bytes are dropped. */
static enum ms_rc cur_add(struct ms_url_scan *s, const uint8_t *p, size_t n)
{
    size_t room = s->cur.max - s->cur.len;
    if (n > room) {
        n = room;
        s->cut = true;
    }
    if (n == 0)
        return MS_OK;
    return ms_buf_append(&s->cur, p, n);
}

/* Drops an incomplete UTF-8 sequence left at the end by a cut. */
static size_t utf8_whole(const uint8_t *p, size_t n)
{
    size_t i = n, k = 0;
    while (i > 0 && k < 4 && (p[i - 1] & 0xc0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0 || p[i - 1] < 0x80)
        return n; /* ASCII end (or only continuation bytes: leave as is) */
    uint8_t lead = p[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return k + 1 >= need ? n : i - 1;
}

/* "&amp;" -> "&" in place (HTML text and attribute values escape "&"). */
static size_t html_unamp(uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        p[o++] = p[i];
        if (p[i] == '&' && n - i >= 5 && ms_ascii_eq(p + i + 1, 4, "amp;"))
            i += 4;
    }
    return o;
}

static size_t count(const uint8_t *p, size_t n, uint8_t c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == c;
    return k;
}

/* An absolute URL in running text: drop the sentence punctuation that
 * follows it ("see http://x.example/a."), and a closing bracket that
 * closes something opened before the URL. */
static size_t trim_tail(const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint8_t c = p[n - 1];
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
            (c == ')' && count(p, n, '(') < count(p, n, ')')) ||
            (c == ']' && count(p, n, '[') < count(p, n, ']')))
            n--;
        else
            break;
    }
    return n;
}

static void emit(struct ms_url_scan *s)
{
    uint8_t *p = s->cur.p;
    size_t n = s->cur.len;

    if (s->drop || n == 0) /* n == 0: p may be NULL */
        goto done;
    if (n > 0 && s->cut)
        n = utf8_whole(p, n);
    if (n > 0 && s->html)
        n = html_unamp(p, n);
    if (s->scheme_len > 0) {
        n = trim_tail(p, n);
        if (n <= s->scheme_len) /* a scheme and nothing else */
            n = 0;
    } else {
        /* href value: blanks around it are not part of it (HTML strips
         * them); anchors and cid: parts of the same message are noise. */
        size_t a = 0;
        while (a < n && blank_or_eol(p[a]))
            a++;
        while (n > a && blank_or_eol(p[n - 1]))
            n--;
        p += a;
        n -= a;
        if (n > 0 && (p[0] == '#' || ms_ascii_prefix(p, n, "cid:")))
            n = 0;
    }
    if (n > 0)
        s->cb(s->ctx, p, n);
done:
    ms_buf_reset(&s->cur);
    s->cut = false;
    s->drop = false;
}

/* A byte of ordinary text: look for the start of a URL or an href. */
static enum ms_rc text_byte(struct ms_url_scan *s, uint8_t c)
{
    win_push(s, c);
    /* Every scheme ends in '/' or ':' and "href" in 'f': most bytes can end
     * no keyword, so skip the comparisons (this loop is the hot path). */
    uint8_t lc = ms_ascii_lower(c);
    if (lc != '/' && lc != ':' && lc != 'f')
        return MS_OK;
    for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
        if (win_ends(s, schemes[k].s, schemes[k].n, scheme_char)) {
            s->state = U_URL;
            s->drop = s->html && after_xmlns(s, s->nwin - schemes[k].n);
            s->scheme_len = schemes[k].n;
            s->nwin = 0;
            ms_buf_reset(&s->cur);
            s->cut = false;
            return cur_add(s, (const uint8_t *)schemes[k].s, schemes[k].n);
        }
    }
    if (s->html && win_ends(s, "href", 4, href_glued)) {
        s->state = U_HREF_EQ;
        s->nwin = 0;
    }
    return MS_OK;
}

static bool url_end(const struct ms_url_scan *s, uint8_t c)
{
    return c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '`' ||
           (s->html && c == '\'');
}

enum ms_rc ms_url_scan_feed(struct ms_url_scan *s, const uint8_t *p, size_t n)
{
    enum ms_rc rc = MS_OK;

    /* Every branch consumes p[i]; a byte that ends a URL or an href is
     * then also given to text_byte, so it can start the next one. */
    for (size_t i = 0; i < n && rc == MS_OK; i++) {
        if (s->state == U_TEXT) {
            /* The hot path: a run of text that can end no keyword goes
             * to the window in one copy. */
            size_t j = next_trigger(p, i, n);
            win_push_run(s, p + i, j - i);
            if (j == n)
                break;
            i = j;
        }
        uint8_t c = p[i];

        switch (s->state) {
        case U_TEXT:
            rc = text_byte(s, c);
            break;
        case U_URL:
            if (url_end(s, c)) {
                emit(s);
                s->state = U_TEXT;
                rc = text_byte(s, c);
            } else {
                rc = cur_add(s, &c, 1);
            }
            break;
        case U_HREF_EQ:
            if (c == '=') {
                s->state = U_HREF_Q;
            } else if (!blank_or_eol(c)) {
                s->state = U_TEXT; /* "href" as a word, not an attribute */
                rc = text_byte(s, c);
            }
            break;
        case U_HREF_Q:
            if (blank_or_eol(c))
                break;
            s->scheme_len = 0;
            s->drop = false;
            ms_buf_reset(&s->cur);
            s->cut = false;
            if (c == '"' || c == '\'') {
                s->quote = c;
                s->state = U_HREF_VAL;
            } else if (c == '>') {
                s->state = U_TEXT; /* href= with no value */
                rc = text_byte(s, c);
            } else {
                s->quote = 0;
                s->state = U_HREF_VAL;
                rc = cur_add(s, &c, 1);
            }
            break;
        case U_HREF_VAL:
            /* A quoted value ends at its quote; a raw < or > means the
             * quote was never closed, so stop there rather than swallow
             * the rest of the part. HTML drops newlines inside URLs. */
            if (s->quote ? (c == s->quote || c == '<' || c == '>')
                         : (blank_or_eol(c) || c == '>')) {
                emit(s);
                s->state = U_TEXT;
                if (c != s->quote)
                    rc = text_byte(s, c);
            } else if (c != '\r' && c != '\n' && c != '\t') {
                rc = cur_add(s, &c, 1);
            }
            break;
        }
    }
    if (rc != MS_OK) {
        ms_buf_reset(&s->cur);
        s->state = U_TEXT;
        s->nwin = 0;
    }
    return rc;
}

void ms_url_scan_end(struct ms_url_scan *s)
{
    /* An unterminated quoted href is dropped (it may be anything); a URL or
     * unquoted value that runs to the end of the part is complete. */
    if (s->state == U_URL || (s->state == U_HREF_VAL && s->quote == 0))
        emit(s);
    ms_url_scan_start(s, s->html);
}
