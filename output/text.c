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

/* Captured bytes go to a terminal: controls and invalid UTF-8 (the same
 * rule as the JSON view's, common/utf8.h: surrogates and code points past
 * U+10FFFF included) and steering characters are escaped as \xNN per
 * byte, so a crafted user name can neither move the cursor, change colours
 * nor reorder or break the line it is shown on. */
static void put_safe(FILE *fp, struct ms_bytes b, size_t max)
{
    if (!b.p) {
        fputs("-", fp);
        return;
    }
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
        } else {
            /* A short write sets ferror(fp), which ms_text_event returns
             * as -1, as for the fprintf around. */
            (void)fwrite(b.p + i, 1, k, fp);
            i += k;
        }
    }
    if (n < b.len)
        fputs("...", fp);
}

/* A password or token under the secrets policy (README "Secrets"), as
 * the JSON view gives it: a fixed "********" when redacted, which says
 * nothing of its length. */
static void put_secret(FILE *fp, struct ms_bytes secret, const struct ms_output_opts *opts)
{
    char hex[MS_HMAC_HEX_LEN + 1];
    switch (opts->secrets) {
    case MS_SECRETS_CLEAR:
        put_safe(fp, secret, 256);
        return;
    case MS_SECRETS_MASK: {
        struct ms_mask m;
        ms_secret_mask(secret, &m);
        put_safe(fp, m.first, m.first.len);
        for (size_t i = 0; i < m.stars; i++)
            fputc('*', fp);
        put_safe(fp, m.last, m.last.len);
        return;
    }
    case MS_SECRETS_HASH:
        if (ms_secret_hmac(opts->hmac_key, opts->hmac_key_len, secret, hex)) {
            fprintf(fp, "hmac:%s", hex);
            return;
        }
        break;
    case MS_SECRETS_REDACT:
        break;
    }
    fputs("********", fp);
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

int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts)
{
    return ms_text_event_ex(fp, m, ev, opts, NULL);
}

int ms_text_event_ex(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                     const struct ms_output_opts *opts, const struct ms_dedup_report *rep)
{
    time_t secs = (time_t)(m->ts_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char hms[16];
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    fprintf(fp, "%s ", hms);
    put_upper(fp, ev->app_proto ? ev->app_proto : "tcp");
    /* People read these: IPv6 short (RFC 5952) and in brackets, so the
     * port stays readable. */
    char src[MS_ADDR_STRLEN], dst[MS_ADDR_STRLEN];
    ms_addr_str(m->ip_version, m->src_addr, true, src, sizeof(src));
    ms_addr_str(m->ip_version, m->dest_addr, true, dst, sizeof(dst));
    bool v6 = m->ip_version == 6;
    fprintf(fp, " %s%s%s:%u", v6 ? "[" : "", src, v6 ? "]" : "", m->src_port);
    fprintf(fp, " -> %s%s%s:%u ", v6 ? "[" : "", dst, v6 ? "]" : "", m->dest_port);

    switch (ev->kind) {
    case MS_EV_CREDENTIAL: {
        const struct ms_ev_credential *c = &ev->u.cred;
        char label[64];
        ms_mechanism_label(c, label, sizeof(label));
        fprintf(fp, "%s ", label);
        put_safe(fp, c->username, 256);
        struct ms_bytes secret = c->password.p ? c->password : c->token;
        if (secret.p) {
            fputs(" / ", fp);
            put_secret(fp, secret, opts);
        } else if (c->hashcat.p) {
            fprintf(fp, " / hashcat -m %d", c->hashcat_mode);
        }
        fprintf(fp, " (%s)", outcome_text(c->outcome));
        if (c->incomplete)
            fputs(" [incomplete]", fp);
        if (rep && rep->suppressed) {
            time_t first = (time_t)(rep->first_us / 1000000u);
            struct tm ftm;
            char fhms[16];
            gmtime_r(&first, &ftm);
            strftime(fhms, sizeof(fhms), "%H:%M:%S", &ftm);
            fprintf(fp, " [%llu more since %s, not shown: --dedup]",
                    (unsigned long long)rep->suppressed, fhms);
        }
        if (m->evidence)
            fprintf(fp, " [evidence %s]", m->evidence); /* digits and ".pcap" */
        break;
    }
    case MS_EV_EMAIL: {
        const struct ms_ev_email *e = &ev->u.email;
        fprintf(fp, "%s message \"", e->command ? e->command : "?");
        put_safe(fp, e->subject, 120);
        fputs("\" from ", fp);
        put_safe(fp, e->from, 120);
        fprintf(fp, " (%llu bytes", (unsigned long long)e->size);
        if (e->n_attachments) {
            fprintf(fp, ", %zu attachment%s:", e->n_attachments, e->n_attachments > 1 ? "s" : "");
            for (size_t i = 0; i < e->n_attachments; i++) {
                fputc(' ', fp);
                put_safe(fp, e->attachments[i].filename, 80);
            }
        }
        fputc(')', fp);
        if (e->truncated)
            fputs(" [truncated]", fp);
        break;
    }
    case MS_EV_ANOMALY:
        fprintf(fp, "anomaly %s: ", ev->u.anomaly.code);
        put_safe(fp, ev->u.anomaly.detail, 200);
        break;
    case MS_EV_SESSION:
        put_session(fp, &ev->u.session);
        break;
    case MS_EV_STARTTLS_STRIPPED:
        fprintf(fp, "STARTTLS STRIPPED: offered in flow %llu, not in this one (flow %llu)",
                (unsigned long long)ev->u.stripped.offered_flow_id, (unsigned long long)m->flow_id);
        break;
    case MS_EV_COUNT:
        break;
    }
    fputc('\n', fp);
    return ferror(fp) ? -1 : 0;
}
