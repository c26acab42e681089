/* The interface between the stream layer and a protocol parser.
 * A dissector is fed the in-order bytes of one direction at a time, in
 * chunks of any size, and reports what it finds through its sink. It never
 * keeps a pointer into the bytes it was given, and includes no pcap, nDPI or
 * json-c header. */
#ifndef MS_DISSECTOR_H
#define MS_DISSECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/event.h"
#include "../common/limits.h"
#include "../common/rc.h"

#include "../common/dir.h" /* enum ms_dir: MS_TO_SERVER, MS_TO_CLIENT */

enum ms_probe {
    MS_PROBE_NO = 0, /* this is not the protocol */
    MS_PROBE_MAYBE,  /* need more bytes */
    MS_PROBE_YES,
};

struct ms_dissector {
    const char *name; /* "pop3": also the JSON app_proto */
    /* Looks at the first bytes of one direction (a banner or a command). */
    enum ms_probe (*probe)(unsigned dir, const uint8_t *p, size_t n);
    void *(*create)(const struct ms_limits *lim, const struct ms_sink *sink); /* NULL: ENOMEM */
    enum ms_rc (*feed)(void *st, unsigned dir, const uint8_t *p, size_t n);
    void (*gap)(void *st, unsigned dir, uint64_t missing); /* resync, mark incomplete */
    void (*finish)(void *st);  /* end of the connection: flush what is pending */
    void (*destroy)(void *st); /* NULL is a no-op */
    /* True once the session went to TLS (STARTTLS/STLS accepted, or the
     * client's TLS handshake seen after it): the rest is opaque, and the
     * flow counts as encrypted. */
    bool (*tls)(const void *st);
    /* The session's STARTTLS posture and advertised mechanisms, for its
     * session event (common/event.h); asked before destroy. NULL: unknown. */
    void (*posture)(const void *st, struct ms_session_posture *out);
};

extern const struct ms_dissector ms_dissector_pop3;
extern const struct ms_dissector ms_dissector_imap;
extern const struct ms_dissector ms_dissector_smtp;

/* All dissectors, NULL-terminated, in probing order. */
extern const struct ms_dissector *const ms_dissectors[];

const struct ms_dissector *ms_dissector_by_name(const char *name);

#endif
