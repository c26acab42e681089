/* The sink set: parsing -o, a queue and a writer thread per sink, the
 * reconnect loop with its backoff, the drain at the end, the counters. */
#include "sink.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "sink_int.h"

struct ms_sinks {
    struct ms_sinks_opts o;
    struct ms_sink *s[MS_SINKS_MAX];
    size_t n;
    bool closed;
};

static const struct ms_sink_ops *const kind_ops[MS_SINK_KIND_COUNT] = {
    [MS_SINK_FILE] = &ms_sink_file_ops,         [MS_SINK_UNIX] = &ms_sink_unix_ops,
    [MS_SINK_UNIXGRAM] = &ms_sink_unixgram_ops, [MS_SINK_SYSLOG] = &ms_sink_syslog_ops,
    [MS_SINK_REDIS] = &ms_sink_redis_ops,
};

/* syslog facilities by name (RFC 5424 6.2.1 numbers, syslog.conf names). */
static const struct {
    const char *name;
    int code;
} facilities[] = {
    { "kern", 0 },      { "user", 1 },    { "mail", 2 },    { "daemon", 3 },  { "auth", 4 },
    { "syslog", 5 },    { "lpr", 6 },     { "news", 7 },    { "uucp", 8 },    { "cron", 9 },
    { "authpriv", 10 }, { "ftp", 11 },    { "local0", 16 }, { "local1", 17 }, { "local2", 18 },
    { "local3", 19 },   { "local4", 20 }, { "local5", 21 }, { "local6", 22 }, { "local7", 23 },
};
/* Suricata's EVE syslog output uses local5 by default: rules written for
 * it route mailspill's records the same way. Severity: info. */
#define MS_SYSLOG_DEFAULT_FACILITY 21
#define MS_SYSLOG_SEVERITY 6

void ms_sink_set_shut_fd(struct ms_sink *s, int fd)
{
    pthread_mutex_lock(&s->fd_mu);
    s->shut_fd = fd;
    pthread_mutex_unlock(&s->fd_mu);
}

void ms_sink_give_up(struct ms_sink *s)
{
    atomic_store(&s->dead, true);
}

struct ms_sinks *ms_sinks_new(const struct ms_sinks_opts *o)
{
    struct ms_sinks *set = ms_calloc(1, sizeof(*set));
    if (!set)
        return NULL;
    set->o = *o;
    if (!set->o.queue_bytes)
        set->o.queue_bytes = MS_SINK_QUEUE_BYTES_DEFAULT;
    return set;
}

static void sink_free(struct ms_sink *s)
{
    if (!s || s->abandoned)
        return;
    ms_sinkq_free(s->q);
    pthread_mutex_destroy(&s->fd_mu);
    ms_free(s->name);
    ms_free(s->path);
    ms_free(s->key);
    ms_free(s);
}

static struct ms_sink *sink_new(struct ms_sinks *set, enum ms_sink_kind kind, const char *name)
{
    struct ms_sink *s = ms_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->fd_mu, NULL) != 0) {
        ms_free(s);
        return NULL;
    }
    s->kind = kind;
    s->ops = kind_ops[kind];
    s->o = &set->o;
    s->fd = s->shut_fd = -1;
    s->connect_ms = MS_SINK_IO_MS;
    atomic_init(&s->reopen, false);
    atomic_init(&s->dead, false);
    s->name = ms_strdup(name);
    s->q = ms_sinkq_new(set->o.queue_bytes, MS_SINK_QUEUE_RECORDS);
    if (!s->name || !s->q) {
        sink_free(s);
        return NULL;
    }
    return s;
}

static bool prefixed(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

/* "HOST[:PORT]/KEY", HOST an IPv6 address in brackets or a name. */
static enum ms_rc parse_redis(struct ms_sink *s, const char *p, char *err, size_t errlen)
{
    const char *host = p, *host_end, *slash;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            goto bad;
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    s->port = 6379;
    if (*p == ':') {
        char *end;
        errno = 0;
        unsigned long port = strtoul(p + 1, &end, 10);
        if (errno || end == p + 1 || port == 0 || port > 65535 || *end != '/')
            goto bad;
        s->port = (int)port;
        p = end;
    }
    slash = p;
    if (*slash != '/' || host_end == host || !slash[1])
        goto bad;
    s->path = ms_calloc(1, (size_t)(host_end - host) + 1);
    s->key = ms_strdup(slash + 1);
    if (!s->path || !s->key) {
        snprintf(err, errlen, "out of memory");
        return MS_ERR_NOMEM;
    }
    memcpy(s->path, host, (size_t)(host_end - host));
    return MS_OK;
bad:
    snprintf(err, errlen, "%s: expected redis://HOST[:PORT]/KEY", s->name);
    return MS_ERR_ARG;
}

/* Fills in s from an -o argument whose kind is known. */
static enum ms_rc parse_spec(struct ms_sinks *set, struct ms_sink *s, const char *arg, char *err,
                             size_t errlen)
{
    const char *rest = arg;
    switch (s->kind) {
    case MS_SINK_UNIX:
    case MS_SINK_UNIXGRAM:
        rest = strchr(arg, ':') + 1;
        if (!*rest) {
            snprintf(err, errlen, "%s: no socket path", arg);
            return MS_ERR_ARG;
        }
        if (strlen(rest) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "%s: socket path too long (at most %zu bytes)", arg,
                     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return MS_ERR_ARG;
        }
        s->path = ms_strdup(rest);
        if (s->kind == MS_SINK_UNIXGRAM)
            s->max_record = MS_SINK_DGRAM_MAX;
        break;
    case MS_SINK_SYSLOG: {
        int fac = MS_SYSLOG_DEFAULT_FACILITY;
        if (prefixed(arg, "syslog:", &rest)) {
            fac = -1;
            for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
                if (strcmp(rest, facilities[i].name) == 0)
                    fac = facilities[i].code;
            }
            if (fac < 0) {
                snprintf(err, errlen,
                         "%s: unknown syslog facility (local0..local7, user, "
                         "daemon, mail, ...)",
                         arg);
                return MS_ERR_ARG;
            }
        }
        s->pri = fac * 8 + MS_SYSLOG_SEVERITY;
        rest = set->o.syslog_socket ? set->o.syslog_socket : "/dev/log";
        if (strlen(rest) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "--syslog-socket %s: socket path too long (at most %zu bytes)",
                     rest, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return MS_ERR_ARG;
        }
        s->path = ms_strdup(rest);
        if (s->path)
            s->max_record = MS_SINK_SYSLOG_MAX - ms_sink_syslog_header_len(s);
        break;
    }
    case MS_SINK_REDIS:
        s->publish = prefixed(arg, "redis+pub://", &rest);
        if (!s->publish)
            prefixed(arg, "redis://", &rest);
        return parse_redis(s, rest, err, errlen);
    case MS_SINK_FILE:
    case MS_SINK_KIND_COUNT:
        if (strcmp(arg, "-") == 0) {
            s->fp = stdout;
            s->tty = isatty(STDOUT_FILENO) == 1;
            return MS_OK;
        }
        s->path = ms_strdup(arg);
        if (!s->path)
            break;
        s->fp = ms_sink_file_open(arg, false);
        if (!s->fp) {
            snprintf(err, errlen, "cannot open %s: %s", arg, strerror(errno));
            return MS_ERR_IO;
        }
        s->own_fp = true;
        s->tty = isatty(fileno(s->fp)) == 1; /* -o /dev/tty */
        return MS_OK;
    }
    if (!s->path) {
        snprintf(err, errlen, "out of memory");
        return MS_ERR_NOMEM;
    }
    return MS_OK;
}

static enum ms_sink_kind kind_of(const char *arg)
{
    const char *rest;
    if (prefixed(arg, "unix:", &rest))
        return MS_SINK_UNIX;
    if (prefixed(arg, "unixgram:", &rest))
        return MS_SINK_UNIXGRAM;
    if (strcmp(arg, "syslog") == 0 || prefixed(arg, "syslog:", &rest))
        return MS_SINK_SYSLOG;
    if (prefixed(arg, "redis://", &rest) || prefixed(arg, "redis+pub://", &rest))
        return MS_SINK_REDIS;
    return MS_SINK_FILE;
}

static enum ms_rc add_sink(struct ms_sinks *set, struct ms_sink *s)
{
    set->s[set->n++] = s;
    return MS_OK;
}

enum ms_rc ms_sinks_add(struct ms_sinks *set, const char *spec, char *err, size_t errlen)
{
    if (set->n == MS_SINKS_MAX) {
        snprintf(err, errlen, "at most %d outputs (-o)", MS_SINKS_MAX);
        return MS_ERR_LIMIT;
    }
    enum ms_sink_kind kind = kind_of(spec);
    struct ms_sink *s = sink_new(set, kind,
                                 kind == MS_SINK_FILE && strcmp(spec, "-") == 0 ? "standard output"
                                                                                : spec);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return MS_ERR_NOMEM;
    }
    enum ms_rc rc = parse_spec(set, s, spec, err, errlen);
    if (rc != MS_OK) {
        if (s->own_fp)
            (void)fclose(s->fp); /* nothing written yet */
        sink_free(s);
        return rc;
    }
    return add_sink(set, s);
}

enum ms_rc ms_sinks_add_stream(struct ms_sinks *set, FILE *fp, const char *name)
{
    if (set->n == MS_SINKS_MAX)
        return MS_ERR_LIMIT;
    struct ms_sink *s = sink_new(set, MS_SINK_FILE, name);
    if (!s)
        return MS_ERR_NOMEM;
    s->fp = fp;
    return add_sink(set, s);
}

/* ---- the writer ------------------------------------------------------ */

static void say_lost(struct ms_sink *s, bool *said, const char *why)
{
    if (*said)
        return;
    *said = true;
    ms_progress_warn(s->o->progress, "mailspill: warning: %s: %s; reconnecting (%s)\n", s->name,
                     why,
                     s->o->live ? "records are dropped while its queue is full"
                                : "reading waits for it");
}

/* Connects, trying again after each failure with a doubling wait. False
 * when the queue was aborted meanwhile. An address that can never work
 * (MS_ERR_ARG) is given up at once: *up stays false, the sink is dead. */
static bool ensure_up(struct ms_sink *s, bool *up, bool *lost, unsigned *backoff)
{
    char err[256];
    while (!*up) {
        enum ms_rc rc = s->ops->connect(s, err, sizeof(err));
        if (rc == MS_ERR_ARG) {
            ms_progress_warn(s->o->progress, "mailspill: %s: %s; its records are given up\n",
                             s->name, err);
            ms_sink_give_up(s);
            return true;
        }
        if (rc == MS_OK) {
            *up = true; /* "connected again" waits for a record to go through */
            return true;
        }
        say_lost(s, lost, err);
        if (!ms_sinkq_sleep(s->q, *backoff))
            return false;
        *backoff = *backoff * 2 > MS_SINK_BACKOFF_MAX_MS ? MS_SINK_BACKOFF_MAX_MS : *backoff * 2;
    }
    return true;
}

static void *writer(void *arg)
{
    struct ms_sink *s = arg;
    struct iovec iov[MS_SINK_BATCH];
    bool up = s->up, lost = s->lost; /* the first try's (ms_sinks_start) */
    unsigned backoff = MS_SINK_BACKOFF_MIN_MS;
    char err[256];
    for (;;) {
        size_t n = ms_sinkq_peek(s->q, iov, MS_SINK_BATCH);
        if (atomic_exchange(&s->reopen, false))
            ms_sink_file_reopen(s);
        if (n == 0) {
            if (ms_sinkq_finished(s->q))
                break;
            continue;
        }
        for (size_t i = 0; i < n;) {
            if (ms_sinkq_aborted(s->q))
                return NULL; /* close counts what is left */
            if (!up && !atomic_load(&s->dead) && !ensure_up(s, &up, &lost, &backoff))
                return NULL; /* aborted: close counts what is left */
            if (atomic_load(&s->dead)) {
                ms_sinkq_release(s->q, MS_SINKQ_FAILED);
                i++;
                continue;
            }
            if (s->ops->write_batch) {
                enum ms_sink_wr next = MS_SINK_WR_FAILED;
                size_t done = s->ops->write_batch(s, &iov[i], n - i, &next, err, sizeof(err));
                ms_sinkq_release_n(s->q, done, MS_SINKQ_WRITTEN);
                i += done;
                if (i < n && next != MS_SINK_WR_OK) {
                    ms_sinkq_release(s->q, next == MS_SINK_WR_TOO_LARGE ? MS_SINKQ_TOO_LARGE
                                                                        : MS_SINKQ_FAILED);
                    i++;
                }
                continue;
            }
            enum ms_sink_wr w = s->ops->write(s, &iov[i], err, sizeof(err));
            if (w == MS_SINK_WR_LOST) {
                s->ops->disconnect(s);
                up = false;
                if (ms_sinkq_aborted(s->q))
                    return NULL; /* the end of the run cut it off: no news */
                say_lost(s, &lost, err);
                /* Wait before the first try too: a peer that accepts and
                 * fails at once must not spin this thread. */
                if (!ms_sinkq_sleep(s->q, backoff))
                    return NULL;
                backoff = backoff * 2 > MS_SINK_BACKOFF_MAX_MS ? MS_SINK_BACKOFF_MAX_MS
                                                               : backoff * 2;
                continue;
            }
            backoff = MS_SINK_BACKOFF_MIN_MS;
            if (lost) {
                /* Said once the peer takes records again: a server that
                 * accepts connections and answers each command READONLY
                 * is not back, and must not get a pair of lines a retry. */
                ms_progress_warn(s->o->progress, "mailspill: %s: connected again\n", s->name);
                ms_sinkq_count_reconnect(s->q);
                lost = false;
            }
            ms_sinkq_release(s->q, w == MS_SINK_WR_OK          ? MS_SINKQ_WRITTEN
                                   : w == MS_SINK_WR_TOO_LARGE ? MS_SINKQ_TOO_LARGE
                                                               : MS_SINKQ_FAILED);
            i++;
        }
    }
    return NULL;
}

enum ms_rc ms_sinks_start(struct ms_sinks *set, char *err, size_t errlen)
{
    /* The writers take no signal: SIGINT and SIGTERM must interrupt the
     * main thread's blocked read, and a closed pipe's SIGPIPE, pending on
     * a writer, leaves its write failing with EPIPE (counted). */
    /* The first connection is tried here, before -Z drops privileges
     * (a socket only root may reach) and so that a sink down at start is
     * said at once; the writers retry. */
    char why[256];
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink *s = set->s[i];
        enum ms_rc c = MS_OK;
        s->connect_ms = MS_SINK_FIRST_CONNECT_MS;
        if (s->ops->connect)
            c = s->ops->connect(s, why, sizeof(why));
        s->connect_ms = MS_SINK_IO_MS;
        if (c == MS_ERR_ARG) {
            snprintf(err, errlen, "%s: %s", s->name, why);
            return c;
        }
        s->up = c == MS_OK;
        if (!s->up)
            say_lost(s, &s->lost, why);
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    enum ms_rc rc = MS_OK;
    for (size_t i = 0; i < set->n && rc == MS_OK; i++) {
        int e = pthread_create(&set->s[i]->thread, NULL, writer, set->s[i]);
        if (e != 0) {
            snprintf(err, errlen, "cannot start the writer of %s: %s", set->s[i]->name,
                     strerror(e));
            rc = MS_ERR_NOMEM;
        } else {
            set->s[i]->started = true;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- the pipeline's side --------------------------------------------- */

enum ms_rc ms_sinks_write(struct ms_sinks *set, const char *rec, size_t len)
{
    struct iovec one = { (void *)(uintptr_t)rec, len };
    return ms_sinks_write_n(set, &one, 1);
}

enum ms_rc ms_sinks_write_n(struct ms_sinks *set, const struct iovec *recs, size_t n)
{
    enum ms_rc rc = MS_OK;
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink *s = set->s[i];
        /* Runs of records within the sink's cap, each pushed at once. */
        for (size_t at = 0; at < n;) {
            size_t end = at;
            while (end < n && !(s->max_record && recs[end].iov_len > s->max_record))
                end++;
            if (end > at &&
                ms_sinkq_push_n(s->q, recs + at, end - at, !set->o.live, set->o.stop) < end - at)
                rc = MS_ERR_LIMIT;
            if (end < n) {
                ms_sinkq_count_too_large(s->q);
                rc = MS_ERR_LIMIT;
                end++;
            }
            at = end;
        }
    }
    return rc;
}

void ms_sinks_reopen(struct ms_sinks *set)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->s[i]->own_fp) {
            atomic_store(&set->s[i]->reopen, true);
            ms_sinkq_kick(set->s[i]->q);
        }
    }
}

void ms_sinks_sync(struct ms_sinks *set)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->s[i]->started)
            ms_sinkq_drain(set->s[i]->q, -1, set->o.stop, 0);
    }
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

void ms_sinks_close(struct ms_sinks *set)
{
    if (!set || set->closed)
        return;
    set->closed = true;
    for (size_t i = 0; i < set->n; i++)
        ms_sinkq_close(set->s[i]->q);
    /* One deadline for all: a live run ends within MS_SINK_DRAIN_MS
     * whatever the number of dead sinks. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool aborted[MS_SINKS_MAX] = { false };
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink *s = set->s[i];
        if (!s->started)
            continue;
        long left = set->o.live ? MS_SINK_DRAIN_MS - ms_since(&t0) : -1;
        if (set->o.live && left < 0)
            left = 0;
        if (!ms_sinkq_drain(s->q, left, set->o.stop, MS_SINK_DRAIN_MS)) {
            /* Undelivered: wake the writer wherever it waits (a backoff,
             * a send or a reply from a peer that does not answer). */
            ms_sinkq_abort(s->q);
            aborted[i] = true;
            pthread_mutex_lock(&s->fd_mu);
            if (s->shut_fd >= 0)
                shutdown(s->shut_fd, SHUT_RDWR);
            pthread_mutex_unlock(&s->fd_mu);
        }
    }
    /* Nothing wakes a write to a file or a pipe (a reader that stopped
     * reading, a FIFO, a hung NFS server): such a writer is left behind,
     * its record counted as dropped. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += MS_SINK_JOIN_MS / 1000;
    until.tv_nsec += (MS_SINK_JOIN_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink *s = set->s[i];
        if (s->started && !aborted[i])
            pthread_join(s->thread, NULL);
        else if (s->started && pthread_timedjoin_np(s->thread, NULL, &until) != 0)
            s->abandoned = true;
        s->started = false;
        ms_sinkq_drop_rest(s->q);
        if (s->abandoned)
            ms_progress_warn(s->o->progress,
                             "mailspill: warning: %s: its last write is still blocked; left "
                             "behind\n",
                             s->name);
        else
            s->ops->disconnect(s);
    }
}

void ms_sinks_warn(struct ms_sinks *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink *s = set->s[i];
        struct ms_sink_counters c;
        ms_sinkq_counters(s->q, &c);
        if (c.dropped_full)
            ms_progress_warn(s->o->progress,
                             "mailspill: warning: %s: %llu records dropped: its queue was full, or "
                             "they "
                             "were not delivered by the end of the run\n",
                             s->name, (unsigned long long)c.dropped_full);
        /* The cap that applied: the sink's own, or its queue's when smaller. */
        size_t cap = ms_sinkq_max_record(s->q);
        if (s->max_record && s->max_record < cap)
            cap = s->max_record;
        if (c.dropped_too_large)
            ms_progress_warn(s->o->progress,
                             "mailspill: warning: %s: %llu records dropped: larger than %zu "
                             "bytes\n",
                             s->name, (unsigned long long)c.dropped_too_large, cap);
    }
}

void ms_sinks_free(struct ms_sinks *set)
{
    if (!set)
        return;
    ms_sinks_close(set);
    bool abandoned = false;
    for (size_t i = 0; i < set->n; i++) {
        abandoned = abandoned || set->s[i]->abandoned;
        sink_free(set->s[i]);
    }
    if (!abandoned) /* else its writer may still read the options */
        ms_free(set);
}

bool ms_sinks_failed(struct ms_sinks *set)
{
    for (size_t i = 0; i < set->n; i++) {
        if (!atomic_load(&set->s[i]->dead))
            return false;
    }
    return set->n > 0;
}

size_t ms_sinks_count(const struct ms_sinks *set)
{
    return set->n;
}

bool ms_sinks_kind_used(const struct ms_sinks *set, enum ms_sink_kind kind)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->s[i]->kind == kind)
            return true;
    }
    return false;
}

void ms_sinks_kind_counters(struct ms_sinks *set, enum ms_sink_kind kind,
                            struct ms_sink_counters *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < set->n; i++) {
        if (set->s[i]->kind != kind)
            continue;
        struct ms_sink_counters one;
        ms_sinkq_counters(set->s[i]->q, &one);
        c->written += one.written;
        c->dropped_full += one.dropped_full;
        c->dropped_too_large += one.dropped_too_large;
        c->write_errors += one.write_errors;
        c->reconnects += one.reconnects;
        c->queued += one.queued;
    }
}

uint64_t ms_sinks_write_errors(struct ms_sinks *set)
{
    uint64_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        struct ms_sink_counters c;
        ms_sinkq_counters(set->s[i]->q, &c);
        n += c.write_errors + set->s[i]->close_failed;
    }
    return n;
}
