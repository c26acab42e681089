#include "output.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../common/alloc.h"
#include "../common/buf.h"
#include "../common/limits.h"

#include "dedup.h"
#include "json.h"
#include "secrets.h"
#include "sink.h"
#include "stats.h"
#include "text.h"
#include "text_summary.h"

/* The mime_errors codes that say a cap cut the message (counted for the
 * end-of-run warnings; dissectors/mime.c writes them). */
static const char *const cap_mime_errors[MS_OUTPUT_CAP_MIME_COUNT] = {
    [MS_OUTPUT_CAP_MESSAGE] = "message_too_large",
    [MS_OUTPUT_CAP_DEPTH] = "depth_exceeded",
    [MS_OUTPUT_CAP_PARTS] = "too_many_parts",
    [MS_OUTPUT_CAP_HEADER] = "header_line_too_long",
};

/* --threads: every worker writes through the one output. mu guards the
 * dedup table, the text buffer, the --hashes file, the JSON writers' stack
 * and each hand-over of a record to the sinks; JSON is rendered outside
 * it, each worker in a writer of the stack (its memory and memos kept). A
 * flow's records keep their order (one worker has the flow); records of
 * different flows may interleave. The counters are read by the stats
 * while workers write. */
struct ms_output {
    struct ms_sinks *sinks; /* the caller's: every record goes to every sink */
    FILE *tfp;              /* --text: renders into tbuf (fmemopen) */
    char *tbuf;
    struct ms_jw *jw_free[MS_OUTPUT_JSON_WRITERS]; /* writers not in use */
    size_t n_free, n_jw;                           /* ... and made */
    struct ms_text_view tv;                        /* --text: the day of the last line */
    struct ms_text_summary *summ;                  /* --text: the closing table */
    struct ms_output_opts opts;
    pthread_mutex_t mu;
    _Atomic uint64_t counts[MS_EV_COUNT];
    _Atomic uint64_t fileinfo;
    _Atomic uint64_t anomalies[MS_ANOM_COUNT];
    _Atomic uint64_t cap_mime[MS_OUTPUT_CAP_MIME_COUNT];
    int hashes_mode; /* --hashes: the mode of the line written last (0: none yet) */
    /* A port (ms_output_port_new): the output it writes to, its writer,
     * and its records not handed over yet, each a uint32_t length and the
     * bytes. NULL root: not a port. */
    struct ms_output *root;
    struct ms_jw *own;
    struct ms_buf held;
};

/* Where a port's counters and sinks are: its root's. */
static const struct ms_output *base(const struct ms_output *out)
{
    return out->root ? out->root : out;
}

static void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t read_count(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Frees a writer made by jw_new (NULL: nothing). */
static void jw_delete(struct ms_jw *w)
{
    if (!w)
        return;
    ms_jw_free(w);
    ms_free(w);
}

/* A JSON writer whose record memory is taken now (a failure mid-run
 * would cost an event). */
static struct ms_jw *jw_new(void)
{
    struct ms_jw *w = ms_malloc(sizeof(*w));
    if (!w)
        return NULL;
    ms_jw_init(w);
    if (ms_jw_reserve(w, MS_JSON_RECORD_START) != MS_OK) {
        jw_delete(w);
        return NULL;
    }
    return w;
}

/* With mu held: a writer not in use (made if all are, up to the cap). */
static struct ms_jw *jw_take(struct ms_output *out)
{
    if (out->n_free > 0)
        return out->jw_free[--out->n_free];
    if (out->n_jw >= MS_OUTPUT_JSON_WRITERS)
        return NULL;
    struct ms_jw *w = jw_new();
    out->n_jw += w != NULL;
    return w;
}

static void jw_give(struct ms_output *out, struct ms_jw *w)
{
    out->jw_free[out->n_free++] = w;
}

enum ms_rc ms_output_reserve_writers(struct ms_output *out, size_t n)
{
    if (out->opts.format == MS_OUTPUT_TEXT)
        return MS_OK; /* the text view renders under mu */
    pthread_mutex_lock(&out->mu);
    enum ms_rc rc = MS_OK;
    while (out->n_jw < n && out->n_jw < MS_OUTPUT_JSON_WRITERS) {
        struct ms_jw *w = jw_new();
        if (!w) {
            rc = MS_ERR_NOMEM;
            break;
        }
        out->n_jw++;
        jw_give(out, w);
    }
    pthread_mutex_unlock(&out->mu);
    return rc;
}

/* Counts an event written: by kind, and what the end-of-run warnings
 * need (anomalies by code, emails a cap cut by the mime_errors code that
 * says so). */
static void count_event(struct ms_output *out, const struct ms_event *ev)
{
    if ((unsigned)ev->kind < MS_EV_COUNT)
        bump(&out->counts[ev->kind]);
    enum ms_anomaly a;
    if (ev->kind == MS_EV_ANOMALY && ev->u.anomaly.code &&
        ms_anomaly_lookup(ev->u.anomaly.code, &a))
        bump(&out->anomalies[a]);
    if (ev->kind != MS_EV_EMAIL)
        return;
    for (size_t i = 0; i < ev->u.email.n_mime_errors; i++) {
        for (size_t k = 0; k < MS_OUTPUT_CAP_MIME_COUNT; k++) {
            if (strcmp(ev->u.email.mime_errors[i], cap_mime_errors[k]) == 0)
                bump(&out->cap_mime[k]);
        }
    }
}

/* inet_ntop's dotted quad, without the printf machinery inet_ntop uses
 * (a record has two addresses). */
static void ipv4_str(const uint8_t *a, char *out, size_t n)
{
    char s[16];
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            s[k++] = (char)('0' + v / 100);
        if (v >= 10)
            s[k++] = (char)('0' + v / 10 % 10);
        s[k++] = (char)('0' + v % 10);
        s[k++] = i < 3 ? '.' : '\0';
    }
    if (k <= n)
        memcpy(out, s, k);
    else
        snprintf(out, n, "?");
}

void ms_addr_str(uint8_t ip_version, const uint8_t *a, bool compress, char *out, size_t n)
{
    if ((ip_version != 4 && ip_version != 6) || !a) {
        snprintf(out, n, "-"); /* a link-layer event: no IP */
        return;
    }
    if (ip_version == 4 && n > 0) {
        ipv4_str(a, out, n);
        return;
    }
    if (ip_version == 6 && !compress) {
        snprintf(out, n, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                 a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
                 a[13], a[14], a[15]);
        return;
    }
    if (!inet_ntop(ip_version == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)n))
        snprintf(out, n, "?");
}

void ms_mac_str(const uint8_t *a, char *out, size_t n)
{
    snprintf(out, n, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
}

struct ms_output *ms_output_new(struct ms_sinks *sinks, const struct ms_output_opts *o)
{
    struct ms_output *out = ms_calloc(1, sizeof(*out));
    if (!out)
        return NULL;
    /* Adaptive: held for a few hundred instructions by each event of every
     * worker, a contended mu slept in the kernel at once (--threads 2 on
     * mail-full: 47.8k -> 21.7k futex calls). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&out->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    out->sinks = sinks;
    out->opts = *o;
    if (o->format != MS_OUTPUT_TEXT && ms_output_reserve_writers(out, 1) != MS_OK) {
        ms_output_free(out);
        return NULL;
    }
    if (o->format == MS_OUTPUT_TEXT) {
        /* The text view writes to a FILE: give it one over our buffer. */
        out->tbuf = ms_malloc(MS_TEXT_RECORD_MAX);
        out->tfp = out->tbuf ? fmemopen(out->tbuf, MS_TEXT_RECORD_MAX, "w") : NULL;
        out->summ = ms_text_summary_new();
        ms_text_view_init(&out->tv, o->color);
        if (!out->tfp || !out->summ) {
            ms_output_free(out);
            return NULL;
        }
    }
    return out;
}

/* Hands one record to the sinks, with mu held. What a sink drops it
 * counts itself (README "Sinks"): that is not a failure to render. */
static void put_locked(struct ms_output *out, const char *rec, size_t len)
{
    if (out->opts.record)
        out->opts.record(out->opts.record_ctx, rec, len);
    else
        ms_sinks_write(out->sinks, rec, len);
}

static enum ms_rc put_record(struct ms_output *out, const char *rec, size_t len)
{
    pthread_mutex_lock(&out->mu);
    put_locked(out, rec, len);
    pthread_mutex_unlock(&out->mu);
    return MS_OK;
}

/* Renders one JSON object as one record and frees it. */
static enum ms_rc write_json_line(struct ms_output *out, struct json_object *o)
{
    if (!o)
        return MS_ERR_NOMEM;
    size_t len = 0;
    const char *s = json_object_to_json_string_length(o,
                                                      JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE,
                                                      &len);
    enum ms_rc rc = s ? put_record(out, s, len) : MS_ERR_NOMEM;
    json_object_put(o);
    return rc;
}

/* The text view: rewinds the buffer's FILE for the renderer (rc its
 * result), then hands the line, without its line end, to the sinks. */
static FILE *text_begin(struct ms_output *out)
{
    rewind(out->tfp);
    return out->tfp;
}

/* Called with mu held. */
static enum ms_rc text_end(struct ms_output *out, int rendered)
{
    long len = ftell(out->tfp);
    /* fmemopen keeps a byte for its NUL: a line that filled the buffer
     * may have been cut, and a record is never cut. */
    if (rendered < 0 || fflush(out->tfp) != 0 || len <= 0 ||
        (size_t)len >= MS_TEXT_RECORD_MAX - 1) {
        clearerr(out->tfp);
        return MS_ERR_LIMIT;
    }
    size_t n = (size_t)len;
    if (out->tbuf[n - 1] == '\n')
        n--;
    ms_sinks_write(out->sinks, out->tbuf, n);
    return MS_OK;
}

/* Hands the record rendered into w to the sinks (none when rc says it
 * failed), and w back to the pool when give: one lock for both (workers
 * emitting at once contended on mu, a futex call every few events). */
static enum ms_rc write_rendered(struct ms_output *out, struct ms_jw *w, enum ms_rc rc, bool give)
{
    pthread_mutex_lock(&out->mu);
    if (rc == MS_OK)
        put_locked(out, (const char *)w->b.p, w->b.len);
    if (give)
        jw_give(out, w);
    pthread_mutex_unlock(&out->mu);
    return rc;
}

/* Renders the JSON record of ev, then a fileinfo record per attachment,
 * as Suricata logs files, tied to the message by flow_id (and the email
 * metadata it carries); each record is handed on by hand (w given back
 * with the last when give). */
typedef enum ms_rc (*hand_fn)(struct ms_output *out, struct ms_jw *w, enum ms_rc rc, bool give);
static enum ms_rc render_json(struct ms_output *out, struct ms_jw *w, const struct ms_flow_meta *m,
                              const struct ms_event *ev, const struct ms_dedup_report *rep,
                              hand_fn hand, struct ms_output *counters)
{
    enum ms_rc rc = ms_json_render_event(w, m, ev, &out->opts, rep);
    size_t files = ev->kind == MS_EV_EMAIL ? ev->u.email.n_attachments : 0;
    for (size_t i = 0; i < files && rc == MS_OK; i++) {
        (void)hand(out, w, rc, false);
        rc = ms_json_render_fileinfo(w, m, ev, i, &out->opts);
        if (rc == MS_OK)
            bump(&counters->fileinfo);
    }
    return hand(out, w, rc, true);
}

/* A port's batch goes to its root's sinks: one lock for all of it, and
 * one for each sink's queue per MS_SINK_BATCH records. */
static void port_flush(struct ms_output *port)
{
    if (port->held.len == 0)
        return;
    struct ms_output *root = port->root;
    struct iovec iov[MS_SINK_BATCH];
    size_t n = 0;
    pthread_mutex_lock(&root->mu);
    for (size_t at = 0; at < port->held.len;) {
        uint32_t len;
        memcpy(&len, port->held.p + at, sizeof(len));
        iov[n].iov_base = port->held.p + at + sizeof(len);
        iov[n++].iov_len = len;
        at += sizeof(len) + len;
        if (n == MS_SINK_BATCH || at == port->held.len) {
            (void)ms_sinks_write_n(root->sinks, iov, n); /* a sink counts what it drops */
            n = 0;
        }
    }
    pthread_mutex_unlock(&root->mu);
    ms_buf_reset(&port->held);
}

/* A port's hand_fn: the record rendered into w joins the batch (one
 * larger than a batch goes to the sinks at once, after the batch). */
static enum ms_rc port_hold(struct ms_output *port, struct ms_jw *w, enum ms_rc rc, bool give)
{
    (void)give; /* the port's own writer */
    if (rc != MS_OK)
        return rc;
    uint32_t len = (uint32_t)w->b.len; /* below MS_JSON_RECORD_MAX */
    if (port->held.len + sizeof(len) + len > port->held.max)
        port_flush(port);
    if (sizeof(len) + len > port->held.max)
        return write_rendered(port->root, w, rc, false);
    /* Within the room reserved at the port's start: cannot fail. */
    (void)ms_buf_append(&port->held, &len, sizeof(len));
    (void)ms_buf_append(&port->held, w->b.p, len);
    return MS_OK;
}

/* Whether root takes a port's events without its lock for each: JSON,
 * and nothing kept in event order under the lock (--dedup's table,
 * --hashes' file, --web's record callback and tee). */
static bool batches(const struct ms_output *root)
{
    const struct ms_output_opts *o = &root->opts;
    return o->format == MS_OUTPUT_JSON && !o->dedup && !o->hashes && !o->record && !o->tee &&
           !root->summ;
}

static enum ms_rc port_event(struct ms_output *port, const struct ms_flow_meta *m,
                             const struct ms_event *ev)
{
    struct ms_output *root = port->root;
    if (!batches(root))
        return ms_output_event(root, m, ev);
    count_event(root, ev);
    struct ms_dedup_report rep = { 0 };
    return render_json(port, port->own, m, ev, &rep, port_hold, root);
}

enum ms_rc ms_output_event(struct ms_output *out, const struct ms_flow_meta *m,
                           const struct ms_event *ev)
{
    if (out->root)
        return port_event(out, m, ev);
    struct ms_dedup_report rep = { 0 };
    pthread_mutex_lock(&out->mu);
    /* Before --dedup: a repeated login is still a login of its account. */
    ms_text_summary_add(out->summ, m, ev);
    if (out->opts.dedup && ev->kind == MS_EV_CREDENTIAL &&
        !ms_dedup_check(out->opts.dedup, m, ev, &rep)) {
        pthread_mutex_unlock(&out->mu);
        return MS_OK;
    }
    count_event(out, ev);
    /* The --hashes file takes the hashcat lines in every mode (README
     * "Secrets"); the views take what the mode allows. */
    enum ms_rc hrc = MS_OK;
    if (ev->kind == MS_EV_CREDENTIAL)
        hrc = ms_secrets_write_hashcat(out->opts.hashes, &ev->u.cred, &out->hashes_mode);
    if (out->opts.format == MS_OUTPUT_TEXT) {
        FILE *fp = text_begin(out);
        enum ms_rc rc = text_end(out, ms_text_line(fp, &out->tv, m, ev, &out->opts, &rep));
        pthread_mutex_unlock(&out->mu);
        if (out->opts.tee)
            (void)ms_output_event(out->opts.tee, m, ev); /* the page's loss is not the run's */
        return rc == MS_OK ? hrc : rc;
    }
    struct ms_jw *w = jw_take(out);
    pthread_mutex_unlock(&out->mu);
    if (!w)
        return MS_ERR_NOMEM;
    enum ms_rc rc = render_json(out, w, m, ev, &rep, write_rendered, out);
    if (out->opts.tee)
        (void)ms_output_event(out->opts.tee, m, ev); /* the page's loss is not the run's */
    return rc == MS_OK ? hrc : rc;
}

/* The text view's closing table, each of its lines one record. */
static enum ms_rc text_summary(struct ms_output *out)
{
    FILE *fp = text_begin(out);
    int w = ms_text_summary_write(out->summ, fp);
    long len = ftell(out->tfp);
    if (w < 0 || fflush(out->tfp) != 0 || len <= 0 || (size_t)len >= MS_TEXT_RECORD_MAX - 1) {
        clearerr(out->tfp);
        return MS_ERR_LIMIT;
    }
    for (char *p = out->tbuf, *end = out->tbuf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        ms_sinks_write(out->sinks, p, n);
        p += n + 1;
    }
    return MS_OK;
}

enum ms_rc ms_output_stats(struct ms_output *out, uint64_t ts_us, const struct ms_stat *v, size_t n)
{
    if (out->root) {
        port_flush(out); /* its records before the counts of them */
        out = out->root;
    }
    if (out->opts.format == MS_OUTPUT_TEXT) {
        /* People read the text view: the engine counters stay in the JSON
         * stats event, the text view has a table of what was found. */
        (void)ts_us;
        (void)v;
        (void)n;
        pthread_mutex_lock(&out->mu);
        enum ms_rc rc = text_summary(out);
        pthread_mutex_unlock(&out->mu);
        return rc;
    }
    return write_json_line(out, ms_json_stats(ts_us, out->opts.host, v, n));
}

void ms_output_dedup_stats(struct ms_output *out, struct ms_dedup_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (out->root)
        out = out->root;
    if (!out->opts.dedup)
        return;
    pthread_mutex_lock(&out->mu);
    ms_dedup_get_stats(out->opts.dedup, st);
    pthread_mutex_unlock(&out->mu);
}

struct ms_dedup *ms_output_dedup(const struct ms_output *out)
{
    return out->opts.dedup;
}

struct ms_sinks *ms_output_sinks(const struct ms_output *out)
{
    return base(out)->sinks;
}

uint64_t ms_output_count(const struct ms_output *out, enum ms_event_kind kind)
{
    return (unsigned)kind < MS_EV_COUNT ? read_count(&base(out)->counts[kind]) : 0;
}

uint64_t ms_output_fileinfo_count(const struct ms_output *out)
{
    return read_count(&base(out)->fileinfo);
}

uint64_t ms_output_anomaly_count(const struct ms_output *out, enum ms_anomaly a)
{
    return (unsigned)a < MS_ANOM_COUNT ? read_count(&base(out)->anomalies[a]) : 0;
}

uint64_t ms_output_cap_mime_count(const struct ms_output *out, enum ms_output_cap_mime c)
{
    return (unsigned)c < MS_OUTPUT_CAP_MIME_COUNT ? read_count(&base(out)->cap_mime[c]) : 0;
}

struct ms_output *ms_output_port_new(struct ms_output *root)
{
    struct ms_output *port = ms_calloc(1, sizeof(*port));
    if (!port)
        return NULL;
    port->root = root->root ? root->root : root;
    port->opts = port->root->opts;
    ms_buf_init(&port->held, MS_OUTPUT_BATCH_BYTES);
    /* All of a batch's memory now: holding a record never fails. */
    port->own = jw_new();
    if (!port->own || ms_buf_reserve(&port->held, MS_OUTPUT_BATCH_BYTES) != MS_OK) {
        ms_output_free(port);
        return NULL;
    }
    return port;
}

void ms_output_flush(struct ms_output *out)
{
    if (out->root)
        port_flush(out);
}

void ms_output_free(struct ms_output *out)
{
    if (!out)
        return;
    if (out->root) {
        port_flush(out);
        ms_buf_free(&out->held);
        jw_delete(out->own);
        ms_free(out);
        return;
    }
    if (out->tfp)
        (void)fclose(out->tfp); /* our buffer: nothing to lose */
    pthread_mutex_destroy(&out->mu);
    ms_text_summary_free(out->summ);
    ms_free(out->tbuf);
    for (size_t i = 0; i < out->n_free; i++)
        jw_delete(out->jw_free[i]);
    ms_free(out);
}
