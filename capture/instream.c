/* Capture input streams: see instream.h. Magic numbers: gzip 1f 8b
 * (RFC 1952 2.3.1), xz fd 37 7a 58 5a 00 (the .xz file format 2.1.1.1),
 * zstd 28 b5 2f fd (RFC 8878 3.1.1). Concatenated data decompresses as a
 * whole, as gzip, xz and zstd do: several gzip members (RFC 1952 2.2), xz
 * streams, zstd frames. Data that ends early, or is damaged, ends the
 * stream there: everything decoded before it is handed on, and
 * ms_instream_damage says why it ended, so the capture reader's clean end
 * or "truncated" is reported as that. The libraries allocate through
 * common/alloc.h, so that tests/alloc can fail each allocation. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDCtx_advanced: our allocator */
#include "instream.h"

#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../common/alloc.h"
#include "../common/limits.h"

/* Compressed bytes read from the input at a time. */
#define IBUF_SIZE ((size_t)64 * 1024)

/* xz counts the whole decoder against its limit: the dictionary and some
 * 100 KiB of state. */
#define XZ_MEMLIMIT (MS_DECOMP_WINDOW_MAX + (1u << 20))

static const uint8_t GZIP_MAGIC[] = { 0x1f, 0x8b };
static const uint8_t XZ_MAGIC[] = { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 };
static const uint8_t ZSTD_MAGIC[] = { 0x28, 0xb5, 0x2f, 0xfd };

struct ms_instream {
    FILE *in;
    bool own, direct;
    enum ms_codec codec;
    /* Bytes handed on before anything else: the sniffed head of an
     * uncompressed input, or what ms_instream_peek decompressed. */
    uint8_t pend[8];
    size_t pn, pat;
    /* Compressed input: ibuf[ipos..ilen) is not decoded yet; ieof: the
     * input has no more. */
    uint8_t *ibuf;
    size_t ilen, ipos;
    bool ieof;
    bool end;        /* the compressed data ended where it should */
    bool member_end; /* gzip: a member ended; another may follow */
    bool in_frame;   /* zstd: inside a frame */
    char damage[192];
    z_stream z;
    bool z_init;
    lzma_stream x;
    bool x_init;
    ZSTD_DCtx *zd;
};

static const char *codec_name(enum ms_codec c)
{
    return c == MS_CODEC_GZIP ? "gzip" : c == MS_CODEC_XZ ? "xz" : "zstd";
}

static void *z_alloc(void *opaque, uInt items, uInt size)
{
    (void)opaque;
    return ms_malloc((size_t)items * size); /* two 32-bit factors: no overflow */
}

static void z_free(void *opaque, void *p)
{
    (void)opaque;
    ms_free(p);
}

static void *x_alloc(void *opaque, size_t nmemb, size_t size)
{
    (void)opaque;
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    return ms_malloc(nmemb * size);
}

static void x_free(void *opaque, void *p)
{
    (void)opaque;
    ms_free(p);
}

static const lzma_allocator X_ALLOCATOR = { x_alloc, x_free, NULL };

static void *zs_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return ms_malloc(size);
}

static void zs_free(void *opaque, void *p)
{
    (void)opaque;
    ms_free(p);
}

/* The first damage is the one reported. */
static void set_damage(struct ms_instream *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_damage(struct ms_instream *st, const char *fmt, ...)
{
    if (st->damage[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(st->damage, sizeof(st->damage), fmt, ap);
    va_end(ap);
}

enum ms_codec ms_instream_sniff(FILE *in, uint8_t head[MS_INSTREAM_HEAD], size_t *got)
{
    size_t n = fread(head, 1, 4, in);
    /* Two more bytes only when they may finish xz's magic: a capture's
     * first 4 bytes are all the pcapng reader expects to be consumed. */
    if (n == 4 && memcmp(head, XZ_MAGIC, 4) == 0)
        n += fread(head + 4, 1, 2, in);
    *got = n;
    if (n >= sizeof(GZIP_MAGIC) && memcmp(head, GZIP_MAGIC, sizeof(GZIP_MAGIC)) == 0)
        return MS_CODEC_GZIP;
    if (n >= sizeof(XZ_MAGIC) && memcmp(head, XZ_MAGIC, sizeof(XZ_MAGIC)) == 0)
        return MS_CODEC_XZ;
    if (n >= sizeof(ZSTD_MAGIC) && memcmp(head, ZSTD_MAGIC, sizeof(ZSTD_MAGIC)) == 0)
        return MS_CODEC_ZSTD;
    return MS_CODEC_NONE;
}

static ssize_t raw_read(struct ms_instream *st, void *buf, size_t size)
{
    /* One read(2), not fread: hand on what has arrived, so a pipe from a
     * live capture (tcpdump -w - | mailspill -r -) is processed as it
     * comes, and packets read before SIGTERM are not stuck in a buffer. */
    if (st->direct)
        return read(fileno(st->in), buf, size);
    size_t got = fread(buf, 1, size, st->in);
    if (got == 0 && ferror(st->in)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return (ssize_t)got;
}

/* 1: compressed bytes wait in ibuf; 0: no more will come; -1: a read
 * error (errno). */
static int raw_fill(struct ms_instream *st)
{
    if (st->ipos < st->ilen)
        return 1;
    if (st->ieof)
        return 0;
    ssize_t n = raw_read(st, st->ibuf, IBUF_SIZE);
    if (n < 0)
        return -1;
    st->ipos = 0;
    st->ilen = (size_t)n;
    if (n == 0) {
        st->ieof = true;
        return 0;
    }
    return 1;
}

/* Each step decodes what it can of ibuf[ipos..ilen) into out[0..size),
 * moves ipos past what it consumed, returns the bytes written, and sets
 * end or damage. last: no input will follow what is in ibuf. */
static size_t gzip_step(struct ms_instream *st, uint8_t *out, size_t size, bool last)
{
    if (st->member_end) {
        if (last) {
            st->end = true;
            return 0;
        }
        if (inflateReset(&st->z) != Z_OK) {
            set_damage(st, "damaged gzip data (cannot reset the decoder)");
            return 0;
        }
        st->member_end = false;
    }
    uInt in_n = (uInt)(st->ilen - st->ipos); /* at most IBUF_SIZE */
    uInt out_n = size > UINT_MAX ? UINT_MAX : (uInt)size;
    st->z.next_in = st->ibuf + st->ipos;
    st->z.avail_in = in_n;
    st->z.next_out = out;
    st->z.avail_out = out_n;
    int r = inflate(&st->z, Z_NO_FLUSH);
    st->ipos += in_n - st->z.avail_in;
    size_t produced = out_n - st->z.avail_out;
    switch (r) {
    case Z_OK:
    case Z_BUF_ERROR: /* no progress possible now: more input needed */
        break;
    case Z_STREAM_END:
        st->member_end = true;
        break;
    case Z_MEM_ERROR:
        set_damage(st, "out of memory decompressing gzip data");
        break;
    default:
        set_damage(st, "damaged gzip data (%s)", st->z.msg ? st->z.msg : "decoder error");
        break;
    }
    return produced;
}

static size_t xz_step(struct ms_instream *st, uint8_t *out, size_t size, bool last)
{
    size_t in_n = st->ilen - st->ipos;
    st->x.next_in = st->ibuf + st->ipos;
    st->x.avail_in = in_n;
    st->x.next_out = out;
    st->x.avail_out = size;
    /* LZMA_CONCATENATED: the end is known only once the input is. */
    lzma_ret r = lzma_code(&st->x, last ? LZMA_FINISH : LZMA_RUN);
    st->ipos += in_n - st->x.avail_in;
    size_t produced = size - st->x.avail_out;
    switch (r) {
    case LZMA_OK:
    case LZMA_BUF_ERROR: /* no progress: the caller tells truncation */
        break;
    case LZMA_STREAM_END:
        st->end = true;
        break;
    case LZMA_MEMLIMIT_ERROR:
        set_damage(st,
                   "xz data needs %llu MiB of memory to decompress, more than the cap of %llu "
                   "MiB (a dictionary of at most %llu MiB)",
                   (unsigned long long)(lzma_memusage(&st->x) >> 20),
                   (unsigned long long)(XZ_MEMLIMIT >> 20),
                   (unsigned long long)(MS_DECOMP_WINDOW_MAX >> 20));
        break;
    case LZMA_MEM_ERROR:
        set_damage(st, "out of memory decompressing xz data");
        break;
    case LZMA_FORMAT_ERROR:
        set_damage(st, "damaged xz data (not in the xz format)");
        break;
    case LZMA_OPTIONS_ERROR:
        set_damage(st, "damaged xz data (unsupported options)");
        break;
    case LZMA_DATA_ERROR:
        set_damage(st, "damaged xz data (corrupt data)");
        break;
    default:
        set_damage(st, "damaged xz data (decoder error %d)", (int)r);
        break;
    }
    return produced;
}

/* NOLINTNEXTLINE(readability-non-const-parameter): written through ob.dst */
static size_t zstd_step(struct ms_instream *st, uint8_t *out, size_t size, bool last)
{
    /* A frame ended (its content flushed) and no input follows. */
    if (last && !st->in_frame && st->ipos == st->ilen) {
        st->end = true;
        return 0;
    }
    ZSTD_inBuffer ib = { st->ibuf, st->ilen, st->ipos };
    ZSTD_outBuffer ob = { out, size, 0 };
    size_t r = ZSTD_decompressStream(st->zd, &ob, &ib);
    st->ipos = ib.pos;
    if (ZSTD_isError(r)) {
        if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
            set_damage(st, "zstd data needs a window larger than the cap of %llu MiB",
                       (unsigned long long)(MS_DECOMP_WINDOW_MAX >> 20));
        else if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
            set_damage(st, "out of memory decompressing zstd data");
        else
            set_damage(st, "damaged zstd data (%s)", ZSTD_getErrorName(r));
        return ob.pos;
    }
    /* 0: a frame is complete and flushed; another may follow. */
    st->in_frame = r != 0;
    return ob.pos;
}

/* Decompressed bytes into out: how many (0 at the end of the data or at
 * damage), or -1 on a read error (errno). */
static ssize_t decode(struct ms_instream *st, uint8_t *out, size_t size)
{
    while (!st->end && !st->damage[0]) {
        int f = raw_fill(st);
        if (f < 0)
            return -1;
        size_t before = st->ilen - st->ipos;
        size_t produced = st->codec == MS_CODEC_GZIP ? gzip_step(st, out, size, f == 0)
                          : st->codec == MS_CODEC_XZ ? xz_step(st, out, size, f == 0)
                                                     : zstd_step(st, out, size, f == 0);
        if (produced > 0)
            return (ssize_t)produced;
        if (st->end || st->damage[0])
            continue; /* the loop ends: 0 */
        if (st->ilen - st->ipos != before)
            continue; /* input consumed: go on */
        /* Neither input consumed nor output made: the data stops inside
         * a member, a stream or a frame. With input left, a decoder that
         * cannot move is damage too (never seen; stops a loop). */
        if (f == 0)
            set_damage(st, "truncated %s data", codec_name(st->codec));
        else
            set_damage(st, "damaged %s data (the decoder made no progress)", codec_name(st->codec));
    }
    return 0;
}

static ssize_t is_read(void *c, char *buf, size_t size)
{
    struct ms_instream *st = c;
    if (st->pat < st->pn) {
        size_t k = st->pn - st->pat;
        if (k > size)
            k = size;
        memcpy(buf, st->pend + st->pat, k);
        st->pat += k;
        return (ssize_t)k;
    }
    if (st->codec == MS_CODEC_NONE)
        return raw_read(st, buf, size);
    return decode(st, (uint8_t *)buf, size);
}

static int is_close(void *c)
{
    struct ms_instream *st = c;
    if (st->z_init)
        (void)inflateEnd(&st->z);
    if (st->x_init)
        lzma_end(&st->x);
    (void)ZSTD_freeDCtx(st->zd); /* NULL: nothing */
    ms_free(st->ibuf);
    if (st->own)
        (void)fclose(st->in); /* opened for reading: no data to lose */
    ms_free(st);
    return 0;
}

static bool init_codec(struct ms_instream *st)
{
    switch (st->codec) {
    case MS_CODEC_GZIP:
        st->z.zalloc = z_alloc;
        st->z.zfree = z_free;
        st->z.opaque = NULL;
        /* 15 + 16: a 32 KiB window, gzip wrapper only (zlib's manual). */
        if (inflateInit2(&st->z, 15 + 16) != Z_OK)
            return false;
        st->z_init = true;
        return true;
    case MS_CODEC_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        st->x = init;
        st->x.allocator = &X_ALLOCATOR;
        st->x_init = true; /* lzma_end is safe on a decoder that failed to start */
        return lzma_stream_decoder(&st->x, XZ_MEMLIMIT, LZMA_CONCATENATED) == LZMA_OK;
    }
    case MS_CODEC_ZSTD: {
        ZSTD_customMem mem = { zs_alloc, zs_free, NULL };
        st->zd = ZSTD_createDCtx_advanced(mem);
        /* The window is 2^windowLog bytes, at most: a frame asking for
         * more is refused (ZSTD_error_frameParameter_windowTooLarge). */
        return st->zd && !ZSTD_isError(ZSTD_DCtx_setParameter(st->zd, ZSTD_d_windowLogMax,
                                                              MS_DECOMP_WINDOW_LOG_MAX));
    }
    case MS_CODEC_NONE:
        break;
    }
    return true;
}

FILE *ms_instream_open(FILE *in, bool own, bool direct, enum ms_codec codec, const uint8_t *head,
                       size_t n, struct ms_instream **stp, char *err, size_t errlen)
{
    struct ms_instream *st = ms_calloc(1, sizeof(*st));
    if (!st)
        goto nomem;
    st->in = in;
    st->direct = direct;
    st->codec = codec;
    if (n > sizeof(st->pend))
        n = sizeof(st->pend); /* never: MS_INSTREAM_HEAD bytes at most */
    if (codec == MS_CODEC_NONE) {
        memcpy(st->pend, head, n);
        st->pn = n;
    } else {
        st->ibuf = ms_malloc(IBUF_SIZE);
        if (!st->ibuf || !init_codec(st))
            goto nomem;
        memcpy(st->ibuf, head, n);
        st->ilen = n;
    }
    cookie_io_functions_t io = { .read = is_read, .close = is_close };
    FILE *fp = fopencookie(st, "r", io);
    if (!fp)
        goto nomem;
    st->own = own; /* only now: on failure, in stays the caller's */
    *stp = st;
    return fp;
nomem:
    if (st)
        (void)is_close(st);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

size_t ms_instream_peek(struct ms_instream *st, uint8_t *out, size_t n)
{
    if (n > sizeof(st->pend))
        n = sizeof(st->pend);
    while (st->codec != MS_CODEC_NONE && st->pn < n) {
        ssize_t got = decode(st, st->pend + st->pn, n - st->pn);
        if (got <= 0)
            break;
        st->pn += (size_t)got;
    }
    size_t k = st->pn < n ? st->pn : n;
    memcpy(out, st->pend, k);
    return k;
}

const char *ms_instream_damage(const struct ms_instream *st)
{
    return st->damage[0] ? st->damage : NULL;
}
