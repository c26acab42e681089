/* Unit tests for capture/instream.c: magic sniffing; gzip, xz and zstd
 * data (compressed here by the libraries' own encoders) read back whole
 * through the stream with every mix of input pieces (1 byte, a few, all:
 * one read(2) each, through a SOCK_SEQPACKET socket, which keeps message
 * boundaries) and output asked for 1 byte at a time or a stdio buffer's
 * worth; concatenated members, streams and
 * frames; data cut at every offset (a prefix of the original comes out,
 * and the damage is said; none when whole); peek before reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "capture/instream.h"

#define ORIG_LEN 3000

static uint8_t orig[ORIG_LEN];

/* Compressible but not trivial: text with a counter in it. */
static void make_orig(void)
{
    size_t n = 0;
    for (unsigned i = 0; n < ORIG_LEN; i++) {
        char line[64];
        int k = snprintf(line, sizeof(line), "line %u of a capture-like stream %c\n", i,
                         'a' + (char)(i * 7 % 26));
        for (int j = 0; j < k && n < ORIG_LEN; j++)
            orig[n++] = (uint8_t)line[j];
    }
}

/* One compressed copy of data[0..n) appended at out + *len. */
static void compress_into(enum ms_codec c, const uint8_t *data, size_t n, uint8_t *out, size_t cap,
                          size_t *len)
{
    if (c == MS_CODEC_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (uint8_t *)data;
        z.avail_in = (uInt)n;
        z.next_out = out + *len;
        z.avail_out = (uInt)(cap - *len);
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        *len += z.total_out;
        deflateEnd(&z);
    } else if (c == MS_CODEC_XZ) {
        size_t pos = *len;
        assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, data, n, out, &pos,
                                                 cap),
                         LZMA_OK);
        *len = pos;
    } else {
        /* With the content checksum (RFC 8878 3.1.1), as the zstd command
         * writes by default. */
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        assert_non_null(cc);
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
        size_t r = ZSTD_compress2(cc, out + *len, cap - *len, data, n);
        assert_false(ZSTD_isError(r));
        *len += r;
        ZSTD_freeCCtx(cc);
    }
}

struct result {
    uint8_t out[2 * ORIG_LEN + 16];
    size_t n;
    enum ms_codec codec;
    const char *damage; /* copied below: the stream's is gone once closed */
    char damage_buf[256];
};

/* Reads blob through an instream as source.c does: sniff, open, read to
 * the end. unbuffered: the FILE asks the stream for 1 byte at a time
 * (glibc's cookie streams read through their buffer), else for a
 * buffer's worth, as libpcap's reads do. The input arrives in
 * pieces of `piece` bytes (one read(2) each) when piece > 0, else from a
 * memory FILE with fread. peek: peek 4 bytes first. */
static void read_through(const uint8_t *blob, size_t len, size_t piece, bool unbuffered, bool peek,
                         struct result *res)
{
    FILE *in;
    pid_t child = -1;
    if (piece > 0) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            close(sv[0]);
            /* A read(2) shorter than a message loses the rest of it (a
             * pipe would keep it): the sniffed head (4 bytes, then 2)
             * goes byte by byte; the stream itself reads far more at a
             * time than a piece. */
            for (size_t off = 0, k; off < len; off += k) {
                k = off < MS_INSTREAM_HEAD ? 1 : len - off < piece ? len - off : piece;
                if (write(sv[1], blob + off, k) != (ssize_t)k)
                    _exit(1);
            }
            _exit(0);
        }
        close(sv[1]);
        in = fdopen(sv[0], "r");
        assert_non_null(in);
        setvbuf(in, NULL, _IONBF, 0); /* as standard input is */
    } else {
        in = fmemopen((void *)blob, len, "r");
        assert_non_null(in);
    }
    uint8_t head[MS_INSTREAM_HEAD];
    size_t got;
    res->codec = ms_instream_sniff(in, head, &got);
    struct ms_instream *st;
    char err[128];
    FILE *fp = ms_instream_open(in, true, piece > 0, res->codec, head, got, &st, err, sizeof(err));
    assert_non_null(fp);
    if (unbuffered)
        setvbuf(fp, NULL, _IONBF, 0);
    if (peek) {
        uint8_t m[4];
        size_t k = ms_instream_peek(st, m, sizeof(m));
        assert_true(k <= sizeof(m));
        if (k)
            assert_memory_equal(m, orig, k);
    }
    res->n = 0;
    for (;;) {
        size_t want = 4096;
        if (res->n + want > sizeof(res->out))
            want = sizeof(res->out) - res->n;
        size_t k = want ? fread(res->out + res->n, 1, want, fp) : 0;
        res->n += k;
        if (k == 0)
            break;
    }
    const char *d = ms_instream_damage(st);
    res->damage = NULL;
    if (d) {
        snprintf(res->damage_buf, sizeof(res->damage_buf), "%s", d);
        res->damage = res->damage_buf;
    }
    (void)fclose(fp);
    if (child > 0) {
        int ws;
        assert_int_equal(waitpid(child, &ws, 0), child);
    }
}

static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n, got;
        enum ms_codec codec;
    } cases[] = {
        { "\x1f\x8b\x08\x00", 4, 4, MS_CODEC_GZIP },
        { "\x1f\x8b", 2, 2, MS_CODEC_GZIP },
        { "\x1f", 1, 1, MS_CODEC_NONE },
        { "\xfd\x37\x7a\x58\x5a\x00\x00", 7, 6, MS_CODEC_XZ },
        { "\xfd\x37\x7a\x58\x5a\x01", 6, 6, MS_CODEC_NONE },
        { "\xfd\x37\x7a\x58\x5a", 5, 5, MS_CODEC_NONE },
        { "\x28\xb5\x2f\xfd\x00", 5, 4, MS_CODEC_ZSTD },
        { "\x28\xb5\x2f", 3, 3, MS_CODEC_NONE },
        { "\xd4\xc3\xb2\xa1\x02\x00", 6, 4, MS_CODEC_NONE },
        { "\x0a\x0d\x0d\x0a\x1c\x00", 6, 4, MS_CODEC_NONE },
        { "", 0, 0, MS_CODEC_NONE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[8] = { 0 };
        memcpy(buf, cases[i].bytes, cases[i].n);
        FILE *in = fmemopen(buf, cases[i].n ? cases[i].n : 1, "r");
        assert_non_null(in);
        if (!cases[i].n)
            (void)fgetc(in); /* an empty input */
        uint8_t head[MS_INSTREAM_HEAD];
        size_t got;
        assert_int_equal(ms_instream_sniff(in, head, &got), cases[i].codec);
        assert_int_equal(got, cases[i].got);
        assert_memory_equal(head, buf, got);
        (void)fclose(in);
    }
}

static const enum ms_codec CODECS[] = { MS_CODEC_GZIP, MS_CODEC_XZ, MS_CODEC_ZSTD };

static void test_whole_any_pieces(void **state)
{
    (void)state;
    static uint8_t blob[3 * ORIG_LEN];
    static struct result res;
    const size_t pieces[] = { 0, 1, 5, 1000 };

    for (size_t c = 0; c < 3; c++) {
        size_t len = 0;
        compress_into(CODECS[c], orig, ORIG_LEN, blob, sizeof(blob), &len);
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            for (int unbuffered = 0; unbuffered < 2; unbuffered++) {
                read_through(blob, len, pieces[p], unbuffered, p % 2 == 0, &res);
                assert_int_equal(res.codec, CODECS[c]);
                assert_null(res.damage);
                assert_int_equal(res.n, ORIG_LEN);
                assert_memory_equal(res.out, orig, ORIG_LEN);
            }
        }
    }
}

/* gzip members, xz streams, zstd frames one after the other: one output. */
static void test_concatenated(void **state)
{
    (void)state;
    static uint8_t blob[3 * ORIG_LEN];
    static struct result res;
    for (size_t c = 0; c < 3; c++) {
        size_t len = 0;
        compress_into(CODECS[c], orig, 1000, blob, sizeof(blob), &len);
        compress_into(CODECS[c], orig + 1000, 1, blob, sizeof(blob), &len);
        compress_into(CODECS[c], orig + 1001, ORIG_LEN - 1001, blob, sizeof(blob), &len);
        read_through(blob, len, 3, false, false, &res);
        assert_null(res.damage);
        assert_int_equal(res.n, ORIG_LEN);
        assert_memory_equal(res.out, orig, ORIG_LEN);
    }
}

/* Cut at every offset past the magic: a prefix of the original comes out,
 * and the stream says the data is truncated; whole, no damage. */
static void test_cut_everywhere(void **state)
{
    (void)state;
    static uint8_t blob[3 * ORIG_LEN];
    static struct result res;
    const char *names[] = { "truncated gzip data", "truncated xz data", "truncated zstd data" };
    for (size_t c = 0; c < 3; c++) {
        size_t len = 0;
        compress_into(CODECS[c], orig, ORIG_LEN, blob, sizeof(blob), &len);
        for (size_t cut = MS_INSTREAM_HEAD; cut <= len; cut++) {
            read_through(blob, cut, 0, cut % 3 == 0, cut % 2 == 0, &res);
            assert_int_equal(res.codec, CODECS[c]);
            assert_true(res.n <= ORIG_LEN);
            assert_memory_equal(res.out, orig, res.n);
            if (cut == len) {
                assert_null(res.damage);
                assert_int_equal(res.n, ORIG_LEN);
            } else {
                assert_non_null(res.damage);
                assert_string_equal(res.damage, names[c]);
            }
        }
    }
}

/* Uncompressed: the sniffed head is handed back before the rest. */
static void test_none_gives_head_back(void **state)
{
    (void)state;
    static struct result res;
    read_through(orig, ORIG_LEN, 2, false, true, &res);
    assert_int_equal(res.codec, MS_CODEC_NONE);
    assert_null(res.damage);
    assert_int_equal(res.n, ORIG_LEN);
    assert_memory_equal(res.out, orig, ORIG_LEN);
}

/* A byte flipped in the data: what comes out before the damage is the
 * original's; the stream ends there, saying so (xz and zstd check as they
 * go; gzip at the latest at its CRC). */
static void test_corrupt(void **state)
{
    (void)state;
    static uint8_t blob[3 * ORIG_LEN];
    static struct result res;
    for (size_t c = 0; c < 3; c++) {
        size_t len = 0;
        compress_into(CODECS[c], orig, ORIG_LEN, blob, sizeof(blob), &len);
        blob[len - 2] ^= 0x40; /* in the checksum: all data out, then the damage */
        read_through(blob, len, 0, false, false, &res);
        assert_non_null(res.damage);
        assert_non_null(strstr(res.damage_buf, "damaged"));
        assert_true(res.n <= ORIG_LEN);
    }
}

int main(void)
{
    make_orig();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_whole_any_pieces),
        cmocka_unit_test(test_concatenated),
        cmocka_unit_test(test_cut_everywhere),
        cmocka_unit_test(test_none_gives_head_back),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
