#include "source.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

struct ms_source {
    pcap_t *pcap;
    int linktype;
    char name[256];
    char err[PCAP_ERRBUF_SIZE + 64];
};

static int apply_filter(struct ms_source *s, const char *filter, char *err, size_t errlen)
{
    if (!filter || !*filter)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(s->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "invalid filter \"%s\": %s", filter, pcap_geterr(s->pcap));
        return -1;
    }
    int rc = pcap_setfilter(s->pcap, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(s->pcap));
        return -1;
    }
    return 0;
}

static struct ms_source *finish_open(struct ms_source *s, const char *filter, char *err, size_t errlen)
{
    s->linktype = pcap_datalink(s->pcap);
    if (!ms_decode_linktype_supported(s->linktype)) {
        const char *n = pcap_datalink_val_to_name(s->linktype);
        snprintf(err, errlen, "%s: unsupported link type %d (%s)", s->name, s->linktype,
                 n ? n : "unknown");
        ms_source_close(s);
        return NULL;
    }
    if (apply_filter(s, filter, err, errlen) < 0) {
        ms_source_close(s);
        return NULL;
    }
    return s;
}

struct ms_source *ms_source_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
    struct ms_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", strcmp(path, "-") == 0 ? "stdin" : path);
    char perr[PCAP_ERRBUF_SIZE] = "";
    /* Microsecond timestamps whatever the file stores (pcapng may use ns). */
    s->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", s->name, perr);
        free(s);
        return NULL;
    }
    return finish_open(s, filter, err, errlen);
}

struct ms_source *ms_source_open_live(const char *iface, const struct ms_live_opts *o,
                                      const char *filter, char *err, size_t errlen)
{
    struct ms_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", iface);
    char perr[PCAP_ERRBUF_SIZE] = "";
    s->pcap = pcap_create(iface, perr);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", iface, perr);
        free(s);
        return NULL;
    }
    pcap_set_snaplen(s->pcap, o && o->snaplen > 0 ? o->snaplen : 262144);
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
    return finish_open(s, filter, err, errlen);
}

enum ms_next ms_source_next(struct ms_source *s, uint64_t *ts_us, const uint8_t **data,
                            size_t *caplen, int *linktype)
{
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
        return MS_NEXT_TIMEOUT;
    case PCAP_ERROR_BREAK:
        return MS_NEXT_END;
    default:
        snprintf(s->err, sizeof(s->err), "%s: %s", s->name, pcap_geterr(s->pcap));
        return MS_NEXT_ERROR;
    }
}

const char *ms_source_error(const struct ms_source *s)
{
    return s->err;
}

void ms_source_break(struct ms_source *s)
{
    pcap_breakloop(s->pcap);
}

int ms_source_linktype(const struct ms_source *s)
{
    return s->linktype;
}

const char *ms_source_name(const struct ms_source *s)
{
    return s->name;
}

void ms_source_close(struct ms_source *s)
{
    if (!s)
        return;
    if (s->pcap)
        pcap_close(s->pcap);
    free(s);
}
