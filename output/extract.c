/* Message and attachment extraction to files (--extract).
 *
 * Each message (and attachment) owns one FILE while it is transferred; the
 * bytes go straight through (no copy in memory). Failure handling is
 * uniform: the file is closed, removed, its bytes given back to the byte
 * budget, and one anomaly says why. The parse itself never fails because of
 * extraction. */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/budget.h"
#include "../common/anomaly.h"
#include "../common/ascii.h"

#include "../common/buf.h"
#include "../common/limits.h"

/* Bytes of the sender's name kept, and of the extension kept with it. */
#define SAFE_MAX MS_EXTRACT_NAME_MAX
#define EXT_MAX MS_EXTRACT_EXT_MAX
/* "<flow_id>-<seq>-<k>-<safe>": three 20-digit numbers, the name, NUL. */
#define NAME_CAP (3 * 21 + SAFE_MAX + 8)

struct ms_extract {
    int dirfd;
    char *dir; /* as given, without trailing slashes */
    unsigned flags;
    struct ms_budget own;   /* the --extract-max-bytes cap ... */
    struct ms_budget *kept; /* ... this one's, or the first worker's (shared) */
    uint64_t seq;           /* messages begun in this run by taps that count none */
    uint64_t files;
    struct ms_buf last; /* path returned by the latest *_end */
};

/* One file being written. */
struct xfile {
    struct ms_extract *x;
    const struct ms_sink *sink;
    FILE *fp;
    bool failed;
    uint64_t bytes;
    char name[NAME_CAP];
};

struct xmsg {
    struct xfile f;
    char stem[48]; /* "<flow_id>-<seq>" */
};

/* ---- names ------------------------------------------------------------ */

static bool safe_char(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '-' || c == '_' || c == '+';
}

size_t ms_extract_safe_name(const uint8_t *name, size_t n, char *out, size_t cap)
{
    size_t start = 0, ext_at = n, ext, max, len = 0;

    /* Only the last path component, whichever separator the sender's
     * system used. */
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || name[i] == '\\')
            start = i + 1;
    max = cap - 1 < SAFE_MAX ? cap - 1 : SAFE_MAX;
    /* The extension (".pdf": a dot and up to EXT_MAX - 1 letters or
     * digits, not at the start) is kept whole so the type stays visible. */
    for (size_t i = n; i-- > start + 1 && n - i <= EXT_MAX;) {
        if (name[i] == '.') {
            ext_at = i;
            break;
        }
        if (!ms_ascii_alnum(name[i]))
            break;
    }
    ext = n - ext_at;
    if (ext == 1 || ext >= max) {
        ext_at = n;
        ext = 0;
    }
    /* Map the rest to [A-Za-z0-9._+-]; each run of anything else (control
     * bytes, blanks, a UTF-8 sequence) becomes one '_'. Leading dots
     * (hidden files, "..") and underscores go, and so do trailing ones. */
    for (size_t i = start; i < ext_at && len < max - ext; i++) {
        uint8_t c = name[i];
        if (!safe_char(c))
            c = '_';
        if (len == 0 && (c == '.' || c == '_'))
            continue;
        if (c == '_' && len > 0 && out[len - 1] == '_')
            continue;
        out[len++] = (char)c;
    }
    while (len > 0 && (out[len - 1] == '.' || out[len - 1] == '_'))
        len--;
    if (len == 0) {
        static const char dflt[] = "attachment";
        len = sizeof(dflt) - 1 < max - ext ? sizeof(dflt) - 1 : max - ext;
        memcpy(out, dflt, len);
    }
    if (ext > 0) {
        memcpy(out + len, name + ext_at, ext);
        len += ext;
    }
    out[len] = '\0';
    return len;
}

/* ---- files ------------------------------------------------------------ */

static void anomaly(const struct xfile *f, enum ms_anomaly code, const char *what, int err)
{
    char detail[NAME_CAP + 128];
    int n;

    if (!f->sink || !f->sink->emit)
        return;
    if (err)
        n = snprintf(detail, sizeof(detail), "%s %s: %s", what, f->name, strerror(err));
    else
        n = snprintf(detail, sizeof(detail), "%s %s", what, f->name);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(detail))
        n = (int)sizeof(detail) - 1;
    struct ms_event ev;
    ms_anomaly_event(&ev, code, NULL);
    ev.u.anomaly.detail = ms_bytes_of(detail, (size_t)n);
    f->sink->emit(f->sink->user, &ev);
}

/* Gives up on a file: close, remove, refund, report. */
static void xfail(struct xfile *f, enum ms_anomaly code, const char *what, int err)
{
    if (f->failed)
        return;
    f->failed = true;
    if (f->fp) {
        /* The file is removed next: an error closing it changes nothing. */
        (void)fclose(f->fp);
        f->fp = NULL;
        unlinkat(f->x->dirfd, f->name, 0);
    }
    ms_budget_sub(f->x->kept, f->bytes);
    f->bytes = 0;
    anomaly(f, code, what, err);
}

static void xopen(struct xfile *f, struct ms_extract *x, const struct ms_sink *sink)
{
    f->x = x;
    f->sink = sink;
    /* O_EXCL: never overwrite, never follow a planted symlink (O_EXCL
     * already refuses one; O_NOFOLLOW says so twice). */
    int fd = openat(x->dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        xfail(f, err == EEXIST ? MS_ANOM_EXTRACT_FILE_EXISTS : MS_ANOM_EXTRACT_CREATE_FAILED,
              "cannot create", err);
        return;
    }
    /* The umask may only take bits away; make the mode exactly 0600. */
    if (fchmod(fd, 0600) != 0 || !(f->fp = fdopen(fd, "wb"))) {
        int err = errno;
        close(fd);
        unlinkat(x->dirfd, f->name, 0);
        xfail(f, MS_ANOM_EXTRACT_CREATE_FAILED, "cannot create", err);
    }
}

static void xwrite(struct xfile *f, const uint8_t *p, size_t n)
{
    struct ms_extract *x = f->x;

    if (f->failed || n == 0)
        return;
    if (!ms_budget_try(x->kept, n)) {
        xfail(f, MS_ANOM_EXTRACT_LIMIT_REACHED, "byte cap of --extract reached, removed", 0);
        return;
    }
    f->bytes += n; /* taken: xfail gives it back */
    if (fwrite(p, 1, n, f->fp) != n) {
        xfail(f, MS_ANOM_EXTRACT_WRITE_FAILED, "cannot write", errno);
        return;
    }
}

/* Closes the file; returns its path (in x->last) or nothing. */
static struct ms_bytes xclose(struct xfile *f)
{
    struct ms_extract *x = f->x;

    if (f->failed)
        return MS_BYTES_NONE;
    int rc = fclose(f->fp);
    f->fp = NULL;
    if (rc != 0) {
        int err = errno;
        unlinkat(x->dirfd, f->name, 0);
        xfail(f, MS_ANOM_EXTRACT_WRITE_FAILED, "cannot write", err);
        return MS_BYTES_NONE;
    }
    ms_buf_reset(&x->last);
    /* last holds any path (its cap): only memory fails. A file no event
     * names is removed, as one that could not be written. */
    if (ms_buf_append(&x->last, x->dir, strlen(x->dir)) != MS_OK ||
        ms_buf_append(&x->last, "/", 1) != MS_OK ||
        ms_buf_append(&x->last, f->name, strlen(f->name)) != MS_OK) {
        unlinkat(x->dirfd, f->name, 0);
        ms_budget_sub(x->kept, f->bytes);
        f->bytes = 0;
        f->failed = true;
        anomaly(f, MS_ANOM_OUT_OF_MEMORY, "out of memory: removed", 0);
        return MS_BYTES_NONE;
    }
    x->files++;
    return ms_bytes_of(x->last.p, x->last.len);
}

/* ---- the tap ---------------------------------------------------------- */

/* No memory for a file's state: it is not written, and the event names
 * none. */
static void no_file(const struct ms_sink *sink, const char *what)
{
    if (!sink || !sink->emit)
        return;
    struct ms_event ev;
    ms_anomaly_event(&ev, MS_ANOM_OUT_OF_MEMORY, what);
    sink->emit(sink->user, &ev);
}

static void *x_msg_begin(const struct ms_msg_tap *tap, const struct ms_sink *sink)
{
    struct ms_extract *x = tap->user;
    struct xmsg *m = ms_calloc(1, sizeof(*m));

    if (!m) {
        no_file(sink, "out of memory: a message is not extracted");
        return NULL;
    }
    /* Numbered in the flow (in the run when the tap counts for no flow). */
    uint64_t *seq = tap->msgs ? tap->msgs : &x->seq;
    ++*seq;
    snprintf(m->stem, sizeof(m->stem), "%llu-%llu", (unsigned long long)tap->flow_id,
             (unsigned long long)*seq);
    snprintf(m->f.name, sizeof(m->f.name), "%s.eml", m->stem);
    xopen(&m->f, x, sink);
    return m;
}

static void x_msg_data(void *msg, const uint8_t *p, size_t n)
{
    xwrite(&((struct xmsg *)msg)->f, p, n);
}

static struct ms_bytes x_msg_end(void *msg)
{
    struct xmsg *m = msg;
    struct ms_bytes b = xclose(&m->f);
    ms_free(m);
    return b;
}

static void *x_att_begin(void *msg, size_t index, const struct ms_attachment *a)
{
    struct xmsg *m = msg;
    struct xfile *f = ms_calloc(1, sizeof(*f));
    char safe[SAFE_MAX + 1];

    if (!f) {
        no_file(m->f.sink, "out of memory: an attachment is not extracted");
        return NULL;
    }
    if (a->filename.p)
        ms_extract_safe_name(a->filename.p, a->filename.len, safe, sizeof(safe));
    else
        ms_extract_safe_name((const uint8_t *)"", 0, safe, sizeof(safe));
    snprintf(f->name, sizeof(f->name), "%s-%llu-%s", m->stem, (unsigned long long)index + 1, safe);
    xopen(f, m->f.x, m->f.sink);
    return f;
}

static void x_att_data(void *att, const uint8_t *p, size_t n)
{
    xwrite(att, p, n);
}

static struct ms_bytes x_att_end(void *att)
{
    struct ms_bytes b = xclose(att);
    ms_free(att);
    return b;
}

/* ---- lifecycle -------------------------------------------------------- */

struct ms_extract *ms_extract_open(const char *dir, unsigned flags, uint64_t max_bytes, char *err,
                                   size_t errlen)
{
    struct ms_extract *x = ms_calloc(1, sizeof(*x));
    size_t dl = strlen(dir);

    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->dirfd = -1;
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    x->dir = ms_malloc(dl + 1);
    if (!x->dir) {
        snprintf(err, errlen, "out of memory");
        ms_free(x);
        return NULL;
    }
    memcpy(x->dir, dir, dl);
    x->dir[dl] = '\0';
    if (mkdir(x->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
        ms_extract_close(x);
        return NULL;
    }
    x->dirfd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x->dirfd < 0) {
        snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
        ms_extract_close(x);
        return NULL;
    }
    x->flags = flags;
    ms_budget_init(&x->own, max_bytes);
    x->kept = &x->own;
    ms_buf_init(&x->last, dl + 1 + NAME_CAP);
    return x;
}

void ms_extract_tap(struct ms_extract *x, struct ms_msg_tap *tap)
{
    memset(tap, 0, sizeof(*tap));
    tap->msg_begin = x_msg_begin;
    tap->msg_data = x_msg_data;
    tap->msg_end = x_msg_end;
    if (x->flags & MS_EXTRACT_ATTACHMENTS) {
        tap->att_begin = x_att_begin;
        tap->att_data = x_att_data;
        tap->att_end = x_att_end;
    }
    tap->user = x;
}

void ms_extract_share_cap(struct ms_extract *x, struct ms_extract *with)
{
    x->kept = with->kept;
}

uint64_t ms_extract_files(const struct ms_extract *x)
{
    return x->files;
}

void ms_extract_close(struct ms_extract *x)
{
    if (!x)
        return;
    if (x->dirfd >= 0)
        close(x->dirfd);
    ms_buf_free(&x->last);
    ms_free(x->dir);
    ms_free(x);
}
