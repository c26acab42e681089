#include "text.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "signature.h"

/* Captured bytes go to a terminal: escape controls and invalid UTF-8 so a
 * crafted user name cannot move the cursor or change colours. */
static void put_safe(FILE *fp, struct ms_bytes b, size_t max)
{
    if (!b.p) {
        fputs("-", fp);
        return;
    }
    size_t n = b.len < max ? b.len : max;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b.p[i];
        if (c >= 0x20 && c != 0x7f && c < 0x80) {
            fputc(c, fp);
        } else if (c >= 0xc2 && c <= 0xf4) {
            /* Copy a well-formed multi-byte sequence as it is. */
            size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            size_t k = 1;
            while (k < len && i + k < n && (b.p[i + k] & 0xc0) == 0x80)
                k++;
            /* C1 controls (U+0080-U+009F: 0xc2 0x80-0x9f, e.g. an 8-bit CSI)
             * and bidi overrides (U+202A-202E, U+2066-2069) steer some
             * terminals: escaped like C0 controls. */
            bool c1 = len == 2 && c == 0xc2 && b.p[i + 1] < 0xa0;
            bool bidi = len == 3 && c == 0xe2 &&
                        ((b.p[i + 1] == 0x80 && b.p[i + 2] >= 0xaa && b.p[i + 2] <= 0xae) ||
                         (b.p[i + 1] == 0x81 && b.p[i + 2] >= 0xa6 && b.p[i + 2] <= 0xa9));
            if (k == len && !c1 && !bidi) {
                /* A short write sets ferror(fp), which ms_text_event
                 * returns as -1, as for the fputc and fprintf around. */
                (void)fwrite(b.p + i, 1, len, fp);
                i += len - 1;
            } else {
                fprintf(fp, "\\x%02x", c);
            }
        } else {
            fprintf(fp, "\\x%02x", c);
        }
    }
    if (n < b.len)
        fputs("...", fp);
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

int ms_text_event(FILE *fp, const struct ms_flow_meta *m, const struct ms_event *ev,
                  const struct ms_output_opts *opts)
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
            if (opts->show_passwords)
                put_safe(fp, secret, 256);
            else
                fputs("********", fp);
        } else if (c->hashcat.p) {
            fprintf(fp, " / hashcat -m %d", c->hashcat_mode);
        }
        fprintf(fp, " (%s)", outcome_text(c->outcome));
        if (c->incomplete)
            fputs(" [incomplete]", fp);
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
    }
    fputc('\n', fp);
    return ferror(fp) ? -1 : 0;
}
