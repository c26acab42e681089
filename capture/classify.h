/* Flow classification with nDPI (Debian's 4.2), wrapped so that nothing
 * else in the tree depends on nDPI's API, which changes between releases.
 * nDPI only classifies: credentials always come from our own dissectors
 * (nDPI 4.2 truncates user names and passwords). */
#ifndef MS_CLASSIFY_H
#define MS_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

enum ms_app {
    MS_APP_UNKNOWN = 0, /* no verdict yet */
    MS_APP_POP3,
    MS_APP_IMAP,
    MS_APP_SMTP,
    MS_APP_ENCRYPTED, /* TLS that nDPI names no mail protocol of */
    MS_APP_OTHER,     /* nDPI recognised something that is not mail */
    MS_APP_POP3S,     /* implicit TLS of a mail protocol (ms_app_encrypted) */
    MS_APP_IMAPS,
    MS_APP_SMTPS,
};

/* TLS, whether or not nDPI named the mail protocol inside. */
static inline int ms_app_encrypted(enum ms_app v)
{
    return v == MS_APP_ENCRYPTED || v == MS_APP_POP3S || v == MS_APP_IMAPS || v == MS_APP_SMTPS;
}

struct ms_classifier;
struct ms_classify_flow;

struct ms_classifier *ms_classifier_new(void);
void ms_classifier_free(struct ms_classifier *c);

/* Feeds one packet (from its IP header) of the flow to nDPI; *flow is
 * allocated on first use (it stays NULL only when out of memory). Returns
 * the verdict so far. */
enum ms_app ms_classify_packet(struct ms_classifier *c, struct ms_classify_flow **flow,
                               const uint8_t *l3, size_t l3_len, uint64_t ts_us);
/* nDPI's verdict on a flow's first payload packet where it is sure to be
 * MS_APP_OTHER and the packet alone shows it, found without nDPI: an HTTP
 * request line ("GET /x HTTP/1.1" and CRLF) at the start of the payload of
 * a datagram captured whole, between ports neither of which is a mail
 * protocol's that nDPI knows (there it may name that protocol). nDPI's
 * per-flow state and its HTTP parse (a DGA check and the host name
 * automata: ~20k instructions a flow) buy nothing more for a flow that is
 * not mail. MS_APP_UNKNOWN otherwise: nDPI is asked. */
enum ms_app ms_classify_quick(const struct ms_pkt *p);
/* nDPI's best answer without more packets (ndpi_detection_giveup). */
enum ms_app ms_classify_giveup(struct ms_classifier *c, struct ms_classify_flow *flow);
void ms_classify_flow_free(struct ms_classify_flow *flow);

#endif
