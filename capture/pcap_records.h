/* The records of a classic pcap file, read into a large block and handed out
 * in place: libpcap's reader costs two fread calls and a copy per packet
 * (its user time was 0.18 s of a bare read loop's 0.28 s on the mail-heavy
 * GiB; this one's 0.01 s). capture/source.c lets libpcap open the file and
 * read its header (link type, snapshot length, errors), and uses this only
 * for the plain case (ms_pcap_records_plain): the host's byte order,
 * version 2.4, no FCS or reserved bits in the link type field, so that
 * libpcap would hand out the records' bytes unchanged. Errors and their
 * wording are libpcap's. */
#ifndef MS_PCAP_RECORDS_H
#define MS_PCAP_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "source.h"

#define MS_PCAP_FILE_HEADER 24u

struct ms_pcap_records;

/* hdr: the file's first MS_PCAP_FILE_HEADER bytes. True when the records
 * may be read here; *nsec: their fractions are nanoseconds. */
bool ms_pcap_records_plain(const uint8_t hdr[MS_PCAP_FILE_HEADER], bool *nsec);

/* Records from fp's position on (just after the file header), read from
 * its descriptor at their offsets (pread: stdio's buffer and the
 * descriptor's position are left as they are). snaplen: libpcap's
 * (pcap_snapshot): a longer record keeps that many bytes, as libpcap's
 * does. fp stays the caller's. NULL when out of memory or fp has no
 * position (not a regular file). */
struct ms_pcap_records *ms_pcap_records_new(FILE *fp, bool nsec, uint32_t snaplen);

/* MS_NEXT_PACKET (data valid until the next call; *len: the length on
 * the wire), MS_NEXT_END, or MS_NEXT_ERROR with the reason in err. */
enum ms_next ms_pcap_records_next(struct ms_pcap_records *r, uint64_t *ts_us, const uint8_t **data,
                                  size_t *caplen, uint32_t *len, char *err, size_t errlen);

/* Bytes of the file handed out so far, its header included (the file's
 * own position runs up to a block ahead). */
uint64_t ms_pcap_records_offset(const struct ms_pcap_records *r);

void ms_pcap_records_free(struct ms_pcap_records *r);

#endif
