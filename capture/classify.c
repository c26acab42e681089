#include "classify.h"

#include <ndpi/ndpi_api.h>
#include <pthread.h>
#include <stdlib.h>

#include "../common/alloc.h"

struct ms_classifier {
    struct ndpi_detection_module_struct *ndpi;
};

struct ms_classify_flow {
    struct ndpi_flow_struct *nf;
};

/* Modules are built and freed one at a time: nDPI 4.2's init starts
 * libgcrypt on its first call with a check-then-act and no lock (and
 * libgcrypt must be started before a second thread uses it), and
 * --threads' workers build their own modules in their own threads. The
 * one mutable object shared by the whole process, for that library's
 * sake. */
static pthread_mutex_t ndpi_setup_mu = PTHREAD_MUTEX_INITIALIZER;

struct ms_classifier *ms_classifier_new(void)
{
    struct ms_classifier *c = ms_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_lock(&ndpi_setup_mu);
    c->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (c->ndpi) {
        NDPI_PROTOCOL_BITMASK all;
        NDPI_BITMASK_SET_ALL(all);
        ndpi_set_protocol_detection_bitmask2(c->ndpi, &all);
        ndpi_finalize_initialization(c->ndpi);
    }
    pthread_mutex_unlock(&ndpi_setup_mu);
    if (!c->ndpi) {
        ms_free(c);
        return NULL;
    }
    return c;
}

void ms_classifier_free(struct ms_classifier *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&ndpi_setup_mu);
    ndpi_exit_detection_module(c->ndpi);
    pthread_mutex_unlock(&ndpi_setup_mu);
    ms_free(c);
}

static enum ms_app map_proto(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_UNKNOWN:
        return MS_APP_UNKNOWN;
    case NDPI_PROTOCOL_MAIL_POP:
        return MS_APP_POP3;
    case NDPI_PROTOCOL_MAIL_IMAP:
        return MS_APP_IMAP;
    case NDPI_PROTOCOL_MAIL_SMTP:
        return MS_APP_SMTP;
    case NDPI_PROTOCOL_MAIL_POPS:
        return MS_APP_POP3S;
    case NDPI_PROTOCOL_MAIL_IMAPS:
        return MS_APP_IMAPS;
    case NDPI_PROTOCOL_MAIL_SMTPS:
        return MS_APP_SMTPS;
    case NDPI_PROTOCOL_TLS:
        return MS_APP_ENCRYPTED;
    default:
        return MS_APP_OTHER;
    }
}

/* nDPI reports e.g. master=TLS app=IMAPS, or master=unknown app=POP3. */
static enum ms_app map_result(ndpi_protocol p)
{
    enum ms_app a = map_proto(p.app_protocol);
    enum ms_app m = map_proto(p.master_protocol);
    /* The mail protocol inside TLS, when nDPI names it, then TLS. */
    if (ms_app_encrypted(a) && a != MS_APP_ENCRYPTED)
        return a;
    if (ms_app_encrypted(m) && m != MS_APP_ENCRYPTED)
        return m;
    if (a == MS_APP_ENCRYPTED || m == MS_APP_ENCRYPTED)
        return MS_APP_ENCRYPTED;
    if (a != MS_APP_UNKNOWN && a != MS_APP_OTHER)
        return a;
    if (m != MS_APP_UNKNOWN && m != MS_APP_OTHER)
        return m;
    return a != MS_APP_UNKNOWN ? a : m;
}

enum ms_app ms_classify_packet(struct ms_classifier *c, struct ms_classify_flow **flow,
                               const uint8_t *l3, size_t l3_len, uint64_t ts_us)
{
    if (!*flow) {
        struct ms_classify_flow *cf = ms_calloc(1, sizeof(*cf));
        if (!cf)
            return MS_APP_UNKNOWN;
        cf->nf = ms_calloc(1, SIZEOF_FLOW_STRUCT);
        if (!cf->nf) {
            ms_free(cf);
            return MS_APP_UNKNOWN;
        }
        *flow = cf;
    }
    if (l3_len > 0xffff)
        l3_len = 0xffff;
    ndpi_protocol p = ndpi_detection_process_packet(c->ndpi, (*flow)->nf, l3,
                                                    (unsigned short)l3_len, ts_us / 1000);
    return map_result(p);
}

enum ms_app ms_classify_giveup(struct ms_classifier *c, struct ms_classify_flow *flow)
{
    if (!flow)
        return MS_APP_UNKNOWN;
    uint8_t guessed = 0;
    /* No port guessing: a port says nothing about what really ran. */
    ndpi_protocol p = ndpi_detection_giveup(c->ndpi, flow->nf, 0, &guessed);
    return map_result(p);
}

void ms_classify_flow_free(struct ms_classify_flow *flow)
{
    if (!flow)
        return;
    ndpi_free_flow_data(flow->nf);
    ms_free(flow->nf);
    ms_free(flow);
}
