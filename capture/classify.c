#include "classify.h"

#include <ndpi/ndpi_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/ascii.h"
#include "../common/bytes.h"

struct ms_classifier {
    struct ndpi_detection_module_struct *ndpi;
};

struct ms_classify_flow {
    struct ndpi_flow_struct *nf;
};

/* Modules are built and freed one at a time: --threads' workers build
 * their own modules in their own threads, and nDPI 4.2 does not say its
 * init may run in two at once (with libgcrypt, which ms_classifier_new no
 * longer asks for, it started that with a check-then-act and no lock).
 * The one mutable object shared by the whole process, for that library's
 * sake. */
static pthread_mutex_t ndpi_setup_mu = PTHREAD_MUTEX_INITIALIZER;

struct ms_classifier *ms_classifier_new(void)
{
    struct ms_classifier *c = ms_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_lock(&ndpi_setup_mu);
    /* Neither the Tor relays' addresses (a patricia insert each) nor
     * libgcrypt (QUIC's decryption: UDP, which is never handed to nDPI
     * here). A loop of builds and frees took 26 ms each, 22 without the
     * list, 16 without both; a module is built once per worker. The list
     * only renamed flows nDPI had named already: HTTP and the like to Tor
     * (MS_APP_OTHER either way), TLS to Tor over TLS (encrypted either
     * way; on a mail port the port's name wins). */
    c->ndpi = ndpi_init_detection_module(ndpi_dont_load_tor_hosts | ndpi_dont_init_libgcrypt);
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

/* Methods of RFC 9110 that nDPI 4.2 names HTTP by (not TRACE: that it
 * leaves unknown; WebDAV's are left to it too). */
static size_t http_method(const uint8_t *p, size_t len)
{
    static const char *const methods[] = { "GET",    "POST",    "HEAD",    "PUT",
                                           "DELETE", "OPTIONS", "CONNECT", "PATCH" };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t n = strlen(methods[i]);
        if (len > n && memcmp(p, methods[i], n) == 0 && p[n] == ' ')
            return n + 1;
    }
    return 0;
}

/* nDPI 4.2's default ports of POP3, IMAP and SMTP and their TLS forms:
 * it names that protocol of an HTTP request with a Host header sent
 * there (the port wins over the request). */
static bool ndpi_mail_port(uint16_t port)
{
    switch (port) {
    case 25:
    case 110:
    case 143:
    case 465:
    case 587:
    case 993:
    case 995:
        return true;
    default:
        return false;
    }
}

/* The IP datagram is all there, as nDPI wants it: a frame cut by the
 * snapshot length, or an IPv4 total length of 0 (a segment captured
 * before offload split it), gets no verdict from nDPI. */
static bool whole_datagram(const struct ms_pkt *p)
{
    /* nDPI is handed at most 0xffff bytes (ms_classify_packet): a longer
     * IPv6 datagram (a full segment of a 64 KiB loopback MTU, or one
     * reassembled) is cut for it. */
    if (p->l3_len > 0xffff)
        return false;
    if (p->ip_version == 4)
        return p->l3_len >= 4 && ms_be16(p->l3 + 2) != 0 && ms_be16(p->l3 + 2) <= p->l3_len;
    return p->l3_len >= 6 && ms_be16(p->l3 + 4) != 0 && 40u + ms_be16(p->l3 + 4) <= p->l3_len;
}

/* A request-target nDPI takes for HTTP's: a path ("/x"), "*", an absolute
 * URI of http or https, or CONNECT's host:port (nDPI leaves an rtsp://
 * target unknown; other schemes are left to it too). */
static bool http_target(const uint8_t *t, size_t n, bool connect)
{
    if (t[0] == '/' || (n == 1 && t[0] == '*'))
        return true;
    if (ms_ascii_prefix(t, n, "http://") || ms_ascii_prefix(t, n, "https://"))
        return true;
    return connect && !memmem(t, n, "://", 3);
}

/* "METHOD SP target SP HTTP/1.d CRLF", the whole line in this payload:
 * what nDPI's HTTP dissector names HTTP at the first packet (it needs no
 * more than the method), every kind of which (a site's name, a proxy's
 * CONNECT) is MS_APP_OTHER here. A target is printable ASCII without
 * spaces. */
enum ms_app ms_classify_quick(const struct ms_pkt *p)
{
    static const char version[] = " HTTP/1.";
    const uint8_t *d = p->payload;
    size_t len = p->payload_len;
    if (ndpi_mail_port(p->sport) || ndpi_mail_port(p->dport) || !whole_datagram(p))
        return MS_APP_UNKNOWN;
    size_t i = http_method(d, len);
    if (i == 0)
        return MS_APP_UNKNOWN;
    bool connect = i == sizeof("CONNECT") && memcmp(d, "CONNECT", 7) == 0; /* not OPTIONS */
    size_t target = i;
    while (i < len && d[i] > 0x20 && d[i] < 0x7f)
        i++;
    size_t vlen = sizeof(version) - 1;
    if (i == target || !http_target(d + target, i - target, connect) || len - i < vlen + 3 ||
        memcmp(d + i, version, vlen) != 0)
        return MS_APP_UNKNOWN;
    i += vlen;
    if (d[i] < '0' || d[i] > '9' || d[i + 1] != '\r' || d[i + 2] != '\n')
        return MS_APP_UNKNOWN;
    return MS_APP_OTHER;
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
