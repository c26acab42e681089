/* --evidence: per-flow frame buffers and the pcap files (output/evidence.h). */
#include "evidence.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/budget.h"
#include "../common/limits.h"

#define PCAP_HDR_LEN 24
#define REC_HDR_LEN 16
/* Why a flow holds nothing more: its frames not held are counted there. */
#define FULL_FLOW 1
#define FULL_MEM 2

struct ms_evidence {
    int dirfd;
    char *dir; /* as given, without trailing slashes */
    size_t flow_max;
    struct ms_budget own;  /* the cap on bytes held (--evidence-memcap) ... */
    struct ms_budget *mem; /* ... this one's, or the first worker's (shared) */
    size_t open_files;     /* descriptors held by alerted flows */
    struct ms_evidence_stats st;
};

struct ms_evidence_flow {
    int linktype; /* the first frame's: the file's */
    uint8_t *buf; /* pcap records held until an alert */
    size_t len, cap;
    uint8_t full;  /* a cap was hit (FULL_*): nothing more is held */
    bool alerted;  /* the file exists: frames are appended to it */
    bool failed;   /* it could not be created or written: nothing more */
    int fd;        /* the file, or -1 (past MS_EVIDENCE_OPEN_MAX: opened per frame) */
    char name[32]; /* "<flow_id>.pcap", in DIR; named by the alerts */
};

/* This writer's memory (stats); budget: also counted in the shared cap
 * (false: add was taken from it already). */
static void charge_ex(struct ms_evidence *e, size_t add, size_t sub, bool budget)
{
    e->st.memuse = e->st.memuse + add - sub;
    if (e->st.memuse > e->st.memuse_peak)
        e->st.memuse_peak = e->st.memuse;
    if (budget)
        ms_budget_add(e->mem, add);
    ms_budget_sub(e->mem, sub);
}

static void charge(struct ms_evidence *e, size_t add, size_t sub)
{
    charge_ex(e, add, sub, true);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* host order: the magic number tells readers which */
}

static void record_header(uint8_t *h, uint64_t ts_us, size_t caplen)
{
    put32(h, (uint32_t)(ts_us / 1000000u));
    put32(h + 4, (uint32_t)(ts_us % 1000000u));
    put32(h + 8, (uint32_t)caplen);
    put32(h + 12, (uint32_t)caplen);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void fail(struct ms_evidence *e, struct ms_evidence_flow *f)
{
    if (!f->failed)
        e->st.write_errors++;
    f->failed = true;
}

/* Holds one frame as a pcap record, within both caps. */
static void hold(struct ms_evidence *e, struct ms_evidence_flow *f, uint64_t ts_us,
                 const uint8_t *frame, size_t caplen)
{
    size_t need = REC_HDR_LEN + caplen;
    if (!f->full && need > e->flow_max - f->len)
        f->full = FULL_FLOW;
    if (f->full) {
        if (f->full == FULL_FLOW)
            e->st.dropped_flow_cap++;
        else
            e->st.dropped_memcap++;
        return;
    }
    if (f->len + need > f->cap) {
        size_t ncap = f->cap ? f->cap : 4096;
        while (ncap < f->len + need)
            ncap *= 2;
        if (ncap > e->flow_max)
            ncap = e->flow_max;
        uint8_t *nb = NULL;
        if (ms_budget_try(e->mem, ncap - f->cap)) {
            nb = ms_realloc(f->buf, ncap);
            if (!nb)
                ms_budget_sub(e->mem, ncap - f->cap);
        }
        if (!nb) {
            f->full = FULL_MEM;
            e->st.dropped_memcap++;
            return;
        }
        charge_ex(e, ncap - f->cap, 0, false); /* taken above */
        f->buf = nb;
        f->cap = ncap;
    }
    record_header(f->buf + f->len, ts_us, caplen);
    memcpy(f->buf + f->len + REC_HDR_LEN, frame, caplen);
    f->len += need;
}

static void drop_held(struct ms_evidence *e, struct ms_evidence_flow *f)
{
    charge(e, 0, f->cap);
    ms_free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

/* The alerted flow's file, for one write: its descriptor, or one opened
 * now (closed by put_fd). */
static int get_fd(struct ms_evidence *e, struct ms_evidence_flow *f)
{
    if (f->fd >= 0)
        return f->fd;
    return openat(e->dirfd, f->name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
}

static void put_fd(struct ms_evidence_flow *f, int fd)
{
    if (fd >= 0 && fd != f->fd)
        close(fd);
}

/* Appends one frame to an alerted flow's file. */
static void append(struct ms_evidence *e, struct ms_evidence_flow *f, uint64_t ts_us,
                   const uint8_t *frame, size_t caplen)
{
    uint8_t h[REC_HDR_LEN];
    record_header(h, ts_us, caplen);
    int fd = get_fd(e, f);
    if (fd < 0 || !write_all(fd, h, sizeof(h)) || !write_all(fd, frame, caplen))
        fail(e, f);
    else
        e->st.packets++;
    put_fd(f, fd);
}

void ms_evidence_packet(struct ms_evidence *e, struct ms_evidence_flow **slot, int linktype,
                        uint64_t ts_us, const uint8_t *frame, size_t caplen)
{
    struct ms_evidence_flow *f = *slot;
    if (!f) {
        f = ms_calloc(1, sizeof(*f));
        if (!f) {
            e->st.dropped_memcap++;
            return;
        }
        f->fd = -1;
        f->linktype = linktype;
        charge(e, sizeof(*f), 0);
        *slot = f;
    }
    if (f->failed)
        return;
    if (!frame) {
        e->st.fragmented++;
        return;
    }
    if (linktype != f->linktype) {
        e->st.linktype_mismatch++;
        return;
    }
    if (f->alerted)
        append(e, f, ts_us, frame, caplen);
    else
        hold(e, f, ts_us, frame, caplen);
}

/* Creates the file and writes the header and what was held. */
static void create_file(struct ms_evidence *e, struct ms_evidence_flow *f, uint64_t flow_id)
{
    snprintf(f->name, sizeof(f->name), "%llu.pcap", (unsigned long long)flow_id);
    /* O_EXCL: never overwrite, never follow a planted symlink. */
    int fd = openat(e->dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(e, f);
        return;
    }
    uint8_t h[PCAP_HDR_LEN];
    put32(h, 0xa1b2c3d4u); /* microsecond timestamps */
    uint16_t major = 2, minor = 4;
    memcpy(h + 4, &major, 2);
    memcpy(h + 6, &minor, 2);
    put32(h + 8, 0);  /* thiszone */
    put32(h + 12, 0); /* sigfigs */
    put32(h + 16, MS_SNAPLEN_MAX);
    put32(h + 20, (uint32_t)f->linktype);
    /* The umask may only take bits away; make the mode exactly 0600. */
    if (fchmod(fd, 0600) != 0 || !write_all(fd, h, sizeof(h)) || !write_all(fd, f->buf, f->len)) {
        close(fd);
        fail(e, f);
        return;
    }
    e->st.files++;
    for (size_t at = 0; at + REC_HDR_LEN <= f->len;) {
        uint32_t cl;
        memcpy(&cl, f->buf + at + 8, 4);
        at += REC_HDR_LEN + cl;
        e->st.packets++;
    }
    if (e->open_files < MS_EVIDENCE_OPEN_MAX) {
        f->fd = fd;
        e->open_files++;
    } else {
        close(fd);
    }
}

const char *ms_evidence_alert(struct ms_evidence *e, struct ms_evidence_flow **slot,
                              uint64_t flow_id)
{
    struct ms_evidence_flow *f = *slot;
    if (!f || f->failed)
        return NULL;
    if (!f->alerted) {
        f->alerted = true;
        create_file(e, f, flow_id);
        drop_held(e, f);
    }
    return f->failed ? NULL : f->name;
}

void ms_evidence_flow_end(struct ms_evidence *e, struct ms_evidence_flow **slot)
{
    struct ms_evidence_flow *f = *slot;
    if (!f)
        return;
    if (f->fd >= 0) {
        if (close(f->fd) != 0)
            fail(e, f);
        e->open_files--;
    }
    drop_held(e, f);
    charge(e, 0, sizeof(*f));
    ms_free(f);
    *slot = NULL;
}

void ms_evidence_share_cap(struct ms_evidence *e, struct ms_evidence *with)
{
    e->mem = with->mem;
}

void ms_evidence_get_stats(const struct ms_evidence *e, struct ms_evidence_stats *st)
{
    *st = e->st;
}

struct ms_evidence *ms_evidence_open(const char *dir, size_t flow_max, size_t total_max, char *err,
                                     size_t errlen)
{
    struct ms_evidence *e = ms_calloc(1, sizeof(*e));
    size_t dl = strlen(dir);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->dirfd = -1;
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    e->dir = ms_malloc(dl + 1);
    if (!e->dir) {
        snprintf(err, errlen, "out of memory");
        ms_evidence_close(e);
        return NULL;
    }
    memcpy(e->dir, dir, dl);
    e->dir[dl] = '\0';
    if (mkdir(e->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
        ms_evidence_close(e);
        return NULL;
    }
    /* O_NOFOLLOW: DIR itself may not be a symbolic link (planted where a
     * sensor writes, it would send the packets elsewhere). */
    e->dirfd = open(e->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (e->dirfd < 0) {
        int why = errno;
        struct stat lst;
        bool link = lstat(e->dir, &lst) == 0 && S_ISLNK(lst.st_mode);
        snprintf(err, errlen, "cannot open directory %s: %s", dir,
                 link ? "it is a symbolic link" : strerror(why));
        ms_evidence_close(e);
        return NULL;
    }
    e->flow_max = flow_max;
    ms_budget_init(&e->own, total_max);
    e->mem = &e->own;
    return e;
}

void ms_evidence_close(struct ms_evidence *e)
{
    if (!e)
        return;
    if (e->dirfd >= 0)
        close(e->dirfd);
    ms_free(e->dir);
    ms_free(e);
}
