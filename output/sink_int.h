/* Inside the sink layer: one sink, and what each transport provides
 * (output/sink_file.c, sink_socket.c, sink_redis.c). Only sink.c and the
 * backends include this. */
#ifndef MS_SINK_INT_H
#define MS_SINK_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/uio.h>

#include "sink.h"
#include "sink_queue.h"

/* What became of one record's write. */
enum ms_sink_wr {
    MS_SINK_WR_OK = 0,
    MS_SINK_WR_TOO_LARGE, /* the peer refused its size: dropped, counted */
    MS_SINK_WR_FAILED,    /* given up (a file that cannot be written, an error reply) */
    MS_SINK_WR_LOST,      /* the connection is gone: reconnect, write it again */
};

struct ms_sink;

struct ms_sink_ops {
    /* NULL: always ready (files). Else makes the connection; err says why not. */
    enum ms_rc (*connect)(struct ms_sink *s, char *err, size_t errlen);
    enum ms_sink_wr (*write)(struct ms_sink *s, const struct iovec *rec, char *err, size_t errlen);
    /* NULL: write only. Else writes the n records at once, each whole as
     * write would, and returns how many went out; when fewer than n, *next
     * is what became of the one after them (never MS_SINK_WR_LOST). */
    size_t (*write_batch)(struct ms_sink *s, const struct iovec *recs, size_t n,
                          enum ms_sink_wr *next, char *err, size_t errlen);
    /* Drops the connection (or closes the file it owns); may be called twice. */
    void (*disconnect)(struct ms_sink *s);
};

struct ms_sink {
    enum ms_sink_kind kind;
    const struct ms_sink_ops *ops;
    const struct ms_sinks_opts *o; /* the set's */
    char *name;                    /* as given to -o, for messages */
    char *path;                    /* file or socket path; redis: the host */
    char *key;                     /* redis: list or channel */
    int port;                      /* redis */
    bool publish;                  /* redis+pub */
    int pri;                       /* syslog: facility * 8 + severity */
    size_t max_record;             /* larger records are dropped (0: the queue's cap only) */
    FILE *fp;                      /* file sinks */
    bool own_fp;                   /* opened here (closed here, reopened on SIGHUP) */
    bool tty;                      /* a file sink on a terminal (the progress line) */
    int fd;                        /* socket sinks; -1 */
    void *redis;                   /* redisContext */
    pthread_mutex_t fd_mu;         /* guards shut_fd */
    int shut_fd;                   /* what an abort shuts down to wake the writer; -1 */
    atomic_bool reopen;            /* SIGHUP: the writer reopens the file */
    bool error_said;               /* an error reply was reported once */
    bool close_failed;             /* the file's last bytes could not be written */
    bool up, lost;                 /* after the first connect, for the writer */
    unsigned connect_ms;           /* a connect's timeout: short for the first try */
    atomic_bool dead;              /* given up for good: a closed pipe, a bad address */
    bool abandoned;                /* its writer never came back: nothing of it is freed */
    struct ms_sinkq *q;
    pthread_t thread;
    bool started;
};

/* The connection an abort may shut down (-1: none), set by the backends. */
void ms_sink_set_shut_fd(struct ms_sink *s, int fd);
/* The sink can never write again (a reader that closed its pipe): what
 * reaches it from now on is given up (write_errors) without trying. */
void ms_sink_give_up(struct ms_sink *s);

/* Opens path for a file sink, mode 0600 whatever the umask (the output
 * holds secrets): truncated, or appended to (a reopen). */
FILE *ms_sink_file_open(const char *path, bool append);
void ms_sink_file_reopen(struct ms_sink *s);

extern const struct ms_sink_ops ms_sink_file_ops;
extern const struct ms_sink_ops ms_sink_unix_ops;
extern const struct ms_sink_ops ms_sink_unixgram_ops;
extern const struct ms_sink_ops ms_sink_syslog_ops;
extern const struct ms_sink_ops ms_sink_redis_ops;

/* syslog: the header's length for this sink (its PRI and tag), which the
 * record cap leaves room for. */
size_t ms_sink_syslog_header_len(const struct ms_sink *s);

#endif
