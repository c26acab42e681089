/* The --web server: requests, the ring of past events, the counters and
 * the SSE streams (output/web.h). libmicrohttpd runs a thread per
 * connection: an SSE stream waits for the next event in its own thread. */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "../common/siphash.h"
#include "secrets.h"
#include "web_assets.h"

#define TOKEN_HEX 32
#define RUN_HEX 8                 /* the run's prefix of the SSE ids */
#define COOKIE "mailspill_token_" /* and the port: one per server of a host */

struct ring_ev {
    uint64_t id;
    char *json;
    size_t len;
};

/* A set of 64-bit keyed hashes (distinct accounts, servers), open
 * addressing, never more than MS_WEB_DISTINCT_MAX: past it, full. */
struct hset {
    uint64_t *slot; /* 0: empty (a hash of 0 is stored as 1) */
    size_t n;
    bool full;
};

#define HSET_SLOTS (2 * (size_t)MS_WEB_DISTINCT_MAX)

struct counters {
    uint64_t logins, accepted, messages;
    struct hset accounts, servers;
};

struct ms_web {
    struct MHD_Daemon *d;
    char addr[MS_WEB_ADDR_STRLEN];
    uint16_t port;
    bool loopback;
    char token[TOKEN_HEX + 1]; /* empty on loopback: none needed */
    /* Random per run: a page of an earlier run on this port that comes
     * back with its Last-Event-ID is told to start over (event: reset). */
    char run[RUN_HEX + 1];
    char url[160];
    char cookie[32]; /* COOKIE and the port */
    uint8_t hkey[MS_SIPHASH_KEY_LEN];
    bool pseudonymize;
    uint8_t pkey[MS_HMAC_KEY_MIN]; /* --pseudonymize: random, for this run */
    pthread_mutex_t mu;            /* everything below */
    pthread_cond_t cv;             /* a record came, or the end */
    struct ring_ev ring[MS_WEB_RING_EVENTS];
    size_t head, count, bytes; /* oldest at head */
    uint64_t next_id;          /* the id of the next record; ids start at 1 */
    struct counters c;
    uint64_t cversion; /* bumped with every record */
    bool stopping;
};

/* ---- addresses and the Host header ---- */

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool is_loopback(const char *addr, bool v6)
{
    if (v6) {
        struct in6_addr a;
        return inet_pton(AF_INET6, addr, &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
    }
    struct in_addr a;
    return inet_pton(AF_INET, addr, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

enum ms_rc ms_web_parse_addr(const char *spec, char addr[MS_WEB_ADDR_STRLEN], uint16_t *port,
                             bool *v6, bool *loopback, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    const char *p = colon ? colon + 1 : spec;
    size_t alen = colon ? (size_t)(colon - spec) : 0;
    const char *a = spec;
    *v6 = false;
    bool bracketed = alen >= 2 && spec[0] == '[' && spec[alen - 1] == ']';
    if (bracketed) {
        a = spec + 1;
        alen -= 2;
        *v6 = true;
    }
    if (!parse_port(p, port) || alen >= MS_WEB_ADDR_STRLEN || (bracketed && alen == 0)) {
        snprintf(err, errlen, "--web: '%s' is not [ADDR:]PORT", spec);
        return MS_ERR_ARG;
    }
    if (alen == 0) {
        snprintf(addr, MS_WEB_ADDR_STRLEN, "%s", *v6 ? "::1" : "127.0.0.1");
    } else {
        memcpy(addr, a, alen);
        addr[alen] = '\0';
    }
    uint8_t buf[16];
    if (inet_pton(*v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        snprintf(err, errlen, "--web: '%s' is not an IPv4 address or [IPv6] address", addr);
        return MS_ERR_ARG;
    }
    *loopback = is_loopback(addr, *v6);
    return MS_OK;
}

bool ms_web_host_ok(const char *host, uint16_t port, bool loopback)
{
    if (!host)
        return false;
    char name[MS_WEB_ADDR_STRLEN];
    const char *p = NULL;
    uint8_t buf[16];
    bool literal;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        size_t n = close ? (size_t)(close - host - 1) : 0;
        if (!close || n == 0 || n >= sizeof(name))
            return false;
        memcpy(name, host + 1, n);
        name[n] = '\0';
        if (inet_pton(AF_INET6, name, buf) != 1)
            return false; /* brackets hold an IPv6 address, never a name */
        literal = true;
        if (close[1] == ':')
            p = close + 2;
        else if (close[1])
            return false;
    } else {
        const char *colon = strchr(host, ':');
        size_t n = colon ? (size_t)(colon - host) : strlen(host);
        if (n == 0 || n >= sizeof(name))
            return false;
        memcpy(name, host, n);
        name[n] = '\0';
        literal = inet_pton(AF_INET, name, buf) == 1;
        if (colon)
            p = colon + 1;
    }
    if (!literal && !(loopback && strcasecmp(name, "localhost") == 0))
        return false;
    uint16_t hp;
    if (!p)
        return port == 80;
    return parse_port(p, &hp) && hp == port;
}

/* ---- the ring and the counters ---- */

static bool hset_add(struct hset *s, uint64_t h)
{
    if (!h)
        h = 1;
    size_t i = (size_t)(h % HSET_SLOTS);
    while (s->slot[i]) {
        if (s->slot[i] == h)
            return false;
        i = (i + 1) % HSET_SLOTS;
    }
    if (s->n >= MS_WEB_DISTINCT_MAX) {
        s->full = true;
        return false;
    }
    s->slot[i] = h;
    s->n++;
    return true;
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static uint64_t key_hash(const struct ms_web *w, const char *a, const char *b, const char *c)
{
    /* The parts with their NULs: ("ab", "c") is not ("a", "bc"). */
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s%c%s%c%s", a ? a : "", 0, b ? b : "", 0,
                                c ? c : "");
    return ms_siphash24(w->hkey, buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

/* What the counters take from one event: a login without TLS (an alert
 * with a credential), accepted or not; a message. Called with mu held. */
static void count(struct ms_web *w, struct json_object *o)
{
    if (!o)
        return;
    const char *type = get_str(o, "event_type");
    struct json_object *cred, *tls;
    if (type && strcmp(type, "email") == 0) {
        w->c.messages++;
    } else if (type && strcmp(type, "alert") == 0 &&
               json_object_object_get_ex(o, "credential", &cred) &&
               !(json_object_object_get_ex(cred, "tls", &tls) && json_object_get_boolean(tls))) {
        const char *ip = get_str(o, "dest_ip");
        char port[16];
        struct json_object *pv;
        snprintf(port, sizeof(port), "%d",
                 json_object_object_get_ex(o, "dest_port", &pv) ? json_object_get_int(pv) : 0);
        const char *user = get_str(cred, "username");
        const char *outcome = get_str(cred, "outcome");
        w->c.logins++;
        if (user)
            hset_add(&w->c.accounts, key_hash(w, ip, port, user));
        if (outcome && strcmp(outcome, "success") == 0) {
            w->c.accepted++;
            hset_add(&w->c.servers, key_hash(w, ip, port, NULL));
        }
    }
}

/* --pseudonymize: a string replaced by prefix and 8 hex digits of its
 * HMAC under the run's key: the same name gives the same pseudonym all
 * run long, and the name cannot be read back. */
static void pseudo_str(const struct ms_web *w, struct json_object *parent, const char *key,
                       size_t idx, const char *prefix)
{
    struct json_object *v = key ? NULL : json_object_array_get_idx(parent, idx);
    if (key && !json_object_object_get_ex(parent, key, &v))
        return;
    if (!v || !json_object_is_type(v, json_type_string))
        return;
    char hex[MS_HMAC_HEX_LEN + 1], out[32];
    const char *str = json_object_get_string(v);
    if (!ms_secret_hmac(w->pkey, sizeof(w->pkey),
                        ms_bytes_of(str, (size_t)json_object_get_string_len(v)), hex))
        snprintf(hex, sizeof(hex), "????????");
    snprintf(out, sizeof(out), "%s-%.8s", prefix, hex);
    struct json_object *n = json_object_new_string(out);
    if (key)
        json_object_object_add(parent, key, n);
    else
        json_object_array_put_idx(parent, idx, n);
}

static void pseudo_list(const struct ms_web *w, struct json_object *parent, const char *key,
                        const char *prefix)
{
    struct json_object *a;
    if (!json_object_object_get_ex(parent, key, &a) || !json_object_is_type(a, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        pseudo_str(w, a, NULL, i, prefix);
}

/* Who the event names: user names (credentials, a session's logins) and
 * the people of a message (from, to, cc, the SMTP envelope). What may
 * quote a name freely goes: a server's reply, hashcat lines, responses. */
static void pseudonymize(const struct ms_web *w, struct json_object *o)
{
    struct json_object *x, *list;
    if (json_object_object_get_ex(o, "credential", &x)) {
        pseudo_str(w, x, "username", 0, "user");
        pseudo_str(w, x, "authzid", 0, "user");
        pseudo_str(w, x, "domain", 0, "domain");
        pseudo_str(w, x, "workstation", 0, "host");
        json_object_object_del(x, "server_reply");
        json_object_object_del(x, "hashcat");
        json_object_object_del(x, "response");
    }
    if (json_object_object_get_ex(o, "session", &x) &&
        json_object_object_get_ex(x, "login_list", &list) &&
        json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++)
            pseudo_str(w, json_object_array_get_idx(list, i), "username", 0, "user");
    }
    if (json_object_object_get_ex(o, "email", &x)) {
        pseudo_str(w, x, "from", 0, "person");
        pseudo_list(w, x, "to", "person");
        pseudo_list(w, x, "cc", "person");
    }
    if (json_object_object_get_ex(o, "smtp", &x)) {
        pseudo_str(w, x, "mail_from", 0, "person");
        pseudo_list(w, x, "rcpt_to", "person");
    }
}

/* What the page never shows goes, whatever the options: a body may quote
 * a password, and a HELO, a Message-ID, links and a server's reply may
 * name a person or a host. The EVE outputs keep them. */
static void trim_for_page(struct json_object *o)
{
    struct json_object *x;
    if (json_object_object_get_ex(o, "email", &x)) {
        json_object_object_del(x, "body_excerpt");
        json_object_object_del(x, "url");
        json_object_object_del(x, "message_id");
        json_object_object_del(x, "server_reply");
    }
    if (json_object_object_get_ex(o, "smtp", &x))
        json_object_object_del(x, "helo");
}

static void ring_drop_oldest(struct ms_web *w)
{
    struct ring_ev *e = &w->ring[w->head];
    w->bytes -= e->len;
    ms_free(e->json);
    e->json = NULL;
    w->head = (w->head + 1) % MS_WEB_RING_EVENTS;
    w->count--;
}

void ms_web_record(void *web, const char *rec, size_t len)
{
    struct ms_web *w = web;
    pthread_mutex_lock(&w->mu);
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o = tok ? json_tokener_parse_ex(tok, rec, (int)len) : NULL;
    json_tokener_free(tok);
    count(w, o);
    /* Only what was rewritten is shown: an event that could not be parsed
     * is not. */
    rec = NULL;
    if (o) {
        trim_for_page(o);
        if (w->pseudonymize)
            pseudonymize(w, o);
        rec = json_object_to_json_string_length(o,
                                                JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE,
                                                &len);
    }
    char *copy = rec ? ms_malloc(len + 1) : NULL;
    w->cversion++;
    uint64_t id = w->next_id++;
    if (copy && len <= MS_WEB_RING_BYTES) {
        memcpy(copy, rec, len);
        copy[len] = '\0';
        while (w->count && (w->count == MS_WEB_RING_EVENTS || w->bytes + len > MS_WEB_RING_BYTES))
            ring_drop_oldest(w);
        struct ring_ev *e = &w->ring[(w->head + w->count) % MS_WEB_RING_EVENTS];
        e->id = id;
        e->json = copy;
        e->len = len;
        w->count++;
        w->bytes += len;
        copy = NULL;
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    json_object_put(o);
    ms_free(copy); /* out of memory, or larger than the ring: its id is skipped */
}

/* ---- the SSE stream ---- */

struct stream {
    struct ms_web *w;
    uint64_t next;     /* the id to send next */
    uint64_t cversion; /* of the counters sent last (0: none yet) */
    bool reset;        /* the page's id is of another run: reset first */
    char *pend;        /* a message being sent */
    size_t plen, poff;
};

/* A message formatted into memory of ours (ms_malloc); -1 when out of it. */
__attribute__((format(printf, 2, 3))) static int fmt_alloc(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = n >= 0 ? ms_malloc((size_t)n + 1) : NULL;
    if (!*out)
        return -1;
    va_start(ap, fmt);
    (void)vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return n;
}

/* m, n bytes (from fmt_alloc; n < 0: none), is what s sends next. */
static bool set_pending(struct stream *s, char *m, int n)
{
    if (n < 0)
        return false;
    s->pend = m;
    s->plen = (size_t)n;
    s->poff = 0;
    return true;
}

/* The next message for s, into s->pend; false when there is none yet.
 * Called with mu held. */
static bool next_message(struct stream *s)
{
    struct ms_web *w = s->w;
    char *m = NULL;
    int n = -1;
    if (s->reset) {
        s->reset = false;
        n = fmt_alloc(&m, "event: reset\ndata: {}\n\n");
        return set_pending(s, m, n);
    }
    uint64_t first = w->count ? w->ring[w->head].id : w->next_id;
    if (s->next < first)
        s->next = first; /* older ones left the ring: the counters say they were there */
    if (s->next < w->next_id && w->count) {
        /* Ids are consecutive in the ring but for a record that did not
         * fit (never kept): then the first one past it. */
        size_t k = (size_t)(s->next - first) < w->count ? (size_t)(s->next - first) : 0;
        if (w->ring[(w->head + k) % MS_WEB_RING_EVENTS].id != s->next)
            k = 0;
        while (k < w->count && w->ring[(w->head + k) % MS_WEB_RING_EVENTS].id < s->next)
            k++;
        if (k < w->count) {
            const struct ring_ev *e = &w->ring[(w->head + k) % MS_WEB_RING_EVENTS];
            n = fmt_alloc(&m, "id: %s-%llu\ndata: %s\n\n", w->run, (unsigned long long)e->id,
                          e->json);
            s->next = e->id + 1;
        } else {
            s->next = w->next_id;
        }
    } else if (s->next < w->next_id) {
        s->next = w->next_id;
    }
    if (n < 0 && s->cversion != w->cversion + 1 && s->next >= w->next_id) {
        n = fmt_alloc(&m,
                      "event: counters\ndata: {\"last_id\":%llu,\"logins\":%llu,\"accepted\":%llu,"
                      "\"accounts\":%zu,\"accounts_capped\":%s,\"servers_no_tls\":%zu,"
                      "\"servers_capped\":%s,\"messages\":%llu}\n\n",
                      (unsigned long long)(w->next_id - 1), (unsigned long long)w->c.logins,
                      (unsigned long long)w->c.accepted, w->c.accounts.n,
                      w->c.accounts.full ? "true" : "false", w->c.servers.n,
                      w->c.servers.full ? "true" : "false", (unsigned long long)w->c.messages);
        s->cversion = w->cversion + 1;
    }
    return set_pending(s, m, n);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    struct ms_web *w = s->w;
    if (!s->pend) {
        pthread_mutex_lock(&w->mu);
        while (!w->stopping && !next_message(s)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += MS_WEB_KEEPALIVE_MS / 1000;
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT && !w->stopping) {
                /* A comment: nothing for the page, but a write that finds
                 * a browser gone. */
                int n = fmt_alloc(&s->pend, ": keep-alive\n\n");
                s->plen = n > 0 ? (size_t)n : 0;
                s->poff = 0;
                break;
            }
        }
        bool stop = w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!s->pend)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->plen - s->poff < max ? s->plen - s->poff : max;
    memcpy(buf, s->pend + s->poff, n);
    s->poff += n;
    if (s->poff == s->plen) {
        ms_free(s->pend);
        s->pend = NULL;
    }
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    ms_free(s->pend);
    ms_free(s);
}

/* ---- requests ---- */

static void add_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'self'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *body, size_t len, const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_headers(r, type);
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
}

static bool token_ok(const struct ms_web *w, const char *given)
{
    return given && strlen(given) == TOKEN_HEX && CRYPTO_memcmp(given, w->token, TOKEN_HEX) == 0;
}

static enum MHD_Result events(struct ms_web *w, struct MHD_Connection *c)
{
    struct stream *s = ms_calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    s->w = w;
    s->next = 1;
    /* "RUN-N": resume after N only when RUN is this run's; any other id
     * is of an earlier run (ids restart at 1) or made up: everything kept,
     * after a reset that clears the page. */
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (last) {
        const char *num = last + RUN_HEX + 1;
        char *end;
        errno = 0;
        unsigned long long v = 0;
        bool ours = strlen(last) > RUN_HEX + 1 && strncmp(last, w->run, RUN_HEX) == 0 &&
                    last[RUN_HEX] == '-' && *num >= '0' && *num <= '9';
        if (ours)
            v = strtoull(num, &end, 10);
        if (ours && !errno && !*end && v < UINT64_MAX)
            s->next = (uint64_t)v + 1;
        else
            s->reset = true;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read,
                                                               s, stream_free);
    if (!r) {
        ms_free(s);
        return MHD_NO;
    }
    add_headers(r, "text/event-stream");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* libmicrohttpd's MHD_AccessHandlerCallback: its signature, const or not. */
/* NOLINTBEGIN(readability-non-const-parameter): see above */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
/* NOLINTEND(readability-non-const-parameter) */
{
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)con_cls;
    struct ms_web *w = cls;
    /* A whole request came: from now on the longer idle time (an SSE
     * stream sends a keep-alive well within it). */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)MS_WEB_IDLE_S);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (!ms_web_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"), w->port,
                        w->loopback))
        return text_reply(c, MHD_HTTP_MISDIRECTED_REQUEST, "wrong Host\n");
    if (w->token[0]) {
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (token_ok(w, q)) {
            /* The cookie, and the page without the token, so that it does
             * not stay in the address bar of a projected screen. Always
             * "/": the path asked (say "//host") is never echoed. */
            char cookie[128];
            snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict", w->cookie,
                     w->token);
            struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "",
                                                                     MHD_RESPMEM_PERSISTENT);
            if (!r)
                return MHD_NO;
            add_headers(r, NULL);
            MHD_add_response_header(r, "Set-Cookie", cookie);
            MHD_add_response_header(r, "Location", "/");
            enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
            MHD_destroy_response(r);
            return ret;
        }
        if (!token_ok(w, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, w->cookie)))
            return text_reply(c, MHD_HTTP_FORBIDDEN,
                              "open the address with ?token= that mailspill printed\n");
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", ms_web_index_html,
                     ms_web_index_html_len, NULL);
    if (strcmp(url, "/app.js") == 0)
        return reply(c, MHD_HTTP_OK, "text/javascript; charset=utf-8", ms_web_app_js,
                     ms_web_app_js_len, NULL);
    if (strcmp(url, "/app.css") == 0)
        return reply(c, MHD_HTTP_OK, "text/css; charset=utf-8", ms_web_app_css, ms_web_app_css_len,
                     NULL);
    if (strcmp(url, "/events") == 0)
        return events(w, c);
    if (strcmp(url, "/favicon.ico") == 0) /* asked by every browser: none, no error */
        return reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0, NULL);
    return text_reply(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- start and end ---- */

static void free_web(struct ms_web *w)
{
    while (w->count)
        ring_drop_oldest(w);
    ms_free(w->c.accounts.slot);
    ms_free(w->c.servers.slot);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    ms_free(w);
}

static void make_token(struct ms_web *w)
{
    uint8_t r[TOKEN_HEX / 2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* Never a guessable token: the key of the hash (getrandom or
         * the clock) will not do here, so stop with no token at all. */
        w->token[0] = '\0';
        return;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(w->token + 2 * i, 3, "%02x", r[i]);
}

struct ms_web *ms_web_open(const char *spec, bool pseudonymize, char *err, size_t errlen)
{
    bool v6;
    struct ms_web *w = ms_calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->next_id = 1;
    w->c.accounts.slot = ms_calloc(HSET_SLOTS, sizeof(uint64_t));
    w->c.servers.slot = ms_calloc(HSET_SLOTS, sizeof(uint64_t));
    if (!w->c.accounts.slot || !w->c.servers.slot) {
        snprintf(err, errlen, "out of memory");
        free_web(w);
        return NULL;
    }
    if (ms_web_parse_addr(spec, w->addr, &w->port, &v6, &w->loopback, err, errlen) != MS_OK) {
        free_web(w);
        return NULL;
    }
    ms_siphash_random_key(w->hkey);
    /* Only needs to differ between runs; a hash, not the key's bytes. */
    snprintf(w->run, sizeof(w->run), "%08x", (unsigned)(ms_siphash24(w->hkey, "run", 3) >> 32));
    w->pseudonymize = pseudonymize;
    if (pseudonymize && getrandom(w->pkey, sizeof(w->pkey), 0) != (ssize_t)sizeof(w->pkey)) {
        snprintf(err, errlen, "--pseudonymize: no random source for the key");
        free_web(w);
        return NULL;
    }
    if (!w->loopback) {
        make_token(w);
        if (!w->token[0]) {
            snprintf(err, errlen, "--web: no random source for the access token");
            free_web(w);
            return NULL;
        }
    }
    struct sockaddr_in sa4 = { 0 };
    struct sockaddr_in6 sa6 = { 0 };
    const struct sockaddr *sa = (const struct sockaddr *)&sa4;
    if (v6) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons(w->port);
        inet_pton(AF_INET6, w->addr, &sa6.sin6_addr);
        sa = (const struct sockaddr *)&sa6;
    } else {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons(w->port);
        inet_pton(AF_INET, w->addr, &sa4.sin_addr);
    }
    /* The server's threads inherit this mask: the main thread takes every
     * signal (SIGINT ends the run). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* On loopback every client has the same address: no per-address cap. */
    w->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                (v6 ? MHD_USE_IPv6 : 0),
                            w->port, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MS_WEB_CONNECTIONS_MAX,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            w->loopback ? 0u : (unsigned)MS_WEB_PER_IP_MAX,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MS_WEB_REQUEST_S,
                            MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->d) {
        snprintf(err, errlen,
                 "--web: cannot listen on %s port %u (in use, or not an address "
                 "of this host)",
                 w->addr, (unsigned)w->port);
        free_web(w);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
    if (di && di->port)
        w->port = di->port;
    snprintf(w->cookie, sizeof(w->cookie), COOKIE "%u", (unsigned)w->port);
    snprintf(w->url, sizeof(w->url), "http://%s%s%s:%u/%s%s", v6 ? "[" : "", w->addr, v6 ? "]" : "",
             (unsigned)w->port, w->token[0] ? "?token=" : "", w->token);
    return w;
}

const char *ms_web_url(const struct ms_web *w)
{
    return w->url;
}

bool ms_web_loopback(const struct ms_web *w)
{
    return w->loopback;
}

void ms_web_close(struct ms_web *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    MHD_stop_daemon(w->d);
    free_web(w);
}
