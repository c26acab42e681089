/* Packet sources. Classic pcap files and live capture go through libpcap;
 * pcapng files go through our own reader (pcapng.c), which gives each
 * packet the link type of its interface (libpcap 1.10 refuses files whose
 * interfaces differ). The format is sniffed from the first 4 bytes; a
 * gzip, xz or zstd file is decompressed as it is read (instream.c), and
 * its format sniffed from the first 4 bytes it decompresses to. */
#include "source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "decode.h"
#include "instream.h"
#include "pcap_records.h"
#include "pcapng.h"

struct ms_source {
    pcap_t *pcap;
    struct ms_pcapng *ng; /* instead of pcap, for pcapng files */
    /* A plain classic pcap file's records, read here, not by libpcap
     * (which opened the file and read its header; pcap_records.h). */
    struct ms_pcap_records *recs;
    volatile int brk;        /* ms_source_break on a pcapng source or recs */
    struct bpf_program prog; /* the filter, when have_prog */
    bool have_prog;
    /* Standard input and compressed files are read through this stream,
     * owned by the FILE that pcap or ng closes; NULL otherwise. */
    struct ms_instream *in;
    int linktype;
    int pos_fd;    /* the file on disk, for ms_source_position; -1: none */
    uint64_t size; /* its size */
    char name[256];
    char err[512]; /* the name, ": ", a reason of libpcap's size */
    /* A file's stdio buffer (setvbuf): every path that frees s closes
     * its FILE first. */
    char rbuf[MS_SOURCE_READ_BUFFER];
};

static enum ms_rc apply_filter(struct ms_source *s, const char *filter, char *err, size_t errlen)
{
    if (!filter || !*filter)
        return MS_OK;
    if (pcap_compile(s->pcap, &s->prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "invalid filter \"%s\": %s", filter, pcap_geterr(s->pcap));
        return MS_ERR_ARG;
    }
    s->have_prog = true; /* kept for recs (pcap_offline_filter) */
    int rc = pcap_setfilter(s->pcap, &s->prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(s->pcap));
        return MS_ERR_IO;
    }
    return MS_OK;
}

static struct ms_source *finish_open(struct ms_source *s, const char *filter, enum ms_rc *why,
                                     char *err, size_t errlen)
{
    s->linktype = pcap_datalink(s->pcap);
    if (!ms_decode_linktype_supported(s->linktype)) {
        const char *n = pcap_datalink_val_to_name(s->linktype);
        snprintf(err, errlen, "%s: unsupported link type %d (%s)", s->name, s->linktype,
                 n ? n : "unknown");
        *why = MS_ERR_PROTO;
        ms_source_close(s);
        return NULL;
    }
    enum ms_rc rc = apply_filter(s, filter, err, errlen);
    if (rc != MS_OK) {
        *why = rc;
        ms_source_close(s);
        return NULL;
    }
    return s;
}

static const uint8_t PCAPNG_MAGIC[4] = { 0x0a, 0x0d, 0x0d, 0x0a };

/* A pcapng file on fp, whose first 4 bytes were read when pre_read. */
static struct ms_source *open_pcapng(struct ms_source *s, FILE *fp, bool pre_read,
                                     const char *filter, enum ms_rc *why, char *err, size_t errlen)
{
    char nerr[PCAP_ERRBUF_SIZE + 128];
    s->ng = ms_pcapng_open(fp, pre_read, filter, nerr, sizeof(nerr));
    if (!s->ng) {
        /* It reads nothing yet: the filter, or memory. */
        *why = strcmp(nerr, "out of memory") == 0 ? MS_ERR_NOMEM : MS_ERR_ARG;
        snprintf(err, errlen, "%s: %s", s->name, nerr);
        ms_free(s);
        return NULL;
    }
    return s;
}

/* A capture read through an instream: standard input (the head bytes
 * sniffed from it given back first), or a compressed file or standard
 * input, whose format is sniffed from the bytes it decompresses to. fp is
 * closed with the stream (own), or left open (standard input). */
static struct ms_source *open_stream(struct ms_source *s, FILE *fp, bool own, enum ms_codec codec,
                                     const uint8_t *head, size_t got, const char *filter,
                                     enum ms_rc *why, char *err, size_t errlen)
{
    /* Standard input is read with read(2) (see instream.c, raw_read). */
    FILE *sf = ms_instream_open(fp, own, !own, codec, head, got, &s->in, err, errlen);
    if (!sf) {
        if (own)
            (void)fclose(fp); /* read only: no data to lose */
        *why = MS_ERR_NOMEM;
        ms_free(s);
        return NULL;
    }
    uint8_t magic[4];
    size_t m = ms_instream_peek(s->in, magic, sizeof(magic));
    if (m == sizeof(magic) && memcmp(magic, PCAPNG_MAGIC, sizeof(magic)) == 0)
        return open_pcapng(s, sf, false, filter, why, err, errlen);
    char perr[PCAP_ERRBUF_SIZE] = "";
    s->pcap = pcap_fopen_offline_with_tstamp_precision(sf, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!s->pcap) {
        /* Damage before the capture's header: the decompressor says it
         * better than libpcap's "truncated dump file". */
        const char *damage = ms_instream_damage(s->in);
        snprintf(err, errlen, "%s: %s", s->name, damage ? damage : perr);
        *why = MS_ERR_PROTO;
        (void)fclose(sf); /* read only: no data to lose */
        ms_free(s);
        return NULL;
    }
    return finish_open(s, filter, why, err, errlen);
}

struct ms_source *ms_source_open_file(const char *path, const char *filter, enum ms_rc *why,
                                      char *err, size_t errlen)
{
    enum ms_rc ignored;
    if (!why)
        why = &ignored;
    struct ms_source *s = ms_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        *why = MS_ERR_NOMEM;
        return NULL;
    }
    bool is_stdin = strcmp(path, "-") == 0;
    snprintf(s->name, sizeof(s->name), "%s", is_stdin ? "stdin" : path);
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", s->name, strerror(errno));
        *why = MS_ERR_IO;
        ms_free(s);
        return NULL;
    }
    struct stat st;
    bool regular = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode);
    s->pos_fd = regular && !is_stdin ? fileno(fp) : -1;
    s->size = s->pos_fd >= 0 ? (uint64_t)st.st_size : 0;
    /* No read-ahead on stdin: the instream reads its descriptor directly.
     * A file is read in large blocks (before any read: setvbuf's rule). */
    if (is_stdin)
        setvbuf(stdin, NULL, _IONBF, 0);
    else
        setvbuf(fp, s->rbuf, _IOFBF, sizeof(s->rbuf));
    uint8_t head[MS_INSTREAM_HEAD];
    size_t got;
    enum ms_codec codec = ms_instream_sniff(fp, head, &got);
    if (codec != MS_CODEC_NONE)
        return open_stream(s, fp, !is_stdin, codec, head, got, filter, why, err, errlen);
    /* Only 4 bytes were read then: the xz magic's first 4 are no pcapng's. */
    if (got == sizeof(PCAPNG_MAGIC) && memcmp(head, PCAPNG_MAGIC, sizeof(PCAPNG_MAGIC)) == 0)
        return open_pcapng(s, fp, true, filter, why, err, errlen);
    /* A path that is no regular file (a pipe: -r <(zcat x.pcap.gz),
     * /dev/stdin) cannot be reopened from its start: read on from fp,
     * as standard input is, with the bytes already sniffed put back. */
    if (is_stdin || !regular)
        return open_stream(s, fp, !is_stdin, MS_CODEC_NONE, head, got, filter, why, err, errlen);
    /* A plain file's records are read here once libpcap has read its
     * header (pread: fp's position stays). */
    uint8_t fh[MS_PCAP_FILE_HEADER];
    bool nsec = false;
    bool plain = pread(fileno(fp), fh, sizeof(fh), 0) == (ssize_t)sizeof(fh) &&
                 ms_pcap_records_plain(fh, &nsec);
    char perr[PCAP_ERRBUF_SIZE] = "";
    /* Microsecond timestamps whatever the file stores (pcapng may use ns).
     * libpcap reads from the start, through fp's buffer, and closes fp. */
    if (fseek(fp, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: %s", s->name, strerror(errno));
        *why = MS_ERR_IO;
        (void)fclose(fp); /* read only: no data to lose */
        ms_free(s);
        return NULL;
    }
    s->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", s->name, perr);
        *why = MS_ERR_PROTO;
        (void)fclose(fp); /* read only: no data to lose */
        ms_free(s);
        return NULL;
    }
    s = finish_open(s, filter, why, err, errlen);
    /* Out of memory for the block, or no position to pread from: libpcap
     * reads the records instead. */
    if (s && plain && !pcap_is_swapped(s->pcap))
        s->recs = ms_pcap_records_new(fp, nsec, (uint32_t)pcap_snapshot(s->pcap));
    return s;
}

struct ms_source *ms_source_open_live(const char *iface, const struct ms_live_opts *o,
                                      const char *filter, char *err, size_t errlen)
{
    struct ms_source *s = ms_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", iface);
    s->pos_fd = -1;
    char perr[PCAP_ERRBUF_SIZE] = "";
    s->pcap = pcap_create(iface, perr);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", iface, perr);
        ms_free(s);
        return NULL;
    }
    pcap_set_snaplen(s->pcap, o && o->snaplen > 0 ? o->snaplen : MS_SNAPLEN_MAX);
    pcap_set_promisc(s->pcap, o ? o->promisc : 1);
    pcap_set_timeout(s->pcap, 250);
    if (o && o->buffer_size > 0)
        pcap_set_buffer_size(s->pcap, o->buffer_size);
    if (o && o->immediate)
        pcap_set_immediate_mode(s->pcap, 1);
    if (o && o->rfmon) {
        /* Said before activation: a device that cannot would otherwise
         * capture in managed mode, seeing only its own traffic. */
        int can = pcap_can_set_rfmon(s->pcap);
        if (can <= 0) {
            snprintf(err, errlen, "%s: cannot be put in monitor mode (--monitor): %s", iface,
                     can == 0            ? "the device or its driver does not support it"
                     : can == PCAP_ERROR ? pcap_geterr(s->pcap)
                                         : pcap_statustostr(can));
            ms_source_close(s);
            return NULL;
        }
        pcap_set_rfmon(s->pcap, 1);
    }
    int rc = pcap_activate(s->pcap);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s%s", iface,
                 rc == PCAP_ERROR_RFMON_NOTSUP ? "monitor mode (--monitor) is not supported: " : "",
                 rc == PCAP_ERROR ? pcap_geterr(s->pcap) : pcap_statustostr(rc));
        ms_source_close(s);
        return NULL;
    }
    /* Non-blocking: ms_source_next waits in its own poll() (see there). */
    if (pcap_setnonblock(s->pcap, 1, perr) < 0) {
        snprintf(err, errlen, "%s: %s", iface, perr);
        ms_source_close(s);
        return NULL;
    }
    enum ms_rc why;
    return finish_open(s, filter, &why, err, errlen);
}

/* A compressed file whose data ended early or is damaged: its reason
 * replaces the reader's (a clean end, or "truncated dump file"). */
static bool damaged(struct ms_source *s)
{
    const char *damage = s->in ? ms_instream_damage(s->in) : NULL;
    if (!damage)
        return false;
    snprintf(s->err, sizeof(s->err), "%s: %s", s->name, damage);
    return true;
}

enum ms_next ms_source_next(struct ms_source *s, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype)
{
    if (s->ng) {
        if (s->brk)
            return MS_NEXT_END;
        enum ms_next r = ms_pcapng_next(s->ng, ts_us, data, caplen, linktype);
        if (r == MS_NEXT_PACKET)
            return r;
        if (damaged(s))
            return MS_NEXT_ERROR;
        if (r != MS_NEXT_ERROR)
            return r;
        snprintf(s->err, sizeof(s->err), "%s: %s", s->name, ms_pcapng_error(s->ng));
        return MS_NEXT_ERROR;
    }
    if (s->recs) {
        for (;;) {
            if (s->brk)
                return MS_NEXT_END;
            char why[128];
            struct pcap_pkthdr ph = { 0 };
            size_t n;
            enum ms_next r = ms_pcap_records_next(s->recs, ts_us, data, &n, &ph.len, why,
                                                  sizeof(why));
            if (r == MS_NEXT_ERROR)
                snprintf(s->err, sizeof(s->err), "%s: %s", s->name, why);
            if (r != MS_NEXT_PACKET)
                return r;
            ph.caplen = (bpf_u_int32)n;
            if (s->have_prog && !pcap_offline_filter(&s->prog, &ph, *data))
                continue;
            *caplen = n;
            *linktype = s->linktype;
            return MS_NEXT_PACKET;
        }
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc = pcap_next_ex(s->pcap, &h, &d);
    switch (rc) {
    case 1:
        *ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        *data = d;
        *caplen = h->caplen;
        *linktype = s->linktype;
        return MS_NEXT_PACKET;
    case 0:
        /* Live capture, non-blocking: wait for the socket here, at most
         * 250 ms, in a poll() that a signal interrupts, so the caller acts
         * on SIGTERM/SIGUSR1/SIGHUP at once. libpcap's own blocking wait
         * retries after EINTR and would sleep until the next packet. */
        if (!pcap_file(s->pcap)) {
            struct pollfd pfd = { pcap_get_selectable_fd(s->pcap), POLLIN, 0 };
            if (pfd.fd >= 0)
                (void)poll(&pfd, 1, 250);
        }
        return MS_NEXT_TIMEOUT;
    case PCAP_ERROR_BREAK: /* the end of a file, or ms_source_break */
        return damaged(s) ? MS_NEXT_ERROR : MS_NEXT_END;
    default:
        if (!damaged(s))
            snprintf(s->err, sizeof(s->err), "%s: %s", s->name, pcap_geterr(s->pcap));
        return MS_NEXT_ERROR;
    }
}

bool ms_source_unreadable(const struct ms_source *s, char *err, size_t errlen,
                          void (*warn)(void *user, const char *line), void *user)
{
    if (!s->ng)
        return false;
    size_t unsupported = 0;
    size_t total = ms_pcapng_interfaces(s->ng, &unsupported);
    size_t number;
    int lt;
    if (total > 0 && unsupported == total) {
        (void)ms_pcapng_unsupported_iface(s->ng, 0, &number, &lt);
        const char *n = pcap_datalink_val_to_name(lt);
        snprintf(err, errlen, "%s: unsupported link type %d (%s)%s", s->name, lt, n ? n : "unknown",
                 total > 1 ? " on every interface" : "");
        return true;
    }
    char line[512];
    for (size_t k = 0; ms_pcapng_unsupported_iface(s->ng, k, &number, &lt); k++) {
        const char *n = pcap_datalink_val_to_name(lt);
        snprintf(line, sizeof(line),
                 "%s: interface %zu has unsupported link type %d (%s); its packets were skipped",
                 s->name, number, lt, n ? n : "unknown");
        warn(user, line);
    }
    if (unsupported > MS_PCAPNG_NOTED_IFACES) {
        snprintf(line, sizeof(line),
                 "%s: %zu more interfaces have an unsupported link type; their packets were "
                 "skipped",
                 s->name, unsupported - MS_PCAPNG_NOTED_IFACES);
        warn(user, line);
    }
    return false;
}

const char *ms_source_error(const struct ms_source *s)
{
    return s->err;
}

void ms_source_break(struct ms_source *s)
{
    if (s->ng || s->recs) {
        s->brk = 1;
        return;
    }
    pcap_breakloop(s->pcap);
}

int ms_source_linktype(const struct ms_source *s)
{
    if (s->ng)
        return ms_pcapng_first_linktype(s->ng);
    return s->linktype;
}

bool ms_source_position(const struct ms_source *s, uint64_t *done, uint64_t *total)
{
    if (s->recs) { /* the descriptor runs a block ahead */
        *done = ms_pcap_records_offset(s->recs);
        *total = s->size;
        return true;
    }
    off_t at = s->pos_fd >= 0 ? lseek(s->pos_fd, 0, SEEK_CUR) : -1;
    if (at < 0)
        return false;
    *done = (uint64_t)at;
    *total = s->size;
    return true;
}

const char *ms_source_name(const struct ms_source *s)
{
    return s->name;
}

enum ms_rc ms_source_stats(struct ms_source *s, struct ms_source_stats *st)
{
    st->received = st->dropped = st->ifdropped = 0;
    struct pcap_stat ps;
    /* pcap_stats fails on savefiles: only live captures have counters. */
    if (!s->pcap || pcap_file(s->pcap) || pcap_stats(s->pcap, &ps) != 0)
        return MS_ERR_IO;
    st->received = ps.ps_recv;
    st->dropped = ps.ps_drop;
    st->ifdropped = ps.ps_ifdrop;
    return MS_OK;
}

void ms_source_close(struct ms_source *s)
{
    if (!s)
        return;
    ms_pcap_records_free(s->recs);
    if (s->have_prog)
        pcap_freecode(&s->prog);
    if (s->pcap)
        pcap_close(s->pcap);
    ms_pcapng_close(s->ng);
    ms_free(s);
}
