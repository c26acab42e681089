/* Dissector cases written as text: tests/cases/<proto>/<name>.txt, one
 * cmocka test each, run through the split-invariance helper (whole, byte
 * by byte, every chunk split at every offset: all must agree), then
 * matched against the expected events written in the file. A case is added
 * without writing C.
 *
 * File format (see tests/cases/README.md):
 *   # comment                     ignored, as are blank lines
 *   C: text   /  S: text           a client / server line; CRLF is appended
 *   C- text   /  S- text           the same bytes without the CRLF
 *   GAP C n   /  GAP S n           a hole of n bytes in that direction
 *   LIMIT name n                   a cap of common/limits.h for this case
 *                                  (max_line, max_pending_cmds, max_secret)
 *   --- expect                     then one partial event per line (JSON)
 * In text, \r \n \t \\ and \xHH are escapes; everything else is literal.
 * Expected events are partial (golden expected files give whole events):
 * each line must match a
 * distinct event on every key it gives (objects recursively, lists element
 * by element); a key given as null or [] must be absent; the numbers of
 * alert and email events must be those expected, and an anomaly appears
 * only if it is expected. Passwords are shown (--show-passwords). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/json.h"
#include "helper_split.h"

#ifndef MS_CASES_DIR
#error "MS_CASES_DIR must name tests/cases"
#endif

#define MAX_CASES 512
#define MAX_CHUNKS 4096
#define MAX_EXPECT 256

struct tcase {
    char path[600];
    const struct ms_dissector *d;
};

struct parsed {
    struct ms_limits lim;
    struct ms_chunk chunks[MAX_CHUNKS];
    size_t n;
    char *expect[MAX_EXPECT];
    size_t n_expect;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes s into a new buffer; *len gets its length (NULs allowed). */
static char *unescape(const char *s, int crlf, size_t *len, const char *where)
{
    size_t n = strlen(s);
    char *out = malloc(n + 3);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        char e = s[++i];
        if (e == 'r') {
            out[o++] = '\r';
        } else if (e == 'n') {
            out[o++] = '\n';
        } else if (e == 't') {
            out[o++] = '\t';
        } else if (e == '\\') {
            out[o++] = '\\';
        } else if (e == 'x' && i + 2 < n + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            fail_msg("%s: bad escape \\%c", where, e ? e : '0');
        }
    }
    if (crlf) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    *len = o;
    return out;
}

static void parse_case(const char *path, struct parsed *pc)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("cannot open %s", path);
    memset(pc, 0, sizeof(*pc));
    pc->lim = ms_limits_default();
    char line[65536];
    unsigned lineno = 0;
    int in_expect = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        size_t l = strlen(line);
        if (l == sizeof(line) - 1 && line[l - 1] != '\n')
            fail_msg("%s:%u: line too long", path, lineno);
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        char where[600];
        snprintf(where, sizeof(where), "%s:%u", path, lineno);
        if (in_expect) {
            if (l == 0 || line[0] == '#')
                continue;
            if (pc->n_expect >= MAX_EXPECT)
                fail_msg("%s: too many expected events", where);
            pc->expect[pc->n_expect++] = strdup(line);
            continue;
        }
        if (l == 0 || line[0] == '#')
            continue;
        if (strcmp(line, "--- expect") == 0) {
            in_expect = 1;
            continue;
        }
        if (pc->n >= MAX_CHUNKS)
            fail_msg("%s: too many lines", where);
        struct ms_chunk *c = &pc->chunks[pc->n];
        if (strncmp(line, "LIMIT ", 6) == 0) {
            char name[32];
            const char *sp = strchr(line + 6, ' ');
            size_t nl = sp ? (size_t)(sp - (line + 6)) : 0;
            char *end = NULL;
            unsigned long long v = sp ? strtoull(sp + 1, &end, 10) : 0;
            if (!sp || nl == 0 || nl >= sizeof(name) || end == sp + 1 || *end || v == 0)
                fail_msg("%s: expected LIMIT name n", where);
            memcpy(name, line + 6, nl);
            name[nl] = '\0';
            if (strcmp(name, "max_line") == 0)
                pc->lim.max_line = (size_t)v;
            else if (strcmp(name, "max_pending_cmds") == 0)
                pc->lim.max_pending_cmds = (size_t)v;
            else if (strcmp(name, "max_secret") == 0)
                pc->lim.max_secret = (size_t)v;
            else
                fail_msg("%s: unknown limit %s", where, name);
            continue;
        }
        if (strncmp(line, "GAP ", 4) == 0 && (line[4] == 'C' || line[4] == 'S') && line[5] == ' ') {
            char *end;
            unsigned long long g = strtoull(line + 6, &end, 10);
            if (*end || g == 0)
                fail_msg("%s: bad gap", where);
            c->dir = line[4] == 'C' ? MS_TO_SERVER : MS_TO_CLIENT;
            c->gap = g;
            pc->n++;
            continue;
        }
        if ((line[0] != 'C' && line[0] != 'S') || (line[1] != ':' && line[1] != '-') ||
            (line[2] != ' ' && line[2] != '\0'))
            fail_msg("%s: expected C:, S:, C-, S-, GAP, LIMIT or --- expect", where);
        size_t len;
        char *data = unescape(line[2] ? line + 3 : "", line[1] == ':', &len, where);
        if (len == 0) {
            free(data);
            continue; /* nothing to feed */
        }
        c->dir = line[0] == 'C' ? MS_TO_SERVER : MS_TO_CLIENT;
        c->data = data;
        c->len = len;
        pc->n++;
    }
    assert_false(ferror(fp));
    assert_int_equal(fclose(fp), 0);
    if (!in_expect)
        fail_msg("%s: no '--- expect' section", path);
}

static void free_case(struct parsed *pc)
{
    for (size_t i = 0; i < pc->n; i++)
        free((void *)pc->chunks[i].data);
    for (size_t i = 0; i < pc->n_expect; i++)
        free(pc->expect[i]);
}

/* Each event as one JSON line, as mailspill writes it (passwords shown). */
static void record_json(void *user, const struct ms_event *ev)
{
    static const uint8_t cli[4] = { 192, 0, 2, 5 }, srv[4] = { 192, 0, 2, 1 };
    const struct ms_flow_meta m = { .ts_us = 1,
                                    .flow_id = 1,
                                    .ip_version = 4,
                                    .src_addr = cli,
                                    .src_port = 40000,
                                    .dest_addr = srv,
                                    .dest_port = 1 };
    const struct ms_output_opts opts = { .format = MS_OUTPUT_JSON, .secrets = MS_SECRETS_CLEAR };
    struct json_object *o = ms_json_event(&m, ev, &opts);
    assert_non_null(o);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    struct ms_buf *log = user;
    ms_buf_append(log, s, strlen(s));
    ms_buf_append(log, "\n", 1);
    json_object_put(o);
}

static int is_empty(struct json_object *v)
{
    return v == NULL ||
           (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);
}

static int matches(struct json_object *exp, struct json_object *act)
{
    if (json_object_is_type(exp, json_type_object)) {
        if (!json_object_is_type(act, json_type_object))
            return 0;
        json_object_object_foreach(exp, key, val)
        {
            struct json_object *a = NULL;
            int has = json_object_object_get_ex(act, key, &a);
            if (is_empty(val)) {
                if (has)
                    return 0;
            } else if (!has || !matches(val, a)) {
                return 0;
            }
        }
        return 1;
    }
    if (json_object_is_type(exp, json_type_array)) {
        if (!json_object_is_type(act, json_type_array))
            return 0;
        size_t n = json_object_array_length(exp);
        if (json_object_array_length(act) != n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!matches(json_object_array_get_idx(exp, i), json_object_array_get_idx(act, i)))
                return 0;
        return 1;
    }
    return json_object_equal(exp, act);
}

static const char *type_of(struct json_object *o)
{
    struct json_object *t = NULL;
    return json_object_object_get_ex(o, "event_type", &t) ? json_object_get_string(t) : "";
}

static void run_case(void **state)
{
    const struct tcase *tc = *state;
    struct parsed *pc = calloc(1, sizeof(*pc));
    assert_non_null(pc);
    parse_case(tc->path, pc);
    char *log = ms_test_run_all_with(tc->d, &pc->lim, pc->chunks, pc->n, record_json);

    struct json_object *actual[MAX_EXPECT * 2];
    int used[MAX_EXPECT * 2];
    size_t n_act = 0;
    for (char *line = log, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (n_act >= sizeof(actual) / sizeof(actual[0]))
            fail_msg("%s: too many events", tc->path);
        actual[n_act] = json_tokener_parse(line);
        assert_non_null(actual[n_act]);
        used[n_act++] = 0;
    }
    int ok = 1;
    size_t want_alert = 0, want_email = 0;
    for (size_t i = 0; i < pc->n_expect; i++) {
        struct json_object *e = json_tokener_parse(pc->expect[i]);
        if (!e || !json_object_is_type(e, json_type_object))
            fail_msg("%s: expected line %zu is not a JSON object: %s", tc->path, i + 1,
                     pc->expect[i]);
        want_alert += strcmp(type_of(e), "alert") == 0;
        want_email += strcmp(type_of(e), "email") == 0;
        size_t k = 0;
        while (k < n_act && (used[k] || !matches(e, actual[k])))
            k++;
        if (k == n_act) {
            print_error("%s: MISSING %s\n", tc->path, pc->expect[i]);
            ok = 0;
        } else {
            used[k] = 1;
        }
        json_object_put(e);
    }
    size_t got_alert = 0, got_email = 0;
    for (size_t k = 0; k < n_act; k++) {
        const char *t = type_of(actual[k]);
        got_alert += strcmp(t, "alert") == 0;
        got_email += strcmp(t, "email") == 0;
        if (strcmp(t, "anomaly") == 0 && !used[k]) {
            print_error("%s: UNEXPECTED %s\n", tc->path,
                        json_object_to_json_string_ext(actual[k], JSON_C_TO_STRING_PLAIN));
            ok = 0;
        }
    }
    if (got_alert != want_alert || got_email != want_email) {
        print_error("%s: %zu alerts and %zu emails, expected %zu and %zu\n", tc->path, got_alert,
                    got_email, want_alert, want_email);
        ok = 0;
    }
    if (!ok) {
        for (size_t k = 0; k < n_act; k++)
            print_error("  got %s\n",
                        json_object_to_json_string_ext(actual[k], JSON_C_TO_STRING_PLAIN));
    }
    for (size_t k = 0; k < n_act; k++)
        json_object_put(actual[k]);
    free(log);
    free_case(pc);
    free(pc);
    assert_true(ok);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct tcase *)a)->path, ((const struct tcase *)b)->path);
}

int main(void)
{
    static struct tcase cases[MAX_CASES];
    static struct CMUnitTest tests[MAX_CASES];
    size_t n = 0;
    /* Every folder must name a dissector: a case in a misspelt one would
     * silently never run. */
    DIR *top = opendir(MS_CASES_DIR);
    if (!top) {
        fprintf(stderr, "cannot open %s\n", MS_CASES_DIR);
        return 1;
    }
    for (struct dirent *de; (de = readdir(top)) != NULL;) {
        if (de->d_name[0] == '.' || de->d_type != DT_DIR)
            continue;
        if (!ms_dissector_by_name(de->d_name)) {
            fprintf(stderr, "%s/%s: no dissector of that name\n", MS_CASES_DIR, de->d_name);
            closedir(top);
            return 1;
        }
    }
    closedir(top);
    for (size_t i = 0; ms_dissectors[i]; i++) {
        char dir[256];
        snprintf(dir, sizeof(dir), "%.200s/%.32s", MS_CASES_DIR, ms_dissectors[i]->name);
        DIR *dp = opendir(dir);
        if (!dp)
            continue;
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            size_t l = strlen(de->d_name);
            if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
                continue;
            if (n >= MAX_CASES) {
                fprintf(stderr, "too many cases\n");
                closedir(dp);
                return 1;
            }
            int w = snprintf(cases[n].path, sizeof(cases[n].path), "%s/%.200s", dir, de->d_name);
            if (w < 0 || (size_t)w >= sizeof(cases[n].path)) {
                fprintf(stderr, "path too long: %s/%s\n", dir, de->d_name);
                closedir(dp);
                return 1;
            }
            cases[n].d = ms_dissectors[i];
            n++;
        }
        closedir(dp);
    }
    if (n == 0) {
        fprintf(stderr, "no case under %s\n", MS_CASES_DIR);
        return 1;
    }
    qsort(cases, n, sizeof(cases[0]), by_path);
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].path + strlen(MS_CASES_DIR) + 1;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    return _cmocka_run_group_tests("cases", tests, n, NULL, NULL);
}
