#include "text.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "../common/utf8.h"
#include "dedup.h"
#include "secrets.h"
#include "signature.h"

/* Characters that show nothing: zero-width space, joiners and word
 * joiner (U+200B-200D, U+2060-2064), the byte order mark used as a
 * zero-width no-break space (U+FEFF), soft hyphen (U+00AD), combining
 * grapheme joiner (U+034F), Mongolian vowel separator (U+180E). A user
 * name ending in one would read like another ("alice" and "alice"+ZWSP). */
static bool invisible(uint32_t cp)
{
    return (cp >= 0x200b && cp <= 0x200d) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xfeff ||
           cp == 0x00ad || cp == 0x034f || cp == 0x180e;
}

/* Characters that steer a terminal or a reader without being visible:
 * C1 controls (U+0080-U+009F, e.g. an 8-bit CSI), bidi marks, embeddings,
 * overrides and isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069:
 * "Trojan Source"), and the line and paragraph separators U+2028/U+2029,
 * which some viewers break lines at. */
static bool steers(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
           cp == 0x2029 || invisible(cp);
}

bool ms_text_steers(uint32_t cp)
{
    return steers(cp);
}

/* Captured bytes go to a terminal: controls and invalid UTF-8 (the same
 * rule as the JSON view's, common/utf8.h: surrogates and code points past
 * U+10FFFF included) and steering characters are escaped as \xNN per
 * byte, so a crafted user name can neither move the cursor, change colours
 * nor reorder or break the line it is shown on. quoted: between double
 * quotes, with '"' and '\\' escaped too, so a value's end is never in
 * doubt (a user name "cram user-86h29b" is one name, not two words). */
static void put_esc(FILE *fp, struct ms_bytes b, size_t max, bool quoted, bool wrap)
{
    if (!b.p) {
        fputs("-", fp);
        return;
    }
    if (wrap)
        fputc('"', fp);
    size_t n = b.len < max ? b.len : max;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t k = ms_utf8_seq(b.p + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f) {
            fprintf(fp, "\\x%02x", b.p[i]);
            i++;
        } else if (steers(cp)) {
            for (size_t j = 0; j < k; j++)
                fprintf(fp, "\\x%02x", b.p[i + j]);
            i += k;
        } else if (quoted && (cp == '"' || cp == '\\')) {
            fputc('\\', fp);
            fputc((int)cp, fp);
            i++;
        } else {
            /* A short write sets ferror(fp), which ms_text_line returns
             * as -1, as for the fprintf around. */
            (void)fwrite(b.p + i, 1, k, fp);
            i += k;
        }
    }
    if (wrap)
        fputc('"', fp);
    if (n < b.len)
        fputs("...", fp);
}

static void put_safe(FILE *fp, struct ms_bytes b, size_t max)
{
    put_esc(fp, b, max, false, false);
}

static void put_quoted(FILE *fp, struct ms_bytes b, size_t max)
{
    put_esc(fp, b, max, true, true);
}

/* ANSI SGR colours (README "Text view": only on a terminal). */
#define C_DIM "2"
#define C_BOLD "1"
#define C_USER "1;33"
#define C_SECRET "1;31"
#define C_BAD "1;31"
#define C_GOOD "32"
#define C_WARN "33"
#define C_MSG "36"
#define C_ANOM "35"

static void color(FILE *fp, const struct ms_text_view *tv, const char *sgr)
{
    if (tv->color)
        fprintf(fp, "\033[%sm", sgr);
}

static void reset(FILE *fp, const struct ms_text_view *tv)
{
    if (tv->color)
        fputs("\033[0m", fp);
}

/* A password or token under the secrets policy (README "Secrets"), as
 * the JSON view gives it: a fixed ******** when redacted, which says
 * nothing of its length; the mask and the clear value quoted. */
static void put_secret(FILE *fp, const struct ms_text_view *tv, struct ms_bytes secret,
                       const struct ms_output_opts *opts)
{
    char hex[MS_HMAC_HEX_LEN + 1];
    color(fp, tv, C_SECRET);
    switch (opts->secrets) {
    case MS_SECRETS_CLEAR:
        put_quoted(fp, secret, 256);
        reset(fp, tv);
        return;
    case MS_SECRETS_MASK: {
        struct ms_mask m;
        ms_secret_mask(secret, &m);
        fputc('"', fp);
        put_esc(fp, m.first, m.first.len, true, false);
        for (size_t i = 0; i < m.stars; i++)
            fputc('*', fp);
        put_esc(fp, m.last, m.last.len, true, false);
        fputc('"', fp);
        reset(fp, tv);
        return;
    }
    case MS_SECRETS_HASH:
        if (ms_secret_hmac(opts->hmac_key, opts->hmac_key_len, secret, hex)) {
            fprintf(fp, "hmac:%s", hex);
            reset(fp, tv);
            return;
        }
        break;
    case MS_SECRETS_REDACT:
        break;
    }
    fputs("********", fp);
    reset(fp, tv);
}

static void put_upper(FILE *fp, const char *s)
{
    for (; *s; s++)
        fputc(*s >= 'a' && *s <= 'z' ? *s - 32 : *s, fp);
}

static const char *outcome_text(enum ms_outcome o)
{
    switch (o) {
    case MS_OUTCOME_SUCCESS:
        return "accepted";
    case MS_OUTCOME_FAILURE:
        return "rejected";
    case MS_OUTCOME_UNKNOWN:
        break;
    }
    return "outcome unknown";
}

static const char *tristate_text(enum ms_tristate t)
{
    return t == MS_TRI_TRUE ? "yes" : t == MS_TRI_FALSE ? "no" : "unknown";
}

/* One line: how it was protected, what was offered, what went by. */
static void put_session(FILE *fp, const struct ms_ev_session *e)
{
    static const char *const tls[] = { "none", "STARTTLS", "implicit" };
    fprintf(fp, "session tls=%s", tls[e->tls <= MS_SESSION_TLS_IMPLICIT ? e->tls : 0]);
    if (e->posture) {
        fprintf(fp, " starttls_offered=%s", tristate_text(e->posture->starttls_offered));
        fputs(" auth=", fp);
        for (size_t i = 0; i < e->posture->n_mechs; i++)
            fprintf(fp, "%s%s", i ? "," : "", e->posture->mechs[i]);
        if (e->posture->n_mechs == 0)
            fputc('-', fp);
    }
    if (e->tls != MS_SESSION_TLS_IMPLICIT)
        fprintf(fp, " logins=%llu accepted/%llu rejected/%llu unknown messages=%llu",
                (unsigned long long)e->logins[MS_OUTCOME_SUCCESS],
                (unsigned long long)e->logins[MS_OUTCOME_FAILURE],
                (unsigned long long)e->logins[MS_OUTCOME_UNKNOWN], (unsigned long long)e->messages);
    fprintf(fp, " bytes=%llu>/%llu<", (unsigned long long)e->bytes_toserver,
            (unsigned long long)e->bytes_toclient);
    if (e->tls != MS_SESSION_TLS_IMPLICIT)
        fprintf(fp, " anomalies=%llu", (unsigned long long)e->anomalies);
}

void ms_text_view_init(struct ms_text_view *tv, bool color)
{
    tv->color = color;
    tv->year = -1;
    tv->yday = -1;
    tzset(); /* localtime_r need not read TZ itself */
}

/* Local time: the date and the zone on a view's first line and on the
 * first line of each new day, the time of day on the others. */
static void put_time(FILE *fp, struct ms_text_view *tv, uint64_t ts_us)
{
    time_t secs = (time_t)(ts_us / 1000000u);
    struct tm tm;
    char buf[64];
    if (!localtime_r(&secs, &tm))
        memset(&tm, 0, sizeof(tm));
    bool new_day = tm.tm_year != tv->year || tm.tm_yday != tv->yday;
    tv->year = tm.tm_year;
    tv->yday = tm.tm_yday;
    if (strftime(buf, sizeof(buf), new_day ? "%Y-%m-%d %H:%M:%S %Z (UTC%z)" : "%H:%M:%S", &tm) == 0)
        snprintf(buf, sizeof(buf), "??:??:??");
    color(fp, tv, C_DIM);
    fputs(buf, fp);
    reset(fp, tv);
    fputc(' ', fp);
}

static const char *outcome_color(enum ms_outcome o)
{
    return o == MS_OUTCOME_SUCCESS ? C_BAD : o == MS_OUTCOME_FAILURE ? C_GOOD : C_WARN;
}

static void put_credential(FILE *fp, const struct ms_text_view *tv, const struct ms_flow_meta *m,
                           const struct ms_ev_credential *c, const struct ms_output_opts *opts,
                           const struct ms_dedup_report *rep)
{
    char label[64];
    ms_mechanism_label(c, label, sizeof(label));
    fprintf(fp, "%s ", label);
    color(fp, tv, C_USER);
    if (c->username.p)
        put_quoted(fp, c->username, 256);
    else
        fputs("(no user name)", fp);
    reset(fp, tv);
    struct ms_bytes secret = c->password.p ? c->password : c->token;
    if (secret.p) {
        fputs(" / ", fp);
        put_secret(fp, tv, secret, opts);
    } else if (c->hashcat.p) {
        /* The line is what a cracker needs: shown where secrets are
         * (README "Secrets": clear only), its mode everywhere. */
        fprintf(fp, " / hashcat -m %d", c->hashcat_mode);
        if (opts->secrets == MS_SECRETS_CLEAR) {
            fputc(' ', fp);
            color(fp, tv, C_SECRET);
            put_quoted(fp, c->hashcat, 1024);
            reset(fp, tv);
        }
    }
    fputs(" (", fp);
    color(fp, tv, outcome_color(c->outcome));
    fputs(outcome_text(c->outcome), fp);
    reset(fp, tv);
    fputc(')', fp);
    if (c->incomplete)
        fputs(" [incomplete]", fp);
    if (rep && rep->suppressed) {
        time_t first = (time_t)(rep->first_us / 1000000u);
        struct tm ftm;
        char fhms[16];
        localtime_r(&first, &ftm);
        strftime(fhms, sizeof(fhms), "%H:%M:%S", &ftm);
        fprintf(fp, " [%llu more since %s, not shown: --dedup]",
                (unsigned long long)rep->suppressed, fhms);
    }
    if (m->evidence)
        fprintf(fp, " [evidence %s]", m->evidence); /* digits and ".pcap" */
}

/* A message in words: what is missing says so ("without a subject"), and a
 * cut one says it was cut, rather than "-" and a size of 0. */
static void put_email(FILE *fp, const struct ms_text_view *tv, const struct ms_ev_email *e)
{
    fprintf(fp, "%s %s", e->command ? e->command : "?",
            e->partial ? "part of a message" : "message");
    color(fp, tv, C_MSG);
    if (e->subject.p) {
        fputc(' ', fp);
        put_quoted(fp, e->subject, 120);
    } else {
        fputs(" without a subject", fp);
    }
    reset(fp, tv);
    if (e->from.p) {
        fputs(" from ", fp);
        put_quoted(fp, e->from, 120);
    } else {
        fputs(", sender not seen", fp);
    }
    if (e->size == 0 && e->truncated)
        fputs(" (none of its content was seen", fp);
    else
        fprintf(fp, " (%llu bytes", (unsigned long long)e->size);
    if (e->n_attachments) {
        fprintf(fp, ", %zu attachment%s:", e->n_attachments, e->n_attachments > 1 ? "s" : "");
        for (size_t i = 0; i < e->n_attachments; i++) {
            fputc(' ', fp);
            put_quoted(fp, e->attachments[i].filename, 80);
        }
    }
    fputc(')', fp);
    if (e->truncated) {
        color(fp, tv, C_WARN);
        fputs(" cut short: a gap in the capture, a cap or its end", fp);
        reset(fp, tv);
    }
}

int ms_text_line(FILE *fp, struct ms_text_view *tv, const struct ms_flow_meta *m,
                 const struct ms_event *ev, const struct ms_output_opts *opts,
                 const struct ms_dedup_report *rep)
{
    put_time(fp, tv, m->ts_us);
    color(fp, tv, C_BOLD);
    /* An event of the 802.11 link (a client whose frames cannot be read)
     * has stations, no IP. */
    bool link = m->ip_version != 4 && m->ip_version != 6;
    put_upper(fp, link ? "802.11" : ev->app_proto ? ev->app_proto : "tcp");
    reset(fp, tv);
    if (link) {
        char sta[MS_MAC_STRLEN] = "-", bss[MS_MAC_STRLEN] = "-";
        if (m->src_mac)
            ms_mac_str(m->src_mac, sta, sizeof(sta));
        if (m->bssid)
            ms_mac_str(m->bssid, bss, sizeof(bss));
        fprintf(fp, " %s (BSSID %s) ", sta, bss);
    } else {
        /* People read these: IPv6 short (RFC 5952) and in brackets, so
         * the port stays readable. */
        char src[MS_ADDR_STRLEN], dst[MS_ADDR_STRLEN];
        ms_addr_str(m->ip_version, m->src_addr, true, src, sizeof(src));
        ms_addr_str(m->ip_version, m->dest_addr, true, dst, sizeof(dst));
        bool v6 = m->ip_version == 6;
        fprintf(fp, " %s%s%s:%u", v6 ? "[" : "", src, v6 ? "]" : "", m->src_port);
        fprintf(fp, " -> %s%s%s:%u ", v6 ? "[" : "", dst, v6 ? "]" : "", m->dest_port);
    }

    switch (ev->kind) {
    case MS_EV_CREDENTIAL:
        put_credential(fp, tv, m, &ev->u.cred, opts, rep);
        break;
    case MS_EV_EMAIL:
        put_email(fp, tv, &ev->u.email);
        break;
    case MS_EV_ANOMALY:
        color(fp, tv, C_ANOM);
        fprintf(fp, "anomaly %s", ev->u.anomaly.code);
        reset(fp, tv);
        fputs(": ", fp);
        put_safe(fp, ev->u.anomaly.detail, 200);
        break;
    case MS_EV_SESSION:
        put_session(fp, &ev->u.session);
        break;
    case MS_EV_STARTTLS_STRIPPED:
        color(fp, tv, C_BAD);
        fprintf(fp, "STARTTLS STRIPPED: offered in flow %llu, not in this one (flow %llu)",
                (unsigned long long)ev->u.stripped.offered_flow_id, (unsigned long long)m->flow_id);
        reset(fp, tv);
        break;
    case MS_EV_COUNT:
        break;
    }
    fputc('\n', fp);
    return ferror(fp) ? -1 : 0;
}

int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts)
{
    return ms_text_event_ex(fp, m, ev, opts, NULL);
}

int ms_text_event_ex(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                     const struct ms_output_opts *opts, const struct ms_dedup_report *rep)
{
    struct ms_text_view tv;
    ms_text_view_init(&tv, false);
    return ms_text_line(fp, &tv, m, ev, opts, rep);
}
