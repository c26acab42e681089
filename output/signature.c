#include "signature.h"

#include <stdio.h>
#include <string.h>

#include "../common/ascii.h"
#include "../common/proto.h"

/* Fixed mechanism slots, 1 to 10 in order (99: other), with README's name
 * for each (tests/registry checks README's alert.signature_id row): sids
 * never change meaning once published, since rules and dashboards
 * downstream key on them. Protocol slots: common/protocols.def. */
static const struct {
    const char *mech, *label;
} mech_slots[] = {
    { "USER", "USER/PASS" },        { "APOP", "APOP" },
    { "LOGIN", "IMAP LOGIN" },      { "PLAIN", "PLAIN" },
    { "SASL-LOGIN", "SASL LOGIN" }, { "CRAM-MD5", "CRAM-MD5" },
    { "DIGEST-MD5", "DIGEST-MD5" }, { "NTLM", "NTLM" },
    { "XOAUTH2", "XOAUTH2" },       { "OAUTHBEARER", "OAUTHBEARER" },
};

static unsigned proto_slot(const char *p)
{
    enum ms_proto id;
    return ms_proto_by_name(p, &id) ? ms_proto_sid_slot(id) : MS_PROTO_SLOT_OTHER;
}

static unsigned mech_slot(const struct ms_ev_credential *c)
{
    const char *m = c->mechanism;
    /* SASL LOGIN and the IMAP LOGIN command share a name, not a slot. */
    if (strcmp(m, "LOGIN") == 0 && strcmp(c->command, "LOGIN") != 0)
        m = "SASL-LOGIN";
    for (unsigned i = 0; i < sizeof(mech_slots) / sizeof(mech_slots[0]); i++) {
        if (strcmp(mech_slots[i].mech, m) == 0)
            return i + 1;
    }
    return 99;
}

void ms_mechanism_label(const struct ms_ev_credential *c, char *out, size_t outlen)
{
    if (strcmp(c->mechanism, "USER") == 0)
        ms_ascii_join(out, outlen, (const char *const[]){ "USER/PASS", NULL });
    else if (strcmp(c->mechanism, c->command) == 0)
        ms_ascii_join(out, outlen, (const char *const[]){ c->mechanism, NULL });
    else
        ms_ascii_join(out, outlen, (const char *const[]){ c->command, " ", c->mechanism, NULL });
}

static uint32_t base_of(uint32_t sid_base)
{
    return sid_base == 0 || sid_base > MS_SID_BASE_MAX ? MS_SID_BASE_DEFAULT : sid_base;
}

static void upper_proto(const char *app_proto, char *proto, size_t n)
{
    size_t i = 0;
    for (; i < n - 1 && app_proto[i]; i++)
        proto[i] = (char)(app_proto[i] >= 'a' && app_proto[i] <= 'z' ? app_proto[i] - 32
                                                                     : app_proto[i]);
    proto[i] = '\0';
}

void ms_signature_stripping(uint32_t sid_base, const char *app_proto, struct ms_signature *out)
{
    char proto[8];
    upper_proto(app_proto, proto, sizeof(proto));
    out->sid = base_of(sid_base) + proto_slot(app_proto) * 100 + MS_SID_SLOT_STRIPPING;
    out->severity = 1;
    snprintf(out->text, sizeof(out->text),
             "MAILSPILL %s STARTTLS stripped (offered to an earlier session)", proto);
}

void ms_signature_for(uint32_t sid_base, const char *app_proto, const struct ms_ev_credential *c,
                      struct ms_signature *out)
{
    sid_base = base_of(sid_base);
    char proto[8];
    upper_proto(app_proto, proto, sizeof(proto));
    out->sid = sid_base + proto_slot(app_proto) * 100 + mech_slot(c);
    bool secret = c->password.p != NULL || c->token.p != NULL;
    char label[64];
    ms_mechanism_label(c, label, sizeof(label));
    /* A challenge/response login (APOP, CRAM-MD5, DIGEST-MD5, NTLM) leaks
     * no reusable secret, only material for an offline guess: say so. */
    bool challenge_response = !secret && c->response.p != NULL;
    ms_ascii_join(out->text, sizeof(out->text),
                  (const char *const[]){ "MAILSPILL ", proto, " ",
                                         challenge_response ? "challenge/response" : "cleartext",
                                         " login (", label, ")", NULL });
    /* An accepted cleartext secret (a password or a bearer token) is the
     * worst case; a rejected or unconfirmed one still leaked, but may not
     * open anything; a challenge/response only exposes a crackable hash.
     * An incomplete one (a line lost, a gap) may belong to another account
     * than it seems, so it is never the most severe: nobody should act on
     * it against an account without looking. */
    if (secret && c->outcome == MS_OUTCOME_SUCCESS && !c->incomplete)
        out->severity = 1;
    else if (secret)
        out->severity = 2;
    else
        out->severity = 3;
}

size_t ms_signature_table(uint32_t sid_base, struct ms_signature *out, size_t max)
{
    /* The logins each dissector reports, as the credential it emits. */
    static const struct {
        enum ms_proto proto;
        const char *command, *mechanism;
        bool secret;
    } logins[] = {
        { MS_PROTO_POP3, "USER", "USER", true },
        { MS_PROTO_POP3, "APOP", "APOP", false },
        { MS_PROTO_IMAP, "LOGIN", "LOGIN", true },
    };
    static const struct {
        const char *name;
        bool secret;
    } sasl[] = {
        { "PLAIN", true }, { "LOGIN", true },   { "CRAM-MD5", false },   { "DIGEST-MD5", false },
        { "NTLM", false }, { "XOAUTH2", true }, { "OAUTHBEARER", true },
    };
    size_t n = 0;
    for (unsigned p = 0; p < MS_PROTO_COUNT; p++) {
        for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]) + sizeof(sasl) / sizeof(sasl[0]);
             i++) {
            struct ms_ev_credential c;
            memset(&c, 0, sizeof(c));
            bool secret;
            if (i < sizeof(logins) / sizeof(logins[0])) {
                if (logins[i].proto != p)
                    continue;
                c.command = logins[i].command;
                c.mechanism = logins[i].mechanism;
                secret = logins[i].secret;
            } else {
                size_t k = i - sizeof(logins) / sizeof(logins[0]);
                c.command = p == MS_PROTO_IMAP ? "AUTHENTICATE" : "AUTH";
                c.mechanism = sasl[k].name;
                secret = sasl[k].secret;
            }
            c.outcome = MS_OUTCOME_SUCCESS;
            /* What decides the text: a reusable secret, or only a response. */
            if (secret)
                c.password = ms_bytes_of("", 0);
            else
                c.response = ms_bytes_of("", 0);
            if (n < max)
                ms_signature_for(sid_base, ms_proto_name((enum ms_proto)p), &c, &out[n]);
            n++;
        }
        if (n < max)
            ms_signature_stripping(sid_base, ms_proto_name((enum ms_proto)p), &out[n]);
        n++;
    }
    return n;
}
