/* Header-value helpers: RFC 2047 encoded words, RFC 2045 §5.1 / RFC 2183 /
 * RFC 2231 parameters, RFC 5322 §3.4 address lists, charsets via iconv. */
#include "mime_hdr.h"
#include "../common/limits.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include "../common/ascii.h"
#include "../common/b64.h"

/* RFC 2231 continuations kept per parameter. Real filenames need a handful;
 * the bound keeps the segment table on the stack. */
#define PARAM_MAX_SEGS 64

static const uint8_t utf8_repl[3] = { 0xEF, 0xBF, 0xBD }; /* U+FFFD */

static bool lwsp(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool span_caseeq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (ms_ascii_lower(a[i]) != ms_ascii_lower(b[i]))
            return false;
    return true;
}

static size_t trim_end(const uint8_t *p, size_t n)
{
    while (n > 0 && lwsp(p[n - 1]))
        n--;
    return n;
}

/* ---- UTF-8 output ---------------------------------------------------- */

/* Drops an incomplete UTF-8 sequence left at the end of b by a cut. */
static void utf8_trim_tail(struct ms_buf *b)
{
    size_t i = b->len, back = 0;

    while (i > 0 && back < 3 && (b->p[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return;
    uint8_t lead = b->p[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (b->len - (i - 1) < need)
        b->len = i - 1;
}

/* Appends what fits under out's cap; MS_ERR_LIMIT when something did not. */
static enum ms_rc put(struct ms_buf *out, const void *d, size_t n)
{
    size_t room = out->len < out->max ? out->max - out->len : 0;
    size_t take = n < room ? n : room;
    enum ms_rc rc = ms_buf_append(out, d, take);

    if (rc != MS_OK)
        return rc;
    if (take < n) {
        utf8_trim_tail(out);
        return MS_ERR_LIMIT;
    }
    return MS_OK;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] >= 0x90))
        return 0;
    return len;
}

enum ms_rc ms_mime_hdr_utf8(const uint8_t *p, size_t n, struct ms_buf *out)
{
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        size_t k;

        while (run < n && (k = utf8_seq(p + run, n - run)) > 0)
            run += k;
        enum ms_rc rc = put(out, p + i, run - i);
        if (rc == MS_OK && run < n) {
            rc = put(out, utf8_repl, sizeof(utf8_repl));
            run++; /* skip one bad byte and resynchronise */
        }
        if (rc != MS_OK)
            return rc;
        i = run;
    }
    return MS_OK;
}

/* ---- charsets -------------------------------------------------------- */

/* Makes a C string iconv accepts from a charset label. Only label
 * characters are allowed: iconv reads "//" suffixes and paths out of the
 * name, and the label comes from the wire. */
static bool charset_name(const uint8_t *cs, size_t n, char *name, size_t cap)
{
    const uint8_t *star = memchr(cs, '*', n);

    if (star)
        n = (size_t)(star - cs); /* RFC 2231 §5: charset*language */
    while (n > 0 && lwsp(cs[0])) {
        cs++;
        n--;
    }
    n = trim_end(cs, n);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = cs[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
        name[i] = (char)c;
    }
    name[n] = '\0';
    /* Mail labelled gb2312 routinely carries GBK characters; the WHATWG
     * Encoding Standard decodes that label as GBK too. */
    if (ms_ascii_eq(cs, n, "gb2312") || ms_ascii_eq(cs, n, "x-gbk")) {
        memcpy(name, "GBK", 4);
    }
    return true;
}

static bool charset_is_utf8(const uint8_t *cs, size_t n)
{
    return ms_ascii_eq(cs, n, "utf-8") || ms_ascii_eq(cs, n, "utf8") ||
           ms_ascii_eq(cs, n, "us-ascii") || ms_ascii_eq(cs, n, "ascii");
}

enum ms_rc ms_mime_hdr_to_utf8(const uint8_t *cs, size_t cslen, const uint8_t *p, size_t n,
                               struct ms_buf *out)
{
    char name[MS_MIME_CHARSET_MAX];

    if (!charset_name(cs, cslen, name, sizeof(name)))
        return MS_ERR_PROTO;
    /* Fast path, and no iconv for the common case. */
    if (charset_is_utf8((const uint8_t *)name, strlen(name)))
        return ms_mime_hdr_utf8(p, n, out);

    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1)
        return errno == ENOMEM ? MS_ERR_NOMEM : MS_ERR_PROTO;

    /* iconv's prototype wants char **, but it never writes the input. */
    char *ip = (char *)(uintptr_t)p;
    size_t il = n;
    uint8_t tmp[256];
    enum ms_rc rc = MS_OK;

    while (il > 0 && rc == MS_OK) {
        char *op = (char *)tmp;
        size_t ol = sizeof(tmp);
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int err = errno;

        rc = put(out, tmp, sizeof(tmp) - ol);
        if (r != (size_t)-1 || rc != MS_OK)
            continue;
        if (err == E2BIG) {
            if (ol == sizeof(tmp))
                rc = MS_ERR_LIMIT; /* no progress: cannot happen, but never spin */
            continue;
        }
        /* EILSEQ (invalid) or EINVAL (cut short): one U+FFFD per bad byte,
         * and reset any shift state before going on. */
        rc = put(out, utf8_repl, sizeof(utf8_repl));
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    if (rc == MS_OK) {
        /* Stateful charsets (ISO-2022-JP) may owe a final sequence. */
        char *op = (char *)tmp;
        size_t ol = sizeof(tmp);
        iconv(cd, NULL, NULL, &op, &ol);
        rc = put(out, tmp, sizeof(tmp) - ol);
    }
    iconv_close(cd);
    return rc;
}

/* ---- RFC 2047 encoded words ------------------------------------------ */

struct eword {
    const uint8_t *cs;
    size_t cslen;
    uint8_t enc; /* 'b' or 'q' */
    const uint8_t *text;
    size_t tlen;
    size_t len; /* whole word, "=?" to "?=" */
};

static bool eword_char(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '?';
}

/* RFC 2047 §2:
 *   encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
 *   encoded-text = 1*<printable ASCII except "?" and SPACE>
 * (an empty encoded-text is accepted: encoders emit it.) */
static bool eword_parse(const uint8_t *p, size_t n, struct eword *w)
{
    size_t i = 2;

    if (n < 8 || p[0] != '=' || p[1] != '?')
        return false;
    while (i < n && eword_char(p[i]))
        i++;
    if (i == 2 || i + 3 >= n || p[i] != '?' || p[i + 2] != '?')
        return false;
    w->cs = p + 2;
    w->cslen = i - 2;
    w->enc = ms_ascii_lower(p[i + 1]);
    if (w->enc != 'b' && w->enc != 'q')
        return false;
    i += 3;
    w->text = p + i;
    while (i < n && eword_char(p[i]))
        i++;
    if (i + 1 >= n || p[i] != '?' || p[i + 1] != '=')
        return false;
    w->tlen = (size_t)(p + i - w->text);
    w->len = i + 2;
    return true;
}

/* Appends the charset bytes a word carries: B is base64 (RFC 2047 §4.1),
 * Q is "_" for space plus "=XX" (§4.2). */
static enum ms_rc eword_decode(const struct eword *w, struct ms_buf *raw)
{
    uint8_t tmp[MS_B64_OUT_MAX(64)];
    enum ms_rc rc = MS_OK;

    if (w->enc == 'b') {
        struct ms_b64 s;
        ms_b64_init(&s);
        for (size_t off = 0; off < w->tlen && rc == MS_OK; off += 64) {
            size_t take = w->tlen - off < 64 ? w->tlen - off : 64;
            rc = put(raw, tmp, ms_b64_decode(&s, w->text + off, take, tmp));
        }
        if (rc == MS_OK)
            rc = put(raw, tmp, ms_b64_finish(&s, tmp));
        return rc;
    }
    for (size_t i = 0; i < w->tlen && rc == MS_OK; i++) {
        uint8_t c = w->text[i];
        if (c == '_') {
            c = ' ';
        } else if (c == '=' && i + 2 < w->tlen && ms_ascii_hexval(w->text[i + 1]) >= 0 &&
                   ms_ascii_hexval(w->text[i + 2]) >= 0) {
            c = (uint8_t)(ms_ascii_hexval(w->text[i + 1]) << 4 | ms_ascii_hexval(w->text[i + 2]));
            i += 2;
        }
        rc = put(raw, &c, 1);
    }
    return rc;
}

/* A run of adjacent encoded words in one charset, decoded to charset bytes
 * and converted together, so a character split across two words (as
 * encoders do for long UTF-8 subjects) survives. */
struct ew_run {
    bool active;
    const uint8_t *cs;
    size_t cslen;
    size_t start, end; /* the words' span in the input, for fallback */
    struct ms_buf raw;
};

static enum ms_rc run_flush(const uint8_t *p, struct ew_run *r, struct ms_buf *out)
{
    enum ms_rc rc;

    if (!r->active)
        return MS_OK;
    r->active = false;
    rc = ms_mime_hdr_to_utf8(r->cs, r->cslen, r->raw.p, r->raw.len, out);
    ms_buf_reset(&r->raw);
    if (rc == MS_ERR_PROTO) /* unknown charset: keep the words as written */
        rc = ms_mime_hdr_utf8(p + r->start, r->end - r->start, out);
    return rc;
}

/* RFC 2047 §6.2: "any 'linear-white-space' that separates a pair of
 * adjacent 'encoded-word's is ignored". Words are also decoded when not
 * surrounded by white space (§5 forbids it, mail clients accept it). */
enum ms_rc ms_mime_hdr_decode(const uint8_t *p, size_t n, struct ms_buf *out)
{
    struct ew_run r = { 0 };
    struct eword w;
    enum ms_rc rc = MS_OK;
    size_t i = 0;

    ms_buf_init(&r.raw, n); /* decoding never grows the text */
    while (i < n && rc == MS_OK) {
        if (p[i] == '=' && eword_parse(p + i, n - i, &w)) {
            if (r.active && !span_caseeq(r.cs, r.cslen, w.cs, w.cslen))
                rc = run_flush(p, &r, out);
            if (rc != MS_OK)
                break;
            if (!r.active) {
                r.active = true;
                r.cs = w.cs;
                r.cslen = w.cslen;
                r.start = i;
            }
            rc = eword_decode(&w, &r.raw);
            i += w.len;
            r.end = i;
            continue;
        }
        if (r.active && lwsp(p[i])) {
            size_t j = i;
            while (j < n && lwsp(p[j]))
                j++;
            if (j < n && eword_parse(p + j, n - j, &w)) {
                i = j; /* white space between two words: dropped */
                continue;
            }
        }
        rc = run_flush(p, &r, out);
        if (rc != MS_OK)
            break;
        /* Plain text up to the next '=' (never inside a UTF-8 sequence). */
        const uint8_t *eq = memchr(p + i + 1, '=', n - i - 1);
        size_t j = eq ? (size_t)(eq - p) : n;
        rc = ms_mime_hdr_utf8(p + i, j - i, out);
        i = j;
    }
    if (rc == MS_OK)
        rc = run_flush(p, &r, out);
    ms_buf_free(&r.raw);
    return rc;
}

/* ---- parameters ------------------------------------------------------ */

/* Index just past the quoted-string opening at p[i] == '"' (RFC 5322
 * §3.2.4, with quoted-pair escapes), or n if it is never closed. */
static size_t quoted_end(const uint8_t *p, size_t n, size_t i, bool *closed)
{
    *closed = false;
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            if (++i >= n)
                break;
        } else if (p[i] == '"') {
            *closed = true;
            return i + 1;
        }
    }
    return n;
}

/* End of the leading value: the first ';' outside quotes. */
static size_t value_end(const uint8_t *p, size_t n)
{
    size_t i = 0;
    bool closed;

    while (i < n && p[i] != ';')
        i = p[i] == '"' ? quoted_end(p, n, i, &closed) : i + 1;
    return i;
}

void ms_mime_hdr_value(const uint8_t *p, size_t n, const uint8_t **v, size_t *vlen)
{
    size_t s = 0, e = value_end(p, n);

    while (s < e && lwsp(p[s]))
        s++;
    *v = p + s;
    *vlen = trim_end(p + s, e - s);
}

struct param {
    const uint8_t *name; /* attribute as written: "filename", "name*0*" */
    size_t nlen;
    const uint8_t *val; /* inside the quotes, escapes still in */
    size_t vlen;
    bool quoted;
};

/* RFC 2045 §5.1 (RFC 2183 §2 for Content-Disposition):
 *   *(";" parameter)    parameter := attribute "=" value
 *   value := token / quoted-string
 * Walking parameter by parameter is what keeps "filename=" inside another
 * parameter's quoted value from matching. Unquoted values run to the next
 * ';' (senders put spaces in them). */
static bool param_next(const uint8_t *p, size_t n, size_t *pos, struct param *pr)
{
    size_t i = *pos;
    bool closed;

    for (;;) {
        while (i < n && (lwsp(p[i]) || p[i] == ';'))
            i++;
        if (i >= n)
            break;
        size_t ns = i;
        while (i < n && p[i] != '=' && p[i] != ';')
            i = p[i] == '"' ? quoted_end(p, n, i, &closed) : i + 1;
        if (i >= n || p[i] == ';')
            continue; /* attribute without a value: skip it */
        pr->name = p + ns;
        pr->nlen = trim_end(p + ns, i - ns);
        i++;
        while (i < n && lwsp(p[i]))
            i++;
        if (i < n && p[i] == '"') {
            size_t e = quoted_end(p, n, i, &closed);
            pr->val = p + i + 1;
            pr->vlen = e - (i + 1) - (closed ? 1 : 0);
            pr->quoted = true;
            i = e;
            while (i < n && p[i] != ';') /* junk after the closing quote */
                i++;
        } else {
            size_t vs = i;
            while (i < n && p[i] != ';')
                i++;
            pr->val = p + vs;
            pr->vlen = trim_end(p + vs, i - vs);
            pr->quoted = false;
        }
        *pos = i;
        return true;
    }
    *pos = n;
    return false;
}

/* Appends a value with quoted-pair escapes removed. */
static enum ms_rc unquote(const struct param *pr, struct ms_buf *raw)
{
    enum ms_rc rc = MS_OK;
    size_t i = 0;

    if (!pr->quoted)
        return put(raw, pr->val, pr->vlen);
    while (i < pr->vlen && rc == MS_OK) {
        size_t j = i;
        while (j < pr->vlen && pr->val[j] != '\\')
            j++;
        rc = put(raw, pr->val + i, j - i);
        if (j + 1 < pr->vlen && rc == MS_OK)
            rc = put(raw, pr->val + j + 1, 1);
        i = j + 2;
    }
    return rc;
}

/* RFC 2231 §4 extended value:
 *   extended-initial-value := [charset] "'" [language] "'" extended-other-values
 *   extended-other-values  := *(ext-octet / attribute-char)
 *   ext-octet := "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
 * The charset is only on the first segment. A malformed "%" stays literal. */
static enum ms_rc ext_value(const struct param *pr, bool initial, const uint8_t **cs, size_t *cslen,
                            struct ms_buf *raw)
{
    const uint8_t *v = pr->val;
    size_t n = pr->vlen;
    enum ms_rc rc = MS_OK;

    if (initial) {
        const uint8_t *q1 = memchr(v, '\'', n);
        const uint8_t *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(v + n - q1 - 1)) : NULL;
        if (q2) {
            *cs = v;
            *cslen = (size_t)(q1 - v);
            n -= (size_t)(q2 + 1 - v);
            v = q2 + 1;
        }
    }
    for (size_t i = 0; i < n && rc == MS_OK; i++) {
        uint8_t c = v[i];
        if (c == '\\' && pr->quoted)
            continue; /* not allowed here, but some senders quote anyway */
        if (c == '%' && i + 2 < n && ms_ascii_hexval(v[i + 1]) >= 0 &&
            ms_ascii_hexval(v[i + 2]) >= 0) {
            c = (uint8_t)(ms_ascii_hexval(v[i + 1]) << 4 | ms_ascii_hexval(v[i + 2]));
            i += 2;
        }
        rc = put(raw, &c, 1);
    }
    return rc;
}

struct seg {
    struct param pr;
    unsigned idx;
    bool ext;
};

/* Parses "name*N" or "name*N*" after the name; false if it is neither. */
static bool seg_suffix(const uint8_t *s, size_t n, unsigned *idx, bool *ext)
{
    size_t k = 0;
    unsigned v = 0;

    while (k < n && s[k] >= '0' && s[k] <= '9') {
        if (v > 99999)
            return false; /* checked number, never overflows */
        v = v * 10 + (unsigned)(s[k] - '0');
        k++;
    }
    if (k == 0)
        return false;
    *ext = false;
    if (k < n) {
        if (k + 1 != n || s[k] != '*')
            return false;
        *ext = true;
    }
    *idx = v;
    return true;
}

/* Stable insertion sort by index: at most PARAM_MAX_SEGS entries. */
static void seg_sort(struct seg *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct seg t = s[i];
        size_t j = i;
        while (j > 0 && s[j - 1].idx > t.idx) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = t;
    }
}

/* Joins continuations 0, 1, 2... in index order (RFC 2231 §3 lets them
 * arrive in any order); stops at a gap, ignores repeated indexes. */
static enum ms_rc seg_join(struct seg *segs, size_t nseg, const uint8_t **cs, size_t *cslen,
                           bool *extended, struct ms_buf *raw)
{
    unsigned want = 0;
    enum ms_rc rc = MS_OK;

    seg_sort(segs, nseg);
    for (size_t i = 0; i < nseg && rc == MS_OK; i++) {
        if (segs[i].idx < want)
            continue;
        if (segs[i].idx > want)
            break;
        if (segs[i].ext) {
            *extended = true;
            rc = ext_value(&segs[i].pr, want == 0, cs, cslen, raw);
        } else {
            rc = unquote(&segs[i].pr, raw);
        }
        want++;
    }
    return rc;
}

enum ms_rc ms_mime_hdr_param(const uint8_t *p, size_t n, const char *name, unsigned flags,
                             struct ms_buf *out, bool *found)
{
    size_t nl = strlen(name);
    size_t pos = value_end(p, n);
    struct param pr, plain, ext1;
    bool have_plain = false, have_ext = false, have_seg0 = false, lost_segs = false;
    struct seg segs[PARAM_MAX_SEGS];
    size_t nseg = 0;

    *found = false;
    while (param_next(p, n, &pos, &pr)) {
        if (pr.nlen < nl || !ms_ascii_prefix(pr.name, pr.nlen, name))
            continue;
        const uint8_t *rest = pr.name + nl;
        size_t rl = pr.nlen - nl;
        unsigned idx;
        bool ext;

        /* First occurrence wins for repeated parameters. */
        if (rl == 0) {
            if (!have_plain)
                plain = pr;
            have_plain = true;
        } else if (rest[0] != '*') {
            continue; /* "filenames" is another parameter */
        } else if (rl == 1) {
            if (!have_ext)
                ext1 = pr;
            have_ext = true;
        } else if (seg_suffix(rest + 1, rl - 1, &idx, &ext)) {
            if (nseg == PARAM_MAX_SEGS) {
                lost_segs = true;
                continue;
            }
            segs[nseg].idx = idx;
            segs[nseg].pr = pr;
            segs[nseg].ext = ext;
            nseg++;
            have_seg0 |= idx == 0;
        }
    }
    if (!have_plain && !have_ext && !have_seg0)
        return MS_OK;
    *found = true;

    /* Precedence: name* (charset-tagged) over name*0.. over plain name. */
    const uint8_t *cs = NULL;
    size_t cslen = 0;
    bool extended = false;
    struct ms_buf raw;
    enum ms_rc rc;

    ms_buf_init(&raw, n);
    bool as_is = false; /* the plain value, nothing to undo: used in place */
    if (have_ext) {
        extended = true;
        rc = ext_value(&ext1, true, &cs, &cslen, &raw);
    } else if (have_seg0) {
        rc = seg_join(segs, nseg, &cs, &cslen, &extended, &raw);
    } else if (plain.quoted && memchr(plain.val, '\\', plain.vlen)) {
        rc = unquote(&plain, &raw);
    } else {
        /* The usual boundary, charset or name: no copy, no allocation. */
        as_is = true;
        rc = MS_OK;
    }
    const uint8_t *rv = as_is ? plain.val : raw.p;
    size_t rl = as_is ? plain.vlen : raw.len;
    if (rc == MS_OK) {
        if (!(flags & MS_MIME_PARAM_TEXT))
            rc = put(out, rv, rl);
        else if (!extended)
            rc = ms_mime_hdr_decode(rv, rl, out); /* '"=?utf-8?...?="' */
        else if (!cs || cslen == 0 ||
                 (rc = ms_mime_hdr_to_utf8(cs, cslen, rv, rl, out)) == MS_ERR_PROTO)
            rc = ms_mime_hdr_utf8(rv, rl, out); /* no charset, or an unknown one */
    }
    ms_buf_free(&raw);
    if (rc == MS_OK && lost_segs)
        rc = MS_ERR_LIMIT;
    return rc;
}

/* ---- address lists --------------------------------------------------- */

/* RFC 5322 §3.4:
 *   address-list = address *("," address)
 *   name-addr    = [display-name] angle-addr      angle-addr = "<" addr-spec ">"
 * A comma separates only outside quoted-string, angle-addr and comment. */
bool ms_mime_hdr_addr_next(const uint8_t *p, size_t n, size_t *pos, const uint8_t **a, size_t *alen)
{
    size_t i = *pos;
    bool closed;

    while (i < n) {
        size_t start = i, comment = 0;
        bool angle = false;

        while (i < n) {
            uint8_t c = p[i];
            if (comment > 0) {
                if (c == '\\')
                    i++; /* quoted-pair inside a comment */
                else if (c == '(')
                    comment++;
                else if (c == ')')
                    comment--;
                i = i < n ? i + 1 : n;
                continue;
            }
            if (c == '"') {
                i = quoted_end(p, n, i, &closed);
                continue;
            }
            if (c == '(')
                comment++;
            else if (c == '<')
                angle = true;
            else if (c == '>')
                angle = false;
            else if (c == ',' && !angle)
                break;
            i++;
        }
        size_t end = i;
        if (i < n)
            i++; /* the comma */
        while (start < end && lwsp(p[start]))
            start++;
        end = start + trim_end(p + start, end - start);
        if (end > start) {
            *pos = i;
            *a = p + start;
            *alen = end - start;
            return true;
        }
    }
    *pos = n;
    return false;
}
