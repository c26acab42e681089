/* Unit tests for capture/source.c's reading of classic pcap files
 * (capture/pcap_records.c reads the plain ones, libpcap the rest): every
 * file reads exactly as libpcap 1.10 reads it, packet for packet (time,
 * captured length, bytes) and to the same end (the same error text).
 * Files: every capture in pcaps/, and made here: micro- and nanosecond
 * ones, each cut at every offset, a record longer than the snapshot
 * length (kept to it, as libpcap does) and cut everywhere too, a capture
 * length past libpcap's maximum, the other byte order, an FCS length in
 * the link type field, a BPF filter, 6 MiB of records of many sizes (to
 * lie across the reads of the block). The position it reports (the
 * progress line's) moves forward and ends at the file's size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/pcap_records.h"
#include "capture/source.h"
#include "common/limits.h"

#define MAX_FILE (1u << 16)

/* What one reader made of a file. */
struct reading {
    size_t n;
    uint64_t ts[64];
    size_t caplen[64];
    uint8_t digest[64]; /* a sum of each packet's bytes */
    bool error;
    char why[600];
    size_t total; /* packets, past the 64 noted */
    uint64_t sum; /* of every packet's bytes, weighted by position */
};

static void note(struct reading *r, uint64_t ts, const uint8_t *d, size_t caplen)
{
    uint8_t dg = 0;
    for (size_t i = 0; i < caplen; i++) {
        dg = (uint8_t)(dg * 31u + d[i]);
        r->sum += (uint64_t)d[i] * (i + 1);
    }
    if (r->n < 64) {
        r->ts[r->n] = ts;
        r->caplen[r->n] = caplen;
        r->digest[r->n] = dg;
        r->n++;
    }
    r->sum = r->sum * 1000003u + ts + caplen;
    r->total++;
}

static void read_libpcap(const char *path, const char *filter, struct reading *r)
{
    memset(r, 0, sizeof(*r));
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!p) {
        r->error = true;
        snprintf(r->why, sizeof(r->why), "%s", err);
        return;
    }
    if (filter) {
        struct bpf_program prog;
        assert_int_equal(pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN), 0);
        assert_int_equal(pcap_setfilter(p, &prog), 0);
        pcap_freecode(&prog);
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1)
        note(r, (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec, d, h->caplen);
    if (rc == PCAP_ERROR) {
        r->error = true;
        snprintf(r->why, sizeof(r->why), "%s", pcap_geterr(p));
    }
    pcap_close(p);
}

static void read_source(const char *path, const char *filter, struct reading *r)
{
    memset(r, 0, sizeof(*r));
    char err[512];
    enum ms_rc why;
    struct ms_source *s = ms_source_open_file(path, filter, &why, err, sizeof(err));
    if (!s) {
        r->error = true;
        /* "NAME: reason", as libpcap's reason */
        snprintf(r->why, sizeof(r->why), "%s", err + strlen(path) + 2);
        return;
    }
    uint64_t ts;
    const uint8_t *d;
    size_t caplen;
    int lt;
    enum ms_next x;
    /* The progress line's position: forward, within the file, at its end
     * when done; for a plain file (read here in blocks) short of the end
     * while a packet is still to come. */
    uint8_t fh[MS_PCAP_FILE_HEADER];
    bool nsec, plain = false;
    FILE *fp = fopen(path, "rb");
    if (fp) {
        plain = fread(fh, 1, sizeof(fh), fp) == sizeof(fh) && ms_pcap_records_plain(fh, &nsec);
        (void)fclose(fp);
    }
    uint64_t last = 0, done, total;
    bool at_end = false;
    while ((x = ms_source_next(s, &ts, &d, &caplen, &lt)) == MS_NEXT_PACKET) {
        note(r, ts, d, caplen);
        assert_false(plain && at_end);
        assert_true(ms_source_position(s, &done, &total));
        assert_true(done >= last && done <= total);
        at_end = done == total;
        last = done;
    }
    if (x == MS_NEXT_END) {
        assert_true(ms_source_position(s, &done, &total));
        assert_int_equal(done, total);
    }
    if (x == MS_NEXT_ERROR) {
        r->error = true;
        snprintf(r->why, sizeof(r->why), "%s", ms_source_error(s) + strlen(path) + 2);
    }
    ms_source_close(s);
}

static void assert_same(const struct reading *a, const struct reading *b, const char *what)
{
    if (a->total != b->total || a->sum != b->sum || a->error != b->error ||
        strcmp(a->why, b->why) != 0) {
        print_error("%s: libpcap %zu packets%s%s, source %zu%s%s\n", what, a->total,
                    a->error ? ", error " : "", a->why, b->total, b->error ? ", error " : "",
                    b->why);
        fail();
    }
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->ts[i], b->ts[i]);
        assert_int_equal(a->caplen[i], b->caplen[i]);
        assert_int_equal(a->digest[i], b->digest[i]);
    }
}

static void check_file(const char *path, const char *filter)
{
    struct reading a, b;
    read_libpcap(path, filter, &a);
    read_source(path, filter, &b);
    assert_same(&a, &b, path);
}

/* ---- files made here --------------------------------------------------- */

struct file {
    uint8_t b[MAX_FILE];
    size_t n;
    bool swap;
};

static void put32(struct file *f, uint32_t v)
{
    if (f->swap)
        v = __builtin_bswap32(v);
    memcpy(f->b + f->n, &v, 4);
    f->n += 4;
}

static void put16(struct file *f, uint16_t v)
{
    if (f->swap)
        v = __builtin_bswap16(v);
    memcpy(f->b + f->n, &v, 2);
    f->n += 2;
}

static void header(struct file *f, uint32_t magic, uint32_t snaplen, uint32_t linktype, bool swap)
{
    f->n = 0;
    f->swap = swap;
    put32(f, magic);
    put16(f, 2);
    put16(f, 4);
    put32(f, 0);
    put32(f, 0);
    put32(f, snaplen);
    put32(f, linktype);
}

/* A record of caplen bytes (an Ethernet frame's start, then a pattern). */
static void record(struct file *f, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
    put32(f, sec);
    put32(f, frac);
    put32(f, caplen);
    put32(f, len);
    for (uint32_t i = 0; i < caplen; i++)
        f->b[f->n + i] = (uint8_t)(i * 7u + caplen + sec);
    if (caplen >= 14) {
        f->b[f->n + 12] = 0x08; /* IPv4 */
        f->b[f->n + 13] = 0x00;
    }
    f->n += caplen;
}

static char tmpdir[64];

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* f's first n bytes as tmpdir/name.pcap, read both ways. */
static void check_made(const struct file *f, size_t n, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.pcap", tmpdir, name);
    write_file(path, f->b, n);
    check_file(path, NULL);
}

/* The file whole, then cut after each of its bytes past the header. */
static void check_cuts(const struct file *f, const char *name)
{
    for (size_t cut = MS_PCAP_FILE_HEADER; cut <= f->n; cut++)
        check_made(f, cut, name);
}

static void test_plain_micro_and_nano(void **state)
{
    (void)state;
    static struct file f;
    bool nsec = true;
    header(&f, 0xa1b2c3d4u, 65535, 1, false);
    assert_true(ms_pcap_records_plain(f.b, &nsec));
    assert_false(nsec);
    record(&f, 1700000000u, 999999u, 60, 60);
    record(&f, 1700000001u, 5u, 0, 0);
    record(&f, 1700000001u, 6u, 200, 1514);
    record(&f, 1700000002u, 0u, 14, 14);
    check_cuts(&f, "micro");
    header(&f, 0xa1b23c4du, 65535, 1, false);
    assert_true(ms_pcap_records_plain(f.b, &nsec));
    assert_true(nsec);
    record(&f, 1700000000u, 999999999u, 60, 60);
    record(&f, 1700000001u, 1999u, 61, 61);
    record(&f, 1700000001u, 2000u, 62, 62);
    check_cuts(&f, "nano");
}

static void test_longer_than_snaplen(void **state)
{
    (void)state;
    static struct file f;
    header(&f, 0xa1b2c3d4u, 64, 1, false);
    record(&f, 1700000000u, 1u, 60, 60);
    record(&f, 1700000000u, 2u, 100, 100); /* kept to 64 bytes */
    record(&f, 1700000000u, 3u, 64, 64);
    check_cuts(&f, "salvage");
}

/* Records of sizes up to the largest, many times the reads
 * (MS_PCAP_READ_BYTES) and the block (MS_PCAP_BLOCK_BYTES) together, so
 * that records and their headers start, end and lie across reads
 * everywhere, and the block is moved and refilled many times over. The
 * first record ends 8 bytes before the first read does (it starts past
 * the file's header): the second one's header lies across the two reads,
 * and it is longer than a read. */
static void test_records_across_reads(void **state)
{
    (void)state;
    static const uint32_t first[] = { MS_PCAP_READ_BYTES - 8 - 16, MS_SNAPLEN_MAX };
    static const uint32_t sizes[] = {
        60,         1514,       0,     MS_SNAPLEN_MAX,         131055, 131056, 131057, 9000,
        65535,      200000,     1,     MS_SNAPLEN_MAX - 16,    54,     262127, 100,    1514,
        (1u << 17), (1u << 18), 40000, MS_PCAP_READ_BYTES - 8, 4321,
    };
    char path[128];
    snprintf(path, sizeof(path), "%s/reads.pcap", tmpdir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static struct file f;
    header(&f, 0xa1b2c3d4u, MS_SNAPLEN_MAX, 1, false);
    assert_int_equal(fwrite(f.b, 1, f.n, fp), f.n);
    static uint8_t rec[16 + MS_SNAPLEN_MAX];
    size_t total = 0;
    uint32_t x = 12345;
    for (uint32_t i = 0; total < 6 * MS_PCAP_BLOCK_BYTES; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t cap = i < 2        ? first[i]
                       : i % 4 != 0 ? (x >> 8) % 2000
                                    : sizes[(x >> 16) % (sizeof(sizes) / 4)];
        uint32_t h[4] = { 1700000000u + i, i % 1000000u, cap, cap + (i & 1) };
        memcpy(rec, h, sizeof(h));
        for (uint32_t j = 0; j < cap; j++)
            rec[16 + j] = (uint8_t)(j * 13u + i);
        assert_int_equal(fwrite(rec, 1, 16 + cap, fp), 16 + cap);
        total += 16 + cap;
    }
    assert_int_equal(fclose(fp), 0);
    check_file(path, NULL);
}

static void test_capture_length_too_large(void **state)
{
    (void)state;
    static struct file f;
    header(&f, 0xa1b2c3d4u, 65535, 1, false);
    record(&f, 1700000000u, 1u, 60, 60);
    put32(&f, 1700000000u);
    put32(&f, 2u);
    put32(&f, 262145u);
    put32(&f, 262145u);
    check_made(&f, f.n, "toolarge");
}

static void test_not_plain(void **state)
{
    (void)state;
    static struct file f;
    bool nsec;
    /* The other byte order: libpcap reads it. */
    header(&f, 0xa1b2c3d4u, 65535, 1, true);
    assert_false(ms_pcap_records_plain(f.b, &nsec));
    record(&f, 1700000000u, 1u, 60, 60);
    record(&f, 1700000001u, 2u, 70, 70);
    check_made(&f, f.n, "swapped");
    /* An FCS length in the link type field. */
    header(&f, 0xa1b2c3d4u, 65535, 1u | 0x10000000u | (2u << 29), false);
    assert_false(ms_pcap_records_plain(f.b, &nsec));
    record(&f, 1700000000u, 1u, 64, 64);
    check_made(&f, f.n, "fcs");
    /* Version 2.3. */
    header(&f, 0xa1b2c3d4u, 65535, 1, false);
    f.b[6] = 3;
    assert_false(ms_pcap_records_plain(f.b, &nsec));
}

/* ---- pcaps/ ------------------------------------------------------------ */

static size_t walk(const char *dir, const char *filter)
{
    size_t files = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode)) {
            files += walk(path, filter);
        } else if (n > 5 && strcmp(e->d_name + n - 5, ".pcap") == 0) {
            check_file(path, filter);
            files++;
        }
    }
    closedir(d);
    return files;
}

static void test_every_capture_in_pcaps(void **state)
{
    (void)state;
    assert_true(walk(MS_PCAPS_DIR, NULL) >= 50);
    assert_true(walk(MS_PCAPS_DIR "/pop3", "tcp port 110 and greater 100") > 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ms_test_source.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = { "micro", "nano", "salvage", "toolarge", "swapped", "fcs", "reads" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s.pcap", tmpdir, names[i]);
        (void)unlink(path);
    }
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_micro_and_nano),
        cmocka_unit_test(test_longer_than_snaplen),
        cmocka_unit_test(test_records_across_reads),
        cmocka_unit_test(test_capture_length_too_large),
        cmocka_unit_test(test_not_plain),
        cmocka_unit_test(test_every_capture_in_pcaps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
