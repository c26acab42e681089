/* --web's address rules (output/web.h): what [ADDR:]PORT binds (loopback
 * unless an address is given) and which Host headers name the server (an
 * IP literal or, on loopback, localhost, with the port: a DNS name that an
 * attacker rebinds to the address never does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../output/web.h"

static void parse_ok(const char *spec, const char *addr, uint16_t port, bool v6, bool loopback)
{
    char a[MS_WEB_ADDR_STRLEN], err[256];
    uint16_t p = 1;
    bool is6 = !v6, lo = !loopback;
    assert_int_equal(ms_web_parse_addr(spec, a, &p, &is6, &lo, err, sizeof(err)), MS_OK);
    assert_string_equal(a, addr);
    assert_int_equal(p, port);
    assert_int_equal(is6, v6);
    assert_int_equal(lo, loopback);
}

static void test_parse(void **state)
{
    (void)state;
    parse_ok("8080", "127.0.0.1", 8080, false, true);
    parse_ok(":8080", "127.0.0.1", 8080, false, true);
    parse_ok("0", "127.0.0.1", 0, false, true);
    parse_ok("127.0.0.2:80", "127.0.0.2", 80, false, true);
    parse_ok("0.0.0.0:8080", "0.0.0.0", 8080, false, false);
    parse_ok("192.0.2.7:8080", "192.0.2.7", 8080, false, false);
    parse_ok("[::1]:8080", "::1", 8080, true, true);
    parse_ok("[::]:8080", "::", 8080, true, false);
    parse_ok("[2001:db8::1]:443", "2001:db8::1", 443, true, false);
    static const char *const bad[] = { "",         "abc",        "65536",           "-1",
                                       "+80",      "127.0.0.1:", "127.0.0.1",       ":",
                                       "::1:8080", "[::1]",      "host.example:80", "1.2.3:80",
                                       "[::1:80",  "[]:80",      "[127.0.0.1]:80" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char a[MS_WEB_ADDR_STRLEN], err[256] = "";
        uint16_t p;
        bool v6, lo;
        assert_int_equal(ms_web_parse_addr(bad[i], a, &p, &v6, &lo, err, sizeof(err)), MS_ERR_ARG);
        assert_non_null(strstr(err, "--web"));
    }
}

static void test_host(void **state)
{
    (void)state;
    assert_true(ms_web_host_ok("127.0.0.1:8080", 8080, true));
    assert_true(ms_web_host_ok("localhost:8080", 8080, true));
    assert_true(ms_web_host_ok("LocalHost:8080", 8080, true));
    assert_true(ms_web_host_ok("[::1]:8080", 8080, true));
    assert_true(ms_web_host_ok("192.0.2.7:8080", 8080, false));
    assert_true(ms_web_host_ok("192.0.2.7", 80, false));
    assert_true(ms_web_host_ok("[2001:db8::1]:8080", 8080, false));
    /* A name, even one that resolves here: rebinding. */
    assert_false(ms_web_host_ok("localhost:8080", 8080, false));
    assert_false(ms_web_host_ok("evil.example:8080", 8080, true));
    assert_false(ms_web_host_ok("127.0.0.1.evil.example:8080", 8080, true));
    /* Another port, or none on a port that is not 80. */
    assert_false(ms_web_host_ok("127.0.0.1:8081", 8080, true));
    assert_false(ms_web_host_ok("127.0.0.1", 8080, true));
    assert_false(ms_web_host_ok("127.0.0.1:", 8080, true));
    assert_false(ms_web_host_ok("127.0.0.1:08080x", 8080, true));
    assert_false(ms_web_host_ok("[::1]x:8080", 8080, true));
    assert_false(ms_web_host_ok("[::1", 8080, true));
    assert_false(ms_web_host_ok("[localhost]:8080", 8080, true));
    assert_false(ms_web_host_ok("", 8080, true));
    assert_false(ms_web_host_ok(":8080", 8080, true));
    assert_false(ms_web_host_ok(NULL, 8080, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
