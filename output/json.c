/* EVE-compatible rendering, written straight into the record's text
 * (output/jsonw.h) in a fixed key order so that output diffs stay
 * readable. */
#include "json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/anomaly.h"
#include "../common/ascii.h"
#include "../common/community_id.h"
#include "../common/utf8.h"
#include "dedup.h"
#include "secrets.h"
#include "signature.h"

struct json_object *ms_json_bytes(struct ms_bytes b)
{
    if (!b.p)
        return NULL;
    size_t i = 0;
    uint32_t cp;
    while (i < b.len) {
        size_t k = ms_utf8_seq(b.p + i, b.len - i, &cp);
        if (k == 0)
            break;
        i += k;
    }
    if (i == b.len)
        return json_object_new_string_len((const char *)b.p, (int)b.len);
    /* Rare path: rebuild with U+FFFD for each invalid byte. */
    struct printbuf *pb = printbuf_new();
    if (!pb)
        return NULL;
    for (i = 0; i < b.len;) {
        size_t k = ms_utf8_seq(b.p + i, b.len - i, &cp);
        if (k == 0) {
            printbuf_memappend(pb, "\xef\xbf\xbd", 3);
            i++;
        } else {
            printbuf_memappend(pb, (const char *)b.p + i, (int)k);
            i += k;
        }
    }
    struct json_object *o = json_object_new_string_len(pb->buf, pb->bpos);
    printbuf_free(pb);
    return o;
}

void ms_format_timestamp(uint64_t ts_us, char *out, size_t outlen)
{
    time_t secs = (time_t)(ts_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06u+0000", base, (unsigned)(ts_us % 1000000u));
}

/* Absent and unknown values are left out, never written as null (Suricata's
 * schema types every key it defines, and null fits none of them). */
static void add_bytes(struct ms_jw *w, const char *key, struct ms_bytes b)
{
    ms_jw_bytes(w, key, b); /* nothing when b.p is NULL */
}

static void add_hex(struct ms_jw *w, const char *key, const uint8_t *d, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char buf[129];
    if (n * 2 >= sizeof(buf))
        n = (sizeof(buf) - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[d[i] >> 4];
        buf[2 * i + 1] = hex[d[i] & 15];
    }
    ms_jw_string(w, key, buf, 2 * n);
}

static void add_tristate(struct ms_jw *w, const char *key, enum ms_tristate t)
{
    if (t != MS_TRI_UNKNOWN)
        ms_jw_bool(w, key, t == MS_TRI_TRUE);
}

static void add_true(struct ms_jw *w, const char *key, bool v)
{
    if (v)
        ms_jw_bool(w, key, true);
}

/* Closes the object or list opened at m, or drops it when it has no
 * member: never {} nor [] (Suricata's lists have minItems 1). */
static void close_or_drop(struct ms_jw *w, struct ms_jw_mark m, bool object)
{
    if (ms_jw_empty(w))
        ms_jw_drop(w, m);
    else if (object)
        ms_jw_close_object(w);
    else
        ms_jw_close_array(w);
}

/* A password or token (README "Secrets"): the value (clear), or that it
 * was there and its length in bytes with its mask (mask), its HMAC (hash)
 * or nothing more (redact). What cannot be computed falls back to the
 * redaction, never to the value. */
static void add_secret(struct ms_jw *w, const char *key, struct ms_bytes b,
                       const struct ms_output_opts *opts)
{
    if (!b.p)
        return;
    if (opts->secrets == MS_SECRETS_CLEAR) {
        add_bytes(w, key, b);
        return;
    }
    char k[48];
    bool done = false;
    if (opts->secrets == MS_SECRETS_MASK) {
        struct ms_mask m;
        ms_secret_mask(b, &m);
        /* Made whole first: the first and last characters may be invalid
         * UTF-8, and are judged as the mask's bytes. */
        struct ms_buf *sb = &w->scratch;
        ms_buf_reset(sb);
        bool ok = ms_buf_append(sb, m.first.p, m.first.len) == MS_OK;
        for (size_t i = 0; ok && i < m.stars; i++)
            ok = ms_buf_append(sb, "*", 1) == MS_OK;
        ok = ok && ms_buf_append(sb, m.last.p, m.last.len) == MS_OK;
        if (ok) {
            ms_ascii_join(k, sizeof(k), (const char *const[]){ key, "_masked", NULL });
            ms_jw_bytes(w, k, ms_bytes_of(sb->p ? (const char *)sb->p : "", sb->len));
            done = true;
        }
    } else if (opts->secrets == MS_SECRETS_HASH) {
        char hex[MS_HMAC_HEX_LEN + 1];
        if (ms_secret_hmac(opts->hmac_key, opts->hmac_key_len, b, hex)) {
            ms_ascii_join(k, sizeof(k), (const char *const[]){ key, "_hmac", NULL });
            ms_jw_string(w, k, hex, MS_HMAC_HEX_LEN);
            done = true;
        }
    }
    if (!done) {
        ms_ascii_join(k, sizeof(k), (const char *const[]){ key, "_redacted", NULL });
        ms_jw_bool(w, k, true);
    }
    ms_ascii_join(k, sizeof(k), (const char *const[]){ key, "_length", NULL });
    ms_jw_int(w, k, (int64_t)b.len);
}

/* What a challenge/response login leaks: the response and the hashcat
 * line, from which a cracker recovers the password, are shown only in
 * clear mode; otherwise they are said to be there (the hashcat line with
 * its mode, for the --hashes file has it). The challenge is the server's,
 * sent to anyone who connects: it is shown in every mode. */
static void add_challenge_response(struct ms_jw *w, const struct ms_ev_credential *c,
                                   const struct ms_output_opts *opts)
{
    bool clear = opts->secrets == MS_SECRETS_CLEAR;
    add_bytes(w, "challenge", c->challenge);
    if (clear) {
        add_bytes(w, "response", c->response);
    } else if (c->response.p) {
        ms_jw_bool(w, "response_redacted", true);
        ms_jw_int(w, "response_length", (int64_t)c->response.len);
    }
    if (c->hashcat.p) {
        if (clear)
            add_bytes(w, "hashcat", c->hashcat);
        else
            ms_jw_bool(w, "hashcat_redacted", true);
        ms_jw_int(w, "hashcat_mode", c->hashcat_mode);
    }
}

/* A list of strings, left out when it has none (absent values are not
 * members). */
static void add_list(struct ms_jw *w, const char *key, const struct ms_bytes *v, size_t n)
{
    struct ms_jw_mark m = ms_jw_mark(w);
    ms_jw_open_array(w, key);
    for (size_t i = 0; i < n; i++)
        ms_jw_bytes(w, NULL, v[i]);
    close_or_drop(w, m, false);
}

static const char *outcome_str(enum ms_outcome o)
{
    switch (o) {
    case MS_OUTCOME_SUCCESS:
        return "success";
    case MS_OUTCOME_FAILURE:
        return "failure";
    case MS_OUTCOME_UNKNOWN:
        break;
    }
    return "unknown";
}

/* Suricata's alert object. */
static void add_alert(struct ms_jw *w, const struct ms_signature *sig, const char *category)
{
    ms_jw_open_object(w, "alert");
    ms_jw_cstring(w, "action", "allowed");
    ms_jw_int(w, "gid", 1);
    ms_jw_int(w, "signature_id", sig->sid);
    ms_jw_int(w, "rev", 1);
    ms_jw_cstring(w, "signature", sig->text);
    ms_jw_cstring(w, "category", category);
    ms_jw_int(w, "severity", sig->severity);
    ms_jw_close_object(w);
}

static void add_credential(struct ms_jw *w, const char *app_proto, const struct ms_ev_credential *c,
                           const struct ms_output_opts *opts)
{
    struct ms_signature sig;
    ms_signature_for(opts->sid_base, app_proto, c, &sig);
    add_alert(w, &sig, "Potential Corporate Privacy Violation");

    ms_jw_open_object(w, "credential");
    ms_jw_cstring(w, "command", c->command);
    ms_jw_cstring(w, "mechanism", c->mechanism);
    add_bytes(w, "username", c->username);
    add_bytes(w, "authzid", c->authzid);
    add_bytes(w, "domain", c->domain);
    add_bytes(w, "workstation", c->workstation);
    add_secret(w, "password", c->password, opts);
    add_secret(w, "token", c->token, opts);
    add_challenge_response(w, c, opts);
    ms_jw_cstring(w, "outcome", outcome_str(c->outcome));
    add_bytes(w, "server_reply", c->server_reply);
    ms_jw_bool(w, "tls", c->tls);
    add_tristate(w, "starttls_offered", c->starttls_offered);
    add_true(w, "incomplete", c->incomplete);
    ms_jw_close_object(w);
}

/* Suricata's "smtp" object: the session's HELO and the envelope, exactly
 * the keys Suricata writes; left out when none is known. */
static void add_smtp(struct ms_jw *w, const struct ms_ev_email *e)
{
    struct ms_jw_mark m = ms_jw_mark(w);
    ms_jw_open_object(w, "smtp");
    add_bytes(w, "helo", e->helo);
    add_bytes(w, "mail_from", e->mail_from);
    add_list(w, "rcpt_to", e->rcpt_to, e->n_rcpt_to);
    close_or_drop(w, m, true);
}

/* The header fields Suricata's "email" object has, in its shape:
 * attachment is the list of file names, url the list of URLs. */
static void add_email_header(struct ms_jw *w, const struct ms_ev_email *e)
{
    add_bytes(w, "from", e->from);
    add_list(w, "to", e->to, e->n_to);
    add_list(w, "cc", e->cc, e->n_cc);
    add_bytes(w, "subject", e->subject);
    add_bytes(w, "date", e->date);
    add_bytes(w, "message_id", e->message_id);
    struct ms_jw_mark m = ms_jw_mark(w);
    ms_jw_open_array(w, "attachment");
    for (size_t i = 0; i < e->n_attachments; i++)
        ms_jw_bytes(w, NULL, e->attachments[i].filename);
    close_or_drop(w, m, false);
    add_list(w, "url", e->urls, e->n_urls);
}

static void add_email(struct ms_jw *w, const struct ms_ev_email *e)
{
    ms_jw_open_object(w, "email");
    ms_jw_cstring(w, "command", e->command ? e->command : "");
    add_email_header(w, e);
    ms_jw_int(w, "size", (int64_t)e->size);
    add_hex(w, "sha256", e->sha256, sizeof(e->sha256));
    if (e->n_attachments) {
        ms_jw_open_array(w, "attachments");
        for (size_t i = 0; i < e->n_attachments; i++) {
            const struct ms_attachment *at = &e->attachments[i];
            ms_jw_open_object(w, NULL);
            add_bytes(w, "filename", at->filename);
            add_bytes(w, "content_type", at->content_type);
            ms_jw_int(w, "size", (int64_t)at->size);
            add_hex(w, "sha256", at->sha256, sizeof(at->sha256));
            add_true(w, "truncated", at->truncated);
            add_true(w, "gaps", at->gap);
            add_bytes(w, "file", at->file); /* --extract-attachments */
            ms_jw_close_object(w);
        }
        ms_jw_close_array(w);
    }
    add_bytes(w, "eml_file", e->eml_file); /* --extract */
    add_bytes(w, "body_excerpt", e->body_excerpt);
    if (e->n_mime_errors) {
        ms_jw_open_array(w, "mime_errors");
        for (size_t i = 0; i < e->n_mime_errors; i++)
            ms_jw_cstring(w, NULL, e->mime_errors[i]);
        ms_jw_close_array(w);
    }
    add_tristate(w, "accepted", e->accepted);
    add_bytes(w, "server_reply", e->server_reply);
    add_true(w, "partial", e->partial);
    ms_jw_bool(w, "truncated", e->truncated);
    ms_jw_close_object(w);
}

/* Suricata's anomaly object: app_proto names the protocol; layer, for a
 * parser's event, is Suricata's "proto_parser". */
static void add_anomaly(struct ms_jw *w, const char *app_proto, const struct ms_ev_anomaly *a)
{
    ms_jw_open_object(w, "anomaly");
    const char *applayer = ms_anomaly_type_name(MS_ANOMALY_APPLAYER);
    const char *type = a->type ? a->type : applayer;
    ms_jw_cstring(w, "type", type);
    ms_jw_cstring(w, "event", a->code);
    if (app_proto)
        ms_jw_cstring(w, "app_proto", app_proto);
    if (strcmp(type, applayer) == 0)
        ms_jw_cstring(w, "layer", "proto_parser");
    add_bytes(w, "detail", a->detail);
    ms_jw_close_object(w);
}

static const char *session_tls_str(enum ms_session_tls t)
{
    switch (t) {
    case MS_SESSION_TLS_STARTTLS:
        return "starttls";
    case MS_SESSION_TLS_IMPLICIT:
        return "implicit";
    case MS_SESSION_TLS_NONE:
        break;
    }
    return "none";
}

static void add_u64(struct ms_jw *w, const char *key, uint64_t v)
{
    ms_jw_int(w, key, (int64_t)v);
}

/* The "session" object (README, Event types: session): named after its
 * event_type, as Suricata names each event's object; "flow" stays
 * Suricata's. An implicit-TLS session says so and gives its bytes only:
 * nothing inside it was looked for. */
static void add_session(struct ms_jw *w, const struct ms_ev_session *e)
{
    ms_jw_open_object(w, "session");
    ms_jw_cstring(w, "tls", session_tls_str(e->tls));
    const struct ms_session_posture *p = e->posture;
    if (p) {
        add_tristate(w, "starttls_offered", p->starttls_offered);
        ms_jw_bool(w, "capabilities_complete", p->listing_complete);
        if (p->n_mechs) {
            ms_jw_open_array(w, "auth_mechanisms");
            for (size_t i = 0; i < p->n_mechs; i++)
                ms_jw_cstring(w, NULL, p->mechs[i]);
            ms_jw_close_array(w);
        }
        add_true(w, "auth_mechanisms_truncated", p->mechs_truncated);
    }
    if (e->tls != MS_SESSION_TLS_IMPLICIT) {
        ms_jw_open_object(w, "logins");
        add_u64(w, "total", e->logins[0] + e->logins[1] + e->logins[2]);
        add_u64(w, "success", e->logins[MS_OUTCOME_SUCCESS]);
        add_u64(w, "failure", e->logins[MS_OUTCOME_FAILURE]);
        add_u64(w, "unknown", e->logins[MS_OUTCOME_UNKNOWN]);
        ms_jw_close_object(w);
        if (e->n_login_list) {
            ms_jw_open_array(w, "login_list");
            for (size_t i = 0; i < e->n_login_list; i++) {
                const struct ms_session_login *x = &e->login_list[i];
                ms_jw_open_object(w, NULL);
                add_bytes(w, "username", x->username);
                ms_jw_cstring(w, "mechanism", x->mechanism);
                ms_jw_cstring(w, "outcome", outcome_str(x->outcome));
                ms_jw_close_object(w);
            }
            ms_jw_close_array(w);
        }
        add_u64(w, "messages", e->messages);
    }
    add_u64(w, "bytes_toserver", e->bytes_toserver);
    add_u64(w, "bytes_toclient", e->bytes_toclient);
    if (e->tls != MS_SESSION_TLS_IMPLICIT) {
        add_u64(w, "anomalies", e->anomalies);
        if (e->n_anomaly_codes) {
            ms_jw_open_array(w, "anomaly_codes");
            for (size_t i = 0; i < e->n_anomaly_codes; i++)
                ms_jw_cstring(w, NULL, e->anomaly_codes[i]);
            ms_jw_close_array(w);
        }
    }
    ms_jw_close_object(w);
}

/* A STARTTLS stripping alert: Suricata's alert object, then which session
 * had the offer (this event's flow_id is the one without it). */
static void add_stripped(struct ms_jw *w, const struct ms_flow_meta *m, const char *app_proto,
                         const struct ms_ev_stripped *e, const struct ms_output_opts *opts)
{
    struct ms_signature sig;
    ms_signature_stripping(opts->sid_base, app_proto ? app_proto : "", &sig);
    add_alert(w, &sig, "Attempted Information Leak");
    ms_jw_open_object(w, "starttls_stripped");
    add_u64(w, "offered_flow_id", e->offered_flow_id);
    char ts[48];
    ms_format_timestamp(e->offered_ts_us, ts, sizeof(ts));
    ms_jw_cstring(w, "offered_timestamp", ts);
    add_u64(w, "stripped_flow_id", m->flow_id);
    ms_jw_close_object(w);
}

static const char *event_type(enum ms_event_kind k)
{
    switch (k) {
    case MS_EV_SESSION:
        return "session";
    case MS_EV_STARTTLS_STRIPPED:
    case MS_EV_CREDENTIAL:
        return "alert";
    case MS_EV_EMAIL:
        return "email";
    case MS_EV_ANOMALY:
    case MS_EV_COUNT:
        break;
    }
    return "anomaly";
}

/* ms_format_timestamp's text, its date and time of day made once a
 * second. */
static void put_timestamp(struct ms_jw *w, uint64_t ts_us)
{
    uint64_t secs = ts_us / 1000000u;
    if (!w->ts.ok || w->ts.secs != secs) {
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(w->ts.base, sizeof(w->ts.base), "%Y-%m-%dT%H:%M:%S", &tm);
        w->ts.secs = secs;
        w->ts.ok = true;
    }
    char ts[48];
    size_t n = strlen(w->ts.base);
    memcpy(ts, w->ts.base, n);
    unsigned us = (unsigned)(ts_us % 1000000u);
    ts[n++] = '.';
    for (int i = 5; i >= 0; i--) {
        ts[n + (size_t)i] = (char)('0' + us % 10);
        us /= 10;
    }
    memcpy(ts + n + 6, "+0000", 5);
    ms_jw_ascii_k(w, "timestamp", ms_jw_klen("timestamp"), ts, n + 11);
}

/* The flow's community_id (TCP), the same whichever way the event goes;
 * NULL when it cannot be computed. */
static const char *community_id(struct ms_jw *w, const struct ms_flow_meta *m)
{
    if (!m->src_addr || !m->dest_addr)
        return NULL;
    /* The memo's key is the tuple in one order whichever way the event
     * goes (the id is the same both ways): a flow's alerts and its
     * server's messages share one entry. */
    size_t alen = m->ip_version == 6 ? 16 : 4;
    const uint8_t *a = m->src_addr, *b = m->dest_addr;
    uint16_t ap = m->src_port, bp = m->dest_port;
    ms_endpoint_order(alen, &a, &ap, &b, &bp);
    uint8_t key[sizeof(w->cid[0].key)] = { m->ip_version };
    memcpy(key + 1, a, alen);
    memcpy(key + 1 + alen, b, alen);
    key[1 + 2 * alen] = (uint8_t)(ap >> 8);
    key[2 + 2 * alen] = (uint8_t)ap;
    key[3 + 2 * alen] = (uint8_t)(bp >> 8);
    key[4 + 2 * alen] = (uint8_t)bp;
    unsigned h = (unsigned)(ap ^ bp ^ key[alen] ^ key[2 * alen]);
    h = (h ^ (h >> 6)) & (MS_JSON_CID_MEMO - 1);
    if (w->cid[h].ok && memcmp(key, w->cid[h].key, sizeof(key)) == 0)
        return w->cid[h].cid;
    w->cid[h].ok = false;
    if (ms_community_id_v1(0, m->ip_version, m->src_addr, m->dest_addr, 6, m->src_port,
                           m->dest_port, w->cid[h].cid, sizeof(w->cid[h].cid)) != MS_OK)
        return NULL;
    memcpy(w->cid[h].key, key, sizeof(key));
    w->cid[h].ok = true;
    return w->cid[h].cid;
}

/* Suricata's `ether` object, of frames that came over 802.11. */
static void add_ether(struct ms_jw *w, const struct ms_flow_meta *m)
{
    if (!m->src_mac && !m->dest_mac && !m->bssid)
        return;
    char mac[MS_MAC_STRLEN];
    ms_jw_open_object(w, "ether");
    if (m->src_mac) {
        ms_mac_str(m->src_mac, mac, sizeof(mac));
        ms_jw_cstring(w, "src_mac", mac);
    }
    if (m->dest_mac) {
        ms_mac_str(m->dest_mac, mac, sizeof(mac));
        ms_jw_cstring(w, "dest_mac", mac);
    }
    if (m->bssid) {
        ms_mac_str(m->bssid, mac, sizeof(mac));
        ms_jw_cstring(w, "bssid", mac);
    }
    ms_jw_close_object(w);
}

/* Opens the record and writes the keys every event starts with, in
 * Suricata's order. */
static void header(struct ms_jw *w, const struct ms_flow_meta *m, const char *type,
                   const char *app_proto, const struct ms_output_opts *opts)
{
    /* Our own values (the time, names, addresses, the community_id) are
     * written without the scan for escapes (ms_jw_ascii); in_iface,
     * pcap_filename and host come from the user, escaped. */
    ms_jw_reset(w);
    ms_jw_open_object(w, NULL);
    put_timestamp(w, m->ts_us);
    /* An IP-layer anomaly belongs to no flow: no flow_id and no ports. */
    bool in_flow = m->flow_id != 0;
    if (in_flow)
        ms_jw_int(w, "flow_id", (int64_t)m->flow_id);
    if (opts->in_iface)
        ms_jw_cstring(w, "in_iface", opts->in_iface);
    if (m->pcap_filename)
        add_bytes(w, "pcap_filename", ms_bytes_of(m->pcap_filename, strlen(m->pcap_filename)));
    if (m->pcap_cnt)
        ms_jw_int(w, "pcap_cnt", (int64_t)m->pcap_cnt);
    ms_jw_ascii(w, "event_type", type);
    char addr[MS_ADDR_STRLEN];
    if (m->ip_version) {
        ms_addr_str(m->ip_version, m->src_addr, opts->ipv6_compress, addr, sizeof(addr));
        ms_jw_ascii(w, "src_ip", addr);
        if (in_flow)
            ms_jw_int(w, "src_port", m->src_port);
        ms_addr_str(m->ip_version, m->dest_addr, opts->ipv6_compress, addr, sizeof(addr));
        ms_jw_ascii(w, "dest_ip", addr);
        if (in_flow)
            ms_jw_int(w, "dest_port", m->dest_port);
    }
    const char *proto = m->proto ? m->proto : "TCP";
    if (*proto)
        ms_jw_ascii(w, "proto", proto);
    /* A flow's 5-tuple (TCP), the same whichever way the event goes. */
    const char *cid = in_flow ? community_id(w, m) : NULL;
    if (cid)
        ms_jw_ascii(w, "community_id", cid);
    add_ether(w, m);
    if (app_proto)
        ms_jw_ascii(w, "app_proto", app_proto);
    if (opts->host)
        ms_jw_cstring(w, "host", opts->host);
}

/* An alert's additions after its credential object: the repeats --dedup
 * suppressed before it, the --evidence file of its flow. */
static void alert_extras(struct ms_jw *w, const struct ms_flow_meta *m,
                         const struct ms_dedup_report *rep, const struct ms_output_opts *opts)
{
    if (rep->suppressed) {
        char ts[48];
        ms_jw_open_object(w, "dedup");
        ms_jw_int(w, "suppressed", (int64_t)rep->suppressed);
        ms_format_timestamp(rep->first_us, ts, sizeof(ts));
        ms_jw_cstring(w, "first_seen", ts);
        ms_format_timestamp(rep->last_us, ts, sizeof(ts));
        ms_jw_cstring(w, "last_seen", ts);
        ms_jw_int(w, "period", (int64_t)(ms_dedup_period_us(opts->dedup) / 1000000u));
        ms_jw_close_object(w);
    }
    if (m->evidence)
        ms_jw_cstring(w, "evidence", m->evidence);
}

enum ms_rc ms_json_render_event(struct ms_jw *w, const struct ms_flow_meta *m,
                                const struct ms_event *ev, const struct ms_output_opts *opts,
                                const struct ms_dedup_report *rep)
{
    header(w, m, event_type(ev->kind), ev->app_proto, opts);
    switch (ev->kind) {
    case MS_EV_CREDENTIAL:
        add_credential(w, ev->app_proto, &ev->u.cred, opts);
        break;
    case MS_EV_EMAIL:
        add_smtp(w, &ev->u.email);
        add_email(w, &ev->u.email);
        break;
    case MS_EV_ANOMALY:
        add_anomaly(w, ev->app_proto, &ev->u.anomaly);
        break;
    case MS_EV_SESSION:
        add_session(w, &ev->u.session);
        break;
    case MS_EV_STARTTLS_STRIPPED:
        add_stripped(w, m, ev->app_proto, &ev->u.stripped, opts);
        break;
    case MS_EV_COUNT:
        break;
    }
    if (rep && (ev->kind == MS_EV_CREDENTIAL || ev->kind == MS_EV_STARTTLS_STRIPPED))
        alert_extras(w, m, rep, opts);
    ms_jw_close_object(w);
    return w->rc;
}

/* A file Suricata would log: one attachment of a message, with the
 * message's metadata as Suricata puts it on an SMTP fileinfo record. Its
 * addresses go the way the file went, as Suricata writes them (a
 * downloaded file comes from the server). The type comes from the MIME
 * header (no libmagic, so no "magic"); the hash of a file whose end was
 * not seen would match nothing, so only a CLOSED file has one, as in
 * Suricata. */
enum ms_rc ms_json_render_fileinfo(struct ms_jw *w, const struct ms_flow_meta *m,
                                   const struct ms_event *ev, size_t index,
                                   const struct ms_output_opts *opts)
{
    const struct ms_ev_email *e = &ev->u.email;
    const struct ms_attachment *at = &e->attachments[index];
    struct ms_flow_meta fm = *m;
    if (e->to_client) {
        fm.src_addr = m->dest_addr;
        fm.src_port = m->dest_port;
        fm.dest_addr = m->src_addr;
        fm.dest_port = m->src_port;
        fm.src_mac = m->dest_mac;
        fm.dest_mac = m->src_mac;
    }
    header(w, &fm, "fileinfo", ev->app_proto, opts);
    add_smtp(w, e);
    struct ms_jw_mark em = ms_jw_mark(w);
    ms_jw_open_object(w, "email");
    add_email_header(w, e);
    close_or_drop(w, em, true);
    ms_jw_open_object(w, "fileinfo");
    add_bytes(w, "filename", at->filename);
    add_bytes(w, "content_type", at->content_type);
    ms_jw_bool(w, "gaps", at->gap);
    ms_jw_cstring(w, "state", at->truncated ? "TRUNCATED" : "CLOSED");
    if (!at->truncated)
        add_hex(w, "sha256", at->sha256, sizeof(at->sha256));
    ms_jw_bool(w, "stored", at->file.p != NULL);
    add_bytes(w, "file", at->file);
    ms_jw_int(w, "size", (int64_t)at->size);
    ms_jw_close_object(w);
    ms_jw_close_object(w);
    return w->rc;
}

/* The text a renderer wrote, as a json-c object (for the tests' look at
 * single keys); NULL when it failed. */
static struct json_object *parsed(struct ms_jw *w, enum ms_rc rc)
{
    struct json_object *o = NULL;
    if (rc == MS_OK) {
        struct json_tokener *tok = json_tokener_new();
        if (tok) {
            o = json_tokener_parse_ex(tok, (const char *)w->b.p, (int)w->b.len);
            json_tokener_free(tok);
        }
    }
    ms_jw_free(w);
    return o;
}

struct json_object *ms_json_event(const struct ms_flow_meta *m, const struct ms_event *ev,
                                  const struct ms_output_opts *opts)
{
    struct ms_jw w;
    ms_jw_init(&w);
    return parsed(&w, ms_json_render_event(&w, m, ev, opts, NULL));
}

struct json_object *ms_json_fileinfo(const struct ms_flow_meta *m, const struct ms_event *ev,
                                     size_t index, const struct ms_output_opts *opts)
{
    struct ms_jw w;
    ms_jw_init(&w);
    return parsed(&w, ms_json_render_fileinfo(&w, m, ev, index, opts));
}
