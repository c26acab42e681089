/* -o FILE and -o -: one record a line, flushed at once so that a tail -f
 * or a pipe reader sees each record whole when it is written. A record
 * that cannot be written (disk full, a closed pipe) is counted and given
 * up; main says "N events could not be written" and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/limits.h"
#include "sink_int.h"

FILE *ms_sink_file_open(const char *path, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0)
        return NULL;
    FILE *fp = fdopen(fd, append ? "a" : "w");
    if (!fp) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return fp;
}

/* SIGHUP: logrotate moved the file away; write to a new one at the same
 * path. On failure keep writing to the old one and say so. */
void ms_sink_file_reopen(struct ms_sink *s)
{
    if (!s->own_fp)
        return;
    FILE *nfp = ms_sink_file_open(s->path, true);
    if (!nfp) {
        ms_progress_warn(s->o->progress,
                         "mailspill: cannot reopen %s: %s; still writing to the old file\n",
                         s->path, strerror(errno));
        return;
    }
    if (fclose(s->fp) != 0)
        ms_progress_warn(s->o->progress, "mailspill: error closing the old %s: %s\n", s->path,
                         strerror(errno));
    s->fp = nfp;
}

static enum ms_sink_wr write_all(struct ms_sink *s, int fd, struct iovec *v, int n, size_t *done,
                                 char *err, size_t errlen);

/* Written with writev, never through the FILE's buffer: a record is whole
 * on its way out, and a writer left blocked on a pipe nobody reads
 * (ms_sinks_close) leaves nothing in a stdio buffer for exit to flush
 * into that same pipe. */
static enum ms_sink_wr file_write(struct ms_sink *s, const struct iovec *rec, char *err,
                                  size_t errlen)
{
    struct iovec iov[2] = { *rec, { "\n", 1 } };
    int fd = fileno(s->fp);
    if (fd < 0) {
        /* A stream without a descriptor (a memory stream: tests). */
        if (fwrite(rec->iov_base, 1, rec->iov_len, s->fp) == rec->iov_len &&
            fputc('\n', s->fp) != EOF && fflush(s->fp) == 0)
            return MS_SINK_WR_OK;
        snprintf(err, errlen, "%s", strerror(errno));
        clearerr(s->fp);
        return MS_SINK_WR_FAILED;
    }
    size_t done = 0;
    return write_all(s, fd, iov, 2, &done, err, errlen);
}

/* Writes v[0..n) whole; *done counts the iovecs that went out whole (also
 * on a failure). On a terminal, the progress line makes way for them. */
static enum ms_sink_wr write_all(struct ms_sink *s, int fd, struct iovec *v, int n, size_t *done,
                                 char *err, size_t errlen)
{
    struct ms_progress *pg = s->tty ? s->o->progress : NULL;
    enum ms_sink_wr wr = MS_SINK_WR_OK;
    ms_progress_pause(pg);
    while (n > 0) {
        ssize_t w = writev(fd, v, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            /* Nobody reads the pipe any more: nothing will ever be written
             * (SIGPIPE, blocked in this thread, used to end the run). A
             * full disk is not dead: the next record is tried again. */
            if (errno == EPIPE)
                ms_sink_give_up(s);
            wr = MS_SINK_WR_FAILED;
            break;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            n--;
            ++*done;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    ms_progress_resume(pg);
    return wr;
}

/* A batch of records in one writev, each followed by its line end: one
 * system call for what the writer found queued, not one per record. A
 * failure is the record it reached's, as in file_write; the records
 * before it went out whole. */
_Static_assert(2 * MS_SINK_BATCH <= 1024, "a batch's iovecs within Linux's IOV_MAX");

static size_t file_write_batch(struct ms_sink *s, const struct iovec *recs, size_t n,
                               enum ms_sink_wr *next, char *err, size_t errlen)
{
    struct iovec iov[2 * MS_SINK_BATCH];
    int fd = fileno(s->fp);
    if (n > MS_SINK_BATCH)
        n = MS_SINK_BATCH;
    if (fd < 0) {
        *next = file_write(s, &recs[0], err, errlen);
        return *next == MS_SINK_WR_OK ? 1 : 0;
    }
    for (size_t i = 0; i < n; i++) {
        iov[2 * i] = recs[i];
        iov[2 * i + 1] = (struct iovec){ "\n", 1 };
    }
    size_t done = 0; /* iovecs fully written: two a record */
    *next = write_all(s, fd, iov, (int)(2 * n), &done, err, errlen);
    return done / 2;
}

static void file_close(struct ms_sink *s)
{
    if (s->own_fp && s->fp && fclose(s->fp) != 0) {
        ms_progress_warn(s->o->progress, "mailspill: error writing %s: %s\n", s->path,
                         strerror(errno));
        s->close_failed = true; /* main exits 1 */
    }
    s->fp = NULL;
}

const struct ms_sink_ops ms_sink_file_ops = {
    .connect = NULL,
    .write = file_write,
    .write_batch = file_write_batch,
    .disconnect = file_close,
};
