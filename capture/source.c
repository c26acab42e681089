/* Packet sources. Classic pcap files and live capture go through libpcap;
 * pcapng files go through our own reader (pcapng.c), which gives each
 * packet the link type of its interface (libpcap 1.10 refuses files whose
 * interfaces differ). The format is sniffed from the first 4 bytes. */
#include "source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "decode.h"
#include "pcapng.h"

struct ms_source {
    pcap_t *pcap;
    struct ms_pcapng *ng; /* instead of pcap, for pcapng files */
    volatile int brk;     /* ms_source_break on a pcapng source */
    int linktype;
    char name[256];
    char err[PCAP_ERRBUF_SIZE + 64];
};

static enum ms_rc apply_filter(struct ms_source *s, const char *filter, char *err, size_t errlen)
{
    if (!filter || !*filter)
        return MS_OK;
    struct bpf_program prog;
    if (pcap_compile(s->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "invalid filter \"%s\": %s", filter, pcap_geterr(s->pcap));
        return MS_ERR_ARG;
    }
    int rc = pcap_setfilter(s->pcap, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(s->pcap));
        return MS_ERR_IO;
    }
    return MS_OK;
}

static struct ms_source *finish_open(struct ms_source *s, const char *filter, char *err,
                                     size_t errlen)
{
    s->linktype = pcap_datalink(s->pcap);
    if (!ms_decode_linktype_supported(s->linktype)) {
        const char *n = pcap_datalink_val_to_name(s->linktype);
        snprintf(err, errlen, "%s: unsupported link type %d (%s)", s->name, s->linktype,
                 n ? n : "unknown");
        ms_source_close(s);
        return NULL;
    }
    if (apply_filter(s, filter, err, errlen) != MS_OK) {
        ms_source_close(s);
        return NULL;
    }
    return s;
}

/* Standard input after its first bytes were read to sniff the format:
 * a stream that gives those bytes back first, then the rest of stdin. */
struct peek {
    uint8_t b[4];
    size_t n, at;
    FILE *in;
};

static ssize_t peek_read(void *c, char *buf, size_t size)
{
    struct peek *pk = c;
    size_t out = 0;
    while (pk->at < pk->n && out < size)
        buf[out++] = (char)pk->b[pk->at++];
    if (out > 0)
        return (ssize_t)out;
    /* One read(2), not fread: hand on what has arrived, so a pipe from a
     * live capture (tcpdump -w - | mailspill -r -) is processed as it
     * comes, and packets read before SIGTERM are not stuck in a buffer.
     * stdin is unbuffered (see ms_source_open_file), so nothing waits in
     * its FILE buffer either. */
    return read(fileno(pk->in), buf, size);
}

static int peek_close(void *c)
{
    ms_free(c);
    return 0;
}

struct ms_source *ms_source_open_file(const char *path, const char *filter, char *err,
                                      size_t errlen)
{
    struct ms_source *s = ms_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bool is_stdin = strcmp(path, "-") == 0;
    snprintf(s->name, sizeof(s->name), "%s", is_stdin ? "stdin" : path);
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", s->name, strerror(errno));
        ms_free(s);
        return NULL;
    }
    /* No read-ahead on stdin: peek_read reads its descriptor directly. */
    if (is_stdin)
        setvbuf(stdin, NULL, _IONBF, 0);
    uint8_t magic[4];
    size_t got = fread(magic, 1, sizeof(magic), fp);
    if (got == 4 && memcmp(magic, "\x0a\x0d\x0d\x0a", 4) == 0) {
        char nerr[PCAP_ERRBUF_SIZE + 128];
        s->ng = ms_pcapng_open(fp, true, filter, nerr, sizeof(nerr));
        if (!s->ng) {
            snprintf(err, errlen, "%s: %s", s->name, nerr);
            ms_free(s);
            return NULL;
        }
        return s;
    }
    char perr[PCAP_ERRBUF_SIZE] = "";
    if (is_stdin) {
        struct peek *pk = ms_calloc(1, sizeof(*pk));
        cookie_io_functions_t io = { .read = peek_read, .close = peek_close };
        FILE *pf = pk ? fopencookie(pk, "r", io) : NULL;
        if (!pf) {
            ms_free(pk);
            snprintf(err, errlen, "out of memory");
            ms_free(s);
            return NULL;
        }
        memcpy(pk->b, magic, got);
        pk->n = got;
        pk->in = stdin;
        s->pcap = pcap_fopen_offline_with_tstamp_precision(pf, PCAP_TSTAMP_PRECISION_MICRO, perr);
        if (!s->pcap)
            (void)fclose(pf); /* read only: no data to lose */
    } else {
        (void)fclose(fp); /* read only, reopened by path below */
        /* Microsecond timestamps whatever the file stores (pcapng may use ns). */
        s->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
    }
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", s->name, perr);
        ms_free(s);
        return NULL;
    }
    return finish_open(s, filter, err, errlen);
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
    int rc = pcap_activate(s->pcap);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", iface,
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
    return finish_open(s, filter, err, errlen);
}

enum ms_next ms_source_next(struct ms_source *s, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype)
{
    if (s->ng) {
        if (s->brk)
            return MS_NEXT_END;
        enum ms_next r = ms_pcapng_next(s->ng, ts_us, data, caplen, linktype);
        if (r != MS_NEXT_ERROR)
            return r;
        snprintf(s->err, sizeof(s->err), "%s: %s", s->name, ms_pcapng_error(s->ng));
        return MS_NEXT_ERROR;
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
    case PCAP_ERROR_BREAK:
        return MS_NEXT_END;
    default:
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
    if (s->ng) {
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
    if (s->pcap)
        pcap_close(s->pcap);
    ms_pcapng_close(s->ng);
    ms_free(s);
}
