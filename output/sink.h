/* Where records go (README "Sinks"): every -o is one sink, and every sink
 * gets every record (one JSON line, or one --text line, without its line
 * end). Each sink has a bounded queue (output/sink_queue.h) and a writer
 * thread, so the pipeline never waits on a peer: in live capture a full
 * queue drops and counts; reading files, the pipeline waits for room.
 * Network sinks reconnect with a doubling backoff and say once on stderr
 * when they are lost and when they are back.
 *
 *   FILE, -             a file (mode 0600, truncated; SIGHUP reopens it to
 *                       append), or standard output
 *   unix:PATH           SOCK_STREAM, one record per line (Suricata unix_stream)
 *   unixgram:PATH       SOCK_DGRAM, one record per datagram (Suricata unix_dgram)
 *   syslog[:FACILITY]   RFC 3164 datagrams to the syslog socket (/dev/log)
 *   redis://H[:P]/KEY   RPUSH to the list KEY
 *   redis+pub://H[:P]/CHANNEL   PUBLISH to CHANNEL */
#ifndef MS_SINK_H
#define MS_SINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "../common/rc.h"
#include "progress.h"
#include "sink_queue.h"

/* Kinds, as the stats event names them (output.sink.<kind>.*). */
enum ms_sink_kind {
    MS_SINK_FILE = 0, /* files and standard output */
    MS_SINK_UNIX,
    MS_SINK_UNIXGRAM,
    MS_SINK_SYSLOG,
    MS_SINK_REDIS, /* lists and channels */
    MS_SINK_KIND_COUNT
};

struct ms_sinks_opts {
    bool live;                         /* drop when full, bounded drain at the end */
    const volatile sig_atomic_t *stop; /* raised by SIGINT/SIGTERM: waits end (may be NULL) */
    size_t queue_bytes;                /* per sink; 0: MS_SINK_QUEUE_BYTES_DEFAULT */
    const char *syslog_socket;         /* NULL: /dev/log */
    const char *ident;                 /* syslog tag; NULL: "mailspill" */
    struct ms_progress *progress;      /* a file sink on a terminal takes this progress
                                        * line away around each record (NULL: none) */
};

struct ms_sinks;

/* The strings of o stay the caller's while the set lives. */
struct ms_sinks *ms_sinks_new(const struct ms_sinks_opts *o);
/* Adds the sink an -o argument names. Files are opened now (so that a bad
 * path fails before capture starts, and as the user before -Z);
 * connections are made by the writer. MS_ERR_ARG or MS_ERR_IO with err. */
enum ms_rc ms_sinks_add(struct ms_sinks *set, const char *spec, char *err, size_t errlen);
/* A file sink writing to the caller's fp (never closed here): tests. */
enum ms_rc ms_sinks_add_stream(struct ms_sinks *set, FILE *fp, const char *name);
/* Starts the writers (signals blocked in them: the main thread takes
 * every signal). */
enum ms_rc ms_sinks_start(struct ms_sinks *set, char *err, size_t errlen);
/* Hands one record to every sink (copied). MS_ERR_LIMIT when a sink
 * dropped it (counted there). */
enum ms_rc ms_sinks_write(struct ms_sinks *set, const char *rec, size_t len);
/* ms_sinks_write of n records in turn, each sink's queue locked once. */
enum ms_rc ms_sinks_write_n(struct ms_sinks *set, const struct iovec *recs, size_t n);
/* SIGHUP: file sinks reopen their path (to append), in their writer. */
void ms_sinks_reopen(struct ms_sinks *set);
/* Waits until every queue is empty (reading files: before a stats event,
 * so that its counters are the same on every run); returns at once when
 * the stop flag is up. */
void ms_sinks_sync(struct ms_sinks *set);
/* Drains the queues (live, or after a stop: at most MS_SINK_DRAIN_MS;
 * reading files: until delivered or stopped), ends the writers, counts
 * what is left as dropped, closes. A writer that an abort cannot wake (a
 * write to a pipe nobody reads) is waited for MS_SINK_JOIN_MS more, then
 * left running: the process is ending, and nothing it uses is freed. */
void ms_sinks_close(struct ms_sinks *set);
/* True once every sink is dead for good (a reader closed the pipe, an
 * address that can never work): the run stops, as SIGPIPE used to stop it.
 * Polled by the main loop; safe from any thread. */
bool ms_sinks_failed(struct ms_sinks *set);
/* Tells on stderr, per sink, what was dropped (nothing when nothing was). */
void ms_sinks_warn(struct ms_sinks *set);
void ms_sinks_free(struct ms_sinks *set);

size_t ms_sinks_count(const struct ms_sinks *set);
/* Whether a sink of this kind is in use, and the sum of the counters of
 * those that are. */
bool ms_sinks_kind_used(const struct ms_sinks *set, enum ms_sink_kind kind);
void ms_sinks_kind_counters(struct ms_sinks *set, enum ms_sink_kind kind,
                            struct ms_sink_counters *c);
/* Records given up after a failed write, over every sink. */
uint64_t ms_sinks_write_errors(struct ms_sinks *set);

#endif
