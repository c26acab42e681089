/* Packet sources over libpcap: a pcap/pcapng file (plain or compressed),
 * standard input ("-"), or a live interface, with an optional BPF filter. */
#ifndef MS_SOURCE_H
#define MS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

struct ms_source;

struct ms_live_opts {
    int snaplen;     /* 0: MS_SNAPLEN_MAX */
    int buffer_size; /* bytes, 0: libpcap default */
    int immediate;   /* deliver packets as they arrive */
    int promisc;
    int rfmon; /* --monitor: 802.11 monitor mode (pcap_set_rfmon) */
};

/* A capture file, or standard input for "-": pcap or pcapng, plain or
 * compressed with gzip, xz or zstd (told by magic bytes; capture/instream.h).
 * On failure returns NULL, writes a one-line reason into err and, when why
 * is not NULL, the kind of failure into *why: MS_ERR_IO (cannot be opened),
 * MS_ERR_PROTO (not a capture, an unsupported link type, or compressed data
 * damaged before the capture's header), MS_ERR_ARG (the filter),
 * MS_ERR_NOMEM. */
struct ms_source *ms_source_open_file(const char *path, const char *filter, enum ms_rc *why,
                                      char *err, size_t errlen);
struct ms_source *ms_source_open_live(const char *iface, const struct ms_live_opts *o,
                                      const char *filter, char *err, size_t errlen);

enum ms_next { MS_NEXT_PACKET = 1, MS_NEXT_END = 0, MS_NEXT_TIMEOUT = 2, MS_NEXT_ERROR = -1 };

/* Next frame: its capture time, captured bytes and link type. The data stays
 * valid until the next call. On MS_NEXT_ERROR, ms_source_error says why
 * (for a compressed file whose data ends early or is damaged: that, also
 * when the capture inside happens to end cleanly there). */
enum ms_next ms_source_next(struct ms_source *s, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype);
const char *ms_source_error(const struct ms_source *s);
/* Makes a blocked ms_source_next return (signal handlers may call it). */
void ms_source_break(struct ms_source *s);
int ms_source_linktype(const struct ms_source *s);
/* After reading a pcapng file: it had interfaces and all of them have a
 * link type the decoder cannot read (err says which, as the classic pcap
 * check at open does); else false, and warn(user, line) is called once
 * per unsupported interface (their packets were skipped). Nothing for
 * classic pcap and live sources, which are checked at open. */
bool ms_source_unreadable(const struct ms_source *s, char *err, size_t errlen,
                          void (*warn)(void *user, const char *line), void *user);
const char *ms_source_name(const struct ms_source *s);
/* How far a file is read: *done bytes of *total (0: not known) of the file
 * on disk, compressed ones included (their compressed bytes; stdio reads
 * ahead, so done runs up to a buffer early). false for live captures,
 * standard input and pipes. */
bool ms_source_position(const struct ms_source *s, uint64_t *done, uint64_t *total);
/* Kernel counters of a live capture (pcap_stats): packets the kernel
 * received, dropped for lack of buffer room, and dropped by the interface
 * or its driver. MS_ERR_IO (and zeroes) for files or when unavailable. */
struct ms_source_stats {
    uint64_t received, dropped, ifdropped;
};
enum ms_rc ms_source_stats(struct ms_source *s, struct ms_source_stats *st);
void ms_source_close(struct ms_source *s);

#endif
