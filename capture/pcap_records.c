/* See pcap_records.h. The wording of every error, and the keeping of a
 * record longer than the snapshot length, follow libpcap 1.10's
 * sf-pcap.c (pcap_next_packet), so that a file reads the same either way.
 * A record is handed out where it lies in the block: it is never split
 * (the block holds a record of MS_SNAPLEN_MAX and its header). */
#include "pcap_records.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/limits.h"

#define REC_HDR 16u
#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du

_Static_assert(MS_PCAP_BLOCK_BYTES >= REC_HDR + MS_SNAPLEN_MAX, "a record fits in a block");

struct ms_pcap_records {
    int fd;
    off_t at; /* the file's next byte to read (fp's position is left alone) */
    bool nsec, eof;
    uint32_t snaplen;
    size_t pos, end;   /* the bytes not handed out yet: block[pos, end) */
    uint64_t consumed; /* records handed out or skipped, in bytes */
    uint8_t *block;
};

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint16_t u16_at(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

bool ms_pcap_records_plain(const uint8_t hdr[MS_PCAP_FILE_HEADER], bool *nsec)
{
    uint32_t magic = u32_at(hdr);
    if (magic != MAGIC_USEC && magic != MAGIC_NSEC)
        return false; /* the other byte order, or another format */
    /* 2.4 only: libpcap mends lengths of older versions' records. The link
     * type field's upper bits (an FCS length, reserved ones) make libpcap
     * treat the frames otherwise. */
    if (u16_at(hdr + 4) != 2 || u16_at(hdr + 6) != 4 || (u32_at(hdr + 20) & 0xffff0000u) != 0)
        return false;
    *nsec = magic == MAGIC_NSEC;
    return true;
}

struct ms_pcap_records *ms_pcap_records_new(FILE *fp, bool nsec, uint32_t snaplen)
{
    struct ms_pcap_records *r = ms_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->block = ms_malloc(MS_PCAP_BLOCK_BYTES);
    if (!r->block) {
        ms_free(r);
        return NULL;
    }
    r->fd = fileno(fp);
    r->at = ftello(fp);
    if (r->fd < 0 || r->at < 0) {
        ms_free(r->block);
        ms_free(r);
        return NULL;
    }
    r->nsec = nsec;
    r->snaplen = snaplen;
    return r;
}

uint64_t ms_pcap_records_offset(const struct ms_pcap_records *r)
{
    return MS_PCAP_FILE_HEADER + r->consumed;
}

void ms_pcap_records_free(struct ms_pcap_records *r)
{
    if (!r)
        return;
    ms_free(r->block);
    ms_free(r);
}

/* At least want bytes from pos on, unless the file ends first: false on a
 * read error (err set). */
static bool refill(struct ms_pcap_records *r, size_t want, char *err, size_t errlen)
{
    while (r->end - r->pos < want && !r->eof) {
        if (r->pos > 0) {
            memmove(r->block, r->block + r->pos, r->end - r->pos);
            r->end -= r->pos;
            r->pos = 0;
        }
        /* pread, not fread: through stdio's buffer a quarter of the bytes
         * were copied twice (the part of each block below a whole number
         * of buffers: 4.5% of the mixed benchmark's instructions). */
        /* A record longer than a read is read whole at once (the block
         * has room for it: after the move, end < want <= the largest). */
        size_t need = want - (r->end - r->pos), room = MS_PCAP_BLOCK_BYTES - r->end;
        size_t ask = need > MS_PCAP_READ_BYTES ? need : MS_PCAP_READ_BYTES;
        if (ask > room)
            ask = room;
        ssize_t got = pread(r->fd, r->block + r->end, ask, r->at);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "error reading dump file: %s", strerror(errno));
            return false;
        }
        r->end += (size_t)got;
        r->at += got;
        if (got == 0)
            r->eof = true;
    }
    return true;
}

/* The block mostly holds the next record already: checked here, where
 * the call is inlined (refill's prologue and epilogue were 44 of the
 * reader's instructions a frame, 5% of a --threads reader's). */
static inline bool fill(struct ms_pcap_records *r, size_t want, char *err, size_t errlen)
{
    return r->end - r->pos >= want || refill(r, want, err, errlen);
}

enum ms_next ms_pcap_records_next(struct ms_pcap_records *r, uint64_t *ts_us, const uint8_t **data,
                                  size_t *caplen, uint32_t *len, char *err, size_t errlen)
{
    if (!fill(r, REC_HDR, err, errlen))
        return MS_NEXT_ERROR;
    size_t have = r->end - r->pos;
    if (have == 0)
        return MS_NEXT_END;
    if (have < REC_HDR) {
        snprintf(err, errlen, "truncated dump file; tried to read %u header bytes, only got %zu",
                 REC_HDR, have);
        return MS_NEXT_ERROR;
    }
    const uint8_t *h = r->block + r->pos;
    int32_t sec = (int32_t)u32_at(h), frac = (int32_t)u32_at(h + 4);
    uint32_t cap = u32_at(h + 8);
    /* libpcap names the snapshot length (never above the maximum). */
    if (cap > MS_SNAPLEN_MAX) {
        snprintf(err, errlen, "invalid packet capture length %u, bigger than snaplen of %u", cap,
                 r->snaplen);
        return MS_NEXT_ERROR;
    }
    if (!fill(r, REC_HDR + cap, err, errlen))
        return MS_NEXT_ERROR;
    have = r->end - r->pos - REC_HDR;
    /* A record longer than the snapshot length keeps its first snaplen
     * bytes (libpcap: "try to salvage"). */
    uint32_t keep = cap > r->snaplen ? r->snaplen : cap;
    if (have < cap) {
        uint32_t tried = have < keep ? keep : cap;
        snprintf(err, errlen, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 tried, have);
        return MS_NEXT_ERROR;
    }
    h = r->block + r->pos;
    if (r->nsec)
        frac /= 1000;
    *ts_us = (uint64_t)(int64_t)sec * 1000000u + (uint64_t)(int64_t)frac;
    *len = u32_at(h + 12);
    *data = h + REC_HDR;
    *caplen = keep;
    r->pos += REC_HDR + cap;
    r->consumed += REC_HDR + cap;
    return MS_NEXT_PACKET;
}
