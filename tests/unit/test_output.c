/* Output rendering: captured bytes cannot steer a terminal (--text) and
 * always make valid UTF-8 JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/json.h"
#include "../../output/text.h"

static char *render_text(const char *user, size_t len)
{
    struct ms_event ev = { .kind = MS_EV_CREDENTIAL, .app_proto = "pop3" };
    ev.u.cred.command = "USER";
    ev.u.cred.mechanism = "USER";
    ev.u.cred.username = ms_bytes_of(user, len);
    struct ms_flow_meta m = { .ts_us = 0, .flow_id = 1, .src_ip = "10.0.0.5", .src_port = 1,
                              .dest_ip = "10.0.0.1", .dest_port = 110 };
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    assert_int_equal(ms_text_event(fp, &m, &ev, false), 0);
    fclose(fp);
    return buf;
}

static void test_text_escapes_controls(void **state)
{
    (void)state;
    /* C0 (ESC), C1 (8-bit CSI), a bidi override, invalid UTF-8. */
    static const char evil[] = "a\x1b[2Jb\xc2\x9b" "31mc\xe2\x80\xaeZ\xff";
    char *out = render_text(evil, sizeof(evil) - 1);
    assert_non_null(strstr(out, "a\\x1b[2Jb\\xc2\\x9b31mc\\xe2\\x80\\xaeZ\\xff"));
    for (const char *p = out; *p; p++)
        assert_true((unsigned char)*p >= 0x20 || *p == '\n');
    free(out);
    /* Printable UTF-8 (here "Zoë ✓") passes as it is. */
    static const char ok[] = "Zo\xc3\xab \xe2\x9c\x93";
    out = render_text(ok, sizeof(ok) - 1);
    assert_non_null(strstr(out, ok));
    free(out);
}

static void test_json_is_valid_utf8(void **state)
{
    (void)state;
    struct json_object *o = ms_json_bytes(ms_bytes_of("a\xff\xc3\x28" "b\xed\xa0\x80", 8));
    assert_non_null(o);
    /* Each invalid byte becomes U+FFFD (EF BF BD); surrogates are invalid. */
    assert_string_equal(json_object_get_string(o),
                        "a\xef\xbf\xbd\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
    o = ms_json_bytes(ms_bytes_of("ok \xe2\x9c\x93", 6));
    assert_string_equal(json_object_get_string(o), "ok \xe2\x9c\x93");
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escapes_controls),
        cmocka_unit_test(test_json_is_valid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
