/* Unit tests for common/community_id.c: known answers from the spec's
 * published baselines, so the ids match what Suricata and Zeek log, and the
 * output bound. Vectors are from github.com/corelight/community-id-spec at
 * b1fe530faa0c6edc56fad01abf0bfe71f01134ed, files named above each group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "common/community_id.h"

/* A test table, its fields in the order the vectors below are written. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): see above */
struct vec {
    uint16_t seed;
    uint8_t proto;
    const char *saddr, *daddr; /* text; v6 if it has a ':' */
    uint16_t sport, dport;     /* ICMP: type, code; port-less protocols: 0 */
    const char *want;
};

/* clang-format off: the spec's vectors, one per line */
static const struct vec vecs[] = {
    /* baseline/baseline_deflt.json: ICMP ports there are already the
     * mapped type/counterpart, which the mapping leaves unchanged. */
    { 0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
      "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=" },
    { 0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
      "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=" },
    { 0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
      "1:zavyT/cezQr1fmImYCwYnMXbgck=" },
    { 0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
      "1:zavyT/cezQr1fmImYCwYnMXbgck=" },
    { 0, 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
      "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=" },
    { 0, 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
      "1:hLZd0XGWojozrvxqE0dWB1iM6R0=" },
    { 0, 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
      "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=" },
    { 0, 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
      "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=" },
    { 0, 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=" },
    { 0, 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00=" },
    { 0, 1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=" },
    { 0, 1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=" },
    { 0, 1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=" },
    { 0, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
      "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=" },
    { 0, 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
      "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=" },
    { 0, 132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=" },
    { 0, 132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=" },
    { 0, 6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" },
    { 0, 6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" },
    { 0, 17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=" },
    { 0, 17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=" },
    { 0, 46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=" },
    { 0, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=" },
    /* baseline/baseline_seed1.json (seed 1): ICMP ports there are already the
     * mapped type/counterpart, which the mapping leaves unchanged. */
    { 1, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
      "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { 1, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
      "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { 1, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
      "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { 1, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
      "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { 1, 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
      "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=" },
    { 1, 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
      "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=" },
    { 1, 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
      "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { 1, 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
      "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { 1, 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=" },
    { 1, 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=" },
    { 1, 1, "192.168.0.89", "192.168.0.1", 8, 0, "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { 1, 1, "192.168.0.1", "192.168.0.89", 0, 8, "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { 1, 1, "10.0.0.1", "10.0.0.2", 11, 0, "1:XjUibYHaafLQ3pxQeiMI8g25q20=" },
    { 1, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
      "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { 1, 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
      "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { 1, 132, "192.168.170.8", "192.168.170.56", 7, 7, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { 1, 132, "192.168.170.56", "192.168.170.8", 7, 7, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { 1, 6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { 1, 6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { 1, 17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { 1, 17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { 1, 46, "10.1.12.1", "10.1.12.2", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI=" },
    { 1, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI=" },
    /* baseline/README.md, "Default settings" table: raw ICMP type/code. */
    { 0, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=" },
    { 0, 6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM=" },
    { 0, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=" },
    { 0, 17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=" },
    { 0, 132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=" },
    { 0, 132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=" },
    { 0, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=" },
    { 0, 1, "5.6.7.8", "1.2.3.4", 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=" },
    { 0, 1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=" },
    { 0, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=" },
    { 0, 58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
      129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=" },
    { 0, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=" },
    { 0, 46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=" },
    { 0, 46, "5.6.7.8", "1.2.3.4", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=" },
    { 0, 46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=" },
    { 0, 46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
      0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=" },
    /* baseline/README.md, "A custom seed=1 value" table. */
    { 1, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
    { 1, 6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
    { 1, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=" },
    { 1, 17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=" },
    { 1, 132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=" },
    { 1, 132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=" },
    { 1, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=" },
    { 1, 1, "5.6.7.8", "1.2.3.4", 0, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=" },
    { 1, 1, "1.2.3.4", "5.6.7.8", 11, 0, "1:1DD7cWGC/Yg91YGsQeni8du3pIA=" },
    { 1, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      128, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=" },
    { 1, 58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
      129, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=" },
    { 1, 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      146, 0, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=" },
    { 1, 46, "1.2.3.4", "5.6.7.8", 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8=" },
    { 1, 46, "5.6.7.8", "1.2.3.4", 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8=" },
    { 1, 46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
      0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=" },
    { 1, 46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
      0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=" },
};
/* clang-format on */

/* Parses a vector's addresses; returns the IP version. */
static uint8_t parse(const struct vec *v, uint8_t s[16], uint8_t d[16])
{
    int af = strchr(v->saddr, ':') ? AF_INET6 : AF_INET;

    assert_int_equal(inet_pton(af, v->saddr, s), 1);
    assert_int_equal(inet_pton(af, v->daddr, d), 1);
    return af == AF_INET6 ? 6 : 4;
}

static void test_baseline_vectors(void **state)
{
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        uint8_t s[16], d[16];
        char out[MS_COMMUNITY_ID_LEN];
        uint8_t ipv = parse(v, s, d);

        assert_int_equal(ms_community_id_v1(v->seed, ipv, s, d, v->proto, v->sport, v->dport, out,
                                            sizeof out),
                         MS_OK);
        assert_string_equal(out, v->want);
    }
}

/* The baselines hold both directions of each two-way flow; this also checks
 * that swapping the arguments of every TCP/UDP/SCTP vector changes nothing,
 * including the equal-address case where only the ports decide. */
static void test_order_independent(void **state)
{
    static const uint8_t a[4] = { 10, 0, 0, 1 };
    char x[MS_COMMUNITY_ID_LEN], y[MS_COMMUNITY_ID_LEN];

    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        uint8_t s[16], d[16];
        uint8_t ipv;

        if (v->proto != 6 && v->proto != 17 && v->proto != 132)
            continue;
        ipv = parse(v, s, d);
        assert_int_equal(ms_community_id_v1(v->seed, ipv, d, s, v->proto, v->dport, v->sport, x,
                                            sizeof x),
                         MS_OK);
        assert_string_equal(x, v->want);
    }
    assert_int_equal(ms_community_id_v1(0, 4, a, a, 6, 1234, 80, x, sizeof x), MS_OK);
    assert_int_equal(ms_community_id_v1(0, 4, a, a, 6, 80, 1234, y, sizeof y), MS_OK);
    assert_string_equal(x, y);
}

/* ICMP types without a counterpart are one-way: the reverse direction is a
 * different flow (baseline_deflt.json: 10.0.0.1 -> 10.0.0.2 time exceeded). */
static void test_icmp_one_way_keeps_direction(void **state)
{
    static const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };
    char out[MS_COMMUNITY_ID_LEN];

    assert_int_equal(ms_community_id_v1(0, 4, s, d, 1, 11, 0, out, sizeof out), MS_OK);
    assert_string_equal(out, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
    assert_int_equal(ms_community_id_v1(0, 4, d, s, 1, 11, 0, out, sizeof out), MS_OK);
    assert_string_not_equal(out, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
}

static void test_output_bound(void **state)
{
    static const uint8_t s[4] = { 128, 232, 110, 120 }, d[4] = { 66, 35, 250, 204 };
    const char *want = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
    size_t need = strlen(want) + 1;
    char buf[MS_COMMUNITY_ID_LEN + 8];

    assert_true(need <= MS_COMMUNITY_ID_LEN);
    for (size_t len = 0; len < need; len++) {
        memset(buf, 'X', sizeof buf);
        assert_int_equal(ms_community_id_v1(0, 4, s, d, 6, 34855, 80, buf, len), MS_ERR_LIMIT);
        if (len > 0)
            assert_int_equal(buf[0], '\0');
        for (size_t i = len ? 1 : 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], 'X');
    }
    memset(buf, 'X', sizeof buf);
    assert_int_equal(ms_community_id_v1(0, 4, s, d, 6, 34855, 80, buf, need), MS_OK);
    assert_string_equal(buf, want);
    for (size_t i = need; i < sizeof buf; i++)
        assert_int_equal(buf[i], 'X');
}

static void test_bad_args(void **state)
{
    static const uint8_t a[16] = { 1 };
    char out[MS_COMMUNITY_ID_LEN];

    assert_int_equal(ms_community_id_v1(0, 5, a, a, 6, 1, 2, out, sizeof out), MS_ERR_ARG);
    assert_string_equal(out, "");
    assert_int_equal(ms_community_id_v1(0, 0, a, a, 6, 1, 2, out, sizeof out), MS_ERR_ARG);
    assert_int_equal(ms_community_id_v1(0, 4, NULL, a, 6, 1, 2, out, sizeof out), MS_ERR_ARG);
    assert_int_equal(ms_community_id_v1(0, 6, a, NULL, 6, 1, 2, out, sizeof out), MS_ERR_ARG);
    assert_int_equal(ms_community_id_v1(0, 6, a, a, 6, 1, 2, NULL, 64), MS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_vectors),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_icmp_one_way_keeps_direction),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
