/* Streaming MIME message parser.
 *
 * Follows RFC 5322 §2.2 (header fields, folding), RFC 2045 (Content-Type,
 * Content-Transfer-Encoding), RFC 2046 §5.1 (multipart), RFC 2183
 * (Content-Disposition); header values go through mime_hdr.c (RFC 2047,
 * RFC 2231).
 *
 * Bytes go through a linebuf, which cuts them into lines (or fragments of
 * long lines) the same way whatever the chunking, so everything after it is
 * split-invariant. One state machine runs over those lines:
 *
 *   HEADERS  one unfolded field is collected at a time (capped at
 *            mime_max_header) and acted on when the next one starts; the
 *            empty line ends the block.
 *   LEAF     content of a non-multipart entity. If it is an attachment, its
 *            lines go through the transfer decoder into a SHA-256. Each
 *            line's terminator is held back until the next line proves not
 *            to be a boundary: the CRLF before a boundary belongs to the
 *            boundary (RFC 2046 §5.1.1).
 *   SKIP     multipart preamble or epilogue: only boundaries matter.
 *
 * A stack keeps the boundary of each open multipart (at most
 * mime_max_depth; deeper ones are opaque leaves).
 *
 * Caps: size and sha256 cover every byte fed, always, so the message hash
 * matches the bytes on the wire; max_message only bounds how much is parsed
 * (headers, parts, attachment hashes). Whatever a cap cuts sets truncated.
 *
 * Attachments' own truncated flag says their decoded content may be
 * incomplete. A cut of the content (ms_mime_set_truncated: a gap, an
 * out-of-memory stop, the end of the capture; or the max_message cut)
 * marks the entity being parsed at that moment: the leaf open then, or the
 * entity whose header block was being read (the hole may hold the start of
 * its body). A leaf closed by its boundary is complete unless it was so
 * marked. A leaf closed by the end of the message (single-part message,
 * missing final boundary) is complete only if the message saw no cut at
 * all and is not a partial transfer (ms_mime_set_partial). Caps that cut
 * no content (addresses, header length, parts, depth) leave attachments
 * alone. Dissectors call ms_mime_set_truncated at the gap itself, not at
 * the end of the message, so that a leaf closed after the gap is judged
 * right.
 *
 * Extras: every leaf is transfer-decoded (so damage shows up in
 * mime_errors, each code once per message); the decoded text of text
 * leaves goes through the URL finder (mime_url.c), and the first
 * non-attachment text/plain and text/html leaves are kept up to a bound
 * for body_excerpt (converted to UTF-8 from their charset at the end).
 * When the sink has a tap (--extract), it gets every byte fed and each
 * attachment's decoded bytes.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>
#include "../common/alloc.h"
#include "../common/ascii.h"
#include "../common/b64.h"
#include "../common/buf.h"
#include "../common/linebuf.h"
#include "../common/qp.h"
#include "../common/sha256.h"
#include "mime_hdr.h"
#include "mime_url.h"

/* Input bytes decoded per step into a stack buffer. */
#define DECODE_CHUNK 2048
/* RFC 6838 §4.2: type and subtype names are at most 127 characters each. */
#define CTYPE_MAX 255
/* Room for trailing blanks after a boundary before its line would be cut
 * into fragments (which are never taken as boundaries). */
#define BOUNDARY_SLACK 256
/* RFC 5322 §2.1.1: a line MUST be at most 998 characters plus CRLF. */
#define RFC5322_LINE_MAX 998
/* Decoded bytes kept per excerpt candidate, per output byte: enough for
 * UTF-32 (4 bytes per character, at least 1 byte of UTF-8), plus a
 * character of slack. */
#define EXCERPT_RAW(n) ((n) <= (SIZE_MAX - 8) / 4 ? (n)*4 + 8 : SIZE_MAX)

/* MIME damage, reported once each in mime_errors, in this order. */
enum mime_err {
    ERR_MISSING_FINAL_BOUNDARY,
    ERR_INVALID_BASE64,
    ERR_INVALID_QP,
    ERR_HEADER_LINE_TOO_LONG,
    ERR_DEPTH_EXCEEDED,
    ERR_TOO_MANY_PARTS,
    ERR_BAD_HEADER_LINE,
    ERR_MISSING_BOUNDARY,
    ERR_BOUNDARY_TOO_LONG,
    ERR_MESSAGE_TOO_LARGE,
    ERR_COUNT
};

static const char *const mime_err_codes[ERR_COUNT] = {
    [ERR_MISSING_FINAL_BOUNDARY] = "missing_final_boundary",
    [ERR_INVALID_BASE64] = "invalid_base64",
    [ERR_INVALID_QP] = "invalid_quoted_printable",
    [ERR_HEADER_LINE_TOO_LONG] = "header_line_too_long",
    [ERR_DEPTH_EXCEEDED] = "depth_exceeded",
    [ERR_TOO_MANY_PARTS] = "too_many_parts",
    [ERR_BAD_HEADER_LINE] = "bad_header_line",
    [ERR_MISSING_BOUNDARY] = "missing_boundary",
    [ERR_BOUNDARY_TOO_LONG] = "boundary_too_long",
    [ERR_MESSAGE_TOO_LARGE] = "message_too_large",
};

enum { EX_PLAIN = 0, EX_HTML = 1, EX_NONE = 2 };

enum mime_state { ST_HEADERS, ST_LEAF, ST_SKIP };
enum mime_cte { CTE_IDENTITY, CTE_BASE64, CTE_QP };

/* One open multipart. */
struct mime_level {
    struct ms_buf boundary;
    bool digest; /* multipart/digest: parts default to message/rfc822 */
};

/* What the header block of the current entity said. */
struct mime_entity {
    bool toplevel; /* the message itself, whose From/To/... we report */
    bool parent_digest;
    bool have_ctype, have_disp, have_cte;
    struct ms_buf ctype; /* lower-case type/subtype */
    struct ms_buf boundary;
    bool has_boundary, boundary_long;
    struct ms_buf filename, name;
    bool has_filename, has_name;
    struct ms_buf charset;
    bool attachment; /* Content-Disposition: attachment */
    enum mime_cte cte;
    bool cut; /* a cut came while its header block was read */
    bool gap; /* ... and the cut was a capture gap */
};

/* The leaf whose content is being decoded: hashed if it is an attachment,
 * scanned for URLs if it is text, kept if it is the body excerpt. */
struct mime_leaf {
    bool open;
    bool tracked;     /* an attachment: hashed */
    size_t att;       /* index into m->att */
    void *tap_att;    /* the tap's handle for it, or NULL */
    bool urls;        /* text: scanned for URLs */
    unsigned excerpt; /* EX_PLAIN / EX_HTML: kept for body_excerpt */
    enum mime_cte cte;
    bool cut; /* a cut came while it (or its header block) was open */
    bool gap; /* ... and the cut was a capture gap */
    struct ms_b64 b64;
    struct ms_qp qp;
    struct ms_sha256 sha;
    uint64_t size;
};

struct addr_list {
    struct ms_bytes *v;
    size_t n, cap;
};

struct ms_mime {
    struct ms_limits lim;
    enum ms_rc rc; /* sticky MS_ERR_NOMEM */
    bool finished;
    bool truncated;
    bool cut;        /* content was cut (note_cut): a subset of truncated */
    bool partial;    /* only part of the message is transferred */
    uint64_t size;   /* every byte fed */
    uint64_t parsed; /* bytes given to the parser, <= max_message */
    struct ms_sha256 sha;
    uint8_t sha256[MS_SHA256_LEN];

    struct ms_linebuf lb;
    bool held_cr; /* a fragment ended in CR: maybe half of CRLF */
    enum mime_state state;
    struct ms_buf field; /* the header field being unfolded */
    bool field_active;
    struct ms_buf scratch; /* a decoded header value */
    struct mime_entity ent;
    struct mime_level *stack;
    size_t depth;
    struct mime_leaf leaf;
    uint8_t eol[2]; /* the held-back terminator of the last content line */
    size_t eol_len;
    size_t hline;   /* length so far of the current header line */
    size_t nfields; /* header fields seen in this entity */
    unsigned errs;  /* bit per enum mime_err */
    const char *err_list[ERR_COUNT];
    size_t n_errs;

    /* body_excerpt: decoded bytes of the first text/plain and text/html
     * leaves, and their charsets. */
    struct ms_buf ex_raw[2], ex_cs[2];
    bool ex_seen[2];
    struct ms_bytes excerpt;

    /* URLs, deduplicated, owned through pool. */
    struct ms_url_scan us;
    struct ms_bytes *urls;
    size_t n_urls, cap_urls;

    /* --extract */
    const struct ms_msg_tap *tap;
    void *tap_msg;
    struct ms_bytes eml_file;

    /* Results; every pointer is owned through pool. */
    struct ms_bytes from, subject, date, message_id;
    struct addr_list to, cc;
    struct ms_attachment *att;
    size_t n_att, cap_att;
    void **pool;
    size_t n_pool, cap_pool;
    uint8_t *chunk; /* room left in the pool's last chunk (keep) */
    size_t chunk_left;
};

/* ---- owned results --------------------------------------------------- */

static void nomem(struct ms_mime *m)
{
    m->rc = MS_ERR_NOMEM;
}

static void mime_error(struct ms_mime *m, enum mime_err e)
{
    m->errs |= 1u << e;
}

/* Returns arr grown to hold element n (of `size` bytes), never past max
 * elements, or NULL (arr untouched, m->rc set). */
static void *grow(struct ms_mime *m, void *arr, size_t *cap, size_t n, size_t size, size_t max)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return arr;
    ncap = *cap ? *cap * 2 : 4;
    if (ncap > max)
        ncap = max;
    if (ncap <= n || ncap > SIZE_MAX / size) {
        nomem(m);
        return NULL;
    }
    p = ms_realloc(arr, ncap * size);
    if (!p) {
        nomem(m);
        return NULL;
    }
    *cap = ncap;
    return p;
}

/* A copy of p owned by m until ms_mime_free; p != NULL even when n == 0,
 * because NULL means "absent". Short values are carved from chunks of
 * MIME_POOL_CHUNK bytes (a malloc each was 82k of the 749k allocations
 * on the 100 MB mail benchmark, a dozen per message); a long one gets a
 * block of its own. */
#define MIME_POOL_CHUNK 1024u
static struct ms_bytes keep(struct ms_mime *m, const uint8_t *p, size_t n)
{
    size_t need = n ? n : 1;
    uint8_t *c;

    if (need <= m->chunk_left) {
        c = m->chunk;
        m->chunk += need;
        m->chunk_left -= need;
    } else {
        void **pool = grow(m, m->pool, &m->cap_pool, m->n_pool, sizeof(*pool), SIZE_MAX);
        if (!pool)
            return MS_BYTES_NONE;
        m->pool = pool;
        bool shared = need <= MIME_POOL_CHUNK / 4;
        c = ms_malloc(shared ? MIME_POOL_CHUNK : need);
        if (!c) {
            nomem(m);
            return MS_BYTES_NONE;
        }
        m->pool[m->n_pool++] = c;
        if (shared) {
            m->chunk = c + need;
            m->chunk_left = MIME_POOL_CHUNK - need;
        }
    }
    if (n)
        memcpy(c, p, n);
    return ms_bytes_of(c, n);
}

typedef enum ms_rc (*hdr_fn)(const uint8_t *p, size_t n, struct ms_buf *out);

/* Runs a mime_hdr decoder into scratch and keeps the result. */
static struct ms_bytes keep_decoded(struct ms_mime *m, hdr_fn fn, const uint8_t *p, size_t n)
{
    enum ms_rc rc;

    ms_buf_reset(&m->scratch);
    rc = fn(p, n, &m->scratch);
    if (rc == MS_ERR_NOMEM) {
        nomem(m);
        return MS_BYTES_NONE;
    }
    if (rc == MS_ERR_LIMIT)
        m->truncated = true;
    return keep(m, m->scratch.p, m->scratch.len);
}

/* RFC 5322 §3.6.3: To and Cc are address lists. Each item is reported
 * decoded; past mime_max_addrs the list is cut and marked truncated. */
static void addr_list_add(struct ms_mime *m, struct addr_list *l, const uint8_t *v, size_t n)
{
    size_t pos = 0, alen;
    const uint8_t *a;

    while (m->rc == MS_OK && ms_mime_hdr_addr_next(v, n, &pos, &a, &alen)) {
        if (l->n >= m->lim.mime_max_addrs) {
            m->truncated = true;
            return;
        }
        struct ms_bytes b = keep_decoded(m, ms_mime_hdr_decode, a, alen);
        struct ms_bytes *arr;
        if (m->rc != MS_OK)
            return;
        arr = grow(m, l->v, &l->cap, l->n, sizeof(*arr), m->lim.mime_max_addrs);
        if (!arr)
            return;
        l->v = arr;
        l->v[l->n++] = b;
    }
}

/* ---- URLs ------------------------------------------------------------ */

/* URL finder callback: keep each distinct URL, up to mime_max_urls. */
static void on_url(void *ctx, const uint8_t *u, size_t n)
{
    struct ms_mime *m = ctx;
    struct ms_bytes *arr;

    if (m->rc != MS_OK || m->n_urls >= m->lim.mime_max_urls)
        return;
    for (size_t i = 0; i < m->n_urls; i++)
        if (m->urls[i].len == n && memcmp(m->urls[i].p, u, n) == 0)
            return;
    arr = grow(m, m->urls, &m->cap_urls, m->n_urls, sizeof(*arr), m->lim.mime_max_urls);
    if (!arr)
        return;
    m->urls = arr;
    struct ms_bytes b = keep(m, u, n);
    if (m->rc == MS_OK)
        m->urls[m->n_urls++] = b;
}

/* ---- leaves ---------------------------------------------------------- */

/* Decoded content of the open leaf goes to whoever wants it. */
static void leaf_out(struct ms_mime *m, const uint8_t *p, size_t n)
{
    struct mime_leaf *l = &m->leaf;

    if (n == 0)
        return;
    if (l->tracked) {
        ms_sha256_update(&l->sha, p, n);
        l->size += n;
    }
    if (l->tap_att)
        m->tap->att_data(l->tap_att, p, n);
    if (l->urls && m->n_urls < m->lim.mime_max_urls &&
        ms_url_scan_feed(&m->us, p, n) == MS_ERR_NOMEM)
        nomem(m);
    if (l->excerpt != EX_NONE && ms_buf_append_some(&m->ex_raw[l->excerpt], p, n) == MS_ERR_NOMEM)
        nomem(m);
}

static bool leaf_wanted(const struct mime_leaf *l)
{
    return l->tracked || l->tap_att || l->urls || l->excerpt != EX_NONE;
}

/* Transfer-decodes a piece of content (RFC 2045 §6). Base64 and
 * quoted-printable leaves are decoded even when nobody wants the bytes,
 * so that their damage is reported. */
static void content(struct ms_mime *m, const uint8_t *p, size_t n)
{
    struct mime_leaf *l = &m->leaf;
    uint8_t out[DECODE_CHUNK + MS_QP_HOLD];

    if (!l->open)
        return;
    if (l->cte == CTE_IDENTITY) {
        if (leaf_wanted(l))
            leaf_out(m, p, n);
        return;
    }
    while (n > 0) {
        size_t take = n < DECODE_CHUNK ? n : DECODE_CHUNK;
        size_t got = l->cte == CTE_BASE64 ? ms_b64_decode(&l->b64, p, take, out)
                                          : ms_qp_decode(&l->qp, p, take, out);
        leaf_out(m, out, got);
        p += take;
        n -= take;
    }
}

/* RFC 2045 §5.2: no Content-Type means text/plain (message/rfc822 inside a
 * multipart/digest, RFC 2046 §5.1.5). */
static struct ms_bytes leaf_ctype(const struct mime_entity *e)
{
    if (e->ctype.len > 0)
        return ms_bytes_of(e->ctype.p, e->ctype.len);
    if (e->parent_digest)
        return ms_bytes_of("message/rfc822", 14);
    return ms_bytes_of("text/plain", 10);
}

/* A leaf is an attachment when it says so, or when it has a file name
 * (inline images with a name count too); plain bodies do not. */
static void leaf_open(struct ms_mime *m)
{
    struct mime_entity *e = &m->ent;
    struct mime_leaf *l = &m->leaf;
    struct ms_attachment *a;
    struct ms_bytes ct = leaf_ctype(e);
    bool is_att = e->attachment || e->has_filename || e->has_name;

    m->state = ST_LEAF;
    m->eol_len = 0;
    l->open = true;
    l->tracked = false;
    l->tap_att = NULL;
    l->cte = e->cte;
    l->cut = e->cut;
    l->gap = e->gap;
    l->size = 0;
    ms_b64_init(&l->b64);
    ms_qp_init(&l->qp);

    /* Text is scanned for URLs, attachments included (HTML attachments
     * are a phishing classic). */
    l->urls = ms_ascii_prefix(ct.p, ct.len, "text/") && m->lim.mime_max_urls > 0;
    if (l->urls)
        ms_url_scan_start(&m->us, ms_ascii_eq(ct.p, ct.len, "text/html"));
    l->excerpt = EX_NONE;
    if (!is_att && m->lim.body_excerpt > 0) {
        unsigned k = ms_ascii_eq(ct.p, ct.len, "text/plain")  ? EX_PLAIN
                     : ms_ascii_eq(ct.p, ct.len, "text/html") ? EX_HTML
                                                              : EX_NONE;
        if (k != EX_NONE && !m->ex_seen[k]) {
            m->ex_seen[k] = true;
            l->excerpt = k;
            ms_buf_reset(&m->ex_cs[k]);
            if (ms_buf_append_some(&m->ex_cs[k], e->charset.p, e->charset.len) == MS_ERR_NOMEM)
                nomem(m);
        }
    }

    if (!is_att)
        return;
    if (m->n_att >= m->lim.mime_max_parts) {
        m->truncated = true;
        mime_error(m, ERR_TOO_MANY_PARTS);
        return;
    }
    a = grow(m, m->att, &m->cap_att, m->n_att, sizeof(*a), m->lim.mime_max_parts);
    if (!a)
        return;
    m->att = a;
    a = &m->att[m->n_att];
    memset(a, 0, sizeof(*a));
    if (e->has_filename)
        a->filename = keep(m, e->filename.p, e->filename.len);
    else if (e->has_name)
        a->filename = keep(m, e->name.p, e->name.len);
    a->content_type = e->ctype.len > 0 ? keep(m, ct.p, ct.len) : ct;
    if (m->rc != MS_OK)
        return;
    ms_sha256_init(&l->sha);
    l->tracked = true;
    l->att = m->n_att++;
    if (m->tap_msg && m->tap->att_begin)
        l->tap_att = m->tap->att_begin(m->tap_msg, l->att, a);
}

/* Flushes the decoder and stores size, hash and whether the content may be
 * incomplete: at_end is true when the end of the message closes the leaf
 * rather than a boundary. The held-back line terminator has already been
 * given to content() or dropped. */
static void leaf_close(struct ms_mime *m, bool at_end)
{
    struct mime_leaf *l = &m->leaf;
    uint8_t out[MS_QP_HOLD];

    m->eol_len = 0;
    if (!l->open)
        return;
    l->open = false;
    /* A quantum or escape that a cut (the end of the capture, a cap) left
     * unfinished is no damage of the message: only what came before is. */
    bool cut_short = at_end && l->cut;
    if (l->cte == CTE_BASE64) {
        bool bad = l->b64.invalid;
        leaf_out(m, out, ms_b64_finish(&l->b64, out));
        if (bad || (l->b64.invalid && !cut_short))
            mime_error(m, ERR_INVALID_BASE64);
    } else if (l->cte == CTE_QP) {
        bool bad = l->qp.invalid;
        leaf_out(m, out, ms_qp_finish(&l->qp, out));
        if (bad || (l->qp.invalid && !cut_short))
            mime_error(m, ERR_INVALID_QP);
    }
    if (l->urls) {
        ms_url_scan_end(&m->us);
        l->urls = false;
    }
    l->excerpt = EX_NONE;
    if (l->tap_att) {
        struct ms_bytes f = m->tap->att_end(l->tap_att);
        l->tap_att = NULL;
        if (f.p)
            m->att[l->att].file = keep(m, f.p, f.len);
    }
    if (!l->tracked)
        return;
    ms_sha256_final(&l->sha, m->att[l->att].sha256);
    m->att[l->att].size = l->size;
    m->att[l->att].truncated = l->cut || (at_end && (m->cut || m->partial));
    m->att[l->att].gap = l->gap;
    l->tracked = false;
}

/* ---- header fields --------------------------------------------------- */

static void ent_reset(struct ms_mime *m, bool toplevel, bool parent_digest)
{
    struct mime_entity *e = &m->ent;

    ms_buf_reset(&e->ctype);
    ms_buf_reset(&e->boundary);
    ms_buf_reset(&e->filename);
    ms_buf_reset(&e->name);
    ms_buf_reset(&e->charset);
    e->toplevel = toplevel;
    e->parent_digest = parent_digest;
    e->have_ctype = e->have_disp = e->have_cte = false;
    e->has_boundary = e->boundary_long = false;
    e->has_filename = e->has_name = false;
    e->attachment = false;
    e->cte = CTE_IDENTITY;
    e->cut = false;
    e->gap = false;
}

/* Looks up a parameter into buf (reset first); notes a cut. */
static bool get_param(struct ms_mime *m, const uint8_t *v, size_t n, const char *name,
                      unsigned flags, struct ms_buf *buf)
{
    bool found;
    enum ms_rc rc;

    ms_buf_reset(buf);
    rc = ms_mime_hdr_param(v, n, name, flags, buf, &found);
    if (rc == MS_ERR_NOMEM)
        nomem(m);
    else if (rc == MS_ERR_LIMIT)
        m->truncated = true;
    return found && rc != MS_ERR_NOMEM;
}

/* RFC 2045 §5.1: Content-Type := type "/" subtype *(";" parameter) */
static void hdr_content_type(struct ms_mime *m, const uint8_t *v, size_t n)
{
    struct mime_entity *e = &m->ent;
    const uint8_t *t;
    size_t tlen;

    e->have_ctype = true;
    ms_mime_hdr_value(v, n, &t, &tlen);
    for (size_t i = 0; i < tlen && e->ctype.len < e->ctype.max; i++) {
        uint8_t c = ms_ascii_lower(t[i]);
        if (ms_buf_append(&e->ctype, &c, 1) != MS_OK) {
            nomem(m);
            return;
        }
    }
    if (ms_ascii_prefix(t, tlen, "multipart/")) {
        /* The boundary is compared byte for byte: no decoding at all. A
         * cut boundary would match the wrong lines, so remember the cut. */
        bool found;
        enum ms_rc rc = ms_mime_hdr_param(v, n, "boundary", MS_MIME_PARAM_RAW, &e->boundary,
                                          &found);
        if (rc == MS_ERR_NOMEM)
            nomem(m);
        e->has_boundary = found;
        e->boundary_long = rc == MS_ERR_LIMIT;
    }
    e->has_name = get_param(m, v, n, "name", MS_MIME_PARAM_TEXT, &e->name);
    /* Only the excerpt needs the charset; an absurd one is not a cut of
     * anything reported, so MS_ERR_LIMIT is not "truncated" here. */
    bool found;
    ms_buf_reset(&e->charset);
    if (ms_mime_hdr_param(v, n, "charset", MS_MIME_PARAM_RAW, &e->charset, &found) == MS_ERR_NOMEM)
        nomem(m);
}

/* RFC 2183 §2: disposition := "inline" / "attachment" *(";" parameter) */
static void hdr_disposition(struct ms_mime *m, const uint8_t *v, size_t n)
{
    struct mime_entity *e = &m->ent;
    const uint8_t *t;
    size_t tlen;

    e->have_disp = true;
    ms_mime_hdr_value(v, n, &t, &tlen);
    e->attachment = ms_ascii_eq(t, tlen, "attachment");
    e->has_filename = get_param(m, v, n, "filename", MS_MIME_PARAM_TEXT, &e->filename);
}

/* RFC 2045 §6.1: mechanism := "7bit" / "8bit" / "binary" /
 * "quoted-printable" / "base64" / ietf-token / x-token. Anything unknown is
 * hashed as it is (identity). */
static void hdr_cte(struct ms_mime *m, const uint8_t *v, size_t n)
{
    struct mime_entity *e = &m->ent;
    const uint8_t *t;
    size_t tlen;

    e->have_cte = true;
    ms_mime_hdr_value(v, n, &t, &tlen);
    if (ms_ascii_eq(t, tlen, "base64"))
        e->cte = CTE_BASE64;
    else if (ms_ascii_eq(t, tlen, "quoted-printable"))
        e->cte = CTE_QP;
    else
        e->cte = CTE_IDENTITY;
}

/* RFC 5322 §3.6: the message's own header fields we report. */
static void hdr_toplevel(struct ms_mime *m, const uint8_t *name, size_t nlen, const uint8_t *v,
                         size_t n)
{
    if (ms_ascii_eq(name, nlen, "from")) {
        if (!m->from.p)
            m->from = keep_decoded(m, ms_mime_hdr_decode, v, n);
    } else if (ms_ascii_eq(name, nlen, "to")) {
        addr_list_add(m, &m->to, v, n);
    } else if (ms_ascii_eq(name, nlen, "cc")) {
        addr_list_add(m, &m->cc, v, n);
    } else if (ms_ascii_eq(name, nlen, "subject")) {
        if (!m->subject.p)
            m->subject = keep_decoded(m, ms_mime_hdr_decode, v, n);
    } else if (ms_ascii_eq(name, nlen, "date")) {
        if (!m->date.p)
            m->date = keep_decoded(m, ms_mime_hdr_utf8, v, n);
    } else if (ms_ascii_eq(name, nlen, "message-id")) {
        if (!m->message_id.p)
            m->message_id = keep_decoded(m, ms_mime_hdr_utf8, v, n);
    }
}

static bool blank_or_eol(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 5322 §2.2: field-name ":" unstructured/structured body.
 * A field without a colon (mbox "From " line, junk) is ignored; for
 * repeated fields the first one wins, except To/Cc which add up. */
static void field_end(struct ms_mime *m)
{
    const uint8_t *f = m->field.p, *colon;
    size_t n = m->field.len, nlen, vs, ve;

    if (!m->field_active)
        return;
    m->field_active = false;
    colon = n ? memchr(f, ':', n) : NULL;
    /* An mbox "From " separator may open a stored message; anything else
     * without "name:" is damage. */
    if ((!colon || colon == f) &&
        !(m->ent.toplevel && m->nfields == 0 && ms_ascii_prefix(f, n, "From ")))
        mime_error(m, ERR_BAD_HEADER_LINE);
    m->nfields++;
    if (colon) {
        nlen = (size_t)(colon - f);
        while (nlen > 0 && blank_or_eol(f[nlen - 1]))
            nlen--; /* "Subject :" (obs-optional, RFC 5322 §4.5) */
        vs = (size_t)(colon - f) + 1;
        ve = n;
        while (vs < ve && blank_or_eol(f[vs]))
            vs++;
        while (ve > vs && blank_or_eol(f[ve - 1]))
            ve--;
        if (ms_ascii_eq(f, nlen, "content-type")) {
            if (!m->ent.have_ctype)
                hdr_content_type(m, f + vs, ve - vs);
        } else if (ms_ascii_eq(f, nlen, "content-disposition")) {
            if (!m->ent.have_disp)
                hdr_disposition(m, f + vs, ve - vs);
        } else if (ms_ascii_eq(f, nlen, "content-transfer-encoding")) {
            if (!m->ent.have_cte)
                hdr_cte(m, f + vs, ve - vs);
        } else if (m->ent.toplevel) {
            hdr_toplevel(m, f, nlen, f + vs, ve - vs);
        }
    }
    ms_buf_reset(&m->field);
}

/* Unfolding (RFC 5322 §2.2.3) is "remove the CRLF": pieces are appended
 * without terminators, continuation lines keep their leading blank. */
static void field_add(struct ms_mime *m, const uint8_t *p, size_t n)
{
    size_t room = m->field.max - m->field.len;
    size_t take = n < room ? n : room;

    if (!m->field_active)
        return;
    if (take < n) {
        m->truncated = true; /* field over mime_max_header: keep its head */
        mime_error(m, ERR_HEADER_LINE_TOO_LONG);
    }
    if (ms_buf_append(&m->field, p, take) != MS_OK)
        nomem(m);
}

/* The header block is over: decide what the body is. */
static void headers_end(struct ms_mime *m)
{
    struct mime_entity *e = &m->ent;

    field_end(m);
    if (ms_ascii_prefix(e->ctype.p, e->ctype.len, "multipart/")) {
        if (!e->has_boundary || e->boundary.len == 0 || e->boundary_long) {
            /* No usable boundary: the body is one opaque leaf. */
            m->truncated |= e->boundary_long;
            mime_error(m, e->boundary_long ? ERR_BOUNDARY_TOO_LONG : ERR_MISSING_BOUNDARY);
        } else if (m->depth >= m->lim.mime_max_depth) {
            m->truncated = true; /* too deep: opaque leaf */
            mime_error(m, ERR_DEPTH_EXCEEDED);
        } else {
            struct mime_level *lv = &m->stack[m->depth];
            ms_buf_reset(&lv->boundary);
            if (ms_buf_append(&lv->boundary, e->boundary.p, e->boundary.len) != MS_OK) {
                nomem(m);
                return;
            }
            lv->digest = ms_ascii_eq(e->ctype.p, e->ctype.len, "multipart/digest");
            m->depth++;
            m->state = ST_SKIP; /* preamble */
            return;
        }
    }
    leaf_open(m);
}

static void header_piece(struct ms_mime *m, const uint8_t *d, size_t n, bool first, bool last)
{
    /* RFC 5322 §2.1.1 line length, counted across linebuf fragments. */
    m->hline = first ? n : m->hline + n;
    if (m->hline > RFC5322_LINE_MAX)
        mime_error(m, ERR_HEADER_LINE_TOO_LONG);
    if (!first) {
        field_add(m, d, n); /* the rest of a line longer than the linebuf */
        return;
    }
    if (n == 0 && last) {
        headers_end(m);
        return;
    }
    if (n > 0 && ms_ascii_space(d[0])) {
        if (!m->field_active)
            mime_error(m, ERR_BAD_HEADER_LINE); /* folds nothing */
        field_add(m, d, n);                     /* folded continuation */
        return;
    }
    field_end(m);
    m->field_active = true;
    field_add(m, d, n);
}

/* ---- body lines ------------------------------------------------------ */

/* RFC 2046 §5.1.1:
 *   dash-boundary := "--" boundary
 *   delimiter     := CRLF dash-boundary  transport-padding CRLF
 *   close-delimiter := CRLF dash-boundary "--" transport-padding CRLF
 * Checked against every open multipart, innermost first, so an outer
 * boundary also ends inner multiparts that never closed. */
static bool boundary_match(const struct ms_mime *m, const uint8_t *d, size_t n, size_t *level,
                           bool *close)
{
    if (n < 3 || d[0] != '-' || d[1] != '-')
        return false;
    for (size_t k = m->depth; k-- > 0;) {
        const struct ms_buf *b = &m->stack[k].boundary;
        size_t i = 2 + b->len;

        if (n < i || memcmp(d + 2, b->p, b->len) != 0)
            continue;
        *close = n - i >= 2 && d[i] == '-' && d[i + 1] == '-';
        if (*close)
            i += 2;
        while (i < n && ms_ascii_space(d[i]))
            i++;
        if (i == n) {
            *level = k;
            return true;
        }
    }
    return false;
}

static void on_boundary(struct ms_mime *m, size_t level, bool close)
{
    if (m->state == ST_HEADERS)
        headers_end(m); /* a part with headers and no body */
    if (m->state == ST_LEAF)
        leaf_close(m, false); /* drops the held-back CRLF: it is the boundary's */
    if (level + 1 < m->depth)
        mime_error(m, ERR_MISSING_FINAL_BOUNDARY); /* inner ones never closed */
    m->depth = level + 1;
    if (close) {
        m->depth = level;
        m->state = ST_SKIP; /* epilogue */
        return;
    }
    ent_reset(m, false, m->stack[level].digest);
    m->nfields = 0;
    m->state = ST_HEADERS;
}

static void leaf_piece(struct ms_mime *m, const uint8_t *d, size_t n, const uint8_t *eol,
                       size_t eol_len, bool first, bool last)
{
    if (first && m->eol_len > 0) {
        content(m, m->eol, m->eol_len); /* not a boundary: it was content */
        m->eol_len = 0;
    }
    content(m, d, n);
    if (last && eol_len > 0) {
        memcpy(m->eol, eol, eol_len);
        m->eol_len = eol_len;
    }
}

/* One line, or a piece of one: d is the content without terminator, eol the
 * terminator if this piece ends the line; first/last tell whether the piece
 * starts/ends a line. Only whole lines can be boundaries. */
static void on_piece(struct ms_mime *m, const uint8_t *d, size_t n, const uint8_t *eol,
                     size_t eol_len, bool first, bool last)
{
    size_t level;
    bool close;

    if (first && last && m->depth > 0 && boundary_match(m, d, n, &level, &close)) {
        on_boundary(m, level, close);
        return;
    }
    switch (m->state) {
    case ST_HEADERS:
        header_piece(m, d, n, first, last);
        break;
    case ST_LEAF:
        leaf_piece(m, d, n, eol, eol_len, first, last);
        break;
    case ST_SKIP:
        break;
    }
}

/* Linebuf callback. Fragments of long lines may cut a CRLF in two; the CR
 * is held until the next fragment shows whether it was a terminator. */
static void on_line(void *ctx, const uint8_t *line, size_t len, unsigned flags)
{
    static const uint8_t cr[1] = { '\r' }, crlf[2] = { '\r', '\n' };
    struct ms_mime *m = ctx;
    bool first = !(flags & MS_LINE_CONT), last = !(flags & MS_LINE_PARTIAL);
    size_t body;

    if (m->rc != MS_OK)
        return;
    if (m->held_cr) {
        m->held_cr = false;
        if (last && len == 1 && line[0] == '\n') {
            on_piece(m, NULL, 0, crlf, 2, false, true);
            return;
        }
        on_piece(m, cr, 1, NULL, 0, false, false);
    }
    if (!last) {
        if (len > 0 && line[len - 1] == '\r') {
            m->held_cr = true;
            len--;
        }
        on_piece(m, line, len, NULL, 0, first, false);
        return;
    }
    body = ms_line_strip(line, len);
    on_piece(m, line, body, line + body, len - body, first, true);
}

/* Content is cut here (see the top of the file): the message is truncated,
 * and so is the entity being parsed, whether its leaf is open or its header
 * block is being read. */
static void note_cut(struct ms_mime *m, bool gap)
{
    m->truncated = true;
    m->cut = true;
    if (m->state == ST_HEADERS) {
        m->ent.cut = true;
        m->ent.gap |= gap;
    } else if (m->leaf.open) {
        m->leaf.cut = true;
        m->leaf.gap |= gap;
    }
}

/* ---- public ---------------------------------------------------------- */

struct ms_mime *ms_mime_new(const struct ms_limits *lim, const struct ms_sink *sink)
{
    struct ms_mime *m = ms_calloc(1, sizeof(*m));
    size_t line_max, depth;

    if (!m)
        return NULL;
    m->lim = *lim;
    depth = lim->mime_max_depth ? lim->mime_max_depth : 1;
    m->stack = ms_calloc(depth, sizeof(*m->stack));
    if (!m->stack) {
        ms_free(m);
        return NULL;
    }
    ms_sha256_init(&m->sha);
    for (size_t i = 0; i < depth; i++)
        ms_buf_init(&m->stack[i].boundary, lim->mime_max_boundary);
    /* Whole header lines up to the cap come in one piece, and a boundary
     * line always does. */
    line_max = lim->mime_max_header;
    if (line_max < lim->mime_max_boundary + BOUNDARY_SLACK)
        line_max = lim->mime_max_boundary + BOUNDARY_SLACK;
    ms_linebuf_init(&m->lb, line_max, on_line, m);
    ms_buf_init(&m->field, lim->mime_max_header);
    ms_buf_init(&m->scratch, lim->mime_max_header);
    ms_buf_init(&m->ent.ctype, CTYPE_MAX);
    ms_buf_init(&m->ent.boundary, lim->mime_max_boundary);
    ms_buf_init(&m->ent.filename, lim->mime_max_header);
    ms_buf_init(&m->ent.name, lim->mime_max_header);
    ms_buf_init(&m->ent.charset, MS_MIME_CHARSET_MAX);
    for (unsigned k = 0; k < 2; k++) {
        ms_buf_init(&m->ex_raw[k], EXCERPT_RAW(lim->body_excerpt));
        ms_buf_init(&m->ex_cs[k], MS_MIME_CHARSET_MAX);
    }
    ms_url_scan_init(&m->us, lim->mime_max_url_len, on_url, m);
    ent_reset(m, true, false);
    m->state = ST_HEADERS;
    m->leaf.excerpt = EX_NONE;
    if (sink && sink->tap && sink->tap->msg_begin) {
        m->tap = sink->tap;
        m->tap_msg = m->tap->msg_begin(m->tap, sink);
    }
    return m;
}

enum ms_rc ms_mime_feed(struct ms_mime *m, const uint8_t *p, size_t n)
{
    uint64_t room;
    size_t take;

    if (m->finished || n == 0)
        return m->rc;
    m->size += n;
    ms_sha256_update(&m->sha, p, n);
    if (m->tap_msg)
        m->tap->msg_data(m->tap_msg, p, n); /* all of it, like the hash */
    if (m->rc != MS_OK)
        return m->rc;
    /* The cut falls at a fixed offset, so it is split-invariant too. */
    room = m->lim.max_message - m->parsed;
    take = n < room ? n : (size_t)room;
    m->parsed += take;
    if (ms_linebuf_feed(&m->lb, p, take) != MS_OK)
        nomem(m);
    if (take < n) {
        note_cut(m, false); /* what is open after the bytes parsed loses the rest */
        mime_error(m, ERR_MESSAGE_TOO_LARGE);
    }
    return m->rc;
}

void ms_mime_set_truncated(struct ms_mime *m)
{
    note_cut(m, false);
}

void ms_mime_set_gap(struct ms_mime *m)
{
    note_cut(m, true);
}

void ms_mime_set_partial(struct ms_mime *m)
{
    m->partial = true;
}

/* End of data: the open entity ends here. An unterminated multipart is
 * finished as it stands (what was seen is hashed); its last line
 * terminator is kept as content since no boundary claimed it. */
static void end_message(struct ms_mime *m)
{
    static const uint8_t cr[1] = { '\r' };

    ms_linebuf_flush(&m->lb);
    if (m->held_cr && m->rc == MS_OK) {
        m->held_cr = false;
        on_piece(m, cr, 1, NULL, 0, false, true);
    }
    if (m->rc == MS_OK && m->state == ST_HEADERS)
        headers_end(m);
    if (m->rc == MS_OK && m->state == ST_LEAF) {
        content(m, m->eol, m->eol_len);
        leaf_close(m, true);
    }
    /* A message the capture or a cap cut never got to its boundary. */
    if (m->depth > 0 && !m->cut)
        mime_error(m, ERR_MISSING_FINAL_BOUNDARY);
}

/* body_excerpt: the first text/plain leaf, else the first text/html one,
 * converted to UTF-8 from its charset (none: US-ASCII, read leniently as
 * UTF-8; unknown: the same) and cut to body_excerpt bytes on a character
 * boundary. */
static void make_excerpt(struct ms_mime *m)
{
    unsigned k = m->ex_seen[EX_PLAIN] ? EX_PLAIN : m->ex_seen[EX_HTML] ? EX_HTML : EX_NONE;
    struct ms_buf out;
    enum ms_rc rc = MS_ERR_PROTO;

    if (k == EX_NONE || m->rc != MS_OK)
        return;
    ms_buf_init(&out, m->lim.body_excerpt);
    if (m->ex_cs[k].len > 0)
        rc = ms_mime_hdr_to_utf8(m->ex_cs[k].p, m->ex_cs[k].len, m->ex_raw[k].p, m->ex_raw[k].len,
                                 &out);
    if (rc == MS_ERR_PROTO) {
        ms_buf_reset(&out);
        rc = ms_mime_hdr_utf8(m->ex_raw[k].p, m->ex_raw[k].len, &out);
    }
    if (rc == MS_ERR_NOMEM)
        nomem(m);
    else
        m->excerpt = keep(m, out.p, out.len);
    ms_buf_free(&out);
}

/* The tap learns where the message went; attachments were closed with
 * their leaves. */
static void tap_end(struct ms_mime *m)
{
    if (m->leaf.tap_att) {
        m->tap->att_end(m->leaf.tap_att); /* only when parsing stopped early */
        m->leaf.tap_att = NULL;
    }
    if (m->tap_msg) {
        struct ms_bytes f = m->tap->msg_end(m->tap_msg);
        m->tap_msg = NULL;
        if (f.p)
            m->eml_file = keep(m, f.p, f.len);
    }
}

void ms_mime_finish(struct ms_mime *m, struct ms_ev_email *out)
{
    if (!m->finished) {
        m->finished = true;
        end_message(m);
        /* Parsing stopped (out of memory) with an attachment open: its
         * size and hash stop where parsing did. */
        if (m->leaf.open && m->leaf.tracked)
            m->att[m->leaf.att].truncated = true;
        ms_sha256_final(&m->sha, m->sha256);
        make_excerpt(m);
        tap_end(m);
        /* Out of memory, here or earlier: what is reported stops short of
         * the message (the caller says out_of_memory). */
        if (m->rc != MS_OK)
            m->truncated = true;
        m->n_errs = 0;
        for (unsigned e = 0; e < ERR_COUNT; e++)
            if (m->errs & (1u << e))
                m->err_list[m->n_errs++] = mime_err_codes[e];
    }
    out->from = m->from;
    out->to = m->to.v;
    out->n_to = m->to.n;
    out->cc = m->cc.v;
    out->n_cc = m->cc.n;
    out->subject = m->subject;
    out->date = m->date;
    out->message_id = m->message_id;
    out->size = m->size;
    memcpy(out->sha256, m->sha256, sizeof(out->sha256));
    out->attachments = m->att;
    out->n_attachments = m->n_att;
    out->truncated = m->truncated;
    out->body_excerpt = m->excerpt;
    out->urls = m->urls;
    out->n_urls = m->n_urls;
    out->mime_errors = m->err_list;
    out->n_mime_errors = m->n_errs;
    out->eml_file = m->eml_file;
}

bool ms_mime_failed(const struct ms_mime *m)
{
    return m->rc != MS_OK;
}

void ms_mime_free(struct ms_mime *m)
{
    size_t depth;

    if (!m)
        return;
    tap_end(m); /* freed unfinished: still close the files */
    depth = m->lim.mime_max_depth ? m->lim.mime_max_depth : 1;
    for (size_t i = 0; i < depth; i++)
        ms_buf_free(&m->stack[i].boundary);
    ms_free(m->stack);
    ms_sha256_free(&m->sha);
    ms_sha256_free(&m->leaf.sha);
    ms_linebuf_free(&m->lb);
    ms_buf_free(&m->field);
    ms_buf_free(&m->scratch);
    ms_buf_free(&m->ent.ctype);
    ms_buf_free(&m->ent.boundary);
    ms_buf_free(&m->ent.filename);
    ms_buf_free(&m->ent.name);
    ms_buf_free(&m->ent.charset);
    for (unsigned k = 0; k < 2; k++) {
        ms_buf_free(&m->ex_raw[k]);
        ms_buf_free(&m->ex_cs[k]);
    }
    ms_url_scan_free(&m->us);
    ms_free(m->urls);
    for (size_t i = 0; i < m->n_pool; i++)
        ms_free(m->pool[i]);
    ms_free(m->pool);
    ms_free(m->to.v);
    ms_free(m->cc.v);
    ms_free(m->att);
    ms_free(m);
}
