/* A capture's bytes as a stdio stream (fopencookie), for libpcap and the
 * pcapng reader, which read a FILE: standard input after its first bytes
 * were read to sniff the format, and gzip (RFC 1952), xz and zstd
 * (RFC 8878) files, decompressed as they are read: no temporary file, and
 * memory bounded by MS_DECOMP_WINDOW_MAX (common/limits.h). The format is
 * told by magic bytes, never by the file name. */
#ifndef MS_INSTREAM_H
#define MS_INSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ms_codec { MS_CODEC_NONE, MS_CODEC_GZIP, MS_CODEC_XZ, MS_CODEC_ZSTD };

/* Bytes ms_instream_sniff may read. */
#define MS_INSTREAM_HEAD 6

struct ms_instream;

/* Reads the first bytes of in (4, or 6 when they may start xz's magic)
 * into head and says which compression they announce. *got: how many
 * were read (fewer at the end of the input). */
enum ms_codec ms_instream_sniff(FILE *in, uint8_t head[MS_INSTREAM_HEAD], size_t *got);

/* A stream giving back head[0..n) (read from in by ms_instream_sniff),
 * then the rest of in, decompressed by codec. direct: read in's descriptor
 * with one read(2) at a time (standard input: hand on what has arrived;
 * in must then be unbuffered), else fread. own: the stream closes in.
 * *stp stays valid until the returned stream is closed. NULL when out of
 * memory (a reason in err; in is left open). */
FILE *ms_instream_open(FILE *in, bool own, bool direct, enum ms_codec codec, const uint8_t *head,
                       size_t n, struct ms_instream **stp, char *err, size_t errlen);

/* Decompresses the first bytes ahead, into out[0..n), and keeps them to be
 * read again: call before the stream is read. Returns how many there are
 * (fewer than n at the end of the data or at damage). */
size_t ms_instream_peek(struct ms_instream *st, uint8_t *out, size_t n);

/* Why the compressed data ended before its end ("truncated gzip data",
 * "damaged xz data (...)"), once the stream has read up to there; NULL
 * while it is whole. */
const char *ms_instream_damage(const struct ms_instream *st);

#endif
