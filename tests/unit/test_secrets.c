/* The secrets policy (README "Secrets"): masks counted in code points,
 * HMAC-SHA256 against RFC 4231's vectors, each --passwords mode in the
 * JSON and text views (nothing of a secret where the mode forbids it), the
 * --hash-key file's rules and the --hashes file's lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/limits.h"
#include "../../output/json.h"
#include "../../output/secrets.h"
#include "../../output/text.h"

/* The mask of s as one string (freed by the caller). */
static char *mask_str(const char *s, size_t len)
{
    struct ms_mask m;
    ms_secret_mask(ms_bytes_of(s, len), &m);
    size_t n = m.first.len + m.stars + m.last.len;
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, m.first.p, m.first.len);
    memset(out + m.first.len, '*', m.stars);
    memcpy(out + m.first.len + m.stars, m.last.p, m.last.len);
    out[n] = '\0';
    return out;
}

static void expect_mask(const char *s, const char *want)
{
    char *got = mask_str(s, strlen(s));
    assert_string_equal(got, want);
    free(got);
}

static void test_mask(void **state)
{
    (void)state;
    expect_mask("", "");
    expect_mask("a", "*");
    expect_mask("abcdefg", "*******"); /* 7 characters: all masked */
    expect_mask("abcdefgh", "a******h");
    expect_mask("Summer 2026!pw", "S************w");
    /* Characters, not bytes: 7 two-byte characters (14 bytes) are masked
     * whole; 8 keep a whole first and last character. */
    expect_mask("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "*******");
    expect_mask("\xe2\x9c\x93"
                "bcdef\xf0\x9f\x94\x91",
                "*******");
    expect_mask("\xe2\x9c\x93"
                "bcdefg\xf0\x9f\x94\x91",
                "\xe2\x9c\x93******\xf0\x9f\x94\x91");
    expect_mask("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                "\xc3\xa9******\xc3\xa9");
    /* An invalid byte is one character, kept as it is at an end (the views
     * show it as U+FFFD or \xNN), never joined to its neighbour. */
    char *got = mask_str("\xff"
                         "abcdef\xe2\x9c",
                         9);
    assert_int_equal(strlen(got), 9);
    assert_memory_equal(got, "\xff*******\x9c", 9);
    free(got);
}

static void hex_of(const char *s, size_t len, const uint8_t *key, size_t klen, char *out)
{
    assert_true(ms_secret_hmac(key, klen, ms_bytes_of(s, len), out));
}

/* RFC 4231 section 4.3 (test case 2) and 4.7 (case 6: a key longer than a
 * block). */
static void test_hmac_rfc4231(void **state)
{
    (void)state;
    char hex[MS_HMAC_HEX_LEN + 1];
    hex_of("what do ya want for nothing?", 28, (const uint8_t *)"Jefe", 4, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t big[131];
    memset(big, 0xaa, sizeof(big));
    static const char msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    hex_of(msg, sizeof(msg) - 1, big, sizeof(big), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* No key, no value (the caller then redacts). */
    assert_false(ms_secret_hmac(NULL, 0, ms_bytes_of("x", 1), hex));
    assert_string_equal(hex, "");
}

static const uint8_t cli4[4] = { 10, 0, 0, 5 }, srv4[4] = { 10, 0, 0, 1 };
static const struct ms_flow_meta meta = {
    .ts_us = 1,
    .flow_id = 7,
    .ip_version = 4,
    .src_addr = cli4,
    .src_port = 40000,
    .dest_addr = srv4,
    .dest_port = 110,
};

static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
#define PASSWORD "Summer 2026!pw"
#define TOKEN "ya29.token-ABCDEFGHIJ"
#define RESPONSE "b913a602c7eda7a495b4e6e7334d3890"
#define HASHCAT "b913a602c7eda7a495b4e6e7334d3890:<1896.697170952@dbc.mtview.ca.us>"

static struct ms_event cred_event(void)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    struct ms_ev_credential *c = &ev.u.cred;
    c->command = "AUTH";
    c->mechanism = "PLAIN";
    c->username = ms_bytes_of("alice", 5);
    c->password = ms_bytes_of(PASSWORD, strlen(PASSWORD));
    c->token = ms_bytes_of(TOKEN, strlen(TOKEN));
    c->challenge = ms_bytes_of("<1896.697170952@dbc.mtview.ca.us>", 33);
    c->response = ms_bytes_of(RESPONSE, strlen(RESPONSE));
    c->hashcat = ms_bytes_of(HASHCAT, strlen(HASHCAT));
    c->hashcat_mode = 20;
    c->outcome = MS_OUTCOME_SUCCESS;
    return ev;
}

static struct json_object *cred_json(enum ms_secrets mode, const struct ms_event *ev)
{
    struct ms_output_opts o = { .format = MS_OUTPUT_JSON, .secrets = mode };
    o.hmac_key = KEY;
    o.hmac_key_len = sizeof(KEY) - 1;
    struct json_object *root = ms_json_event(&meta, ev, &o);
    assert_non_null(root);
    return root;
}

static struct json_object *member(struct json_object *root, const char *key)
{
    struct json_object *c = NULL, *v = NULL;
    assert_true(json_object_object_get_ex(root, "credential", &c));
    return json_object_object_get_ex(c, key, &v) ? v : NULL;
}

static const char *str_member(struct json_object *root, const char *key)
{
    struct json_object *v = member(root, key);
    assert_non_null(v);
    return json_object_get_string(v);
}

static void assert_absent(const char *text, const char *what)
{
    if (strstr(text, what))
        fail_msg("'%s' found in: %s", what, text);
}

static void test_json_modes(void **state)
{
    (void)state;
    struct ms_event ev = cred_event();
    char pw_hmac[MS_HMAC_HEX_LEN + 1], tok_hmac[MS_HMAC_HEX_LEN + 1];
    hex_of(PASSWORD, strlen(PASSWORD), KEY, sizeof(KEY) - 1, pw_hmac);
    hex_of(TOKEN, strlen(TOKEN), KEY, sizeof(KEY) - 1, tok_hmac);
    static const enum ms_secrets modes[] = { MS_SECRETS_REDACT, MS_SECRETS_MASK, MS_SECRETS_HASH,
                                             MS_SECRETS_CLEAR };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct json_object *root = cred_json(modes[i], &ev);
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        /* The challenge and the hashcat mode are in every mode, and so is
         * the alert, unchanged. */
        assert_string_equal(str_member(root, "challenge"), "<1896.697170952@dbc.mtview.ca.us>");
        assert_int_equal(json_object_get_int(member(root, "hashcat_mode")), 20);
        assert_non_null(strstr(text, "\"severity\":1"));
        if (modes[i] == MS_SECRETS_CLEAR) {
            assert_string_equal(str_member(root, "password"), PASSWORD);
            assert_string_equal(str_member(root, "token"), TOKEN);
            assert_string_equal(str_member(root, "response"), RESPONSE);
            assert_string_equal(str_member(root, "hashcat"), HASHCAT);
            assert_null(member(root, "password_length"));
            json_object_put(root);
            continue;
        }
        assert_absent(text, PASSWORD);
        assert_absent(text, TOKEN);
        assert_absent(text, RESPONSE); /* and so the hashcat line */
        assert_null(member(root, "password"));
        assert_null(member(root, "token"));
        assert_null(member(root, "response"));
        assert_null(member(root, "hashcat"));
        assert_true(json_object_get_boolean(member(root, "response_redacted")));
        assert_int_equal(json_object_get_int(member(root, "response_length")), 32);
        assert_true(json_object_get_boolean(member(root, "hashcat_redacted")));
        assert_int_equal(json_object_get_int(member(root, "password_length")), 14);
        assert_int_equal(json_object_get_int(member(root, "token_length")), 21);
        /* One form per secret. */
        static const char *const forms[] = { "redacted", "masked", "hmac" };
        const char *want = modes[i] == MS_SECRETS_REDACT ? "redacted"
                           : modes[i] == MS_SECRETS_MASK ? "masked"
                                                         : "hmac";
        for (size_t f = 0; f < 3; f++) {
            char k[32];
            snprintf(k, sizeof(k), "password_%s", forms[f]);
            assert_int_equal(member(root, k) != NULL, strcmp(forms[f], want) == 0);
            snprintf(k, sizeof(k), "token_%s", forms[f]);
            assert_int_equal(member(root, k) != NULL, strcmp(forms[f], want) == 0);
        }
        if (modes[i] == MS_SECRETS_MASK) {
            assert_string_equal(str_member(root, "password_masked"), "S************w");
            assert_string_equal(str_member(root, "token_masked"), "y*******************J");
        } else if (modes[i] == MS_SECRETS_HASH) {
            assert_string_equal(str_member(root, "password_hmac"), pw_hmac);
            assert_string_equal(str_member(root, "token_hmac"), tok_hmac);
        }
        json_object_put(root);
    }
}

/* A mask whose end characters are invalid UTF-8 is still valid JSON. */
static void test_json_mask_invalid_utf8(void **state)
{
    (void)state;
    struct ms_event ev = cred_event();
    ev.u.cred.token = MS_BYTES_NONE;
    ev.u.cred.password = ms_bytes_of("\xff"
                                     "bcdefg\xc3",
                                     8);
    struct json_object *root = cred_json(MS_SECRETS_MASK, &ev);
    assert_string_equal(str_member(root, "password_masked"), "\xef\xbf\xbd******\xef\xbf\xbd");
    assert_int_equal(json_object_get_int(member(root, "password_length")), 8);
    json_object_put(root);
    /* Without a key the hash mode cannot compute: it redacts. */
    struct ms_output_opts o = { .format = MS_OUTPUT_JSON, .secrets = MS_SECRETS_HASH };
    root = ms_json_event(&meta, &ev, &o);
    assert_true(json_object_get_boolean(member(root, "password_redacted")));
    assert_null(member(root, "password_hmac"));
    json_object_put(root);
}

static char *text_line(enum ms_secrets mode, const struct ms_event *ev)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    struct ms_output_opts o = { .format = MS_OUTPUT_TEXT, .secrets = mode };
    o.hmac_key = KEY;
    o.hmac_key_len = sizeof(KEY) - 1;
    assert_int_equal(ms_text_event(fp, &meta, ev, &o), 0);
    assert_int_equal(fclose(fp), 0);
    return buf;
}

static void test_text_modes(void **state)
{
    (void)state;
    struct ms_event ev = cred_event();
    ev.u.cred.token = MS_BYTES_NONE;
    char want[128], hex[MS_HMAC_HEX_LEN + 1];
    hex_of(PASSWORD, strlen(PASSWORD), KEY, sizeof(KEY) - 1, hex);
    char *l = text_line(MS_SECRETS_REDACT, &ev);
    assert_non_null(strstr(l, " \"alice\" / ******** (accepted)"));
    assert_absent(l, PASSWORD);
    free(l);
    l = text_line(MS_SECRETS_MASK, &ev);
    assert_non_null(strstr(l, " \"alice\" / \"S************w\" (accepted)"));
    free(l);
    l = text_line(MS_SECRETS_HASH, &ev);
    snprintf(want, sizeof(want), " \"alice\" / hmac:%s (accepted)", hex);
    assert_non_null(strstr(l, want));
    free(l);
    l = text_line(MS_SECRETS_CLEAR, &ev);
    assert_non_null(strstr(l, " \"alice\" / \"" PASSWORD "\" (accepted)"));
    free(l);
    /* A mask's ends are escaped like any captured byte. */
    ev.u.cred.password = ms_bytes_of("\x1b"
                                     "bcdefgh",
                                     8);
    l = text_line(MS_SECRETS_MASK, &ev);
    assert_non_null(strstr(l, " / \"\\x1b******h\" ("));
    free(l);
    /* A challenge/response login shows its hashcat mode; the line only
     * where secrets are shown (clear), quoted. */
    ev.u.cred.password = MS_BYTES_NONE;
    for (int m = MS_SECRETS_REDACT; m < MS_SECRETS_CLEAR; m++) {
        l = text_line((enum ms_secrets)m, &ev);
        assert_non_null(strstr(l, " / hashcat -m 20 ("));
        assert_absent(l, RESPONSE);
        free(l);
    }
    l = text_line(MS_SECRETS_CLEAR, &ev);
    assert_non_null(strstr(l, " / hashcat -m 20 \""));
    assert_non_null(strstr(l, RESPONSE));
    free(l);
}

static void test_hashcat_lines(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    struct ms_event ev = cred_event();
    int last = 0;
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    ev.u.cred.hashcat = ms_bytes_of("u::D:0011\nforged", 16);
    ev.u.cred.hashcat_mode = 5600;
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    /* A terminal escape (OSC ... BEL) in a user name. */
    static const char esc[] = "u::\x1b]0;pwned\x07"
                              "D:0011";
    ev.u.cred.hashcat = ms_bytes_of(esc, sizeof(esc) - 1);
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    ev.u.cred.hashcat = MS_BYTES_NONE; /* no line: nothing */
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    ev.u.cred.hashcat = ms_bytes_of(HASHCAT, strlen(HASHCAT));
    ev.u.cred.hashcat_mode = 20;
    assert_int_equal(ms_secrets_write_hashcat(fp, &ev.u.cred, &last), MS_OK);
    assert_int_equal(ms_secrets_write_hashcat(NULL, &ev.u.cred, &last), MS_OK);
    assert_int_equal(fclose(fp), 0);
    assert_string_equal(buf, "# hashcat -m 20\n" HASHCAT "\n" HASHCAT "\n"
                             "# hashcat -m 5600\n"
                             "# a line was left out: it holds a control byte (a line break, "
                             "NUL, escape)\n"
                             "# a line was left out: it holds a control byte (a line break, "
                             "NUL, escape)\n"
                             "# hashcat -m 20\n" HASHCAT "\n");
    free(buf);
}

static enum ms_rc read_key(const char *dir, const void *data, size_t len, uint8_t *key,
                           size_t *klen, char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/key", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    bool exposed;
    enum ms_rc rc = ms_secrets_read_key(path, key, MS_HMAC_KEY_MAX, klen, &exposed, err, errlen);
    unlink(path);
    return rc;
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/ms-secrets-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static uint8_t key[MS_HMAC_KEY_MAX], data[MS_HMAC_KEY_MAX + 8];
    size_t klen;
    char err[512];
    memset(data, 'k', sizeof(data));
    /* 32 bytes, with LF or CRLF or neither: the same key. */
    assert_int_equal(read_key(dir, "0123456789abcdef0123456789abcdef\r\n", 34, key, &klen, err,
                              sizeof(err)),
                     MS_OK);
    assert_int_equal(klen, 32);
    assert_memory_equal(key, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(read_key(dir, "0123456789abcdef0123456789abcdef\n", 33, key, &klen, err,
                              sizeof(err)),
                     MS_OK);
    assert_int_equal(klen, 32);
    /* A lone CR is the key's. */
    assert_int_equal(read_key(dir, "0123456789abcdef0123456789abcdef\r", 33, key, &klen, err,
                              sizeof(err)),
                     MS_OK);
    assert_int_equal(klen, 33);
    /* 31 bytes (and 31 with a line end), empty, a line end alone: refused. */
    assert_int_equal(read_key(dir, data, 31, key, &klen, err, sizeof(err)), MS_ERR_ARG);
    assert_non_null(strstr(err, "at least 32"));
    data[31] = '\n';
    assert_int_equal(read_key(dir, data, 32, key, &klen, err, sizeof(err)), MS_ERR_ARG);
    data[31] = 'k';
    assert_int_equal(read_key(dir, "", 0, key, &klen, err, sizeof(err)), MS_ERR_ARG);
    assert_int_equal(read_key(dir, "\r\n", 2, key, &klen, err, sizeof(err)), MS_ERR_ARG);
    assert_non_null(strstr(err, "empty"));
    /* The longest, with and without its CRLF; one byte more is refused. */
    assert_int_equal(read_key(dir, data, MS_HMAC_KEY_MAX, key, &klen, err, sizeof(err)), MS_OK);
    assert_int_equal(klen, MS_HMAC_KEY_MAX);
    data[MS_HMAC_KEY_MAX] = '\r';
    data[MS_HMAC_KEY_MAX + 1] = '\n';
    assert_int_equal(read_key(dir, data, MS_HMAC_KEY_MAX + 2, key, &klen, err, sizeof(err)), MS_OK);
    assert_int_equal(klen, MS_HMAC_KEY_MAX);
    data[MS_HMAC_KEY_MAX] = 'k';
    assert_int_equal(read_key(dir, data, MS_HMAC_KEY_MAX + 1, key, &klen, err, sizeof(err)),
                     MS_ERR_ARG);
    assert_non_null(strstr(err, "longer than"));
    /* No key text in any message. */
    assert_null(strstr(err, "kkkk"));
    bool exposed;
    assert_int_equal(ms_secrets_read_key("/nonexistent/key", key, sizeof(key), &klen, &exposed, err,
                                         sizeof(err)),
                     MS_ERR_IO);
    /* A name that opens nothing may be the key itself: not repeated. */
    assert_null(strstr(err, "nonexistent"));
    assert_int_equal(rmdir(dir), 0);
}

static void test_hashes_file_open(void **state)
{
    (void)state;
    char dir[] = "/tmp/ms-secrets-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], link[512], err[512];
    snprintf(path, sizeof(path), "%s/hashes", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    mode_t old = umask(0);
    FILE *fp = ms_secrets_open_hashes(path, err, sizeof(err));
    umask(old);
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(chmod(path, 0640), 0);
    fp = ms_secrets_open_hashes(path, err, sizeof(err));
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(symlink(path, link), 0);
    assert_null(ms_secrets_open_hashes(link, err, sizeof(err)));
    assert_non_null(strstr(err, "symbolic link"));
    assert_null(ms_secrets_open_hashes(dir, err, sizeof(err)));
    assert_int_equal(unlink(link), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask),       cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_json_modes), cmocka_unit_test(test_json_mask_invalid_utf8),
        cmocka_unit_test(test_text_modes), cmocka_unit_test(test_hashcat_lines),
        cmocka_unit_test(test_key_file),   cmocka_unit_test(test_hashes_file_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
