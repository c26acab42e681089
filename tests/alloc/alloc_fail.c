/* Allocation-failure test (curl's torture test, Suricata's nallocinc):
 * the whole pipeline (source, decode, IP reassembly, flows, TCP
 * reassembly, classification, dissectors, JSON output, --extract with
 * attachments, --dedup's table, --evidence's buffers and files) runs on a capture once cleanly, counting the N allocations
 * of the project's own code (common/alloc.h), then again with allocation k
 * failing, for every k in 1..N (stride 1) or every stride-th from 1. Each
 * run has a fresh output, pipeline and extraction directory. Allocations
 * inside nDPI, json-c, libpcap and OpenSSL are not made to fail. A failing
 * run must:
 *
 *   - not crash (the sanitized builds run this test under ASan/UBSan, and
 *     a crash names the run: SIGSEGV/SIGABRT handler, sanitizer callback);
 *   - leak nothing: after teardown every block allocated through the
 *     wrappers was freed (the hook's live count; LeakSanitizer checks the
 *     rest at exit in the sanitized builds);
 *   - report nothing wrong: an event may be missing, one that is there
 *     must be one the clean run reported ("Wrong" below);
 *   - lose nothing silently: when its alert, email and fileinfo events
 *     differ from the clean run's in any way (one missing, one cut, a file
 *     not extracted), it ended in a clean error (a constructor returned
 *     NULL, the source said MS_NEXT_ERROR) or an anomaly says out of
 *     memory (out_of_memory, or a detail naming "out of memory").
 *
 * Same flow: the same addresses, ports (so the same direction) and
 * app_proto, and the same flow_id. A connection whose first packet found
 * no memory for its flow starts at a later packet, under another flow_id
 * (a hash of its first timestamp): still the same flow when both events
 * were completed by the same packet (pcap_cnt; a packet belongs to one
 * connection), or when the clean run had one flow between those endpoints.
 *
 * Wrong, event by event:
 *   alert     unless the clean run has an alert of the same flow with the
 *             same signature and an equal credential object: username,
 *             password or token (shown, so compared), outcome, server
 *             reply, challenge, hashcat line, incomplete, ... An alert
 *             with a part missing (incomplete, outcome unknown) where the
 *             clean run had it whole is wrong too.
 *   email     unless the clean run has the same event (whole: timestamp
 *             and pcap_cnt included), or the failing one says truncated:
 *             true and is a cut copy of a clean email of the same flow:
 *             the same keys outside "email" (timestamp and pcap_cnt aside:
 *             a message cut short may end at another packet); the same
 *             command and partial, and accepted and server_reply equal if
 *             given; each of from, subject, date, message_id equal or
 *             absent; to, cc, attachment and url lists prefixes of the
 *             clean ones; size no larger; attachments a prefix, each equal
 *             to the clean one at its place, or marked truncated with the
 *             same name and type and no larger size. Its sha256 is then
 *             that of a prefix and not compared. A message whose hash,
 *             recipients or attachments differ and that does not say
 *             truncated is wrong.
 *   fileinfo  unless a clean fileinfo of the same flow has the same file
 *             (equal "fileinfo", or this one TRUNCATED with the same name
 *             and type), the same keys besides, and the message's header
 *             fields beside it are those of the clean one or a cut of them
 *             (as above).
 *   anomaly   never (out_of_memory and dissector_stopped are expected).
 * Whether --extract wrote a file is not compared (a failed allocation may
 * cost the file, with an anomaly), nor "stored"; a file an event names
 * must exist and hash to the event's sha256 (the message's, or the
 * attachment's unless truncated).
 *
 * Usage: alloc_fail [--only K] CAPTURE[:STRIDE]...
 * --only K: the clean run and the run with allocation K failing, whose
 * events go to standard output (to look at one failure, under gdb: break
 * in common/alloc.c's hook_fails when hook->calls == K - 1). */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../app/pipeline.h"
#include "../../capture/source.h"
#include "../../common/alloc.h"
#include "../../common/sha256.h"
#include "../../output/dedup.h"
#include "../../output/evidence.h"
#include "../../output/extract.h"
#include "../../output/sink.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MS_ASAN 1
#endif
#ifdef MS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* What runs now, said if it crashes. */
static char current[4200];

static void say_current(void)
{
    if (current[0]) {
        ssize_t w = write(STDERR_FILENO, current, strlen(current));
        (void)w;
    }
}

static void on_crash(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

struct run {
    uint64_t fail_at; /* 0: the clean run */
    struct ms_alloc_hook hook;
    bool clean_error; /* a constructor returned NULL, or reading failed */
    char *text;       /* JSON lines */
    size_t text_len;
    struct json_object *events; /* array, parsed from text */
};

static const char *xdir_base;

/* ---- running ---------------------------------------------------------- */

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* --evidence's directory beside --extract's. */
static void evidence_dir(const char *xdir, char *out, size_t n)
{
    snprintf(out, n, "%s-ev", xdir);
}

static void remove_dirs(const char *xdir)
{
    char ev[4200];
    evidence_dir(xdir, ev, sizeof(ev));
    remove_dir(xdir);
    remove_dir(ev);
}

static void run_capture(const char *pcap, const char *xdir, struct run *r)
{
    FILE *mem = open_memstream(&r->text, &r->text_len);
    if (!mem) {
        perror("open_memstream");
        exit(1);
    }
    struct ms_limits lim = ms_limits_default();
    struct ms_output_opts oo = { .format = MS_OUTPUT_JSON, .secrets = MS_SECRETS_CLEAR };
    char err[512];
    memset(&r->hook, 0, sizeof(r->hook));
    r->hook.fail_at = r->fail_at;

    char evdir[4200];
    evidence_dir(xdir, evdir, sizeof(evdir));

    ms_alloc_set_hook(&r->hook);
    /* --dedup's table, with a period (1 us) in which no login here is
     * repeated: the same alerts as without it, through the table's
     * allocations. (With a longer one, a failing allocation reports a
     * repeat the clean run suppressed, as the table says it must: never
     * an alert lost for lack of memory.) */
    struct ms_dedup *dd = ms_dedup_new(1, 64);
    oo.dedup = dd;
    /* The writer thread allocates nothing: every allocation of the sink
     * layer is made and freed here, on the hooked thread. */
    struct ms_sinks_opts so = { .queue_bytes = (size_t)256 * 1024 };
    struct ms_sinks *sinks = ms_sinks_new(&so);
    bool sinks_ok = sinks && ms_sinks_add_stream(sinks, mem, "memstream") == MS_OK &&
                    ms_sinks_start(sinks, err, sizeof(err)) == MS_OK;
    struct ms_output *out = dd && sinks_ok ? ms_output_new(sinks, &oo) : NULL;
    struct ms_pipeline *pl = out ? ms_pipeline_new(&lim, out) : NULL;
    struct ms_extract *xt = pl ? ms_extract_open(xdir, MS_EXTRACT_ATTACHMENTS,
                                                 lim.extract_max_bytes, err, sizeof(err))
                               : NULL;
    struct ms_evidence *evid = xt ? ms_evidence_open(evdir, lim.evidence_flow_max, lim.evidence_max,
                                                     err, sizeof(err))
                                  : NULL;
    struct ms_source *src = evid ? ms_source_open_file(pcap, NULL, NULL, err, sizeof(err)) : NULL;
    if (!src) {
        r->clean_error = true;
    } else {
        struct ms_msg_tap tap;
        ms_extract_tap(xt, &tap);
        ms_pipeline_set_tap(pl, &tap);
        ms_pipeline_set_evidence(pl, evid);
        ms_pipeline_set_source_name(pl, pcap);
        ms_pipeline_set_offline(pl, true);
        uint64_t ts;
        const uint8_t *frame;
        size_t caplen;
        int lt;
        enum ms_next nx;
        while ((nx = ms_source_next(src, &ts, &frame, &caplen, &lt)) == MS_NEXT_PACKET)
            ms_pipeline_frame(pl, lt, ts, frame, caplen);
        if (nx == MS_NEXT_ERROR)
            r->clean_error = true;
        ms_pipeline_finish(pl);
    }
    ms_source_close(src);
    ms_pipeline_free(pl);
    ms_extract_close(xt);
    ms_evidence_close(evid);
    ms_output_free(out);
    ms_dedup_free(dd);
    ms_sinks_free(sinks);
    ms_alloc_set_hook(NULL);
    if (fclose(mem) != 0) {
        perror("memstream");
        exit(1);
    }

    r->events = json_object_new_array();
    char *line = r->text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        struct json_object *ev = json_tokener_parse(line);
        if (!ev) {
            fprintf(stderr, "alloc_fail: not JSON: %s\n", line);
            exit(1);
        }
        json_object_array_add(r->events, ev);
        if (!nl)
            break;
        *nl = '\n';
        line = nl + 1;
    }
}

static void run_free(struct run *r)
{
    json_object_put(r->events);
    free(r->text);
    memset(r, 0, sizeof(*r));
}

/* ---- JSON helpers ----------------------------------------------------- */

static struct json_object *get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static const char *str(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);
    return v ? json_object_get_string(v) : "";
}

static bool eq(struct json_object *a, struct json_object *b)
{
    return json_object_equal(a, b) != 0;
}

static bool same_key(struct json_object *a, struct json_object *b, const char *key)
{
    return eq(get(a, key), get(b, key));
}

static bool same_endpoints(struct json_object *a, struct json_object *b)
{
    static const char *const keys[] = { "src_ip", "src_port", "dest_ip", "dest_port", "app_proto" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!same_key(a, b, keys[i]))
            return false;
    }
    return true;
}

/* The clean run's events, for same_flow. */
static struct json_object *clean_events;

/* Same flow, same direction: the same endpoints and flow_id. A flow whose
 * first packet found no memory for its flow begins at a later packet, and
 * its flow_id (a hash of its first timestamp) changes: it is still the
 * same flow when both events were completed by the same packet (a packet
 * belongs to one connection), or when the clean run had only one flow
 * between these endpoints. */
static bool same_flow(struct json_object *a, struct json_object *b)
{
    if (!same_endpoints(a, b))
        return false;
    if (same_key(a, b, "flow_id") || same_key(a, b, "pcap_cnt"))
        return true;
    for (size_t i = 0; i < json_object_array_length(clean_events); i++) {
        struct json_object *c = json_object_array_get_idx(clean_events, i);
        if (get(c, "flow_id") && same_endpoints(c, b) && !same_key(c, b, "flow_id"))
            return false;
    }
    return true;
}

static bool truthy(struct json_object *o, const char *key)
{
    struct json_object *v = get(o, key);
    return v && json_object_get_boolean(v);
}

/* A copy without what --extract adds: mode 0 removes the file names
 * (and fileinfo's "stored"); mode 1 keeps only whether there was one. */
static struct json_object *normalized(struct json_object *ev, int mode)
{
    struct json_object *c = NULL;
    if (json_object_deep_copy(ev, &c, NULL) != 0) {
        fprintf(stderr, "alloc_fail: json copy failed\n");
        exit(1);
    }
    /* same_flow compared the flows; a flow begun late has another id. */
    if (mode == 0)
        json_object_object_del(c, "flow_id");
    struct json_object *em = get(c, "email");
    struct json_object *fi = get(c, "fileinfo");
    struct json_object *atts = get(em, "attachments");
    struct json_object *holders[2 + 64];
    const char *names[2 + 64];
    size_t n = 0;
    if (strcmp(str(c, "event_type"), "email") == 0) {
        holders[n] = em;
        names[n++] = "eml_file";
    }
    if (fi) {
        holders[n] = fi;
        names[n++] = "file";
        if (mode == 0)
            json_object_object_del(fi, "stored");
    }
    for (size_t i = 0; atts && i < json_object_array_length(atts) && n < 66; i++) {
        holders[n] = json_object_array_get_idx(atts, i);
        names[n++] = "file";
    }
    for (size_t i = 0; i < n; i++) {
        if (!get(holders[i], names[i]))
            continue;
        if (mode == 0)
            json_object_object_del(holders[i], names[i]);
        else
            json_object_object_add(holders[i], names[i], json_object_new_boolean(1));
    }
    return c;
}

/* ---- checks ----------------------------------------------------------- */

struct report {
    const char *capture;
    uint64_t k;
    unsigned problems;
};

/* Says what is wrong; the first 50 problems in full, then only counted. */
static void problem(struct report *rp, const char *what, struct json_object *ev)
{
    rp->problems++;
    if (rp->problems > 50)
        return;
    fprintf(stderr, "alloc_fail: %s, allocation %llu failing: %s%s%s\n", rp->capture,
            (unsigned long long)rp->k, what, ev ? ": " : "",
            ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN) : "");
}

static bool file_hashes_to(const char *path, struct json_object *hex)
{
    if (!hex)
        return false;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    struct ms_sha256 h;
    ms_sha256_init(&h);
    uint8_t buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        ms_sha256_update(&h, buf, n);
    (void)fclose(fp); /* read only */
    uint8_t d[MS_SHA256_LEN];
    ms_sha256_final(&h, d);
    char s[2 * MS_SHA256_LEN + 1];
    for (size_t i = 0; i < MS_SHA256_LEN; i++)
        snprintf(s + 2 * i, 3, "%02x", d[i]);
    return strcmp(s, json_object_get_string(hex)) == 0;
}

/* Files an email event names hash to its digests. */
static void check_files(struct report *rp, struct json_object *ev)
{
    struct json_object *em = get(ev, "email");
    if (!em || strcmp(str(ev, "event_type"), "email") != 0)
        return;
    struct json_object *f = get(em, "eml_file");
    if (f && !truthy(em, "truncated") &&
        !file_hashes_to(json_object_get_string(f), get(em, "sha256")))
        problem(rp, "the .eml file does not hash to the message's sha256", ev);
    struct json_object *atts = get(em, "attachments");
    for (size_t i = 0; atts && i < json_object_array_length(atts); i++) {
        struct json_object *a = json_object_array_get_idx(atts, i);
        f = get(a, "file");
        if (f && !truthy(a, "truncated") &&
            !file_hashes_to(json_object_get_string(f), get(a, "sha256")))
            problem(rp, "an extracted attachment does not hash to its sha256", ev);
    }
}

static bool alert_ok(struct json_object *ev, struct json_object *clean)
{
    for (size_t i = 0; i < json_object_array_length(clean); i++) {
        struct json_object *c = json_object_array_get_idx(clean, i);
        if (strcmp(str(c, "event_type"), "alert") == 0 && same_flow(ev, c) &&
            eq(get(get(ev, "alert"), "signature_id"), get(get(c, "alert"), "signature_id")) &&
            same_key(ev, c, "credential"))
            return true;
    }
    return false;
}

/* The array a is a prefix of b. */
static bool prefix_of(struct json_object *a, struct json_object *b)
{
    size_t na = a ? json_object_array_length(a) : 0, nb = b ? json_object_array_length(b) : 0;
    if (na > nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!eq(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
            return false;
    }
    return true;
}

/* The header fields of fail (an email object) are those of clean, or
 * fewer: each field it has equal, each list a prefix. */
static bool header_cut(struct json_object *fail, struct json_object *clean)
{
    static const char *const fields[] = { "from", "subject", "date", "message_id" };
    static const char *const lists[] = { "to", "cc", "attachment", "url" };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (get(fail, fields[i]) && !same_key(fail, clean, fields[i]))
            return false;
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (!prefix_of(get(fail, lists[i]), get(clean, lists[i])))
            return false;
    }
    return true;
}

/* Both events have the same keys with equal values, those named in
 * aside (NULL-terminated) left out. */
static bool equal_but(struct json_object *a, struct json_object *b, const char *const *aside)
{
    struct json_object *ca = NULL, *cb = NULL;
    if (json_object_deep_copy(a, &ca, NULL) != 0 || json_object_deep_copy(b, &cb, NULL) != 0) {
        fprintf(stderr, "alloc_fail: json copy failed\n");
        exit(1);
    }
    for (size_t i = 0; aside[i]; i++) {
        json_object_object_del(ca, aside[i]);
        json_object_object_del(cb, aside[i]);
    }
    bool same = eq(ca, cb);
    json_object_put(ca);
    json_object_put(cb);
    return same;
}

/* fail is a cut copy of clean (both email objects; see the file header). */
static bool cut_copy(struct json_object *fail, struct json_object *clean)
{
    static const char *const same[] = { "command", "partial" };
    static const char *const if_any[] = { "accepted", "server_reply" };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        if (!same_key(fail, clean, same[i]))
            return false;
    }
    for (size_t i = 0; i < sizeof(if_any) / sizeof(if_any[0]); i++) {
        if (get(fail, if_any[i]) && !same_key(fail, clean, if_any[i]))
            return false;
    }
    if (!header_cut(fail, clean))
        return false;
    if (json_object_get_int64(get(fail, "size")) > json_object_get_int64(get(clean, "size")))
        return false;
    struct json_object *fa = get(fail, "attachments"), *ca = get(clean, "attachments");
    size_t nf = fa ? json_object_array_length(fa) : 0, nc = ca ? json_object_array_length(ca) : 0;
    if (nf > nc)
        return false;
    for (size_t i = 0; i < nf; i++) {
        struct json_object *a = json_object_array_get_idx(fa, i);
        struct json_object *b = json_object_array_get_idx(ca, i);
        if (eq(a, b))
            continue;
        if (!truthy(a, "truncated") || !same_key(a, b, "filename") ||
            !same_key(a, b, "content_type") ||
            json_object_get_int64(get(a, "size")) > json_object_get_int64(get(b, "size")))
            return false;
    }
    return true;
}

static bool email_ok(struct json_object *ev, struct json_object *clean)
{
    /* A message cut short may end at another packet (the end of the flow). */
    static const char *const cut_aside[] = { "email", "timestamp", "pcap_cnt", NULL };
    struct json_object *n = normalized(ev, 0);
    bool ok = false;
    for (size_t i = 0; i < json_object_array_length(clean) && !ok; i++) {
        struct json_object *c = json_object_array_get_idx(clean, i);
        if (strcmp(str(c, "event_type"), "email") != 0 || !same_flow(ev, c))
            continue;
        struct json_object *cn = normalized(c, 0);
        ok = eq(n, cn) || (truthy(get(n, "email"), "truncated") && equal_but(n, cn, cut_aside) &&
                           cut_copy(get(n, "email"), get(cn, "email")));
        json_object_put(cn);
    }
    json_object_put(n);
    return ok;
}

static bool fileinfo_ok(struct json_object *ev, struct json_object *clean)
{
    static const char *const file_aside[] = { "email", "fileinfo", "timestamp", "pcap_cnt", NULL };
    struct json_object *n = normalized(ev, 0);
    bool ok = false;
    for (size_t i = 0; i < json_object_array_length(clean) && !ok; i++) {
        struct json_object *c = json_object_array_get_idx(clean, i);
        if (strcmp(str(c, "event_type"), "fileinfo") != 0 || !same_flow(ev, c))
            continue;
        struct json_object *cn = normalized(c, 0);
        struct json_object *f = get(n, "fileinfo"), *cf = get(cn, "fileinfo");
        /* The file as the clean run saw it, or cut (TRUNCATED); the
         * message's header fields beside it may be cut with the message. */
        bool file_ok = eq(f, cf) ||
                       (strcmp(str(f, "state"), "TRUNCATED") == 0 && same_key(f, cf, "filename") &&
                        same_key(f, cf, "content_type"));
        if (file_ok && equal_but(n, cn, file_aside) &&
            header_cut(get(n, "email"), get(cn, "email")))
            ok = true;
        json_object_put(cn);
    }
    json_object_put(n);
    return ok;
}

static bool says_oom(struct json_object *ev)
{
    struct json_object *a = get(ev, "anomaly");
    if (!a)
        return false;
    return strcmp(str(a, "event"), "out_of_memory") == 0 ||
           strstr(str(a, "detail"), "out of memory") != NULL;
}

/* The events that count for "lost" (alert, email, fileinfo), normalized
 * to whether a file was written, one string each. */
static struct json_object *reported(struct json_object *events)
{
    struct json_object *v = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        struct json_object *e = json_object_array_get_idx(events, i);
        const char *t = str(e, "event_type");
        if (strcmp(t, "alert") != 0 && strcmp(t, "email") != 0 && strcmp(t, "fileinfo") != 0)
            continue;
        struct json_object *n = normalized(e, 1);
        json_object_array_add(v, json_object_new_string(
                                     json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN)));
        json_object_put(n);
    }
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    const struct json_object *const *x = a, *const *y = b;
    return strcmp(json_object_get_string((struct json_object *)*x),
                  json_object_get_string((struct json_object *)*y));
}

static void check_run(struct report *rp, const struct run *clean, struct run *r,
                      struct json_object *clean_reported)
{
    if (r->hook.failed != 1)
        problem(rp, "the allocation to fail was never made (the runs differ)", NULL);
    if (r->hook.live != 0) {
        char what[96];
        snprintf(what, sizeof(what), "%lld blocks not freed", (long long)r->hook.live);
        problem(rp, what, NULL);
    }
    bool oom_said = false;
    for (size_t i = 0; i < json_object_array_length(r->events); i++) {
        struct json_object *ev = json_object_array_get_idx(r->events, i);
        const char *t = str(ev, "event_type");
        check_files(rp, ev);
        if (strcmp(t, "alert") == 0 && !alert_ok(ev, clean->events))
            problem(rp, "an alert the clean run did not report", ev);
        else if (strcmp(t, "email") == 0 && !email_ok(ev, clean->events))
            problem(rp, "an email the clean run did not report", ev);
        else if (strcmp(t, "fileinfo") == 0 && !fileinfo_ok(ev, clean->events))
            problem(rp, "a fileinfo the clean run did not report", ev);
        else if (says_oom(ev))
            oom_said = true;
    }
    if (r->clean_error || oom_said)
        return;
    struct json_object *mine = reported(r->events);
    bool same = json_object_array_length(mine) == json_object_array_length(clean_reported);
    json_object_array_sort(mine, cmp_str);
    for (size_t i = 0; same && i < json_object_array_length(mine); i++)
        same = eq(json_object_array_get_idx(mine, i), json_object_array_get_idx(clean_reported, i));
    json_object_put(mine);
    if (!same)
        problem(rp,
                "events differ from the clean run's, with no error and no out-of-memory anomaly",
                NULL);
}

/* ---- main ------------------------------------------------------------- */

static unsigned test_capture(const char *capture, uint64_t stride, uint64_t only)
{
    char xdir[4096];
    snprintf(xdir, sizeof(xdir), "%s/run", xdir_base);
    struct report rp = { capture, 0, 0 };
    struct run clean = { 0 };
    snprintf(current, sizeof(current), "alloc_fail: crashed in the clean run of %s\n", capture);
    run_capture(capture, xdir, &clean);
    for (size_t i = 0; i < json_object_array_length(clean.events); i++)
        check_files(&rp, json_object_array_get_idx(clean.events, i));
    remove_dirs(xdir);
    uint64_t n = clean.hook.calls;
    if (clean.clean_error || clean.hook.live != 0 || clean.hook.failed != 0 || n == 0) {
        fprintf(stderr, "alloc_fail: %s: the clean run failed (%llu allocations, %lld live)\n",
                capture, (unsigned long long)n, (long long)clean.hook.live);
        return 1;
    }
    clean_events = clean.events;
    struct json_object *clean_reported = reported(clean.events);
    json_object_array_sort(clean_reported, cmp_str);
    if (json_object_array_length(clean_reported) == 0) {
        fprintf(stderr, "alloc_fail: %s: the clean run reported nothing to compare\n", capture);
        return 1;
    }

    uint64_t runs = 0, errors = 0, oom = 0;
    time_t t0 = time(NULL);
    for (uint64_t k = only ? only : 1; k <= n; k += stride) {
        struct run r = { .fail_at = k };
        snprintf(current, sizeof(current),
                 "alloc_fail: crashed in %s with allocation %llu failing\n", capture,
                 (unsigned long long)k);
        run_capture(capture, xdir, &r);
        rp.k = k;
        check_run(&rp, &clean, &r, clean_reported);
        if (only && fwrite(r.text, 1, r.text_len, stdout) != r.text_len)
            perror("alloc_fail: stdout");
        remove_dirs(xdir);
        runs++;
        errors += r.clean_error;
        for (size_t i = 0; i < json_object_array_length(r.events); i++)
            oom += says_oom(json_object_array_get_idx(r.events, i));
        run_free(&r);
        if (only)
            break;
    }
    current[0] = '\0';
    printf("alloc_fail: %s: %llu allocations in the clean run (%zu events); %llu runs "
           "(stride %llu) in %lld s: %llu clean errors, %llu out-of-memory anomalies, %u "
           "problems\n",
           capture, (unsigned long long)n, json_object_array_length(clean.events),
           (unsigned long long)runs, (unsigned long long)stride, (long long)(time(NULL) - t0),
           (unsigned long long)errors, (unsigned long long)oom, rp.problems);
    json_object_put(clean_reported);
    run_free(&clean);
    return rp.problems;
}

int main(int argc, char **argv)
{
    uint64_t only = 0;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--only") == 0) {
        only = strtoull(argv[2], NULL, 10);
        i = 3;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: alloc_fail [--only K] CAPTURE[:STRIDE]...\n");
        return 2;
    }
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGFPE, on_crash);
#ifdef MS_ASAN
    __sanitizer_set_death_callback(say_current);
#endif
    char base[] = "/tmp/alloc_fail.XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    xdir_base = base;
    unsigned problems = 0;
    for (; i < argc; i++) {
        char capture[4096];
        snprintf(capture, sizeof(capture), "%s", argv[i]);
        uint64_t stride = 1;
        char *colon = strrchr(capture, ':');
        if (colon) {
            *colon = '\0';
            stride = strtoull(colon + 1, NULL, 10);
            if (stride == 0)
                stride = 1;
        }
        problems += test_capture(capture, stride, only);
    }
    rmdir(base);
    if (problems) {
        fprintf(stderr, "alloc_fail: %u problems\n", problems);
        return 1;
    }
    return 0;
}
