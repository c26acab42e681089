#include "text_summary.h"

#include <ctype.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/limits.h"
#include "../common/siphash.h"

struct row {
    uint8_t ip_version;
    uint8_t addr[16];
    uint16_t port;
    char proto[8];
    uint64_t sessions, logins, accepted, messages, offered, used;
    uint64_t accounts[MS_TEXT_SUMMARY_ACCOUNTS]; /* keyed hashes of user names */
    size_t n_accounts;
    bool accounts_full; /* more than the cap were seen */
};

struct ms_text_summary {
    struct row rows[MS_TEXT_SUMMARY_SERVERS];
    size_t n;
    struct row more;                                 /* every server past the cap */
    uint64_t more_servers[MS_TEXT_SUMMARY_ACCOUNTS]; /* keyed hashes of its servers */
    size_t n_more;
    bool more_full;
    uint8_t key[MS_SIPHASH_KEY_LEN];
};

struct ms_text_summary *ms_text_summary_new(void)
{
    struct ms_text_summary *s = ms_calloc(1, sizeof(*s));
    if (s)
        ms_siphash_random_key(s->key);
    return s;
}

void ms_text_summary_free(struct ms_text_summary *s)
{
    ms_free(s);
}

static bool same(const struct row *r, const struct ms_flow_meta *m, const char *proto)
{
    size_t alen = m->ip_version == 6 ? 16 : 4;
    return r->ip_version == m->ip_version && r->port == m->dest_port &&
           memcmp(r->addr, m->dest_addr, alen) == 0 && strcmp(r->proto, proto) == 0;
}

/* The row of the event's server; a new one while there is room, else the
 * "more" row (which tells its servers apart to count them). */
static struct row *row_of(struct ms_text_summary *s, const struct ms_flow_meta *m,
                          const char *proto)
{
    for (size_t i = 0; i < s->n; i++) {
        if (same(&s->rows[i], m, proto))
            return &s->rows[i];
    }
    if (s->n == MS_TEXT_SUMMARY_SERVERS) {
        uint8_t k[16 + 2 + sizeof(s->more.proto)];
        size_t alen = m->ip_version == 6 ? 16 : 4;
        size_t plen = strnlen(proto, sizeof(s->more.proto));
        memcpy(k, m->dest_addr, alen);
        k[alen] = (uint8_t)(m->dest_port >> 8);
        k[alen + 1] = (uint8_t)m->dest_port;
        memcpy(k + alen + 2, proto, plen);
        uint64_t h = ms_siphash24(s->key, k, alen + 2 + plen);
        size_t i = 0;
        while (i < s->n_more && s->more_servers[i] != h)
            i++;
        if (i == s->n_more && i < MS_TEXT_SUMMARY_ACCOUNTS)
            s->more_servers[s->n_more++] = h;
        else if (i == s->n_more)
            s->more_full = true;
        return &s->more;
    }
    struct row *r = &s->rows[s->n++];
    r->ip_version = m->ip_version;
    memcpy(r->addr, m->dest_addr, m->ip_version == 6 ? 16 : 4);
    r->port = m->dest_port;
    snprintf(r->proto, sizeof(r->proto), "%s", proto);
    return r;
}

/* An account is a (server, user name): the "more" row tells its servers'
 * accounts apart by hashing the server in. */
static void add_account(struct ms_text_summary *s, struct row *r, const struct ms_flow_meta *m,
                        struct ms_bytes user)
{
    if (!user.p)
        return;
    uint8_t buf[16 + 2 + MS_SESSION_USER_MAX];
    size_t alen = m->ip_version == 6 ? 16 : 4;
    size_t ulen = user.len < MS_SESSION_USER_MAX ? user.len : MS_SESSION_USER_MAX;
    memcpy(buf, m->dest_addr, alen);
    buf[alen] = (uint8_t)(m->dest_port >> 8);
    buf[alen + 1] = (uint8_t)m->dest_port;
    memcpy(buf + alen + 2, user.p, ulen);
    uint64_t h = ms_siphash24(s->key, buf, alen + 2 + ulen);
    for (size_t i = 0; i < r->n_accounts; i++) {
        if (r->accounts[i] == h)
            return;
    }
    if (r->n_accounts == MS_TEXT_SUMMARY_ACCOUNTS)
        r->accounts_full = true;
    else
        r->accounts[r->n_accounts++] = h;
}

void ms_text_summary_add(struct ms_text_summary *s, const struct ms_flow_meta *m,
                         const struct ms_event *ev)
{
    if (!s || !m->flow_id || !ev->app_proto)
        return;
    if (ev->kind == MS_EV_SESSION) {
        const struct ms_ev_session *e = &ev->u.session;
        struct row *r = row_of(s, m, ev->app_proto);
        r->sessions++;
        /* Logins and messages by the session's counts: they cover what
         * --dedup kept out of the view, and implicit TLS has none. */
        if (e->tls != MS_SESSION_TLS_IMPLICIT) {
            r->logins += e->logins[0] + e->logins[1] + e->logins[2];
            r->accepted += e->logins[MS_OUTCOME_SUCCESS];
            r->messages += e->messages;
        }
        if (e->posture && e->posture->starttls_offered == MS_TRI_TRUE)
            r->offered++;
        if (e->tls == MS_SESSION_TLS_STARTTLS)
            r->used++;
        for (size_t i = 0; i < e->n_login_list; i++)
            add_account(s, r, m, e->login_list[i].username);
    } else if (ev->kind == MS_EV_CREDENTIAL) {
        /* Sessions list their first logins only: every credential event
         * names its user. */
        struct row *r = row_of(s, m, ev->app_proto);
        add_account(s, r, m, ev->u.cred.username);
    }
}

static void put_accounts(const struct row *r, char *out, size_t n)
{
    snprintf(out, n, "%zu%s", r->n_accounts, r->accounts_full ? "+" : "");
}

static int put_row(FILE *fp, const char *name, int w, const struct row *r, const char *accounts)
{
    return fprintf(fp, "  %-*s %8llu %8llu %8s %8llu %8llu %8llu/%llu\n", w, name,
                   (unsigned long long)r->sessions, (unsigned long long)r->logins, accounts,
                   (unsigned long long)r->accepted, (unsigned long long)r->messages,
                   (unsigned long long)r->offered, (unsigned long long)r->used) < 0
               ? -1
               : 0;
}

static void row_name(const struct row *r, char *out, size_t n)
{
    char a[MS_ADDR_STRLEN];
    ms_addr_str(r->ip_version, r->addr, true, a, sizeof(a));
    bool v6 = r->ip_version == 6;
    char up[sizeof(r->proto)];
    size_t i = 0;
    for (; i < sizeof(up) - 1 && r->proto[i]; i++) {
        up[i] = (char)toupper((unsigned char)r->proto[i]);
    }
    up[i] = '\0';
    snprintf(out, n, "%-4s %s%s%s:%u", up, v6 ? "[" : "", a, v6 ? "]" : "", r->port);
}

/* Rows by protocol, address, port: the same table whatever order the
 * worker threads of --threads saw the servers in. */
static int row_cmp(const struct row *a, const struct row *b)
{
    int c = strcmp(a->proto, b->proto);
    if (c == 0)
        c = (int)a->ip_version - (int)b->ip_version;
    if (c == 0)
        c = memcmp(a->addr, b->addr, sizeof(a->addr));
    if (c == 0)
        c = (int)a->port - (int)b->port;
    return c;
}

int ms_text_summary_write(const struct ms_text_summary *s, FILE *fp)
{
    /* An insertion sort: at most MS_TEXT_SUMMARY_SERVERS rows. */
    const struct row *sorted[MS_TEXT_SUMMARY_SERVERS + 1] = { NULL };
    for (size_t i = 0; i < s->n; i++) {
        size_t j = i;
        for (; j > 0 && row_cmp(sorted[j - 1], &s->rows[i]) > 0; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = &s->rows[i];
    }
    sorted[s->n] = &s->more;
    if (s->n == 0)
        return fputs("Summary: no mail session seen\n", fp) < 0 ? -1 : 0;
    char name[MS_ADDR_STRLEN + 32], acc[32];
    int w = (int)strlen("server");
    for (size_t i = 0; i < s->n; i++) {
        row_name(&s->rows[i], name, sizeof(name));
        if ((int)strlen(name) > w)
            w = (int)strlen(name);
    }
    struct row total = { 0 };
    uint64_t accounts = 0;
    bool full = false;
    if (fprintf(fp, "Summary, per server:\n  %-*s %8s %8s %8s %8s %8s %s\n", w, "server",
                "sessions", "logins", "accounts", "accepted", "messages",
                "STARTTLS offered/used") < 0)
        return -1;
    for (size_t i = 0; i <= s->n; i++) {
        const struct row *r = sorted[i];
        if (i == s->n && !r->sessions && !r->n_accounts)
            break;
        if (i < s->n)
            row_name(r, name, sizeof(name));
        else
            snprintf(name, sizeof(name), "%zu%s more server%s", s->n_more, s->more_full ? "+" : "",
                     s->n_more == 1 && !s->more_full ? "" : "s");
        put_accounts(r, acc, sizeof(acc));
        if (put_row(fp, name, w, r, acc) < 0)
            return -1;
        total.sessions += r->sessions;
        total.logins += r->logins;
        total.accepted += r->accepted;
        total.messages += r->messages;
        total.offered += r->offered;
        total.used += r->used;
        accounts += r->n_accounts;
        full = full || r->accounts_full;
    }
    snprintf(acc, sizeof(acc), "%llu%s", (unsigned long long)accounts, full ? "+" : "");
    return put_row(fp, "total", w, &total, acc);
}
