/* mailspill command line: parse arguments, open sources and output, run the
 * pipeline. No parsing of network data happens here. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/source.h"
#include "../common/limits.h"
#include "../output/output.h"
#include "pipeline.h"

#define MS_VERSION "0.1.0"

/* The one piece of process-wide state: set by signal handlers, which can
 * touch nothing else safely. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct cli {
    const char **files;
    size_t nfiles;
    const char *iface;
    const char *outpath;
    char *filter;
    struct ms_output_opts out;
    struct ms_live_opts live;
};

static void usage(FILE *fp)
{
    fputs("usage: mailspill [-r FILE]... [-i IFACE] [-o FILE] [--text] [--show-passwords]\n"
          "                 [BPF filter expression]\n"
          "Reports cleartext POP3/IMAP/SMTP logins and messages found in network traffic.\n"
          "\n"
          "  -r, --read FILE        read a pcap or pcapng capture (\"-\" for standard input);\n"
          "                         repeat to read several files in order\n"
          "  -i, --interface IFACE  capture live from a network interface\n"
          "  -o, --output FILE      write events to FILE instead of standard output\n"
          "      --text             one readable line per event instead of JSON\n"
          "      --show-passwords   print passwords (redacted by default)\n"
          "  -s, --snaplen N        live capture snapshot length (default 262144)\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n"
          "\n"
          "Output is one JSON object per line (Suricata EVE style); see README.md.\n",
          fp);
}

/* Joins the arguments left over into one BPF expression, as tcpdump does. */
static char *join_filter(int argc, char **argv, int first)
{
    size_t len = 1;
    for (int i = first; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *f = calloc(1, len);
    if (!f)
        return NULL;
    size_t at = 0;
    for (int i = first; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (at)
            f[at++] = ' ';
        memcpy(f + at, argv[i], n);
        at += n;
    }
    return f;
}

static int parse_uint(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Returns 0 to run, 1 when done (help/version), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct cli *c)
{
    enum { OPT_TEXT = 256, OPT_SHOW };
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "output", required_argument, NULL, 'o' },
        { "snaplen", required_argument, NULL, 's' },
        { "text", no_argument, NULL, OPT_TEXT },
        { "show-passwords", no_argument, NULL, OPT_SHOW },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    c->files = calloc((size_t)argc + 1, sizeof(*c->files));
    if (!c->files)
        return 2;
    c->live.promisc = 1;
    c->live.immediate = 1;
    int opt;
    long v;
    while ((opt = getopt_long(argc, argv, "+r:i:o:s:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': c->files[c->nfiles++] = optarg; break;
        case 'i': c->iface = optarg; break;
        case 'o': c->outpath = optarg; break;
        case 's':
            if (parse_uint(optarg, 262144, &v) < 0) {
                fprintf(stderr, "mailspill: invalid snaplen '%s'\n", optarg);
                return 2;
            }
            c->live.snaplen = (int)v;
            break;
        case OPT_TEXT: c->out.format = MS_OUTPUT_TEXT; break;
        case OPT_SHOW: c->out.show_passwords = true; break;
        case 'h': usage(stdout); return 1;
        case 'V': printf("mailspill %s\n", MS_VERSION); return 1;
        default:
            fputs("Try 'mailspill --help'.\n", stderr);
            return 2;
        }
    }
    if (!c->nfiles == !c->iface) {
        fprintf(stderr, "mailspill: give either -r FILE or -i IFACE\nTry 'mailspill --help'.\n");
        return 2;
    }
    if (optind < argc) {
        c->filter = join_filter(argc, argv, optind);
        if (!c->filter)
            return 2;
    }
    return 0;
}

/* Runs one source to its end. Returns 0, or 1 when it failed outright. */
static int run_source(struct ms_pipeline *pl, struct ms_source *src, bool live)
{
    uint64_t ts;
    const uint8_t *data;
    size_t caplen;
    int lt;
    for (;;) {
        if (stop_requested)
            return 0;
        enum ms_next r = ms_source_next(src, &ts, &data, &caplen, &lt);
        if (r == MS_NEXT_PACKET) {
            ms_pipeline_frame(pl, lt, ts, data, caplen);
        } else if (r == MS_NEXT_TIMEOUT) {
            continue;
        } else if (r == MS_NEXT_END) {
            return 0;
        } else {
            /* A truncated or damaged file: keep what was read. */
            fprintf(stderr, "mailspill: warning: %s; stopped reading there\n", ms_source_error(src));
            return live ? 1 : 0;
        }
    }
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof(c));
    int rc = parse_args(argc, argv, &c);
    if (rc) {
        free(c.files);
        free(c.filter);
        return rc == 1 ? 0 : 2;
    }

    FILE *fp = stdout;
    if (c.outpath && strcmp(c.outpath, "-") != 0) {
        fp = fopen(c.outpath, "w");
        if (!fp) {
            fprintf(stderr, "mailspill: cannot open %s: %s\n", c.outpath, strerror(errno));
            free(c.files);
            free(c.filter);
            return 1;
        }
    }

    struct ms_limits lim = ms_limits_default();
    struct ms_output *out = ms_output_new(fp, &c.out);
    struct ms_pipeline *pl = out ? ms_pipeline_new(&lim, out) : NULL;
    int status = 0;
    if (!pl) {
        fprintf(stderr, "mailspill: cannot initialise (out of memory or nDPI failure)\n");
        status = 1;
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char err[512];
    if (c.iface) {
        struct ms_source *src = ms_source_open_live(c.iface, &c.live, c.filter, err, sizeof(err));
        if (!src) {
            fprintf(stderr, "mailspill: %s\n", err);
            status = 1;
            goto done;
        }
        ms_pipeline_set_source_name(pl, NULL);
        status = run_source(pl, src, true);
        ms_source_close(src);
    } else {
        for (size_t i = 0; i < c.nfiles && !stop_requested; i++) {
            struct ms_source *src = ms_source_open_file(c.files[i], c.filter, err, sizeof(err));
            if (!src) {
                fprintf(stderr, "mailspill: %s\n", err);
                status = 1;
                break;
            }
            /* Standard input has no file name to report. */
            ms_pipeline_set_source_name(pl, strcmp(c.files[i], "-") == 0 ? NULL : c.files[i]);
            if (run_source(pl, src, false) != 0)
                status = 1;
            ms_source_close(src);
        }
    }
    /* Flush sessions in progress: a login whose reply never came is still
     * reported, with outcome "unknown". */
    ms_pipeline_finish(pl);
    struct ms_pipeline_stats st;
    ms_pipeline_get_stats(pl, &st);
    if (st.write_errors) {
        fprintf(stderr, "mailspill: %llu events could not be written\n",
                (unsigned long long)st.write_errors);
        status = 1;
    }

done:
    ms_pipeline_free(pl);
    ms_output_free(out);
    if (fp != stdout && fclose(fp) != 0) {
        fprintf(stderr, "mailspill: error writing %s: %s\n", c.outpath, strerror(errno));
        status = 1;
    }
    free(c.files);
    free(c.filter);
    return status;
}
