/* A small pcapng reader (draft-ietf-opsawg-pcapng: SHB, IDB, EPB, SPB and
 * the obsolete PB), because libpcap 1.10 refuses a file whose interfaces
 * have different link types ("an interface has a type 101 different from
 * the type of the first interface"). Each packet carries the link type of
 * its own interface. Both byte orders, several sections, if_tsresol and
 * if_tsoffset. Every length is checked; blocks are capped in size. */
#ifndef MS_PCAPNG_H
#define MS_PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../common/limits.h"
#include "source.h"

struct ms_pcapng;

#define MS_PCAPNG_MAGIC 0x0A0D0D0Au
/* Blocks larger than MS_PCAPNG_MAX_BLOCK (common/limits.h) are refused as
 * damage. */

/* fp: positioned at the start of the file, or just after its first 4 bytes
 * when pre_read is true (they were the SHB type, read to sniff the format).
 * The reader owns fp and closes it (also on failure: NULL and a reason in
 * err; the filter's syntax is checked here). filter: BPF expression or NULL, compiled
 * per interface for its link type. */
struct ms_pcapng *ms_pcapng_open(FILE *fp, bool pre_read, const char *filter, char *err,
                                 size_t errlen);

/* MS_NEXT_PACKET, MS_NEXT_END (end of file) or MS_NEXT_ERROR (see
 * ms_pcapng_error). Data stays valid until the next call. */
enum ms_next ms_pcapng_next(struct ms_pcapng *r, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype);
const char *ms_pcapng_error(const struct ms_pcapng *r);
/* Link type of the first interface seen so far, -1 before any. */
int ms_pcapng_first_linktype(const struct ms_pcapng *r);
/* Interfaces read so far over all sections; *unsupported: how many have a
 * link type the decoder cannot read (their packets are skipped). */
size_t ms_pcapng_interfaces(const struct ms_pcapng *r, size_t *unsupported);
/* The k-th of those (k < MS_PCAPNG_NOTED_IFACES): its number in the file
 * (0 for the first IDB) and link type; false past the ones noted. */
bool ms_pcapng_unsupported_iface(const struct ms_pcapng *r, size_t k, size_t *number,
                                 int *linktype);
void ms_pcapng_close(struct ms_pcapng *r);

#endif
