/* Event rendering: Suricata-EVE-compatible NDJSON, or one readable line per
 * event. Redaction of secrets happens here, in one place. */
#ifndef MS_OUTPUT_H
#define MS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "../common/anomaly.h"
#include "../common/event.h"
#include "../common/rc.h"

/* Where and when an event happened: filled in by the pipeline. */
struct ms_flow_meta {
    uint64_t ts_us;
    uint64_t flow_id;          /* 0: no flow (an IP-layer anomaly): no ports, no community_id */
    const uint8_t *src_addr;   /* the client */
    const uint8_t *dest_addr;  /* the server */
    const char *pcap_filename; /* NULL for live capture */
    uint64_t pcap_cnt;         /* packet that completed the event, when reading files (0: none) */
    const char *proto;         /* transport, "TCP" when NULL; "" leaves it out */
    const char *evidence;      /* alerts: the --evidence file of the flow, its name in
                                * DIR (NULL: none) */
    uint16_t src_port;
    uint16_t dest_port;
    uint8_t ip_version; /* 4 or 6: the addresses are 4 or 16 bytes, network order;
                         * 0: no IP (a link-layer anomaly), no src_ip/dest_ip */
    /* Over 802.11 (Suricata's `ether`): 6 bytes each, NULL when not known;
     * src_mac/dest_mac go the way src_addr/dest_addr go. */
    const uint8_t *src_mac, *dest_mac, *bssid;
};

enum ms_output_format { MS_OUTPUT_JSON = 0, MS_OUTPUT_TEXT };

/* What every sink and view shows of a credential's secrets (--passwords;
 * README "Secrets"). Challenge/response values and hashcat lines are
 * shown in MS_SECRETS_CLEAR only; the --hashes file has the hashcat lines
 * in every mode. */
enum ms_secrets {
    MS_SECRETS_REDACT = 0, /* the default: that a secret was there, its length */
    MS_SECRETS_MASK,       /* passwords, tokens: first and last character of 8 or more */
    MS_SECRETS_HASH,       /* passwords, tokens: HMAC-SHA256 under hmac_key */
    MS_SECRETS_CLEAR,      /* everything as seen (--show-passwords) */
};

struct ms_dedup;

struct ms_output_opts {
    enum ms_output_format format;
    enum ms_secrets secrets;
    const uint8_t *hmac_key; /* MS_SECRETS_HASH: the key (the caller's, kept while in use) */
    size_t hmac_key_len;
    FILE *hashes;         /* --hashes: each hashcat line goes here too (the caller's); NULL: none */
    uint32_t sid_base;    /* first alert signature id; 0: MS_SID_BASE_DEFAULT */
    const char *in_iface; /* live capture: the interface (NULL: left out) */
    const char *host;     /* live capture: the sensor name (NULL: left out) */
    bool ipv6_compress;   /* JSON: IPv6 as RFC 5952 ("2001:db8::1"), not Suricata's
                              * default full form ("2001:0db8:0000:...") */
    struct ms_dedup *dedup; /* --dedup (output/dedup.h; the caller's): repeated
                             * alerts are suppressed here, before rendering; NULL: off */
    /* --web: this output's records go to record(record_ctx, ...) instead
     * of sinks (called with the output's lock held); NULL: the sinks. */
    void (*record)(void *ctx, const char *rec, size_t len);
    void *record_ctx;
    /* --web: every event written (not one --dedup suppressed) is then
     * given to this output too, rendered under its own options. */
    struct ms_output *tee;
    bool color; /* --text: ANSI colours (main decides: a terminal, no NO_COLOR) */
};

/* An address as text: IPv4 dotted; IPv6 in RFC 5952 form when compress,
 * else all eight groups of four digits, as Suricata writes it by default.
 * out needs MS_ADDR_STRLEN bytes. */
#define MS_ADDR_STRLEN 48
void ms_addr_str(uint8_t ip_version, const uint8_t *a, bool compress, char *out, size_t n);
/* "aa:bb:cc:dd:ee:ff" of 6 bytes; out needs MS_MAC_STRLEN bytes. */
#define MS_MAC_STRLEN 18
void ms_mac_str(const uint8_t *a, char *out, size_t n);

struct ms_output;
struct ms_sinks;

/* Renders each event into a record (a JSON line, or a --text line) and
 * hands it to every sink of sinks (output/sink.h), which stays the
 * caller's. NULL when out of memory. Thread-safe: the worker threads of
 * --threads write through one output, an event's records together. */
struct ms_output *ms_output_new(struct ms_sinks *sinks, const struct ms_output_opts *o);
/* JSON: n threads may render at once (--threads: the workers and the
 * reader); their memory is taken now. MS_ERR_NOMEM. */
enum ms_rc ms_output_reserve_writers(struct ms_output *out, size_t n);
/* A port of root (reading files: each worker's of --threads, or the one
 * thread's): an output that renders JSON events with a writer of its own
 * and holds their records, handing them to root's sinks
 * MS_OUTPUT_BATCH_BYTES at a time (and at ms_output_flush); its counters
 * are root's. A flow's records keep their order (one worker has the
 * flow); they may come after other workers' later ones. Where root needs
 * its lock for every event (--text, --dedup, --hashes, --web) a port
 * passes each event to root. Used by one thread at a time. NULL when out
 * of memory. */
struct ms_output *ms_output_port_new(struct ms_output *root);
/* A port: its held records go to root's sinks now (else a no-op). */
void ms_output_flush(struct ms_output *out);
/* The sinks, for their counters (the stats event). */
struct ms_sinks *ms_output_sinks(const struct ms_output *out);
/* An error when the event could not be rendered (out of memory, a text
 * line over MS_TEXT_RECORD_MAX); what a sink could not deliver it counts
 * itself (output/sink.h). */
/* An alert that --dedup suppresses is neither written nor counted (MS_OK). */
enum ms_rc ms_output_event(struct ms_output *out, const struct ms_flow_meta *m,
                           const struct ms_event *ev);
uint64_t ms_output_count(const struct ms_output *out, enum ms_event_kind kind);
/* fileinfo events written (one per attachment of each email event, JSON only). */
uint64_t ms_output_fileinfo_count(const struct ms_output *out);
/* Events written so far with anomaly a. */
uint64_t ms_output_anomaly_count(const struct ms_output *out, enum ms_anomaly a);
/* Emails written so far that a cap cut, by the mime_errors code saying so. */
enum ms_output_cap_mime {
    MS_OUTPUT_CAP_MESSAGE = 0, /* message_too_large: max_message */
    MS_OUTPUT_CAP_DEPTH,       /* depth_exceeded: mime_max_depth */
    MS_OUTPUT_CAP_PARTS,       /* too_many_parts: mime_max_parts */
    MS_OUTPUT_CAP_HEADER,      /* header_line_too_long: mime_max_header */
    MS_OUTPUT_CAP_MIME_COUNT
};
uint64_t ms_output_cap_mime_count(const struct ms_output *out, enum ms_output_cap_mime c);

/* One counter of a stats event. name is a dotted path ("flow.evicted")
 * giving the nesting of the JSON object. */
struct ms_stat {
    const char *name;
    uint64_t value;
};

/* Writes a stats event: {"timestamp", "event_type": "stats", "stats": {...}}
 * in JSON, one "STATS k=v ..." line in the text view. */
enum ms_rc ms_output_stats(struct ms_output *out, uint64_t ts_us, const struct ms_stat *v,
                           size_t n);
/* --dedup's counters (zero when off), read while other threads write. */
struct ms_dedup_stats;
void ms_output_dedup_stats(struct ms_output *out, struct ms_dedup_stats *st);
/* --dedup's table (opts.dedup), NULL when off. */
struct ms_dedup *ms_output_dedup(const struct ms_output *out);
/* A port is flushed first. */
void ms_output_free(struct ms_output *out);

#endif
