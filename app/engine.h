/* The run's pipelines (app/pipeline.h). With one thread, one pipeline does
 * everything in the caller's thread. With --threads N, the caller's thread
 * is the reader: it decodes each frame, reassembles IP fragments and hands
 * each TCP packet, by a symmetric hash of its addresses and ports, to one
 * of N workers (reading files, worker 0 in the reader's thread, the others
 * in threads of their own; live, N worker threads), each a whole pipeline
 * with its own flow table, reassembly, dissectors, --extract and
 * --evidence, and a share of the caps on flows and reassembly; every
 * worker writes through the one output (output/output.h), and uses the one
 * STARTTLS memo in the order one thread would. The queues are bounded
 * (MS_WORKER_QUEUE_MIN, MS_WORKER_QUEUES_BYTES_LIVE): reading files, the
 * reader waits for room; live, a packet that does not fit is dropped and
 * counted (capture.worker_drops). */
#ifndef MS_ENGINE_H
#define MS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"
#include "pipeline.h"

struct ms_engine;

/* nthreads 0 or 1: one pipeline, no thread. live: a full queue drops
 * (else the reader waits). NULL when out of memory or nDPI failed. */
struct ms_engine *ms_engine_new(const struct ms_limits *lim, struct ms_output *out,
                                unsigned nthreads, bool live);
/* Pipelines that own flows: 1, or N. */
unsigned ms_engine_workers(const struct ms_engine *e);
/* Worker i's pipeline, to set its tap and evidence before ms_engine_start. */
struct ms_pipeline *ms_engine_worker(struct ms_engine *e, unsigned i);
/* Starts the worker threads (none with one thread). */
enum ms_rc ms_engine_start(struct ms_engine *e, char *err, size_t errlen);

/* 802.11 decryption (ms_pipeline_set_wpa) for the pipeline that reads
 * frames: link-layer state, before packets are sharded. */
void ms_engine_set_wpa(struct ms_engine *e, struct ms_wpa *wpa);

/* As the pipeline's functions of the same names. */
void ms_engine_set_source(struct ms_engine *e, const char *name, bool offline);
void ms_engine_frame(struct ms_engine *e, int linktype, uint64_t ts_us, const uint8_t *frame,
                     size_t caplen);
void ms_engine_tick(struct ms_engine *e, uint64_t wall_us);
/* The source is quiet for now, or may be (a live read timed out; the
 * next frame of a pipe or of --realtime may be a while): workers waiting
 * for a batch of packets are woken, and one thread's held records go
 * out. */
void ms_engine_idle(struct ms_engine *e);
/* End of input: every flow ends, the workers stop. */
void ms_engine_finish(struct ms_engine *e);
/* Every counter, merged over the pipelines (kernel: live, or NULL). */
void ms_engine_get_stats(struct ms_engine *e, const struct ms_capture_counters *kernel,
                         struct ms_pipeline_stats *st);
/* The stats event. sync (reading files: the run's sinks; else NULL) is
 * waited for once the workers have handed over the records they hold
 * (output.h's ports, one thread's too), before the sinks' counters are
 * read: every record before the event is then counted as delivered. */
struct ms_sinks;
enum ms_rc ms_engine_emit_stats(struct ms_engine *e, const struct ms_capture_counters *kernel,
                                uint64_t ts_us, struct ms_sinks *sync);
/* Stops the workers if still running, then frees. */
void ms_engine_free(struct ms_engine *e);

#endif
