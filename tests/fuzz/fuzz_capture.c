/* Fuzz target for the whole capture path: the input is a capture file
 * (pcap or pcapng, plain or compressed: corpus/capture/ has gzip, xz and
 * zstd seeds) read through ms_source (libpcap or our pcapng reader),
 * decoded, defragmented, reassembled, classified and dissected. nDPI's
 * set-up is slow, so one pipeline serves every input; each input ends with
 * ms_pipeline_finish so no flow leaks into the next. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../app/pipeline.h"
#include "../../capture/source.h"
#include "../../output/sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct harness {
    FILE *null;
    struct ms_sinks *sinks;
    struct ms_output *out;
    struct ms_pipeline *pl;
};

/* The one harness instance; libFuzzer calls the entry point repeatedly. */
static struct harness *get_harness(void)
{
    static struct harness h;
    if (!h.pl) {
        struct ms_limits lim = ms_limits_default();
        struct ms_output_opts o = { .format = MS_OUTPUT_JSON };
        struct ms_sinks_opts so = { 0 };
        char err[256];
        h.null = fopen("/dev/null", "w");
        h.sinks = h.null ? ms_sinks_new(&so) : NULL;
        if (!h.sinks || ms_sinks_add_stream(h.sinks, h.null, "/dev/null") != MS_OK ||
            ms_sinks_start(h.sinks, err, sizeof(err)) != MS_OK)
            abort();
        h.out = ms_output_new(h.sinks, &o);
        h.pl = h.out ? ms_pipeline_new(&lim, h.out) : NULL;
        if (!h.pl)
            abort();
    }
    return &h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harness *h = get_harness();
    int fd = memfd_create("capture", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct ms_source *src = ms_source_open_file(path, NULL, NULL, err, sizeof(err));
    if (src) {
        uint64_t ts;
        const uint8_t *frame;
        size_t caplen;
        int lt;
        while (ms_source_next(src, &ts, &frame, &caplen, &lt) == MS_NEXT_PACKET)
            ms_pipeline_frame(h->pl, lt, ts, frame, caplen);
        ms_source_close(src);
    }
    ms_pipeline_finish(h->pl);
    close(fd);
    return 0;
}
