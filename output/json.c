/* EVE-compatible rendering. Key order is fixed (json-c keeps insertion
 * order) so output diffs stay readable. */
#include "json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/anomaly.h"
#include "../common/community_id.h"
#include "../common/utf8.h"
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
static void add_bytes(struct json_object *o, const char *key, struct ms_bytes b)
{
    struct json_object *v = b.p ? ms_json_bytes(b) : NULL;
    if (v) /* NULL also when out of memory: left out rather than null */
        json_object_object_add(o, key, v);
}

/* Adds an object that has members, else drops it: never {}. */
static void add_object(struct json_object *root, const char *key, struct json_object *o)
{
    if (o && json_object_object_length(o) > 0)
        json_object_object_add(root, key, o);
    else
        json_object_put(o);
}

static void add_hex(struct json_object *o, const char *key, const uint8_t *d, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char buf[129];
    if (n * 2 >= sizeof(buf))
        n = (sizeof(buf) - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[d[i] >> 4];
        buf[2 * i + 1] = hex[d[i] & 15];
    }
    json_object_object_add(o, key, json_object_new_string_len(buf, (int)(2 * n)));
}

static void add_tristate(struct json_object *o, const char *key, enum ms_tristate t)
{
    if (t != MS_TRI_UNKNOWN)
        json_object_object_add(o, key, json_object_new_boolean(t == MS_TRI_TRUE));
}

static void add_true(struct json_object *o, const char *key, bool v)
{
    if (v)
        json_object_object_add(o, key, json_object_new_boolean(1));
}

/* A password or token (README "Secrets"): the value (clear), or that it
 * was there and its length in bytes with its mask (mask), its HMAC (hash)
 * or nothing more (redact). What cannot be computed falls back to the
 * redaction, never to the value. */
static void add_secret(struct json_object *o, const char *key, struct ms_bytes b,
                       const struct ms_output_opts *opts)
{
    if (!b.p)
        return;
    if (opts->secrets == MS_SECRETS_CLEAR) {
        add_bytes(o, key, b);
        return;
    }
    struct json_object *v = NULL;
    const char *form = "redacted";
    if (opts->secrets == MS_SECRETS_MASK) {
        struct ms_mask m;
        ms_secret_mask(b, &m);
        struct printbuf *pb = printbuf_new();
        if (pb) {
            bool ok = printbuf_memappend(pb, (const char *)m.first.p, (int)m.first.len) >= 0;
            for (size_t i = 0; ok && i < m.stars; i++)
                ok = printbuf_memappend(pb, "*", 1) >= 0;
            ok = ok && printbuf_memappend(pb, (const char *)m.last.p, (int)m.last.len) >= 0;
            /* The first and last characters may be invalid UTF-8. */
            if (ok)
                v = ms_json_bytes(ms_bytes_of(pb->buf, (size_t)pb->bpos));
            printbuf_free(pb);
        }
        form = "masked";
    } else if (opts->secrets == MS_SECRETS_HASH) {
        char hex[MS_HMAC_HEX_LEN + 1];
        if (ms_secret_hmac(opts->hmac_key, opts->hmac_key_len, b, hex))
            v = json_object_new_string_len(hex, MS_HMAC_HEX_LEN);
        form = "hmac";
    }
    if (!v) {
        v = json_object_new_boolean(1);
        form = "redacted";
    }
    char k[48];
    snprintf(k, sizeof(k), "%s_%s", key, form);
    json_object_object_add(o, k, v);
    snprintf(k, sizeof(k), "%s_length", key);
    json_object_object_add(o, k, json_object_new_int64((int64_t)b.len));
}

/* What a challenge/response login leaks: the response and the hashcat
 * line, from which a cracker recovers the password, are shown only in
 * clear mode; otherwise they are said to be there (the hashcat line with
 * its mode, for the --hashes file has it). The challenge is the server's,
 * sent to anyone who connects: it is shown in every mode. */
static void add_challenge_response(struct json_object *k, const struct ms_ev_credential *c,
                                   const struct ms_output_opts *opts)
{
    bool clear = opts->secrets == MS_SECRETS_CLEAR;
    add_bytes(k, "challenge", c->challenge);
    if (clear) {
        add_bytes(k, "response", c->response);
    } else if (c->response.p) {
        json_object_object_add(k, "response_redacted", json_object_new_boolean(1));
        json_object_object_add(k, "response_length",
                               json_object_new_int64((int64_t)c->response.len));
    }
    if (c->hashcat.p) {
        if (clear)
            add_bytes(k, "hashcat", c->hashcat);
        else
            json_object_object_add(k, "hashcat_redacted", json_object_new_boolean(1));
        json_object_object_add(k, "hashcat_mode", json_object_new_int(c->hashcat_mode));
    }
}

/* A list of strings, left out when it has none (Suricata's lists have
 * minItems 1). */
/* Appends v (NULL: nothing) to *arr, which is made on the first one, so
 * that a list with no member is never written. */
static void list_push(struct json_object **arr, struct json_object *v)
{
    if (!v)
        return;
    if (!*arr)
        *arr = json_object_new_array();
    json_object_array_add(*arr, v);
}

static void add_list(struct json_object *o, const char *key, const struct ms_bytes *v, size_t n)
{
    struct json_object *arr = NULL;
    for (size_t i = 0; i < n; i++)
        list_push(&arr, ms_json_bytes(v[i])); /* NULL for an absent value */
    if (arr)
        json_object_object_add(o, key, arr);
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
static void add_alert(struct json_object *root, const struct ms_signature *sig,
                      const char *category)
{
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "action", json_object_new_string("allowed"));
    json_object_object_add(a, "gid", json_object_new_int(1));
    json_object_object_add(a, "signature_id", json_object_new_int64(sig->sid));
    json_object_object_add(a, "rev", json_object_new_int(1));
    json_object_object_add(a, "signature", json_object_new_string(sig->text));
    json_object_object_add(a, "category", json_object_new_string(category));
    json_object_object_add(a, "severity", json_object_new_int(sig->severity));
    json_object_object_add(root, "alert", a);
}

static void add_credential(struct json_object *root, const char *app_proto,
                           const struct ms_ev_credential *c, const struct ms_output_opts *opts)
{
    struct ms_signature sig;
    ms_signature_for(opts->sid_base, app_proto, c, &sig);
    add_alert(root, &sig, "Potential Corporate Privacy Violation");

    struct json_object *k = json_object_new_object();
    json_object_object_add(k, "command", json_object_new_string(c->command));
    json_object_object_add(k, "mechanism", json_object_new_string(c->mechanism));
    add_bytes(k, "username", c->username);
    add_bytes(k, "authzid", c->authzid);
    add_bytes(k, "domain", c->domain);
    add_bytes(k, "workstation", c->workstation);
    add_secret(k, "password", c->password, opts);
    add_secret(k, "token", c->token, opts);
    add_challenge_response(k, c, opts);
    json_object_object_add(k, "outcome", json_object_new_string(outcome_str(c->outcome)));
    add_bytes(k, "server_reply", c->server_reply);
    json_object_object_add(k, "tls", json_object_new_boolean(c->tls));
    add_tristate(k, "starttls_offered", c->starttls_offered);
    add_true(k, "incomplete", c->incomplete);
    json_object_object_add(root, "credential", k);
}

/* Suricata's "smtp" object: the session's HELO and the envelope, exactly
 * the keys Suricata writes; left out when none is known. */
static void add_smtp(struct json_object *root, const struct ms_ev_email *e)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return;
    add_bytes(o, "helo", e->helo);
    add_bytes(o, "mail_from", e->mail_from);
    add_list(o, "rcpt_to", e->rcpt_to, e->n_rcpt_to);
    add_object(root, "smtp", o);
}

/* The header fields Suricata's "email" object has, in its shape:
 * attachment is the list of file names, url the list of URLs. */
static void add_email_header(struct json_object *o, const struct ms_ev_email *e)
{
    add_bytes(o, "from", e->from);
    add_list(o, "to", e->to, e->n_to);
    add_list(o, "cc", e->cc, e->n_cc);
    add_bytes(o, "subject", e->subject);
    add_bytes(o, "date", e->date);
    add_bytes(o, "message_id", e->message_id);
    struct json_object *names = NULL;
    for (size_t i = 0; i < e->n_attachments; i++)
        list_push(&names, ms_json_bytes(e->attachments[i].filename));
    if (names)
        json_object_object_add(o, "attachment", names);
    add_list(o, "url", e->urls, e->n_urls);
}

static void add_email(struct json_object *root, const struct ms_ev_email *e)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "command", json_object_new_string(e->command ? e->command : ""));
    add_email_header(o, e);
    json_object_object_add(o, "size", json_object_new_int64((int64_t)e->size));
    add_hex(o, "sha256", e->sha256, sizeof(e->sha256));
    struct json_object *atts = NULL;
    for (size_t i = 0; i < e->n_attachments; i++) {
        const struct ms_attachment *at = &e->attachments[i];
        struct json_object *a = json_object_new_object();
        add_bytes(a, "filename", at->filename);
        add_bytes(a, "content_type", at->content_type);
        json_object_object_add(a, "size", json_object_new_int64((int64_t)at->size));
        add_hex(a, "sha256", at->sha256, sizeof(at->sha256));
        add_true(a, "truncated", at->truncated);
        add_true(a, "gaps", at->gap);
        add_bytes(a, "file", at->file); /* --extract-attachments */
        list_push(&atts, a);
    }
    if (atts)
        json_object_object_add(o, "attachments", atts);
    add_bytes(o, "eml_file", e->eml_file); /* --extract */
    add_bytes(o, "body_excerpt", e->body_excerpt);
    if (e->n_mime_errors) {
        struct json_object *errs = json_object_new_array();
        for (size_t i = 0; i < e->n_mime_errors; i++)
            json_object_array_add(errs, json_object_new_string(e->mime_errors[i]));
        json_object_object_add(o, "mime_errors", errs);
    }
    add_tristate(o, "accepted", e->accepted);
    add_bytes(o, "server_reply", e->server_reply);
    add_true(o, "partial", e->partial);
    json_object_object_add(o, "truncated", json_object_new_boolean(e->truncated));
    json_object_object_add(root, "email", o);
}

/* Suricata's anomaly object: app_proto names the protocol; layer, for a
 * parser's event, is Suricata's "proto_parser". */
static void add_anomaly(struct json_object *root, const char *app_proto,
                        const struct ms_ev_anomaly *a)
{
    struct json_object *o = json_object_new_object();
    const char *applayer = ms_anomaly_type_name(MS_ANOMALY_APPLAYER);
    const char *type = a->type ? a->type : applayer;
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "event", json_object_new_string(a->code));
    if (app_proto)
        json_object_object_add(o, "app_proto", json_object_new_string(app_proto));
    if (strcmp(type, applayer) == 0)
        json_object_object_add(o, "layer", json_object_new_string("proto_parser"));
    add_bytes(o, "detail", a->detail);
    json_object_object_add(root, "anomaly", o);
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

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
    json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

/* The "session" object (README, Event types: session): named after its
 * event_type, as Suricata names each event's object; "flow" stays
 * Suricata's. An implicit-TLS session says so and gives its bytes only:
 * nothing inside it was looked for. */
static void add_session(struct json_object *root, const struct ms_ev_session *e)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "tls", json_object_new_string(session_tls_str(e->tls)));
    const struct ms_session_posture *p = e->posture;
    if (p) {
        add_tristate(o, "starttls_offered", p->starttls_offered);
        json_object_object_add(o, "capabilities_complete",
                               json_object_new_boolean(p->listing_complete));
        struct json_object *mechs = NULL;
        for (size_t i = 0; i < p->n_mechs; i++)
            list_push(&mechs, json_object_new_string(p->mechs[i]));
        if (mechs)
            json_object_object_add(o, "auth_mechanisms", mechs);
        add_true(o, "auth_mechanisms_truncated", p->mechs_truncated);
    }
    if (e->tls != MS_SESSION_TLS_IMPLICIT) {
        struct json_object *l = json_object_new_object();
        add_u64(l, "total", e->logins[0] + e->logins[1] + e->logins[2]);
        add_u64(l, "success", e->logins[MS_OUTCOME_SUCCESS]);
        add_u64(l, "failure", e->logins[MS_OUTCOME_FAILURE]);
        add_u64(l, "unknown", e->logins[MS_OUTCOME_UNKNOWN]);
        json_object_object_add(o, "logins", l);
        struct json_object *list = NULL;
        for (size_t i = 0; i < e->n_login_list; i++) {
            const struct ms_session_login *x = &e->login_list[i];
            struct json_object *j = json_object_new_object();
            add_bytes(j, "username", x->username);
            json_object_object_add(j, "mechanism", json_object_new_string(x->mechanism));
            json_object_object_add(j, "outcome", json_object_new_string(outcome_str(x->outcome)));
            list_push(&list, j);
        }
        if (list)
            json_object_object_add(o, "login_list", list);
        add_u64(o, "messages", e->messages);
    }
    add_u64(o, "bytes_toserver", e->bytes_toserver);
    add_u64(o, "bytes_toclient", e->bytes_toclient);
    if (e->tls != MS_SESSION_TLS_IMPLICIT) {
        add_u64(o, "anomalies", e->anomalies);
        struct json_object *codes = NULL;
        for (size_t i = 0; i < e->n_anomaly_codes; i++)
            list_push(&codes, json_object_new_string(e->anomaly_codes[i]));
        if (codes)
            json_object_object_add(o, "anomaly_codes", codes);
    }
    json_object_object_add(root, "session", o);
}

/* A STARTTLS stripping alert: Suricata's alert object, then which session
 * had the offer (this event's flow_id is the one without it). */
static void add_stripped(struct json_object *root, const struct ms_flow_meta *m,
                         const char *app_proto, const struct ms_ev_stripped *e,
                         const struct ms_output_opts *opts)
{
    struct ms_signature sig;
    ms_signature_stripping(opts->sid_base, app_proto ? app_proto : "", &sig);
    add_alert(root, &sig, "Attempted Information Leak");
    struct json_object *o = json_object_new_object();
    add_u64(o, "offered_flow_id", e->offered_flow_id);
    char ts[48];
    ms_format_timestamp(e->offered_ts_us, ts, sizeof(ts));
    json_object_object_add(o, "offered_timestamp", json_object_new_string(ts));
    add_u64(o, "stripped_flow_id", m->flow_id);
    json_object_object_add(root, "starttls_stripped", o);
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

/* The keys every event starts with, in Suricata's order. */
static struct json_object *header(const struct ms_flow_meta *m, const char *type,
                                  const char *app_proto, const struct ms_output_opts *opts)
{
    struct json_object *root = json_object_new_object();
    if (!root)
        return NULL;
    char ts[48];
    ms_format_timestamp(m->ts_us, ts, sizeof(ts));
    json_object_object_add(root, "timestamp", json_object_new_string(ts));
    /* An IP-layer anomaly belongs to no flow: no flow_id and no ports. */
    bool in_flow = m->flow_id != 0;
    if (in_flow)
        json_object_object_add(root, "flow_id", json_object_new_int64((int64_t)m->flow_id));
    if (opts->in_iface)
        json_object_object_add(root, "in_iface", json_object_new_string(opts->in_iface));
    if (m->pcap_filename)
        add_bytes(root, "pcap_filename", ms_bytes_of(m->pcap_filename, strlen(m->pcap_filename)));
    if (m->pcap_cnt)
        json_object_object_add(root, "pcap_cnt", json_object_new_int64((int64_t)m->pcap_cnt));
    json_object_object_add(root, "event_type", json_object_new_string(type));
    char addr[MS_ADDR_STRLEN];
    ms_addr_str(m->ip_version, m->src_addr, opts->ipv6_compress, addr, sizeof(addr));
    json_object_object_add(root, "src_ip", json_object_new_string(addr));
    if (in_flow)
        json_object_object_add(root, "src_port", json_object_new_int(m->src_port));
    ms_addr_str(m->ip_version, m->dest_addr, opts->ipv6_compress, addr, sizeof(addr));
    json_object_object_add(root, "dest_ip", json_object_new_string(addr));
    if (in_flow)
        json_object_object_add(root, "dest_port", json_object_new_int(m->dest_port));
    const char *proto = m->proto ? m->proto : "TCP";
    if (*proto)
        json_object_object_add(root, "proto", json_object_new_string(proto));
    /* A flow's 5-tuple (TCP), the same whichever way the event goes. */
    char cid[MS_COMMUNITY_ID_LEN];
    if (in_flow && ms_community_id_v1(0, m->ip_version, m->src_addr, m->dest_addr, 6, m->src_port,
                                      m->dest_port, cid, sizeof(cid)) == MS_OK)
        json_object_object_add(root, "community_id", json_object_new_string(cid));
    if (app_proto)
        json_object_object_add(root, "app_proto", json_object_new_string(app_proto));
    if (opts->host)
        json_object_object_add(root, "host", json_object_new_string(opts->host));
    return root;
}

struct json_object *ms_json_event(const struct ms_flow_meta *m, const struct ms_event *ev,
                                  const struct ms_output_opts *opts)
{
    struct json_object *root = header(m, event_type(ev->kind), ev->app_proto, opts);
    if (!root)
        return NULL;
    switch (ev->kind) {
    case MS_EV_CREDENTIAL:
        add_credential(root, ev->app_proto, &ev->u.cred, opts);
        break;
    case MS_EV_EMAIL:
        add_smtp(root, &ev->u.email);
        add_email(root, &ev->u.email);
        break;
    case MS_EV_ANOMALY:
        add_anomaly(root, ev->app_proto, &ev->u.anomaly);
        break;
    case MS_EV_SESSION:
        add_session(root, &ev->u.session);
        break;
    case MS_EV_STARTTLS_STRIPPED:
        add_stripped(root, m, ev->app_proto, &ev->u.stripped, opts);
        break;
    case MS_EV_COUNT:
        break;
    }
    return root;
}

/* A file Suricata would log: one attachment of a message, with the
 * message's metadata as Suricata puts it on an SMTP fileinfo record. Its
 * addresses go the way the file went, as Suricata writes them (a
 * downloaded file comes from the server). The type comes from the MIME
 * header (no libmagic, so no "magic"); the hash of a file whose end was
 * not seen would match nothing, so only a CLOSED file has one, as in
 * Suricata. */
struct json_object *ms_json_fileinfo(const struct ms_flow_meta *m, const struct ms_event *ev,
                                     size_t index, const struct ms_output_opts *opts)
{
    const struct ms_ev_email *e = &ev->u.email;
    const struct ms_attachment *at = &e->attachments[index];
    struct ms_flow_meta fm = *m;
    if (e->to_client) {
        fm.src_addr = m->dest_addr;
        fm.src_port = m->dest_port;
        fm.dest_addr = m->src_addr;
        fm.dest_port = m->src_port;
    }
    struct json_object *root = header(&fm, "fileinfo", ev->app_proto, opts);
    if (!root)
        return NULL;
    add_smtp(root, e);
    struct json_object *em = json_object_new_object();
    if (em)
        add_email_header(em, e);
    add_object(root, "email", em);
    struct json_object *f = json_object_new_object();
    add_bytes(f, "filename", at->filename);
    add_bytes(f, "content_type", at->content_type);
    json_object_object_add(f, "gaps", json_object_new_boolean(at->gap));
    json_object_object_add(f, "state",
                           json_object_new_string(at->truncated ? "TRUNCATED" : "CLOSED"));
    if (!at->truncated)
        add_hex(f, "sha256", at->sha256, sizeof(at->sha256));
    json_object_object_add(f, "stored", json_object_new_boolean(at->file.p != NULL));
    add_bytes(f, "file", at->file);
    json_object_object_add(f, "size", json_object_new_int64((int64_t)at->size));
    json_object_object_add(root, "fileinfo", f);
    return root;
}
