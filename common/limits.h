/* Every cap in one place. A struct, never a global, so two pipelines can run
 * side by side with different limits (tests do). Defaults come from the RFCs
 * and from what Suricata/Zeek use in production. */
#ifndef MS_LIMITS_H
#define MS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct ms_limits {
    size_t max_line;            /* command/response line (Suricata: 4096) */
    size_t max_pending_cmds;    /* pipelined commands awaiting a reply */
    size_t max_secret;          /* username/password bytes kept */
    size_t mime_max_header;     /* one unfolded header field */
    size_t mime_max_depth;      /* nested multiparts */
    size_t mime_max_parts;      /* attachments reported per message */
    size_t mime_max_addrs;      /* addresses kept per To/Cc */
    size_t mime_max_boundary;   /* RFC 2046 says 70; stay tolerant */
    uint64_t max_message;       /* bytes of one message parsed/hashed */
    size_t reasm_max_flow;      /* out-of-order bytes buffered per direction */
    size_t reasm_max_total;     /* out-of-order bytes buffered overall */
    size_t max_flows;           /* flow table size; LRU eviction past it */
    uint64_t flow_timeout_us;   /* idle time (capture clock) before a flow ends */
    size_t classify_buf;        /* bytes held per direction until a protocol is known */
    unsigned classify_pkts;     /* payload packets given to nDPI before giving up */
};

#define MS_LIMITS_DEFAULT_INIT {                 \
    .max_line = 4096,                            \
    .max_pending_cmds = 64,                      \
    .max_secret = 1024,                          \
    .mime_max_header = 8192,                     \
    .mime_max_depth = 8,                         \
    .mime_max_parts = 64,                        \
    .mime_max_addrs = 64,                        \
    .mime_max_boundary = 254,                    \
    .max_message = 64u * 1024 * 1024,            \
    .reasm_max_flow = 1024 * 1024,               \
    .reasm_max_total = 256u * 1024 * 1024,       \
    .max_flows = 65536,                          \
    .flow_timeout_us = 600ull * 1000000,         \
    .classify_buf = 4096,                        \
    .classify_pkts = 16,                         \
}

static inline struct ms_limits ms_limits_default(void)
{
    struct ms_limits l = MS_LIMITS_DEFAULT_INIT;
    return l;
}

#endif
