/* --extract DIR: writes every message as an .eml file and, with
 * MS_EXTRACT_ATTACHMENTS, every attachment's decoded content, through the
 * message tap of common/event.h (fed by dissectors/mime.c).
 *
 * File names never come from the sender: a message is
 * "<flow_id>-<seq>.eml" (seq counts messages in the flow, from 1), an
 * attachment "<flow_id>-<seq>-<k>-<safe name>" (k counts attachments in the
 * message, from 1; the safe name is the sender's file name with paths,
 * control characters, non-ASCII and leading dots removed, at most 64 bytes,
 * extension kept). Files are created with O_CREAT|O_EXCL|O_NOFOLLOW, mode
 * 0600, relative to a directory descriptor opened once. A file that cannot
 * be created or written completely (it exists, disk full, the byte cap) is
 * removed and reported as an anomaly of type "extract"; the event then
 * names no file. One extractor per worker thread (--threads), each
 * writing into the same directory: names are per flow, so they never meet. */
#ifndef MS_EXTRACT_H
#define MS_EXTRACT_H

#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"

#define MS_EXTRACT_ATTACHMENTS 0x1u

struct ms_extract;

/* Opens dir (created with mode 0700 if missing). max_bytes caps the bytes
 * of all files kept in the run. NULL on failure, with a message in err. */
struct ms_extract *ms_extract_open(const char *dir, unsigned flags, uint64_t max_bytes, char *err,
                                   size_t errlen);
/* Fills *tap with the extractor's callbacks (flow_id 0); the pipeline
 * copies it per flow and sets flow_id. */
void ms_extract_tap(struct ms_extract *x, struct ms_msg_tap *tap);
/* --threads: x's files count against with's byte cap (with must outlive
 * x's files), so that N extractors keep what one keeps. */
void ms_extract_share_cap(struct ms_extract *x, struct ms_extract *with);
/* Files written and kept so far. */
uint64_t ms_extract_files(const struct ms_extract *x);
void ms_extract_close(struct ms_extract *x); /* NULL is a no-op */

/* The safe part of an attachment's file name (see above), written to out
 * (cap >= 2), NUL-terminated; returns its length. Exposed for tests. */
size_t ms_extract_safe_name(const uint8_t *name, size_t n, char *out, size_t cap);

#endif
