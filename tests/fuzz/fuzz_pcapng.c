/* Fuzz target for our pcapng reader (capture/pcapng.c) on its own: the
 * input is a file, read from memory through a FILE as the reader reads any
 * file, so real captures are seeds as they are. Every length in a pcapng
 * file is the writer's claim; each packet handed back is read to its last
 * captured byte (ASan sees a span past the block), and the reader must
 * end, with a packet count bounded by the file's size.
 *
 * An input starting with the SHB magic is opened the way source.c opens
 * it, those 4 bytes already read; any other input is opened from its
 * start, so the reader's own check of the first block runs too. An input
 * of odd length carries a BPF filter, compiled for each interface's link
 * type (that costs more time, so not for every input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink_byte;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    /* fmemopen wants a writable buffer, even to read. */
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    FILE *fp = fmemopen(copy, size, "rb");
    if (!fp) {
        free(copy);
        return 0;
    }
    bool pre_read = false;
    if (size >= 4 && memcmp(data, "\x0a\x0d\x0d\x0a", 4) == 0) {
        uint8_t magic[4];
        pre_read = fread(magic, 1, sizeof(magic), fp) == sizeof(magic);
    }
    char err[512];
    struct ms_pcapng *r = ms_pcapng_open(fp, pre_read, (size & 1) ? "tcp port 110" : NULL, err,
                                         sizeof(err));
    if (r) {
        uint64_t ts;
        const uint8_t *frame;
        size_t caplen, packets = 0;
        int lt;
        enum ms_next rc;
        while ((rc = ms_pcapng_next(r, &ts, &frame, &caplen, &lt)) == MS_NEXT_PACKET) {
            uint8_t x = 0;
            for (size_t i = 0; i < caplen; i++)
                x ^= frame[i];
            sink_byte ^= x;
            /* The smallest packet block (a simple packet block) is 16 bytes. */
            if (++packets > size / 16)
                abort();
        }
        /* An error always says why (the run's warning prints it). */
        if (rc == MS_NEXT_ERROR && ms_pcapng_error(r)[0] == '\0')
            abort();
        size_t unsupported = 0, number;
        size_t ifaces = ms_pcapng_interfaces(r, &unsupported);
        if (unsupported > ifaces)
            abort();
        for (size_t k = 0; k < MS_PCAPNG_NOTED_IFACES; k++)
            if (ms_pcapng_unsupported_iface(r, k, &number, &lt) && number >= ifaces)
                abort();
        (void)ms_pcapng_first_linktype(r);
        ms_pcapng_close(r);
    }
    free(copy);
    return 0;
}
