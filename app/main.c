/* mailspill command line: parse arguments, open sources and output, run the
 * pipeline. No parsing of network data happens here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "../capture/source.h"
#include "../common/alloc.h"
#include "../common/limits.h"
#include "../dissectors/dissector.h"
#include "../output/dedup.h"
#include "../output/evidence.h"
#include "../output/extract.h"
#include "../output/output.h"
#include "../output/progress.h"
#include "../output/secrets.h"
#include "../output/signature.h"
#include "../output/sink.h"
#include "../output/web.h"
#include "dirlist.h"
#include "engine.h"
#include "wpa_opts.h"

/* The version has one source, CMakeLists.txt's project(VERSION), which
 * passes it as a define. */
#ifndef MS_VERSION
#error "MS_VERSION is defined by the build (CMakeLists.txt project VERSION)"
#endif

/* The one piece of process-wide state: flags set by signal handlers, which
 * can touch nothing else safely. The main loop acts on them between
 * packets (a live capture wakes up at least every 250 ms). */
static volatile sig_atomic_t stop_requested;   /* SIGINT, SIGTERM */
static volatile sig_atomic_t reopen_requested; /* SIGHUP: reopen -o FILE */
static volatile sig_atomic_t stats_requested;  /* SIGUSR1: write a stats event */

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reopen_requested = 1;
    else if (sig == SIGUSR1)
        stats_requested = 1;
    else
        stop_requested = 1;
}

struct cli {
    const char **files;
    size_t nfiles;
    const char *iface;
    const char *outputs[MS_SINKS_MAX]; /* -o, in order; none: standard output */
    size_t noutputs;
    struct ms_sinks_opts sink; /* --syslog-socket, --sink-queue */
    const char *user;          /* -Z: drop privileges to this user */
    char *filter;
    bool stats; /* a stats event at the end (--no-stats: none) */
    struct ms_output_opts out;
    const char *hash_key_path;         /* --hash-key FILE */
    const char *hashes_path;           /* --hashes FILE */
    uint8_t hash_key[MS_HMAC_KEY_MAX]; /* --hash-key's content, wiped at the end */
    struct ms_live_opts live;
    struct ms_limits lim;
    const char *extract_dir; /* --extract DIR */
    unsigned extract_flags;  /* MS_EXTRACT_ATTACHMENTS */
    bool list_signatures;    /* --list-signatures: print them and exit */
    const char *sensor_name; /* --sensor-name, else the host name (live only) */
    char hostname[256];
    uint64_t dedup_us;          /* --dedup SECONDS; 0: off */
    uint64_t stats_interval_us; /* --stats-interval SECONDS (live); 0: off */
    const char *evidence_dir;   /* --evidence DIR */
    unsigned threads;           /* --threads: worker threads (0 and 1: none) */
    const char *web;            /* --web ADDR:PORT */
    bool pseudonymize;          /* --pseudonymize: names on the page are pseudonyms */
    bool secrets_given;         /* --passwords or --show-passwords: --web follows them */
    bool no_color;              /* --no-color: no colours in --text even on a terminal */
    bool realtime;              /* --realtime: -r at the capture's own pace */
    double speed;               /* --speed X: that pace times X (0: not given, 1) */
    uint64_t max_gap_us;        /* --max-gap SECONDS: idle stretches cut to it */
    bool max_gap;               /* --max-gap given */
    /* --wpa-passphrase, --wpa-psk, then --wpa-passphrase-file's lines:
     * wiped once in wpa, the decryption state (NULL: no secret given). */
    struct ms_wpa_secrets wpa_secrets;
    const char *wpa_files[8];
    size_t nwpa_files;
    struct ms_wpa *wpa;
};

static void usage(FILE *fp)
{
    fputs("usage: mailspill [-r FILE]... [-i IFACE] [-o SINK]... [options] [BPF filter "
          "expression]\n"
          "Reports cleartext POP3/IMAP/SMTP logins and messages found in network traffic.\n"
          "\n"
          "Input and output:\n"
          "  -r, --read FILE        read a pcap or pcapng capture (\"-\" for standard input),\n"
          "                         plain or compressed (gzip, xz, zstd); repeat to read\n"
          "                         several files in order as one stream\n"
          "  -r, --read DIR         read every file in a folder, in name order (not\n"
          "                         recursive, hidden files left out)\n"
          "  -i, --interface IFACE  capture live from a network interface\n"
          "  -o, --output SINK      where events go (default: standard output); repeat\n"
          "                         for several, each gets every event (see README.md,\n"
          "                         \"Sinks\"): FILE (SIGHUP reopens it, for log rotation;\n"
          "                         - is standard output), unix:PATH, unixgram:PATH,\n"
          "                         syslog[:FACILITY] (default local5),\n"
          "                         redis://HOST[:PORT]/KEY (RPUSH),\n"
          "                         redis+pub://HOST[:PORT]/CHANNEL (PUBLISH)\n"
          "      --syslog-socket PATH  the socket -o syslog writes to (default /dev/log)\n"
          "      --sink-queue SIZE  queue of each sink (default 16m): live capture drops\n"
          "                         what does not fit while a sink is slow or down;\n"
          "                         reading files waits for the sink instead\n"
          "      --text             one readable line per event instead of JSON, and a\n"
          "                         summary table at the end (README.md, \"Text view\");\n"
          "                         coloured on a terminal unless NO_COLOR is set\n"
          "      --no-color         no colours in --text, even on a terminal\n"
          "      --realtime         with -r: replay at the capture's own pace (packet\n"
          "                         timestamps drive the clock)\n"
          "      --speed X          ... X times as fast (default 1; 2: twice as fast)\n"
          "      --max-gap SECONDS  ... with idle stretches longer than SECONDS cut to\n"
          "                         SECONDS\n"
          "      --passwords MODE   what is shown of passwords and tokens: redact (the\n"
          "                         default: their length), mask (first and last\n"
          "                         character of 8 or more), hash (HMAC-SHA256 under\n"
          "                         --hash-key), clear; responses and hashcat lines\n"
          "                         are shown in clear mode only\n"
          "      --show-passwords   the same as --passwords clear\n"
          "      --hash-key FILE    the HMAC key for --passwords hash (32 to 4096 bytes)\n"
          "      --hashes FILE      append each hashcat line to FILE (mode 0600), in any\n"
          "                         mode, under \"# hashcat -m MODE\" lines\n"
          "      --no-stats         no stats event at the end (written by default;\n"
          "                         SIGUSR1 writes one at any time)\n"
          "      --list-dissectors  print the protocols this build decodes, and exit\n"
          "      --sid-base N       first alert signature id (default 1610000); ids\n"
          "                         use N .. N+999\n"
          "      --sensor-name NAME the \"host\" of live events (default: the host name)\n"
          "      --list-signatures  print the signature ids as sid-msg.map lines, and exit\n"
          "      --ipv6-compress    JSON IPv6 addresses in short form (2001:db8::1);\n"
          "                         default: all groups, as Suricata writes them\n"
          "      --dedup SECONDS    report a repeated login (same server, user, secret,\n"
          "                         outcome) once per SECONDS of capture time, with the\n"
          "                         count of repeats suppressed (default: off)\n"
          "      --evidence DIR     write the packets of each flow that raised an alert\n"
          "                         to DIR/<flow_id>.pcap (mode 0600)\n"
          "      --evidence-flow-bytes SIZE  packets held per flow until its alert\n"
          "                         (default 1m)\n"
          "      --evidence-memcap SIZE  ... for all flows together (default 64m)\n"
          "      --web [ADDR:]PORT  a live web page of the logins and messages, and their\n"
          "                         event stream, on ADDR (default 127.0.0.1); secrets\n"
          "                         masked unless --passwords says otherwise; stays up\n"
          "                         after the files are read, until Ctrl-C; beyond\n"
          "                         loopback it needs the token printed at start\n"
          "      --pseudonymize     --web shows keyed pseudonyms (user-1a2b3c4d), stable\n"
          "                         for the run, in place of user names and addresses\n"
          "\n"
          "Live capture:\n"
          "  -s, --snaplen N        snapshot length (default 262144)\n"
          "  -B, --buffer-size KIB  kernel capture buffer, in KiB (default: libpcap's)\n"
          "      --immediate        deliver packets as they arrive (default)\n"
          "      --no-immediate     let the kernel batch packets\n"
          "  -p, --no-promisc       do not put the interface in promiscuous mode\n"
          "  -Z, --user USER        drop privileges to USER once the interface is open\n"
          "      --stats-interval SECONDS  a stats event every SECONDS (wall clock)\n"
          "      --monitor          802.11 monitor mode (the device must support it):\n"
          "                         with --wpa-passphrase, a WPA2 hotspot is read\n"
          "\n"
          "802.11 WPA2-Personal decryption (README.md, \"Wi-Fi\"):\n"
          "      --wpa-passphrase SSID:PASSPHRASE  decrypt the network SSID (repeatable;\n"
          "                         \\: is a colon and \\\\ a backslash in the SSID)\n"
          "      --wpa-passphrase-file FILE  one SSID:PASSPHRASE a line, # comments\n"
          "                         (keeps the passphrase out of ps and shell history)\n"
          "      --wpa-psk HEX      a 256-bit PSK (64 hex digits), tried on every network\n"
          "\n"
          "Memory and time limits (SIZE takes k, m, g suffixes, binary):\n"
          "      --threads N|auto   worker threads, each with a share of the caps\n"
          "                         (default 1; auto: one per core)\n"
          "      --max-flows N      flows tracked at once (default 65536); least\n"
          "                         recently used flows are ended past it\n"
          "      --flow-memcap SIZE memory for per-flow state (default 256m)\n"
          "      --reasm-memcap SIZE out-of-order TCP data buffered in all (default 256m)\n"
          "      --reasm-flow-cap SIZE  ... per direction of one flow (default 1m)\n"
          "      --flow-timeout SEC idle time, on the capture clock, before a flow\n"
          "                         ends (default 600)\n"
          "      --reasm-wait SEC   how long a hole or a segment held for conversation\n"
          "                         order waits before the missing bytes are a gap\n"
          "                         (capture clock; live also wall clock; default 10)\n"
          "      --reasm-wait-packets N  ... in packets of its connection (default 2048)\n"
          "\n"
          "Message content (see README.md):\n"
          "      --body-bytes N     report the first N bytes of each message's text\n"
          "                         (body_excerpt; default 0: none)\n"
          "      --extract DIR      write each message to DIR/<flow_id>-<seq>.eml (mode 0600)\n"
          "      --extract-attachments  also write each attachment's decoded content\n"
          "      --extract-max-bytes SIZE  stop writing files past SIZE in all (default 4g)\n"
          "\n"
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
    char *f = ms_calloc(1, len);
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

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "64m" -> 67108864. Suffixes k, m, g (powers of 1024). */
static int parse_size(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return -1;
        }
        if (end[1] && !((end[1] == 'b' || end[1] == 'B') && !end[2]))
            return -1;
    }
    if (v > (max >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

/* --passwords MODE (README "Secrets"). */
static int parse_secrets(const char *s, enum ms_secrets *out)
{
    static const struct {
        const char *name;
        enum ms_secrets mode;
    } modes[] = { { "redact", MS_SECRETS_REDACT },
                  { "mask", MS_SECRETS_MASK },
                  { "hash", MS_SECRETS_HASH },
                  { "clear", MS_SECRETS_CLEAR } };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    }
    return -1;
}

/* The WPA2 secrets: --wpa-passphrase-file's read (before -Z, as the
 * other secrets), then every one given to a new decryption state. Returns
 * 0, or 1 after saying why. */
static int open_wpa(struct cli *c)
{
    char err[512];
    for (size_t i = 0; i < c->nwpa_files; i++) {
        bool exposed = false;
        if (ms_wpa_secrets_read_file(&c->wpa_secrets, c->wpa_files[i], &exposed, err,
                                     sizeof(err)) != MS_OK) {
            fprintf(stderr, "mailspill: --wpa-passphrase-file: %s\n", err);
            return 1;
        }
        if (exposed)
            fprintf(stderr, "mailspill: warning: --wpa-passphrase-file: %s is readable by others\n",
                    c->wpa_files[i]);
    }
    if (!c->wpa_secrets.n)
        return 0;
    c->wpa = ms_wpa_new();
    enum ms_rc rc = c->wpa ? ms_wpa_secrets_apply(&c->wpa_secrets, c->wpa, err, sizeof(err))
                           : MS_ERR_NOMEM;
    ms_wpa_secrets_clear(&c->wpa_secrets);
    if (rc != MS_OK) {
        fprintf(stderr, "mailspill: WPA secrets: %s\n", c->wpa ? err : "out of memory");
        return 1;
    }
    return 0;
}

/* --hash-key and --hashes, before -o is opened (a bad key must not cost
 * an existing output file its content) and before -Z, as -o. Returns 0,
 * or 1 after saying why; never prints the key. */
static int open_secrets(struct cli *c)
{
    char err[512];
    if (c->hash_key_path) {
        bool exposed;
        if (ms_secrets_read_key(c->hash_key_path, c->hash_key, sizeof(c->hash_key),
                                &c->out.hmac_key_len, &exposed, err, sizeof(err)) != MS_OK) {
            fprintf(stderr, "mailspill: --hash-key: %s\n", err);
            return 1;
        }
        c->out.hmac_key = c->hash_key;
        if (exposed)
            fprintf(stderr, "mailspill: warning: --hash-key: %s is readable by others\n",
                    c->hash_key_path);
    }
    if (c->hashes_path) {
        c->out.hashes = ms_secrets_open_hashes(c->hashes_path, err, sizeof(err));
        if (!c->out.hashes) {
            fprintf(stderr, "mailspill: --hashes: %s\n", err);
            return 1;
        }
    }
    return open_wpa(c);
}

/* Returns 0, or 1 when the --hashes file could not be written. */
static int close_secrets(struct cli *c)
{
    int status = 0;
    if (c->out.hashes && fclose(c->out.hashes) != 0) {
        fprintf(stderr, "mailspill: error writing %s: %s\n", c->hashes_path, strerror(errno));
        status = 1;
    }
    c->out.hashes = NULL;
    explicit_bzero(c->hash_key, sizeof(c->hash_key));
    ms_wpa_secrets_clear(&c->wpa_secrets);
    ms_wpa_free(c->wpa); /* after the engine, whose reader used it */
    c->wpa = NULL;
    return status;
}

/* A non-negative decimal number of at most max ("1.5", "0.2"). */
static int parse_seconds(const char *s, double max, double *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+' || *s == '\0')
        return -1;
    double v = strtod(s, &end);
    /* !(v <= max) also refuses NaN ("nan" parses). */
    if (errno || end == s || *end || !(v >= 0 && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int bad_value(const char *opt, const char *val)
{
    fprintf(stderr, "mailspill: invalid value '%s' for %s\nTry 'mailspill --help'.\n", val, opt);
    return 2;
}

static void list_dissectors(void)
{
    for (size_t i = 0; ms_dissectors[i]; i++)
        printf("%s\n", ms_dissectors[i]->name);
}

/* Snort's sid-msg.map lines ("sid || msg"), which SIEMs load to name the
 * alerts' signature ids. */
static void list_signatures(uint32_t sid_base)
{
    struct ms_signature sig[64];
    size_t n = ms_signature_table(sid_base, sig, sizeof(sig) / sizeof(sig[0]));
    for (size_t i = 0; i < n && i < sizeof(sig) / sizeof(sig[0]); i++)
        printf("%u || %s\n", (unsigned)sig[i].sid, sig[i].text);
}

/* --wpa-passphrase, --wpa-psk, --wpa-passphrase-file, --monitor. Returns 0,
 * or 2 after saying why (never with the secret: see app/wpa_opts.h). */
enum wpa_opt { WPA_PASS, WPA_PSK, WPA_FILE, WPA_MONITOR };

static int parse_wpa_option(struct cli *c, enum wpa_opt opt, const char *arg)
{
    char err[512];
    enum ms_rc rc = MS_OK;
    const char *name = "--monitor";
    switch (opt) {
    case WPA_PASS:
        name = "--wpa-passphrase";
        rc = ms_wpa_secrets_add(&c->wpa_secrets, arg, strlen(arg), err, sizeof(err));
        break;
    case WPA_PSK:
        name = "--wpa-psk";
        rc = ms_wpa_secrets_add_psk(&c->wpa_secrets, arg, err, sizeof(err));
        break;
    case WPA_FILE:
        name = "--wpa-passphrase-file";
        if (c->nwpa_files == sizeof(c->wpa_files) / sizeof(c->wpa_files[0])) {
            snprintf(err, sizeof(err), "given more than %zu times",
                     sizeof(c->wpa_files) / sizeof(c->wpa_files[0]));
            rc = MS_ERR_ARG;
        } else {
            c->wpa_files[c->nwpa_files++] = arg;
        }
        break;
    case WPA_MONITOR:
        c->live.rfmon = 1;
        break;
    }
    if (rc == MS_OK) {
        /* Copied: wiped from argv, so that ps and /proc/PID/cmdline no
         * longer show it while the capture runs. */
        if (opt == WPA_PASS || opt == WPA_PSK)
            ms_wpa_wipe_arg((char *)arg);
        return 0;
    }
    fprintf(stderr, "mailspill: %s: %s\nTry 'mailspill --help'.\n", name, err);
    return 2;
}

/* Returns 0 to run, 1 when done (help/version), 2 on a usage error.
 * To add an option: an enum value, a longopts line, a case. */
static int parse_args(int argc, char **argv, struct cli *c)
{
    enum {
        OPT_TEXT = 256,
        OPT_SHOW,
        OPT_PASSWORDS,
        OPT_HASH_KEY,
        OPT_HASHES,
        OPT_STATS,
        OPT_NO_STATS,
        OPT_LIST,
        OPT_IMMEDIATE,
        OPT_NO_IMMEDIATE,
        OPT_MAX_FLOWS,
        OPT_FLOW_MEMCAP,
        OPT_REASM_MEMCAP,
        OPT_REASM_FLOW,
        OPT_FLOW_TIMEOUT,
        OPT_REASM_WAIT,
        OPT_REASM_WAIT_PKTS,
        OPT_BODY_BYTES,
        OPT_EXTRACT,
        OPT_EXTRACT_ATT,
        OPT_EXTRACT_MAX,
        OPT_SID_BASE,
        OPT_SENSOR_NAME,
        OPT_LIST_SIGS,
        OPT_IPV6_COMPRESS,
        OPT_DEDUP,
        OPT_STATS_INTERVAL,
        OPT_EVIDENCE,
        OPT_EVIDENCE_FLOW,
        OPT_EVIDENCE_MEMCAP,
        OPT_THREADS,
        OPT_SYSLOG_SOCKET,
        OPT_SINK_QUEUE,
        OPT_WEB,
        OPT_PSEUDONYMIZE,
        OPT_NO_COLOR,
        OPT_REALTIME,
        OPT_SPEED,
        OPT_MAX_GAP,
        OPT_WPA_PASS,
        OPT_WPA_FILE,
        OPT_WPA_PSK,
        OPT_MONITOR,
    };
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "output", required_argument, NULL, 'o' },
        { "snaplen", required_argument, NULL, 's' },
        { "buffer-size", required_argument, NULL, 'B' },
        { "no-promisc", no_argument, NULL, 'p' },
        { "user", required_argument, NULL, 'Z' },
        { "immediate", no_argument, NULL, OPT_IMMEDIATE },
        { "no-immediate", no_argument, NULL, OPT_NO_IMMEDIATE },
        { "text", no_argument, NULL, OPT_TEXT },
        { "show-passwords", no_argument, NULL, OPT_SHOW },
        { "passwords", required_argument, NULL, OPT_PASSWORDS },
        { "hash-key", required_argument, NULL, OPT_HASH_KEY },
        { "hashes", required_argument, NULL, OPT_HASHES },
        { "stats", no_argument, NULL, OPT_STATS },
        { "no-stats", no_argument, NULL, OPT_NO_STATS },
        { "list-dissectors", no_argument, NULL, OPT_LIST },
        { "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
        { "flow-memcap", required_argument, NULL, OPT_FLOW_MEMCAP },
        { "reasm-memcap", required_argument, NULL, OPT_REASM_MEMCAP },
        { "reasm-flow-cap", required_argument, NULL, OPT_REASM_FLOW },
        { "flow-timeout", required_argument, NULL, OPT_FLOW_TIMEOUT },
        { "reasm-wait", required_argument, NULL, OPT_REASM_WAIT },
        { "reasm-wait-packets", required_argument, NULL, OPT_REASM_WAIT_PKTS },
        { "body-bytes", required_argument, NULL, OPT_BODY_BYTES },
        { "extract", required_argument, NULL, OPT_EXTRACT },
        { "extract-attachments", no_argument, NULL, OPT_EXTRACT_ATT },
        { "extract-max-bytes", required_argument, NULL, OPT_EXTRACT_MAX },
        { "sid-base", required_argument, NULL, OPT_SID_BASE },
        { "sensor-name", required_argument, NULL, OPT_SENSOR_NAME },
        { "list-signatures", no_argument, NULL, OPT_LIST_SIGS },
        { "ipv6-compress", no_argument, NULL, OPT_IPV6_COMPRESS },
        { "dedup", required_argument, NULL, OPT_DEDUP },
        { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
        { "evidence", required_argument, NULL, OPT_EVIDENCE },
        { "evidence-flow-bytes", required_argument, NULL, OPT_EVIDENCE_FLOW },
        { "evidence-memcap", required_argument, NULL, OPT_EVIDENCE_MEMCAP },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "syslog-socket", required_argument, NULL, OPT_SYSLOG_SOCKET },
        { "sink-queue", required_argument, NULL, OPT_SINK_QUEUE },
        { "web", required_argument, NULL, OPT_WEB },
        { "pseudonymize", no_argument, NULL, OPT_PSEUDONYMIZE },
        { "no-color", no_argument, NULL, OPT_NO_COLOR },
        { "realtime", no_argument, NULL, OPT_REALTIME },
        { "speed", required_argument, NULL, OPT_SPEED },
        { "max-gap", required_argument, NULL, OPT_MAX_GAP },
        { "wpa-passphrase", required_argument, NULL, OPT_WPA_PASS },
        { "wpa-passphrase-file", required_argument, NULL, OPT_WPA_FILE },
        { "wpa-psk", required_argument, NULL, OPT_WPA_PSK },
        { "monitor", no_argument, NULL, OPT_MONITOR },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    c->files = ms_calloc((size_t)argc + 1, sizeof(*c->files));
    if (!c->files) {
        fputs("mailspill: out of memory\n", stderr);
        return 2;
    }
    c->live.promisc = 1;
    c->live.immediate = 1;
    c->stats = true;
    c->lim = ms_limits_default();
    int opt;
    unsigned long long v;
    while ((opt = getopt_long(argc, argv, "+r:i:o:s:B:pZ:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            c->files[c->nfiles++] = optarg;
            break;
        case 'i':
            c->iface = optarg;
            break;
        case 'o':
            if (c->noutputs == MS_SINKS_MAX) {
                fprintf(stderr, "mailspill: at most %d -o\n", MS_SINKS_MAX);
                return 2;
            }
            c->outputs[c->noutputs++] = optarg;
            break;
        case OPT_SYSLOG_SOCKET:
            c->sink.syslog_socket = optarg;
            break;
        case OPT_SINK_QUEUE:
            if (parse_size(optarg, (size_t)1 << 40, &v) < 0 || v < MS_SINK_QUEUE_BYTES_MIN)
                return bad_value("--sink-queue", optarg);
            c->sink.queue_bytes = (size_t)v;
            break;
        case 's':
            if (parse_uint(optarg, MS_SNAPLEN_MAX, &v) < 0)
                return bad_value("--snaplen", optarg);
            c->live.snaplen = (int)v;
            break;
        case 'B':
            /* KiB, as tcpdump -B. */
            if (parse_uint(optarg, 1u << 21, &v) < 0 || v == 0)
                return bad_value("--buffer-size", optarg);
            c->live.buffer_size = (int)(v * 1024);
            break;
        case 'p':
            c->live.promisc = 0;
            break;
        case 'Z':
            c->user = optarg;
            break;
        case OPT_IMMEDIATE:
            c->live.immediate = 1;
            break;
        case OPT_NO_IMMEDIATE:
            c->live.immediate = 0;
            break;
        case OPT_TEXT:
            c->out.format = MS_OUTPUT_TEXT;
            break;
        case OPT_SHOW:
            c->out.secrets = MS_SECRETS_CLEAR;
            c->secrets_given = true;
            break;
        case OPT_PASSWORDS:
            if (parse_secrets(optarg, &c->out.secrets) < 0)
                return bad_value("--passwords", optarg);
            c->secrets_given = true;
            break;
        case OPT_WEB:
            c->web = optarg;
            break;
        case OPT_PSEUDONYMIZE:
            c->pseudonymize = true;
            break;
        case OPT_HASH_KEY:
            c->hash_key_path = optarg;
            break;
        case OPT_HASHES:
            c->hashes_path = optarg;
            break;
        case OPT_STATS:
            c->stats = true;
            break;
        case OPT_NO_STATS:
            c->stats = false;
            break;
        case OPT_LIST:
            list_dissectors();
            return 1;
        case OPT_MAX_FLOWS:
            if (parse_uint(optarg, 1u << 24, &v) < 0 || v == 0)
                return bad_value("--max-flows", optarg);
            c->lim.max_flows = (size_t)v;
            break;
        case OPT_FLOW_MEMCAP:
            if (parse_size(optarg, 1ull << 40, &v) < 0 || v == 0)
                return bad_value("--flow-memcap", optarg);
            c->lim.flow_memcap = (size_t)v;
            break;
        case OPT_REASM_MEMCAP:
            if (parse_size(optarg, 1ull << 40, &v) < 0)
                return bad_value("--reasm-memcap", optarg);
            c->lim.reasm_max_total = (size_t)v;
            break;
        case OPT_REASM_FLOW:
            if (parse_size(optarg, 1ull << 32, &v) < 0)
                return bad_value("--reasm-flow-cap", optarg);
            c->lim.reasm_max_flow = (size_t)v;
            break;
        case OPT_FLOW_TIMEOUT:
            if (parse_uint(optarg, 7ull * 86400, &v) < 0 || v == 0)
                return bad_value("--flow-timeout", optarg);
            c->lim.flow_timeout_us = v * 1000000u;
            break;
        case OPT_REASM_WAIT:
            if (parse_uint(optarg, 86400, &v) < 0)
                return bad_value("--reasm-wait", optarg);
            c->lim.reasm_wait_us = v * 1000000u;
            break;
        case OPT_REASM_WAIT_PKTS:
            if (parse_uint(optarg, 1u << 30, &v) < 0)
                return bad_value("--reasm-wait-packets", optarg);
            c->lim.reasm_wait_pkts = v;
            break;
        case OPT_BODY_BYTES:
            if (parse_uint(optarg, MS_BODY_EXCERPT_MAX, &v) < 0)
                return bad_value("--body-bytes", optarg);
            c->lim.body_excerpt = (size_t)v;
            break;
        case OPT_EXTRACT:
            c->extract_dir = optarg;
            break;
        case OPT_EXTRACT_ATT:
            c->extract_flags |= MS_EXTRACT_ATTACHMENTS;
            break;
        case OPT_EXTRACT_MAX:
            if (parse_size(optarg, 1ull << 50, &v) < 0)
                return bad_value("--extract-max-bytes", optarg);
            c->lim.extract_max_bytes = v;
            break;
        case OPT_SID_BASE:
            if (parse_uint(optarg, MS_SID_BASE_MAX, &v) < 0 || v == 0)
                return bad_value("--sid-base", optarg);
            c->out.sid_base = (uint32_t)v;
            break;
        case OPT_LIST_SIGS:
            c->list_signatures = true;
            break;
        case OPT_IPV6_COMPRESS:
            c->out.ipv6_compress = true;
            break;
        case OPT_SENSOR_NAME:
            if (!*optarg)
                return bad_value("--sensor-name", optarg);
            c->sensor_name = optarg;
            break;
        case OPT_DEDUP:
            if (parse_uint(optarg, MS_DEDUP_PERIOD_MAX, &v) < 0 || v == 0)
                return bad_value("--dedup", optarg);
            c->dedup_us = v * 1000000u;
            break;
        case OPT_STATS_INTERVAL:
            if (parse_uint(optarg, MS_STATS_INTERVAL_MAX, &v) < 0 || v == 0)
                return bad_value("--stats-interval", optarg);
            c->stats_interval_us = v * 1000000u;
            break;
        case OPT_EVIDENCE:
            c->evidence_dir = optarg;
            break;
        case OPT_EVIDENCE_FLOW:
            if (parse_size(optarg, 1ull << 32, &v) < 0 || v == 0)
                return bad_value("--evidence-flow-bytes", optarg);
            c->lim.evidence_flow_max = (size_t)v;
            break;
        case OPT_EVIDENCE_MEMCAP:
            if (parse_size(optarg, 1ull << 40, &v) < 0)
                return bad_value("--evidence-memcap", optarg);
            c->lim.evidence_max = (size_t)v;
            break;
        case OPT_THREADS:
            if (strcmp(optarg, "auto") == 0) {
                long cores = sysconf(_SC_NPROCESSORS_ONLN);
                v = cores < 1 ? 1 : cores > MS_THREADS_MAX ? MS_THREADS_MAX : (uint64_t)cores;
            } else if (parse_uint(optarg, MS_THREADS_MAX, &v) < 0 || v == 0) {
                return bad_value("--threads", optarg);
            }
            c->threads = (unsigned)v;
            break;
        case OPT_NO_COLOR:
            c->no_color = true;
            break;
        case OPT_REALTIME:
            c->realtime = true;
            break;
        case OPT_SPEED: {
            double x;
            if (parse_seconds(optarg, MS_REPLAY_SPEED_MAX, &x) < 0 || x < MS_REPLAY_SPEED_MIN)
                return bad_value("--speed", optarg);
            c->speed = x;
            break;
        }
        case OPT_MAX_GAP: {
            double x;
            if (parse_seconds(optarg, MS_REPLAY_GAP_MAX, &x) < 0)
                return bad_value("--max-gap", optarg);
            c->max_gap_us = (uint64_t)(x * 1e6);
            c->max_gap = true;
            break;
        }
        case OPT_WPA_PASS:
        case OPT_WPA_PSK:
        case OPT_WPA_FILE:
        case OPT_MONITOR:
            if (parse_wpa_option(c,
                                 opt == OPT_WPA_PASS   ? WPA_PASS
                                 : opt == OPT_WPA_PSK  ? WPA_PSK
                                 : opt == OPT_WPA_FILE ? WPA_FILE
                                                       : WPA_MONITOR,
                                 optarg) != 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("mailspill %s\n", MS_VERSION);
            return 1;
        default:
            fputs("Try 'mailspill --help'.\n", stderr);
            return 2;
        }
    }
    if ((c->out.secrets == MS_SECRETS_HASH) != (c->hash_key_path != NULL)) {
        fputs(c->hash_key_path ? "mailspill: --hash-key is for --passwords hash only\n"
                               : "mailspill: --passwords hash needs --hash-key FILE\n",
              stderr);
        fputs("Try 'mailspill --help'.\n", stderr);
        return 2;
    }
    if (c->live.rfmon && !c->iface) {
        fputs("mailspill: --monitor is for live capture (-i) only\nTry 'mailspill --help'.\n",
              stderr);
        return 2;
    }
    if (c->pseudonymize && !c->web) {
        fputs("mailspill: --pseudonymize is for --web only\nTry 'mailspill --help'.\n", stderr);
        return 2;
    }
    if (c->list_signatures) { /* after the loop: --sid-base may come later */
        list_signatures(c->out.sid_base);
        return 1;
    }
    if (!c->nfiles == !c->iface) {
        fprintf(stderr, "mailspill: give either -r FILE or -i IFACE\nTry 'mailspill --help'.\n");
        return 2;
    }
    /* Files are read as fast as the disk goes: a wall-clock interval says
     * nothing about them, and one on the capture clock would only repeat
     * the final stats event's totals in pieces. */
    if (c->stats_interval_us && !c->iface) {
        fputs("mailspill: --stats-interval is for live capture (-i) only\n"
              "Try 'mailspill --help'.\n",
              stderr);
        return 2;
    }
    /* Pacing replays a file; a live capture has its own pace. */
    if ((c->realtime || c->max_gap || c->speed > 0) && c->iface) {
        fputs("mailspill: --realtime, --speed and --max-gap are for -r only\n"
              "Try 'mailspill --help'.\n",
              stderr);
        return 2;
    }
    if ((c->max_gap || c->speed > 0) && !c->realtime) {
        fputs("mailspill: --speed and --max-gap go with --realtime\n"
              "Try 'mailspill --help'.\n",
              stderr);
        return 2;
    }
    /* Interface and sensor only live: events from a file must not depend
     * on the machine that read it. */
    if (c->iface) {
        c->out.in_iface = c->iface;
        if (!c->sensor_name && gethostname(c->hostname, sizeof(c->hostname)) == 0) {
            c->hostname[sizeof(c->hostname) - 1] = '\0';
            c->sensor_name = c->hostname;
        }
        c->out.host = c->sensor_name;
    } else if (c->sensor_name) {
        fputs("mailspill: warning: --sensor-name applies to live capture (-i) only\n", stderr);
    }
    if (optind < argc) {
        c->filter = join_filter(argc, argv, optind);
        if (!c->filter) {
            fputs("mailspill: out of memory\n", stderr);
            return 2;
        }
    }
    return 0;
}

/* --text in colour: only on a terminal, when every record goes to standard
 * output, and unless --no-color or NO_COLOR (no-color.org: set and not
 * empty) says no. */
static bool text_color(const struct cli *c)
{
    const char *nc = getenv("NO_COLOR");
    if (c->out.format != MS_OUTPUT_TEXT || c->no_color || (nc && *nc))
        return false;
    for (size_t i = 0; i < c->noutputs; i++) {
        if (strcmp(c->outputs[i], "-") != 0)
            return false;
    }
    return isatty(STDOUT_FILENO) == 1;
}

/* -Z: become USER for good, as tcpdump does after opening the device:
 * supplementary groups, then the group, then the user (the other order
 * would leave us unable to change groups), then check it cannot be undone. */
static int drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        fprintf(stderr, "mailspill: -Z: unknown user '%s'\n", user);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (getuid() == uid && geteuid() == uid)
        return 0;
    if (getuid() != 0 && geteuid() != 0) {
        /* As tcpdump: only root changes user; otherwise there is nothing
         * to give up (capabilities come from the file, not from root). */
        fprintf(stderr, "mailspill: warning: -Z %s ignored: not running as root\n", user);
        return 0;
    }
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        fprintf(stderr, "mailspill: -Z: cannot change to user '%s': %s\n", user, strerror(errno));
        return -1;
    }
    gid_t groups[2];
    int ng = getgroups(2, groups);
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid || ng < 0 ||
        ng > 1 || (ng == 1 && groups[0] != gid) || (uid != 0 && setuid(0) == 0)) {
        fprintf(stderr, "mailspill: -Z: privileges were not dropped to '%s'\n", user);
        return -1;
    }
    return 0;
}

struct run {
    struct cli *c;
    struct ms_engine *eng;
    struct ms_output *out;
    struct ms_sinks *sinks; /* every -o */
    struct ms_source *live; /* for kernel counters */
    uint64_t next_stats_us; /* --stats-interval: CLOCK_MONOTONIC time of the next one */
    /* --realtime: the first packet's time and when it was read (monotonic),
     * the latest packet time, the idle time --max-gap cut so far. */
    bool paced;
    uint64_t pace_ts0, pace_wall0, pace_last, pace_cut;
    /* The progress line (standard error a terminal, files read; NULL: none):
     * the file being read, its name, when it was opened, the next redraw. */
    struct ms_progress *progress;
    struct ms_source *file;
    const char *file_name;
    uint64_t file_start_us, progress_next_us;
    unsigned progress_pkts;
};

/* For intervals: a wall clock stepped back (NTP) must not hold up the
 * periodic stats event by the step. */
static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void write_stats(struct run *r)
{
    struct ms_capture_counters kc;
    struct ms_source_stats ss;
    bool have_kernel = r->live && ms_source_stats(r->live, &ss) == MS_OK;
    if (have_kernel) {
        kc.received = ss.received;
        kc.dropped = ss.dropped;
        kc.ifdropped = ss.ifdropped;
    }
    /* Live: the wall clock (there may have been no packet yet). Files: the
     * time of the last packet, so output stays reproducible; and the sinks'
     * counters too: every record before it is delivered first. */
    if (ms_engine_emit_stats(r->eng, have_kernel ? &kc : NULL, r->live ? wall_us() : 0,
                             r->live ? NULL : r->sinks) != MS_OK)
        fprintf(stderr, "mailspill: cannot write the stats event\n");
}

/* --stats-interval: due on the monotonic clock (checked at least every 250 ms,
 * the live capture's timeout). A late one (a stalled disk) does not make
 * the next ones come in a burst. */
static void interval_stats(struct run *r)
{
    uint64_t every = r->c->stats_interval_us;
    if (!every || !r->live)
        return;
    uint64_t now = mono_us();
    if (!r->next_stats_us) {
        r->next_stats_us = now + every;
        return;
    }
    if (now < r->next_stats_us)
        return;
    write_stats(r);
    r->next_stats_us += every;
    if (r->next_stats_us <= now)
        r->next_stats_us = now + every;
}

static void service_signals(struct run *r)
{
    if (reopen_requested) {
        reopen_requested = 0;
        ms_sinks_reopen(r->sinks); /* -o FILE: logrotate moved it away */
    }
    if (stats_requested) {
        stats_requested = 0;
        write_stats(r);
    }
    interval_stats(r);
}

/* Stopped by a signal, or every sink is dead for good (a closed pipe:
 * the run ends as SIGPIPE used to end it, "N events could not be
 * written" says the rest). */
static bool run_over(const struct run *r)
{
    return stop_requested || ms_sinks_failed(r->sinks);
}

/* 512 kB, 3.4 MB, 1.25 GB: decimal units, as the rate's MB/s. */
static void human_bytes(uint64_t n, char *out, size_t len)
{
    if (n < 1000000u)
        snprintf(out, len, "%llu kB", (unsigned long long)((n + 999u) / 1000u));
    else if (n < 1000000000u)
        snprintf(out, len, "%.1f MB", (double)n / 1e6);
    else
        snprintf(out, len, "%.2f GB", (double)n / 1e9);
}

/* The progress line: where the file is, how fast, events so far. Redrawn
 * at most every MS_PROGRESS_EVERY_MS (force: now). */
static void progress_tick(struct run *r, bool force)
{
    if (!r->progress || !r->file)
        return;
    uint64_t now = mono_us();
    if (!force && now < r->progress_next_us)
        return;
    r->progress_next_us = now + (uint64_t)MS_PROGRESS_EVERY_MS * 1000u;
    uint64_t events = 0;
    for (int k = 0; k < MS_EV_COUNT; k++)
        events += ms_output_count(r->out, (enum ms_event_kind)k);
    /* The end of a long path says more than its start. */
    const char *name = r->file_name;
    size_t len = strlen(name);
    if (len > 24)
        name += len - 24;
    while (((unsigned char)*name & 0xc0) == 0x80) /* not inside a UTF-8 character */
        name++;
    uint64_t done, total;
    double secs = (double)(now - r->file_start_us) / 1e6;
    const char *dots = len > 24 ? "..." : "";
    /* Cut to MS_PROGRESS_LINE_MAX by ms_progress_set. */
    char line[256], at[16], of[32] = "", rate[32] = "";
    if (!ms_source_position(r->file, &done, &total)) {
        snprintf(line, sizeof(line), "%s%s: %llu events", dots, name, (unsigned long long)events);
    } else {
        if (total && done > total)
            done = total;
        human_bytes(done, at, sizeof(at));
        if (total) {
            char t[16];
            human_bytes(total, t, sizeof(t));
            snprintf(of, sizeof(of), " of %s (%d%%)", t, (int)(done * 100 / total));
        }
        /* A rate over the first instants says nothing. */
        if (secs >= 0.5)
            snprintf(rate, sizeof(rate), ", %.1f MB/s", (double)done / 1e6 / secs);
        snprintf(line, sizeof(line), "%s%s: %s%s%s, %llu events", dots, name, at, of, rate,
                 (unsigned long long)events);
    }
    ms_progress_set(r->progress, line);
}

/* --realtime: waits until the packet of time ts is due, that is its
 * distance from the first packet (less the idle time --max-gap cut), over
 * --speed, after the first packet was read. A packet older than the
 * latest is due at once. Sleeps in steps, serving signals and the
 * progress line between them. */
static void pace(struct run *r, uint64_t ts)
{
    const struct cli *c = r->c;
    if (!c->realtime)
        return;
    if (!r->paced) {
        r->paced = true;
        r->pace_ts0 = r->pace_last = ts;
        r->pace_wall0 = mono_us();
        return;
    }
    if (ts > r->pace_last) {
        uint64_t gap = ts - r->pace_last;
        if (c->max_gap && gap > c->max_gap_us)
            r->pace_cut += gap - c->max_gap_us;
        r->pace_last = ts;
    }
    double speed = c->speed > 0 ? c->speed : 1.0;
    uint64_t due = r->pace_wall0 +
                   (uint64_t)((double)(r->pace_last - r->pace_ts0 - r->pace_cut) / speed);
    for (;;) {
        service_signals(r);
        progress_tick(r, false);
        uint64_t now = mono_us();
        if (run_over(r) || now >= due)
            return;
        uint64_t step = due - now;
        if (step > (uint64_t)MS_REPLAY_STEP_MS * 1000u)
            step = (uint64_t)MS_REPLAY_STEP_MS * 1000u;
        struct timespec d = { (time_t)(step / 1000000u), (long)(step % 1000000u) * 1000 };
        nanosleep(&d, NULL); /* a signal cuts it short: checked above */
    }
}

/* Runs one source to its end. Returns 0, or 1 when it failed outright. */
static int run_source(struct run *r, struct ms_source *src, bool live)
{
    uint64_t ts;
    const uint8_t *data;
    size_t caplen;
    int lt;
    /* Reading a regular file at full speed, the signals' flags and the
     * sinks are looked at every MS_SIGNAL_CHECK_FRAMES frames, not at each
     * (33 instructions a frame, 1.3% of the mixed benchmark's): a reopen or
     * a stats request still comes within a fraction of a millisecond. Live,
     * from a pipe or standard input (the next read may wait for the
     * writer), and with --realtime (frames come at the capture's pace), at
     * every frame, as a stop always is: pace() returns at a stop, and the
     * frames after it must not be read. */
    uint64_t done, total;
    bool batched = !live && !r->c->realtime && ms_source_position(src, &done, &total);
    unsigned until_check = 0;
    for (;;) {
        if (!batched || stop_requested || until_check-- == 0) {
            until_check = MS_SIGNAL_CHECK_FRAMES - 1;
            service_signals(r);
            if (run_over(r))
                return 0;
        }
        enum ms_next n = ms_source_next(src, &ts, &data, &caplen, &lt);
        if (n == MS_NEXT_PACKET) {
            if (!live) {
                pace(r, ts);
                if ((++r->progress_pkts & 255u) == 0)
                    progress_tick(r, false);
            }
            ms_engine_frame(r->eng, lt, ts, data, caplen);
            if (live)
                ms_engine_tick(r->eng, wall_us());
            else if (!batched)
                ms_engine_idle(r->eng); /* the next read or pace may wait: wake the workers */
        } else if (n == MS_NEXT_TIMEOUT) {
            /* A quiet link: holes still end on time (wall clock). */
            if (live)
                ms_engine_tick(r->eng, wall_us());
            ms_engine_idle(r->eng);
            continue;
        } else if (n == MS_NEXT_END || stop_requested) {
            /* The end, or a read interrupted by SIGINT/SIGTERM: not damage. */
            return 0;
        } else {
            /* A truncated or damaged file: keep what was read. */
            ms_progress_warn(r->progress, "mailspill: warning: %s; stopped reading there\n",
                             ms_source_error(src));
            return live ? 1 : 0;
        }
    }
}

static void warn_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "mailspill: warning: %s\n", line);
}

/* Reads one capture file ("-": standard input) into the run. A file of a
 * folder (in_dir) that is not a capture we can read is skipped with a
 * warning; given alone, it is an error. Returns 0 (read), 1 (an error:
 * stop, exit status 1) or 2 (skipped). */
static int read_file(struct run *r, const char *path, bool in_dir)
{
    char err[512];
    enum ms_rc why;
    struct ms_source *src = ms_source_open_file(path, r->c->filter, &why, err, sizeof(err));
    if (!src) {
        if (in_dir && (why == MS_ERR_PROTO || why == MS_ERR_IO)) {
            fprintf(stderr, "mailspill: warning: %s; skipped\n", err);
            return 2;
        }
        fprintf(stderr, "mailspill: %s\n", err);
        return 1;
    }
    /* Standard input has no file name to report. */
    ms_engine_set_source(r->eng, strcmp(path, "-") == 0 ? NULL : path, true);
    r->file = src;
    r->file_name = strcmp(path, "-") == 0 ? "standard input" : path;
    r->file_start_us = mono_us();
    progress_tick(r, true);
    int status = run_source(r, src, false);
    /* Warnings may follow: the line makes way (the next file draws it). */
    ms_progress_clear(r->progress);
    r->file = NULL;
    bool unreadable = ms_source_unreadable(src, err, sizeof(err), warn_line, NULL);
    ms_source_close(src);
    if (unreadable && in_dir) {
        fprintf(stderr, "mailspill: warning: %s; skipped\n", err);
        return 2;
    }
    if (unreadable) {
        /* As a classic pcap of that link type is refused at open. */
        fprintf(stderr, "mailspill: %s\n", err);
        return 1;
    }
    return status;
}

/* One -r argument: a file, or a folder whose files are read in name order
 * as if each were given with -r (app/dirlist.h). A folder in which no file
 * could be read is an error. dl keeps the paths (events name them) until
 * the end of the run. Returns the exit status so far: 0, or 1 to stop. */
static int read_arg(struct run *r, struct ms_dirlist *dl, const char *arg)
{
    if (strcmp(arg, "-") == 0 || !ms_dirlist_is_dir(arg))
        return read_file(r, arg, false) == 1;
    char err[512];
    size_t first = dl->n;
    if (ms_dirlist_add(dl, arg, err, sizeof(err)) != MS_OK) {
        fprintf(stderr, "mailspill: %s\n", err);
        return 1;
    }
    size_t read = 0;
    for (size_t k = first; k < dl->n && !run_over(r); k++) {
        int rc = read_file(r, dl->paths[k], true);
        if (rc == 1)
            return 1;
        read += rc == 0;
    }
    if (read == 0 && !run_over(r)) {
        fprintf(stderr, "mailspill: %s: no capture file in this folder\n", arg);
        return 1;
    }
    return 0;
}

/* Past a cap mailspill keeps going; at the end it says what it dropped. */
static void warn_cap(uint64_t n, const char *what)
{
    if (n)
        fprintf(stderr, "mailspill: warning: %llu %s\n", (unsigned long long)n, what);
}

/* Caps that cut data (README, Limits): one line each at the end of the
 * run, with the events' own words, so a cut is not only in the JSON. */
static void warn_data_caps(const struct ms_output *out, const struct ms_limits *lim)
{
    /* Each cap: how often it was hit, its value, and the words before and
     * after the value. */
    const struct {
        uint64_t hits;
        unsigned long long cap;
        const char *before, *after;
    } caps[] = {
        { ms_output_anomaly_count(out, MS_ANOM_LINE_TOO_LONG), lim->max_line,
          "command/reply lines over the line cap of ",
          " bytes were dropped (line_too_long; counted once per flow)" },
        { ms_output_cap_mime_count(out, MS_OUTPUT_CAP_MESSAGE), lim->max_message,
          "messages were larger than the message cap of ",
          " bytes: parsed up to it (truncated, message_too_large)" },
        { ms_output_cap_mime_count(out, MS_OUTPUT_CAP_DEPTH), lim->mime_max_depth,
          "messages nest MIME parts deeper than ",
          " levels: deeper parts not parsed (depth_exceeded)" },
        { ms_output_cap_mime_count(out, MS_OUTPUT_CAP_PARTS), lim->mime_max_parts,
          "messages have more than ", " attachments: the rest not reported (too_many_parts)" },
        { ms_output_cap_mime_count(out, MS_OUTPUT_CAP_HEADER), lim->mime_max_header,
          "messages have a header field longer than ", " bytes: cut (header_line_too_long)" },
        { ms_output_anomaly_count(out, MS_ANOM_EXTRACT_LIMIT_REACHED), lim->extract_max_bytes,
          "files were not extracted: the --extract-max-bytes cap of ",
          " bytes was reached (extract_limit_reached)" },
        { ms_output_anomaly_count(out, MS_ANOM_TOO_MANY_RECIPIENTS), lim->smtp_max_rcpt,
          "SMTP transactions had more than ",
          " recipients: the rest not kept (too_many_recipients)" },
        { ms_output_anomaly_count(out, MS_ANOM_TOO_MANY_PENDING_COMMANDS), lim->max_pending_cmds,
          "flows pipelined more than ",
          " commands: replies to the rest not matched (too_many_pending_commands)" },
    };
    char what[256];
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        snprintf(what, sizeof(what), "%s%llu%s", caps[i].before, caps[i].cap, caps[i].after);
        warn_cap(caps[i].hits, what);
    }
}

static void warn_limits(const struct ms_pipeline_stats *st, const struct ms_limits *lim)
{
    if (st->flows_evicted > st->flows_memcap_evicted)
        fprintf(stderr,
                "mailspill: warning: %llu flows ended early: more than %zu at once (--max-flows)\n",
                (unsigned long long)(st->flows_evicted - st->flows_memcap_evicted), lim->max_flows);
    if (st->flows_memcap_evicted)
        fprintf(stderr,
                "mailspill: warning: %llu flows ended early: flow memory cap of %zu bytes "
                "(--flow-memcap)\n",
                (unsigned long long)st->flows_memcap_evicted, lim->flow_memcap);
    if (st->reasm_forced)
        fprintf(stderr,
                "mailspill: warning: %llu holes declared gaps because out-of-order "
                "buffers were full (--reasm-memcap, --reasm-flow-cap)\n",
                (unsigned long long)st->reasm_forced);
}

/* --dedup: repeats suppressed after the last report of their login are
 * in no alert: said here (and in stats dedup.unreported), never lost.
 * --evidence: frames a cap, a write failure, their link type or their
 * fragmentation kept out of the files. */
static void warn_dedup_evidence(const struct ms_pipeline_stats *st)
{
    warn_cap(st->dedup_unreported,
             "repeated logins were suppressed by --dedup after the last report of their login "
             "(stats dedup.unreported)");
    warn_cap(st->evid_flow_cap + st->evid_memcap,
             "packets of flows were left out of --evidence files: a cap was reached "
             "(--evidence-flow-bytes, --evidence-memcap)");
    warn_cap(st->evid_write_errors, "--evidence files could not be created or written");
    warn_cap(st->evid_linktype,
             "packets were left out of --evidence files: their link type is not their flow's "
             "first packet's, and a pcap file holds one (evidence.linktype_mismatch)");
    warn_cap(st->evid_fragmented,
             "packets were left out of --evidence files: they came as IP fragments "
             "(evidence.fragmented)");
}

/* Every -o (standard output when none), files opened now: before -Z and
 * before capture starts, so that a bad path fails at once. The writers
 * start here too, with the signal handlers not yet installed. NULL after
 * saying why, with *status 2 for a malformed -o, else 1. */
static struct ms_sinks *open_sinks(struct cli *c, int *status)
{
    *status = 1;
    c->sink.live = c->iface != NULL;
    c->sink.stop = &stop_requested;
    struct ms_sinks *sinks = ms_sinks_new(&c->sink);
    if (!sinks) {
        fputs("mailspill: out of memory\n", stderr);
        return NULL;
    }
    char err[512];
    enum ms_rc rc = MS_OK;
    if (c->noutputs == 0)
        rc = ms_sinks_add(sinks, "-", err, sizeof(err));
    for (size_t i = 0; i < c->noutputs && rc == MS_OK; i++)
        rc = ms_sinks_add(sinks, c->outputs[i], err, sizeof(err));
    if (rc == MS_OK)
        rc = ms_sinks_start(sinks, err, sizeof(err));
    if (rc != MS_OK) {
        fprintf(stderr, "mailspill: %s\n", err);
        if (rc == MS_ERR_ARG) {
            fputs("Try 'mailspill --help'.\n", stderr);
            *status = 2;
        }
        ms_sinks_free(sinks);
        return NULL;
    }
    return sinks;
}

/* --web: the server and the output that feeds it, its records rendered
 * under its own secrets policy (mask, unless --passwords or
 * --show-passwords said otherwise: the page is for a room). Returns 0,
 * or 1 after saying why (2: a malformed address). */
static int open_web(struct cli *c, struct ms_web **web, struct ms_output **wout)
{
    char err[512];
    *web = ms_web_open(c->web, c->pseudonymize, err, sizeof(err));
    if (!*web) {
        fprintf(stderr, "mailspill: %s\n", err);
        return strstr(err, "is not") ? 2 : 1;
    }
    struct ms_output_opts o = c->out;
    o.format = MS_OUTPUT_JSON;
    if (!c->secrets_given)
        o.secrets = MS_SECRETS_MASK;
    o.hashes = NULL;
    o.dedup = NULL;
    o.tee = NULL;
    o.record = ms_web_record;
    o.record_ctx = *web;
    *wout = ms_output_new(NULL, &o);
    if (!*wout) {
        fputs("mailspill: out of memory\n", stderr);
        return 1;
    }
    c->out.tee = *wout;
    fprintf(stderr, "mailspill: web view at %s\n", ms_web_url(*web));
    if (o.secrets == MS_SECRETS_CLEAR && !ms_web_loopback(*web))
        fputs("mailspill: warning: the web view shows clear passwords to anyone on the network "
              "who has its address\n",
              stderr);
    return 0;
}

/* --web: the page stays up after the files are read, so a trainer can
 * talk over it, until SIGINT or SIGTERM. */
static void web_linger(const struct cli *c)
{
    if (!c->web || c->iface || stop_requested)
        return;
    fputs("mailspill: all read; the web view stays up until Ctrl-C\n", stderr);
    while (!stop_requested) {
        struct timespec ts = { 0, 100000000L }; /* 100 ms */
        nanosleep(&ts, NULL);
    }
}

/* The worker threads of --threads, once privileges are dropped. */
static int start_engine(struct ms_engine *eng)
{
    char err[256];
    if (ms_engine_start(eng, err, sizeof(err)) != MS_OK) {
        fprintf(stderr, "mailspill: %s\n", err);
        return 1;
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    /* No SA_RESTART for the stop signals: a blocked read of standard input
     * returns, and we stop. HUP and USR1 must not disturb a read. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof(c));
    int rc = parse_args(argc, argv, &c);
    if (rc) {
        ms_wpa_secrets_clear(&c.wpa_secrets);
        ms_free(c.files);
        ms_free(c.filter);
        return rc == 1 ? 0 : 2;
    }

    if (open_secrets(&c) != 0) {
        close_secrets(&c);
        ms_free(c.files);
        ms_free(c.filter);
        return 1;
    }
    /* Progress on a terminal when files are read (README "Text view"). */
    struct ms_progress *progress = !c.iface && isatty(STDERR_FILENO) == 1
                                       ? ms_progress_new(STDERR_FILENO)
                                       : NULL;
    c.sink.progress = progress;
    c.out.color = text_color(&c);
    int open_status;
    struct ms_sinks *sinks = open_sinks(&c, &open_status);
    if (!sinks) {
        ms_progress_free(progress);
        close_secrets(&c);
        ms_free(c.files);
        ms_free(c.filter);
        return open_status;
    }

    struct ms_web *web = NULL;
    struct ms_output *web_out = NULL;
    if (c.web && (open_status = open_web(&c, &web, &web_out)) != 0) {
        ms_output_free(web_out);
        ms_web_close(web);
        ms_sinks_free(sinks);
        close_secrets(&c);
        ms_free(c.files);
        ms_free(c.filter);
        return open_status;
    }
    struct ms_dedup *dedup = NULL;
    if (c.dedup_us) {
        dedup = ms_dedup_new(c.dedup_us, MS_DEDUP_MAX_ENTRIES);
        c.out.dedup = dedup;
    }
    struct ms_output *out = (dedup || !c.dedup_us) ? ms_output_new(sinks, &c.out) : NULL;
    struct ms_engine *eng = out ? ms_engine_new(&c.lim, out, c.threads, c.iface != NULL) : NULL;
    if (eng && c.wpa)
        ms_engine_set_wpa(eng, c.wpa);
    struct run r = { .c = &c, .eng = eng, .out = out, .sinks = sinks, .progress = progress };
    /* One extractor and one evidence writer per worker thread (files are
     * named per flow: they never meet), drawing on one cap each. */
    struct ms_extract *xt[MS_THREADS_MAX] = { NULL };
    struct ms_evidence *evid[MS_THREADS_MAX] = { NULL };
    unsigned nworkers = eng ? ms_engine_workers(eng) : 0;
    struct ms_dirlist dl = { 0 }; /* the files of -r DIR */
    int status = 0;
    if (!eng || ms_output_reserve_writers(out, nworkers + 1) != MS_OK ||
        (web_out && ms_output_reserve_writers(web_out, nworkers + 1) != MS_OK)) {
        fprintf(stderr, "mailspill: cannot initialise (out of memory or nDPI failure)\n");
        status = 1;
        goto done;
    }
    for (unsigned i = 0; i < nworkers && c.extract_dir; i++) {
        char xerr[512];
        struct ms_msg_tap tap;
        xt[i] = ms_extract_open(c.extract_dir, c.extract_flags, c.lim.extract_max_bytes, xerr,
                                sizeof(xerr));
        if (!xt[i]) {
            fprintf(stderr, "mailspill: --extract: %s\n", xerr);
            status = 1;
            goto done;
        }
        if (i > 0)
            ms_extract_share_cap(xt[i], xt[0]); /* one cap for the run */
        ms_extract_tap(xt[i], &tap);
        ms_pipeline_set_tap(ms_engine_worker(eng, i), &tap);
    }
    if (!c.extract_dir && c.extract_flags) {
        fprintf(stderr, "mailspill: --extract-attachments needs --extract DIR\n");
        status = 2;
        goto done;
    }
    for (unsigned i = 0; i < nworkers && c.evidence_dir; i++) {
        char eerr[512];
        evid[i] = ms_evidence_open(c.evidence_dir, c.lim.evidence_flow_max, c.lim.evidence_max,
                                   eerr, sizeof(eerr));
        if (!evid[i]) {
            fprintf(stderr, "mailspill: --evidence: %s\n", eerr);
            status = 1;
            goto done;
        }
        if (i > 0)
            ms_evidence_share_cap(evid[i], evid[0]);
        ms_pipeline_set_evidence(ms_engine_worker(eng, i), evid[i]);
    }
    install_signals();

    char err[512];
    if (c.iface) {
        struct ms_source *src = ms_source_open_live(c.iface, &c.live, c.filter, err, sizeof(err));
        if (!src) {
            fprintf(stderr, "mailspill: %s\n", err);
            status = 1;
            goto done;
        }
        if (c.user && drop_privileges(c.user) != 0) {
            ms_source_close(src);
            status = 1;
            goto done;
        }
        r.live = src;
        if (start_engine(eng) != 0) {
            status = 1;
            goto done;
        }
        ms_engine_set_source(eng, NULL, false);
        status = run_source(&r, src, true);
    } else {
        /* Files are opened as USER: nothing privileged is needed. */
        if (c.user && drop_privileges(c.user) != 0) {
            status = 1;
            goto done;
        }
        if (start_engine(eng) != 0) {
            status = 1;
            goto done;
        }
        for (size_t i = 0; i < c.nfiles && !run_over(&r) && status == 0; i++)
            status = read_arg(&r, &dl, c.files[i]);
    }
    /* Flush sessions in progress: a login whose reply never came is still
     * reported, with outcome "unknown". */
    ms_engine_finish(eng);
    service_signals(&r);
    struct ms_pipeline_stats st;
    ms_engine_get_stats(eng, NULL, &st);
    /* A run that failed before reading anything has nothing to count. */
    if (c.stats && (status == 0 || st.packets > 0))
        write_stats(&r);
    ms_source_close(r.live);
    r.live = NULL;
    /* Delivers what is queued (README "Sinks": how long it may wait). */
    ms_sinks_close(sinks);
    ms_progress_clear(progress); /* gone before the warnings */
    ms_sinks_warn(sinks);
    ms_engine_get_stats(eng, NULL, &st);
    warn_limits(&st, &c.lim);
    warn_data_caps(out, &c.lim);
    warn_dedup_evidence(&st);
    if (st.write_errors) {
        fprintf(stderr, "mailspill: %llu events could not be written\n",
                (unsigned long long)st.write_errors);
        status = 1;
    }
    web_linger(&c);

done:
    ms_source_close(r.live);
    ms_engine_free(eng); /* stops the workers (an early exit) */
    for (unsigned i = 0; i < nworkers; i++) {
        ms_extract_close(xt[i]); /* after the flows that wrote through it */
        ms_evidence_close(evid[i]);
    }
    ms_output_free(out);
    ms_output_free(web_out); /* after the output that tees to it */
    ms_web_close(web);
    ms_dedup_free(dedup);
    ms_sinks_free(sinks);       /* after the output that writes to them */
    ms_progress_free(progress); /* after the sinks that draw it */
    if (close_secrets(&c) != 0) /* after the output that writes to it */
        status = 1;
    ms_dirlist_free(&dl); /* after the pipeline: it names its source with them */
    ms_free(c.files);
    ms_free(c.filter);
    return status;
}
