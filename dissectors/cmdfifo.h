/* Commands a client sent that await their reply, matched in order: POP3
 * (RFC 2449) and SMTP (RFC 2920) let clients pipeline. A bounded ring of
 * fixed-size records, the record type being the dissector's own. When full,
 * a push drops the oldest record and hands it back, so that the caller can
 * report the flood and whatever the record held. */
#ifndef MS_CMDFIFO_H
#define MS_CMDFIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/rc.h"

struct ms_cmdfifo {
    uint8_t *slot; /* cap records of size bytes */
    size_t size, cap;
    size_t head, len; /* oldest record, records held */
};

/* cap 0 is taken as 1: a reply must be matched to something. */
enum ms_rc ms_cmdfifo_init(struct ms_cmdfifo *f, size_t cap, size_t size);
/* Appends *rec. True when the FIFO was full: the oldest record was dropped
 * and copied to *dropped. */
bool ms_cmdfifo_push(struct ms_cmdfifo *f, const void *rec, void *dropped);
/* Takes the oldest record into *out; false when empty. */
bool ms_cmdfifo_pop(struct ms_cmdfifo *f, void *out);
/* The oldest record, NULL when empty. */
const void *ms_cmdfifo_peek(const struct ms_cmdfifo *f);
/* Record i, 0 being the oldest; NULL past the last. */
void *ms_cmdfifo_at(struct ms_cmdfifo *f, size_t i);
/* Forgets every record (after a gap: what they awaited may be lost). */
void ms_cmdfifo_clear(struct ms_cmdfifo *f);
void ms_cmdfifo_free(struct ms_cmdfifo *f);

#endif
