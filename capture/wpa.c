#include "wpa.h"

#include <openssl/crypto.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/bytes.h"
#include "../common/limits.h"
#include "../common/lru.h"
#include "../common/siphash.h"
#include "wpa_crypto.h"

/* What a network or client uses, as far as its RSN element or EAPOL-Key
 * descriptor version tells. */
enum sec {
    SEC_UNKNOWN = 0,
    SEC_PSK,        /* AKM 2: PRF-SHA1 PTK, HMAC-SHA1 MIC */
    SEC_PSK_SHA256, /* AKM 6: KDF-SHA256 PTK, AES-CMAC MIC */
    SEC_SAE,
    SEC_ENTERPRISE,
    SEC_UNSUPPORTED
};

/* EAPOL-Key frame offsets, from the EAPOL header on (12.7.2). */
#define EK_DESC 4
#define EK_INFO 5
#define EK_REPLAY 9
#define EK_NONCE 17
#define EK_MIC 81
#define EK_DATA_LEN 97
#define EK_DATA 99

#define KI_VERSION 0x0007
#define KI_PAIRWISE 0x0008
#define KI_ACK 0x0080
#define KI_MIC 0x0100
#define KI_ENC_DATA 0x1000

#define NODE_KEY_LEN ((size_t)2 * MS_MAC_LEN)

/* A bucket chain link and recency node; key: BSSID, then the station (zero
 * for networks). */
struct node {
    struct node *hnext;
    struct ms_lru_node lru;
    bool keyed; /* on the table's keyed list */
    uint8_t key[NODE_KEY_LEN];
};

struct table {
    struct node **b;
    size_t nb; /* power of two */
    size_t max;
    /* Entries holding keys (a PTK, a GTK) are forgotten only when every
     * entry does: frames of made-up addresses, which create entries as
     * cheaply as they come, push out only their like. */
    struct ms_lru lru, keyed;
    uint8_t hash_key[MS_SIPHASH_KEY_LEN];
    void (*drop)(struct node *);
};

struct secret {
    uint8_t ssid[MS_WPA_SSID_MAX];
    size_t ssid_len; /* 0: a PMK given as such, tried on every network */
    uint8_t pmk[MS_WPA_PMK_LEN];
};

struct network {
    struct node n; /* first: the table's nodes are networks */
    uint8_t ssid[MS_WPA_SSID_MAX];
    size_t ssid_len;
    uint8_t sec;     /* from beacons and probe responses */
    uint8_t gtk_set; /* bit i: gtk[i] installed */
    uint8_t gtk[4][MS_WPA_TK_LEN];
    uint32_t told; /* statuses of group frames said once */
};

/* An ANonce and the replay counters of the message 1s that carried it
 * (retransmissions count up, and message 2 may answer any of them). */
struct anonce {
    uint8_t nonce[MS_WPA_NONCE_LEN];
    uint64_t replay_lo, replay_hi;
    uint64_t seen_us; /* the last message 1 or 3 with it */
    bool valid;
};

struct ptk {
    uint8_t kck[MS_WPA_KCK_LEN], kek[MS_WPA_KEK_LEN], tk[MS_WPA_TK_LEN];
    uint8_t anonce[MS_WPA_NONCE_LEN], snonce[MS_WPA_NONCE_LEN];
    bool valid;
};

struct client {
    struct node n;
    uint8_t sec;       /* from its (re)association request */
    uint8_t eapol_sec; /* from its last EAPOL-Key frame (TKIP's, AKM-defined): no MIC
                        * vouches for it, so the next WPA2 one undoes it */
    struct anonce an[MS_WPA_ANONCES];
    unsigned an_next;
    struct ptk cur, old; /* old: the one before a re-key, for frames in flight */
    uint8_t *m2;         /* a message 2 waiting for its ANonce (message 3) */
    size_t m2_len;
    uint64_t m2_us;
    enum ms_wpa_status verdict; /* of its last message 2 */
    uint32_t told;
};

struct ms_wpa {
    struct ms_wpa_crypto *c;
    struct table nets, clients;
    struct secret *secrets;
    size_t nsecrets;
    struct ms_wpa_stats st;
    uint8_t eapol[MS_WPA_EAPOL_MAX];
    uint8_t plain[MS_WPA_FRAME_MAX];
};

static const char *const status_names[MS_WPA_STATUS_COUNT] = {
    [MS_WPA_OK] = "ok",
    [MS_WPA_NO_HANDSHAKE] = "no_handshake",
    [MS_WPA_WRONG_SECRET] = "wrong_passphrase",
    [MS_WPA_NO_SECRET] = "no_passphrase",
    [MS_WPA_SAE] = "wpa3_sae",
    [MS_WPA_ENTERPRISE] = "enterprise",
    [MS_WPA_UNSUPPORTED] = "unsupported",
    [MS_WPA_DECRYPT_FAILED] = "decrypt_failed",
    [MS_WPA_MALFORMED] = "malformed",
};

const char *ms_wpa_status_name(enum ms_wpa_status s)
{
    return (unsigned)s < MS_WPA_STATUS_COUNT ? status_names[s] : "unknown";
}

/* ---- the bounded tables ---------------------------------------------- */

static bool table_init(struct table *t, size_t max, void (*drop)(struct node *))
{
    t->nb = 64;
    while (t->nb < max)
        t->nb <<= 1;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    t->b = ms_calloc(t->nb, sizeof(*t->b));
    t->max = max;
    t->drop = drop;
    ms_lru_init(&t->lru);
    ms_lru_init(&t->keyed);
    ms_siphash_random_key(t->hash_key);
    return t->b != NULL;
}

static struct ms_lru *list_of(struct table *t, const struct node *n)
{
    return n->keyed ? &t->keyed : &t->lru;
}

static size_t table_count(const struct table *t)
{
    return ms_lru_count(&t->lru) + ms_lru_count(&t->keyed);
}

/* n now holds keys: kept past the entries that hold none. */
static void table_set_keyed(struct table *t, struct node *n)
{
    if (n->keyed)
        return;
    ms_lru_remove(&t->lru, &n->lru);
    n->keyed = true;
    ms_lru_push(&t->keyed, &n->lru);
}

static struct node **bucket(struct table *t, const uint8_t key[NODE_KEY_LEN])
{
    return &t->b[ms_siphash24(t->hash_key, key, NODE_KEY_LEN) & (t->nb - 1)];
}

static struct node *table_find(struct table *t, const uint8_t key[NODE_KEY_LEN])
{
    for (struct node *n = *bucket(t, key); n; n = n->hnext)
        if (memcmp(n->key, key, sizeof(n->key)) == 0) {
            ms_lru_touch(list_of(t, n), &n->lru);
            return n;
        }
    return NULL;
}

static void table_remove(struct table *t, struct node *n)
{
    struct node **link = bucket(t, n->key);
    while (*link && *link != n)
        link = &(*link)->hnext;
    if (*link)
        *link = n->hnext;
    ms_lru_remove(list_of(t, n), &n->lru);
    t->drop(n);
}

/* Links n (key filled) in, forgetting past the cap the least recently
 * seen entry without keys, else the least recently seen; true when one was
 * forgotten. */
static bool table_insert(struct table *t, struct node *n)
{
    bool evicted = false;
    if (table_count(t) >= t->max) {
        struct ms_lru_node *o = ms_lru_oldest(&t->lru);
        if (!o)
            o = ms_lru_oldest(&t->keyed);
        if (o) {
            table_remove(t, MS_LRU_ENTRY(o, struct node, lru));
            evicted = true;
        }
    }
    struct node **b = bucket(t, n->key);
    n->hnext = *b;
    *b = n;
    ms_lru_push(&t->lru, &n->lru);
    return evicted;
}

static void table_free(struct table *t)
{
    struct ms_lru_node *o;
    if (!t->b)
        return;
    while ((o = ms_lru_oldest(&t->lru)) || (o = ms_lru_oldest(&t->keyed))) {
        struct node *n = MS_LRU_ENTRY(o, struct node, lru);
        ms_lru_remove(list_of(t, n), o);
        t->drop(n);
    }
    ms_free(t->b);
    t->b = NULL;
}

static void drop_network(struct node *n)
{
    OPENSSL_cleanse(n, sizeof(struct network));
    ms_free(n);
}

static void drop_client(struct node *n)
{
    struct client *c = (struct client *)(void *)n;
    if (c->m2) {
        OPENSSL_cleanse(c->m2, c->m2_len);
        ms_free(c->m2);
    }
    OPENSSL_cleanse(c, sizeof(*c));
    ms_free(c);
}

static void make_key(uint8_t key[NODE_KEY_LEN], const uint8_t *bssid, const uint8_t *sta)
{
    memcpy(key, bssid, MS_MAC_LEN);
    if (sta)
        memcpy(key + MS_MAC_LEN, sta, MS_MAC_LEN);
    else
        memset(key + MS_MAC_LEN, 0, MS_MAC_LEN);
}

/* NULL when out of memory. */
static struct network *network_get(struct ms_wpa *w, const uint8_t *bssid)
{
    uint8_t key[NODE_KEY_LEN];
    make_key(key, bssid, NULL);
    struct node *n = table_find(&w->nets, key);
    if (n)
        return (struct network *)(void *)n;
    struct network *net = ms_calloc(1, sizeof(*net));
    if (!net)
        return NULL;
    memcpy(net->n.key, key, sizeof(key));
    table_insert(&w->nets, &net->n);
    return net;
}

static struct client *client_get(struct ms_wpa *w, const uint8_t *bssid, const uint8_t *sta)
{
    uint8_t key[NODE_KEY_LEN];
    make_key(key, bssid, sta);
    struct node *n = table_find(&w->clients, key);
    if (n)
        return (struct client *)(void *)n;
    struct client *c = ms_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    memcpy(c->n.key, key, sizeof(key));
    if (table_insert(&w->clients, &c->n))
        w->st.clients_evicted++;
    return c;
}

/* ---- secrets ----------------------------------------------------------- */

struct ms_wpa *ms_wpa_new(void)
{
    struct ms_wpa *w = ms_calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->c = ms_wpa_crypto_new();
    if (!w->c || !table_init(&w->nets, MS_WPA_NETWORKS_MAX, drop_network) ||
        !table_init(&w->clients, MS_WPA_CLIENTS_MAX, drop_client)) {
        ms_wpa_free(w);
        return NULL;
    }
    return w;
}

void ms_wpa_free(struct ms_wpa *w)
{
    if (!w)
        return;
    table_free(&w->clients);
    table_free(&w->nets);
    if (w->secrets) {
        OPENSSL_cleanse(w->secrets, w->nsecrets * sizeof(*w->secrets));
        ms_free(w->secrets);
    }
    ms_wpa_crypto_free(w->c);
    OPENSSL_cleanse(w, sizeof(*w));
    ms_free(w);
}

static enum ms_rc add_secret(struct ms_wpa *w, const uint8_t *ssid, size_t ssid_len,
                             const uint8_t pmk[MS_WPA_PMK_LEN])
{
    for (size_t i = 0; i < w->nsecrets; i++) {
        const struct secret *s = &w->secrets[i];
        if (s->ssid_len == ssid_len && memcmp(s->ssid, ssid, ssid_len) == 0 &&
            CRYPTO_memcmp(s->pmk, pmk, MS_WPA_PMK_LEN) == 0)
            return MS_OK;
    }
    if (w->nsecrets >= MS_WPA_SECRETS_MAX)
        return MS_ERR_LIMIT;
    /* A fresh block each time, the old one wiped: ms_realloc would leave
     * copies of PMKs behind in freed memory. */
    struct secret *s = ms_malloc((w->nsecrets + 1) * sizeof(*s));
    if (!s)
        return MS_ERR_NOMEM;
    if (w->secrets) {
        memcpy(s, w->secrets, w->nsecrets * sizeof(*s));
        OPENSSL_cleanse(w->secrets, w->nsecrets * sizeof(*s));
        ms_free(w->secrets);
    }
    w->secrets = s;
    struct secret *n = &s[w->nsecrets++];
    memset(n, 0, sizeof(*n));
    memcpy(n->ssid, ssid, ssid_len);
    n->ssid_len = ssid_len;
    memcpy(n->pmk, pmk, MS_WPA_PMK_LEN);
    return MS_OK;
}

enum ms_rc ms_wpa_add_passphrase(struct ms_wpa *w, const uint8_t *ssid, size_t ssid_len,
                                 const char *pass, size_t pass_len)
{
    if (!ssid || ssid_len < 1 || ssid_len > MS_WPA_SSID_MAX || !pass || pass_len < 8 ||
        pass_len > 63)
        return MS_ERR_ARG;
    for (size_t i = 0; i < pass_len; i++)
        if (pass[i] < 32 || pass[i] > 126)
            return MS_ERR_ARG;
    uint8_t pmk[MS_WPA_PMK_LEN];
    enum ms_rc rc = ms_wpa_pmk(pass, pass_len, ssid, ssid_len, pmk);
    if (rc == MS_OK)
        rc = add_secret(w, ssid, ssid_len, pmk);
    OPENSSL_cleanse(pmk, sizeof(pmk));
    return rc;
}

enum ms_rc ms_wpa_add_pmk(struct ms_wpa *w, const uint8_t pmk[MS_WPA_PMK_LEN])
{
    static const uint8_t no_ssid[1];
    return pmk ? add_secret(w, no_ssid, 0, pmk) : MS_ERR_ARG;
}

bool ms_wpa_has_secrets(const struct ms_wpa *w)
{
    return w->nsecrets > 0;
}

/* Whether secret s may be the network's: its SSID's, or a bare PMK, or any
 * when the SSID was not learned. */
static bool secret_applies(const struct secret *s, const struct network *net)
{
    if (s->ssid_len == 0 || !net || net->ssid_len == 0)
        return true;
    return s->ssid_len == net->ssid_len && memcmp(s->ssid, net->ssid, s->ssid_len) == 0;
}

static bool any_secret_applies(const struct ms_wpa *w, const struct network *net)
{
    for (size_t i = 0; i < w->nsecrets; i++)
        if (secret_applies(&w->secrets[i], net))
            return true;
    return false;
}

/* ---- management frames -------------------------------------------------- */

static const uint8_t ieee_oui[3] = { 0x00, 0x0f, 0xac };

static enum sec akm_sec(const uint8_t s[4])
{
    if (memcmp(s, ieee_oui, 3) != 0)
        return SEC_UNSUPPORTED;
    switch (s[3]) {
    case 2:
        return SEC_PSK;
    case 6:
        return SEC_PSK_SHA256;
    case 8:  /* SAE */
    case 9:  /* FT over SAE */
    case 24: /* SAE with a group-dependent hash */
    case 25: /* FT over it */
        return SEC_SAE;
    case 1:  /* 802.1X */
    case 3:  /* FT over 802.1X */
    case 5:  /* 802.1X with SHA-256 */
    case 11: /* Suite B */
    case 12: /* Suite B 192 */
    case 13: /* FT 802.1X SHA-384 */
        return SEC_ENTERPRISE;
    default:
        return SEC_UNSUPPORTED; /* FT-PSK, OWE, FILS, ... */
    }
}

/* The security an RSN element (its body) offers: of its AKMs, the one this
 * module reads (PSK, then PSK-SHA256) if any, else why not; UNSUPPORTED
 * when CCMP-128 is not among the pairwise ciphers. An association request
 * names one of each. SEC_UNKNOWN when the element is cut short. */
static enum sec rsn_sec(const uint8_t *p, size_t n)
{
    if (n < 2 + 4 + 2 || ms_le16(p) != 1)
        return SEC_UNKNOWN;
    size_t off = 6;
    size_t np = ms_le16(p + off);
    off += 2;
    if (n < off + 4 * np + 2)
        return SEC_UNKNOWN;
    bool ccmp = false;
    for (size_t i = 0; i < np; i++)
        if (memcmp(p + off + 4 * i, ieee_oui, 3) == 0 && p[off + 4 * i + 3] == 4)
            ccmp = true;
    off += 4 * np;
    size_t na = ms_le16(p + off);
    off += 2;
    if (na == 0 || n < off + 4 * na)
        return SEC_UNKNOWN;
    enum sec best = SEC_UNKNOWN;
    static const uint8_t rank[] = {
        [SEC_UNKNOWN] = 0, [SEC_PSK] = 5,        [SEC_PSK_SHA256] = 4,
        [SEC_SAE] = 3,     [SEC_ENTERPRISE] = 2, [SEC_UNSUPPORTED] = 1
    };
    for (size_t i = 0; i < na; i++) {
        enum sec s = akm_sec(p + off + 4 * i);
        if (rank[s] > rank[best])
            best = s;
    }
    if (!ccmp && (best == SEC_PSK || best == SEC_PSK_SHA256))
        return SEC_UNSUPPORTED; /* TKIP or GCMP only */
    return best;
}

void ms_wpa_management(struct ms_wpa *w, const struct ms_wifi_frame *f)
{
    if (f->type != 0 || !f->body)
        return;
    size_t ies;
    switch (f->subtype) {
    case 0: /* association request: capability, listen interval */
        ies = 4;
        break;
    case 2: /* reassociation request: and the current AP */
        ies = 10;
        break;
    case 5: /* probe response */
    case 8: /* beacon: timestamp, interval, capability */
        ies = 12;
        break;
    default:
        return;
    }
    const uint8_t *bssid = f->bssid ? f->bssid : (f->hdr_len >= 24 ? f->hdr + 16 : NULL);
    if (!bssid || f->body_len < ies || (bssid[0] & 1))
        return;
    bool assoc = f->subtype == 0 || f->subtype == 2;
    uint16_t cap = ms_le16(f->body + (assoc ? 0 : 10));
    const uint8_t *ssid = NULL, *rsn = NULL;
    size_t ssid_len = 0, rsn_len = 0;
    bool wpa1 = false;
    for (size_t off = ies; off + 2 <= f->body_len;) {
        uint8_t id = f->body[off], len = f->body[off + 1];
        const uint8_t *v = f->body + off + 2;
        if (off + 2 + len > f->body_len)
            break;
        if (id == 0 && !ssid) {
            ssid = v;
            ssid_len = len;
        } else if (id == 48 && !rsn) {
            rsn = v;
            rsn_len = len;
        } else if (id == 221 && len >= 4 && v[0] == 0x00 && v[1] == 0x50 && v[2] == 0xf2 &&
                   v[3] == 1) {
            wpa1 = true;
        }
        off += 2 + (size_t)len;
    }
    struct network *net = network_get(w, bssid);
    if (!net)
        return;
    bool hidden = true; /* hidden networks beacon an empty or zeroed SSID */
    for (size_t i = 0; i < ssid_len; i++)
        if (ssid[i])
            hidden = false;
    if (ssid && ssid_len <= MS_WPA_SSID_MAX && !hidden) {
        memcpy(net->ssid, ssid, ssid_len);
        net->ssid_len = ssid_len;
    }
    enum sec s = rsn ? rsn_sec(rsn, rsn_len) : SEC_UNKNOWN;
    if (!rsn && (wpa1 || (cap & 0x0010)))
        s = SEC_UNSUPPORTED; /* WPA (TKIP) or WEP */
    if (s == SEC_UNKNOWN)
        return;
    if (!assoc) {
        net->sec = (uint8_t)s;
    } else if (f->ta) {
        struct client *c = client_get(w, bssid, f->ta);
        if (c)
            c->sec = (uint8_t)s;
    }
}

/* ---- statuses ------------------------------------------------------------ */

static enum ms_wpa_status tell(uint32_t *told, enum ms_wpa_status s, bool *first)
{
    *first = !(*told & (1u << s));
    *told |= 1u << s;
    return s;
}

static void fill_who(struct ms_wpa_who *who, const uint8_t *bssid, const uint8_t *client,
                     const struct network *net)
{
    memset(who, 0, sizeof(*who));
    if (bssid)
        memcpy(who->bssid, bssid, MS_MAC_LEN);
    if (client)
        memcpy(who->client, client, MS_MAC_LEN);
    if (net && net->ssid_len) {
        memcpy(who->ssid, net->ssid, net->ssid_len);
        who->ssid_len = net->ssid_len;
    }
}

/* What the association request or the network's beacons say; then, for
 * data frames (for_data), what the client's EAPOL-Key frames say. */
static enum sec effective_sec(const struct client *c, const struct network *net, bool for_data)
{
    if (c && c->sec != SEC_UNKNOWN)
        return (enum sec)c->sec;
    if (for_data && c && c->eapol_sec != SEC_UNKNOWN)
        return (enum sec)c->eapol_sec;
    return net ? (enum sec)net->sec : SEC_UNKNOWN;
}

static enum ms_wpa_status sec_status(enum sec s)
{
    switch (s) {
    case SEC_SAE:
        return MS_WPA_SAE;
    case SEC_ENTERPRISE:
        return MS_WPA_ENTERPRISE;
    case SEC_UNSUPPORTED:
        return MS_WPA_UNSUPPORTED;
    default:
        return MS_WPA_OK;
    }
}

/* ---- the 4-way handshake ---------------------------------------------------- */

static void add_anonce(struct client *c, const uint8_t *nonce, uint64_t replay, uint64_t now_us)
{
    for (unsigned i = 0; i < MS_WPA_ANONCES; i++)
        if (c->an[i].valid && memcmp(c->an[i].nonce, nonce, MS_WPA_NONCE_LEN) == 0) {
            c->an[i].seen_us = now_us;
            if (replay < c->an[i].replay_lo)
                c->an[i].replay_lo = replay;
            if (replay > c->an[i].replay_hi)
                c->an[i].replay_hi = replay;
            return;
        }
    struct anonce *a = &c->an[c->an_next];
    c->an_next = (c->an_next + 1) % MS_WPA_ANONCES;
    memcpy(a->nonce, nonce, MS_WPA_NONCE_LEN);
    a->replay_lo = a->replay_hi = replay;
    a->seen_us = now_us;
    a->valid = true;
}

static void install_ptk(struct ms_wpa *w, struct client *c, const uint8_t *ptk,
                        const uint8_t *anonce, const uint8_t *snonce)
{
    if (c->cur.valid && memcmp(c->cur.anonce, anonce, MS_WPA_NONCE_LEN) == 0 &&
        memcmp(c->cur.snonce, snonce, MS_WPA_NONCE_LEN) == 0)
        return; /* a retransmitted message 2 */
    c->old = c->cur;
    memcpy(c->cur.kck, ptk, MS_WPA_KCK_LEN);
    memcpy(c->cur.kek, ptk + 16, MS_WPA_KEK_LEN);
    memcpy(c->cur.tk, ptk + 32, MS_WPA_TK_LEN);
    memcpy(c->cur.anonce, anonce, MS_WPA_NONCE_LEN);
    memcpy(c->cur.snonce, snonce, MS_WPA_NONCE_LEN);
    c->cur.valid = true;
    table_set_keyed(&w->clients, &c->n);
    w->st.handshakes++;
}

static void drop_m2(struct client *c)
{
    if (c->m2) {
        OPENSSL_cleanse(c->m2, c->m2_len);
        ms_free(c->m2);
        c->m2 = NULL;
        c->m2_len = 0;
    }
}

static void keep_m2(struct client *c, const uint8_t *m2, size_t len, uint64_t m2_us)
{
    drop_m2(c);
    c->m2 = ms_malloc(len);
    if (c->m2) {
        memcpy(c->m2, m2, len);
        c->m2_len = len;
        c->m2_us = m2_us;
    }
}

/* Whether message 2 (at m2_us, with replay counter replay) answers the
 * message 1 that carried a: the same replay counter, and close in time. A
 * new association starts the counter again: a message 1 of an abandoned
 * handshake long before shares it without being answered. */
static bool answers(const struct anonce *a, uint64_t replay, uint64_t m2_us)
{
    uint64_t gap = m2_us > a->seen_us ? m2_us - a->seen_us : a->seen_us - m2_us;
    return a->replay_lo <= replay && replay <= a->replay_hi && gap <= MS_WPA_M1_M2_MAX_US;
}

/* Message 2 (len bytes, a whole EAPOL frame) of client c: tries each ANonce
 * (those of the message 1 it answers first) with each PMK that may apply,
 * and installs the PTK whose KCK verifies its MIC. A message 2 that no PMK
 * verifies is kept for a message 3 (whose ANonce may be another than that
 * of a message 1 seen before it: a new association starts its replay
 * counter again). at_m1: the kept message 2 tried again at a message 1,
 * which may belong to a later handshake: a failure then says nothing.
 * m2_us: when message 2 came. */
static enum ms_wpa_status try_m2(struct ms_wpa *w, struct client *c, struct network *net,
                                 const uint8_t *m2, size_t len, uint64_t m2_us, bool at_m1)
{
    int ver = ms_be16(m2 + EK_INFO) & KI_VERSION;
    uint64_t replay = ms_be64(m2 + EK_REPLAY);
    const uint8_t *bssid = c->n.key, *sta = c->n.key + MS_MAC_LEN;
    if (!any_secret_applies(w, net)) {
        c->verdict = MS_WPA_NO_SECRET;
        return MS_WPA_NO_SECRET;
    }
    /* Without an association request, the descriptor version tells the
     * AKM: 2 is PSK's HMAC-SHA1, 3 PSK-SHA256's AES-CMAC. */
    bool sha256 = c->sec == SEC_PSK_SHA256 || (c->sec != SEC_PSK && ver == 3);
    memcpy(w->eapol, m2, len);
    memset(w->eapol + EK_MIC, 0, MS_WPA_MIC_LEN);
    bool answered = false; /* an ANonce of the same replay counter was tried */
    uint8_t ptk[MS_WPA_PTK_LEN], mic[MS_WPA_MIC_LEN];
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < MS_WPA_ANONCES; k++) {
            /* newest first */
            const struct anonce *a = &c->an[(c->an_next + MS_WPA_ANONCES - 1 - k) % MS_WPA_ANONCES];
            bool same = answers(a, replay, m2_us);
            if (!a->valid || same != (pass == 0))
                continue;
            if (pass == 0)
                answered = true;
            for (size_t i = 0; i < w->nsecrets; i++) {
                const struct secret *sc = &w->secrets[i];
                if (!secret_applies(sc, net) ||
                    ms_wpa_ptk(w->c, sha256, sc->pmk, bssid, sta, a->nonce, m2 + EK_NONCE, ptk) !=
                        MS_OK ||
                    ms_wpa_eapol_mic(w->c, ver, ptk, w->eapol, len, mic) != MS_OK ||
                    CRYPTO_memcmp(mic, m2 + EK_MIC, MS_WPA_MIC_LEN) != 0)
                    continue;
                install_ptk(w, c, ptk, a->nonce, m2 + EK_NONCE);
                OPENSSL_cleanse(ptk, sizeof(ptk));
                if (net && net->ssid_len == 0 && sc->ssid_len) {
                    memcpy(net->ssid, sc->ssid, sc->ssid_len);
                    net->ssid_len = sc->ssid_len;
                }
                c->verdict = MS_WPA_OK;
                drop_m2(c); /* m2 may be it: not read past here */
                return MS_WPA_OK;
            }
        }
    }
    OPENSSL_cleanse(ptk, sizeof(ptk));
    bool fresh = c->m2 != m2;
    if (fresh)
        keep_m2(c, m2, len, m2_us); /* its message 1 not captured: message 3 brings the ANonce */
    /* A client whose current PTK a PMK verified has the right passphrase:
     * a message 2 no PMK verifies then is damaged or forged. */
    if (!answered || at_m1 || c->cur.valid)
        return MS_WPA_OK;
    if (fresh || c->verdict != MS_WPA_WRONG_SECRET)
        w->st.wrong_secret++;
    c->verdict = MS_WPA_WRONG_SECRET;
    return MS_WPA_WRONG_SECRET;
}

/* The GTK KDE (00-0F-AC:1) in unwrapped Key Data. */
static void find_gtk(struct ms_wpa *w, struct network *net, const uint8_t *kd, size_t n)
{
    for (size_t off = 0; off + 2 <= n;) {
        uint8_t id = kd[off], len = kd[off + 1];
        if (id == 0xdd && len == 0)
            break; /* padding */
        if (off + 2 + len > n)
            break;
        const uint8_t *v = kd + off + 2;
        /* OUI, type, key id byte, reserved byte, the GTK (CCMP-128: 16) */
        if (id == 0xdd && len == 4 + 2 + MS_WPA_TK_LEN && memcmp(v, ieee_oui, 3) == 0 &&
            v[3] == 1) {
            unsigned idx = v[4] & 3;
            const uint8_t *gtk = v + 6;
            if (!(net->gtk_set & (1u << idx)) || memcmp(net->gtk[idx], gtk, MS_WPA_TK_LEN) != 0) {
                memcpy(net->gtk[idx], gtk, MS_WPA_TK_LEN);
                net->gtk_set |= (uint8_t)(1u << idx);
                table_set_keyed(&w->nets, &net->n);
                w->st.group_keys++;
            }
        }
        off += 2 + (size_t)len;
    }
}

/* Message 3 or a group key message 1: checked with the KCK of a PTK of the
 * client (the one of message 3's ANonce, or the current one), the GTK taken
 * from its Key Data. */
static void take_gtk(struct ms_wpa *w, struct client *c, struct network *net, const uint8_t *m,
                     size_t len, bool m3)
{
    int ver = ms_be16(m + EK_INFO) & KI_VERSION;
    size_t kd_len = ms_be16(m + EK_DATA_LEN);
    if (!net || !(ms_be16(m + EK_INFO) & KI_ENC_DATA) || kd_len < 24 || kd_len % 8)
        return;
    struct ptk *cand[2] = { &c->cur, &c->old };
    for (int i = 0; i < 2; i++) {
        struct ptk *p = cand[i];
        if (!p->valid || (m3 && memcmp(p->anonce, m + EK_NONCE, MS_WPA_NONCE_LEN) != 0))
            continue;
        uint8_t mic[MS_WPA_MIC_LEN];
        memcpy(w->eapol, m, len);
        memset(w->eapol + EK_MIC, 0, MS_WPA_MIC_LEN);
        if (ms_wpa_eapol_mic(w->c, ver, p->kck, w->eapol, len, mic) != MS_OK ||
            CRYPTO_memcmp(mic, m + EK_MIC, MS_WPA_MIC_LEN) != 0)
            continue;
        /* w->eapol is free again: the unwrapped Key Data goes there. */
        if (ms_wpa_key_unwrap(w->c, p->kek, m + EK_DATA, kd_len, w->eapol) == MS_OK)
            find_gtk(w, net, w->eapol, kd_len - 8);
        OPENSSL_cleanse(w->eapol, len);
        return;
    }
}

enum ms_wpa_status ms_wpa_eapol(struct ms_wpa *w, const struct ms_wifi_frame *f,
                                const uint8_t *eapol, size_t len, struct ms_wpa_who *who,
                                bool *first)
{
    *first = false;
    if (!f->bssid || !f->ta || !f->ra) {
        fill_who(who, f->bssid, f->ta, NULL);
        return MS_WPA_MALFORMED;
    }
    const uint8_t *sta = memcmp(f->ta, f->bssid, MS_MAC_LEN) == 0 ? f->ra : f->ta;
    struct network *net = network_get(w, f->bssid);
    fill_who(who, f->bssid, sta, net);
    if (len < 4 || eapol[1] != 3)
        return len < 4 ? MS_WPA_MALFORMED : MS_WPA_OK; /* EAP, EAPOL-Start, ... */
    size_t n = 4 + (size_t)ms_be16(eapol + 2);
    if (sta[0] & 1)
        return MS_WPA_MALFORMED;
    struct client *c = client_get(w, f->bssid, sta);
    if (!c)
        return MS_WPA_OK; /* out of memory: nothing learned */
    if (n > len || n < EK_DATA || n > MS_WPA_EAPOL_MAX ||
        EK_DATA + (size_t)ms_be16(eapol + EK_DATA_LEN) > n)
        return tell(&c->told, MS_WPA_MALFORMED, first);
    if (eapol[EK_DESC] == 254) { /* WPA (TKIP) */
        c->eapol_sec = SEC_UNSUPPORTED;
        return tell(&c->told, MS_WPA_UNSUPPORTED, first);
    }
    if (eapol[EK_DESC] != 2)
        return tell(&c->told, MS_WPA_MALFORMED, first);
    uint16_t info = ms_be16(eapol + EK_INFO);
    int ver = info & KI_VERSION;
    enum sec s = effective_sec(c, net, false);
    enum ms_wpa_status why = sec_status(s);
    if (why == MS_WPA_OK) {
        /* 1: TKIP's HMAC-MD5; 0: an AKM-defined one (SAE, OWE): its data
         * frames are said the same way, until a WPA2 one. */
        bool wpa2 = ver == 2 || ver == 3;
        c->eapol_sec = wpa2 ? SEC_UNKNOWN : SEC_UNSUPPORTED;
        if (!wpa2)
            why = MS_WPA_UNSUPPORTED;
    }
    if (why != MS_WPA_OK)
        return tell(&c->told, why, first);
    bool pairwise = info & KI_PAIRWISE, ack = info & KI_ACK, mic = info & KI_MIC;
    static const uint8_t zero[MS_WPA_NONCE_LEN];
    if (pairwise && ack) {
        /* Message 1, or 3: both carry the ANonce. Message 3's replay
         * counter is its message 1's plus one (12.7.6.4): the ANonce is
         * kept with message 1's, which message 2 repeats. */
        uint64_t replay = ms_be64(eapol + EK_REPLAY);
        add_anonce(c, eapol + EK_NONCE, mic && replay ? replay - 1 : replay, f->ts_us);
        enum ms_wpa_status r = MS_WPA_OK;
        if (c->m2)
            r = try_m2(w, c, net, c->m2, c->m2_len, c->m2_us, !mic);
        if (mic)
            take_gtk(w, c, net, eapol, n, true);
        return r == MS_WPA_OK ? MS_WPA_OK : tell(&c->told, r, first);
    }
    if (pairwise && mic && memcmp(eapol + EK_NONCE, zero, sizeof(zero)) != 0) {
        enum ms_wpa_status r = try_m2(w, c, net, eapol, n, f->ts_us, false);
        return r == MS_WPA_OK ? MS_WPA_OK : tell(&c->told, r, first);
    }
    if (!pairwise && ack && mic)
        take_gtk(w, c, net, eapol, n, false); /* group key handshake, message 1 */
    return MS_WPA_OK;                         /* message 4, group message 2 */
}

/* ---- data frames ------------------------------------------------------------- */

/* The client of a four-address frame, NULL if neither end is known. */
static struct client *wds_client(struct ms_wpa *w, const uint8_t *ra, const uint8_t *ta)
{
    if ((ra[0] & 1) || (ta[0] & 1))
        return NULL;
    uint8_t key[NODE_KEY_LEN];
    make_key(key, ra, ta);
    struct node *n = table_find(&w->clients, key);
    if (!n) {
        make_key(key, ta, ra);
        n = table_find(&w->clients, key);
    }
    return n ? (struct client *)(void *)n : NULL;
}

enum ms_wpa_status ms_wpa_decrypt(struct ms_wpa *w, const struct ms_wifi_frame *f,
                                  const uint8_t **plain, size_t *plain_len, struct ms_wpa_who *who,
                                  bool *first)
{
    *first = false;
    *plain = NULL;
    *plain_len = 0;
    if (f->type != 2 || !(f->flags & 0x40) || !f->ra || !f->ta || !f->hdr) {
        fill_who(who, f->bssid, f->ta, NULL);
        return MS_WPA_MALFORMED;
    }
    const uint8_t *bssid = f->bssid;
    struct client *c = NULL;
    if (!bssid) {
        /* Four addresses (WDS, a multi-AP or hostapd wds_sta station): the
         * pairwise key is that of the AP and the station, either way. */
        c = wds_client(w, f->ra, f->ta);
        if (!c) {
            fill_who(who, NULL, f->ta, NULL);
            return MS_WPA_UNSUPPORTED;
        }
        bssid = c->n.key;
    }
    bool group = f->ra[0] & 1;
    const uint8_t *sta = group ? f->ra : memcmp(f->ta, bssid, MS_MAC_LEN) == 0 ? f->ra : f->ta;
    struct network *net = network_get(w, bssid);
    fill_who(who, bssid, sta, net);
    if (!c && !group)
        c = client_get(w, bssid, sta);
    uint32_t scratch = 0;
    uint32_t *told = c ? &c->told : net ? &net->told : &scratch;
    enum ms_wpa_status why = sec_status(effective_sec(c, net, true));
    if (why != MS_WPA_OK)
        return tell(told, why, first);
    if (f->body_len < MS_CCMP_HDR_LEN)
        return tell(told, MS_WPA_MALFORMED, first);
    if (!(f->body[3] & 0x20))
        return tell(told, MS_WPA_UNSUPPORTED, first); /* no Ext IV: WEP */
    if (f->body_len <= MS_CCMP_HDR_LEN + MS_CCMP_MIC_LEN ||
        f->body_len - MS_CCMP_HDR_LEN - MS_CCMP_MIC_LEN > sizeof(w->plain))
        return tell(told, MS_WPA_MALFORMED, first);
    const uint8_t *keys[2] = { NULL, NULL };
    if (group) {
        unsigned idx = f->body[3] >> 6;
        if (net && (net->gtk_set & (1u << idx)))
            keys[0] = net->gtk[idx];
    } else if (c) {
        keys[0] = c->cur.valid ? c->cur.tk : NULL;
        keys[1] = c->old.valid ? c->old.tk : NULL;
    }
    if (!keys[0]) {
        if (c && c->verdict != MS_WPA_OK)
            return tell(told, c->verdict, first);
        if (!any_secret_applies(w, net))
            return tell(told, MS_WPA_NO_SECRET, first);
        return tell(told, MS_WPA_NO_HANDSHAKE, first);
    }
    for (int i = 0; i < 2 && keys[i]; i++) {
        enum ms_rc rc = ms_wpa_ccmp_decrypt(w->c, keys[i], f->hdr, f->hdr_len, f->body, f->body_len,
                                            w->plain);
        if (rc == MS_OK) {
            *plain = w->plain;
            *plain_len = f->body_len - MS_CCMP_HDR_LEN - MS_CCMP_MIC_LEN;
            return MS_WPA_OK;
        }
        if (rc == MS_ERR_ARG)
            return tell(told, MS_WPA_MALFORMED, first);
    }
    return tell(told, MS_WPA_DECRYPT_FAILED, first);
}

void ms_wpa_get_stats(const struct ms_wpa *w, struct ms_wpa_stats *st)
{
    *st = w->st;
    st->clients = table_count(&w->clients);
}
