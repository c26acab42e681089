/* Unix socket sinks, as Suricata's eve-log writes them: unix:PATH
 * (SOCK_STREAM, a record a line), unixgram:PATH (SOCK_DGRAM, a record a
 * datagram, no line end) and syslog (a datagram per record, with the
 * RFC 3164 header glibc's syslog(3) puts on what it sends to /dev/log:
 * "<PRI>Mmm dd hh:mm:ss TAG[PID]: "). Writing the datagram here rather than
 * calling syslog(3) lets the socket be chosen (--syslog-socket), the size
 * be checked before sending (a record is dropped, never cut), and keeps
 * openlog's process-wide state out. Sends never raise SIGPIPE
 * (MSG_NOSIGNAL) and time out after MS_SINK_IO_MS: a reader that stopped
 * reading between two records counts as lost, and the writer reconnects. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/limits.h"
#include "sink_int.h"

static enum ms_rc sock_connect(struct ms_sink *s, int type, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(s->path);
    if (n >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long");
        return MS_ERR_ARG;
    }
    memcpy(sa.sun_path, s->path, n);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return MS_ERR_IO;
    }
    struct timeval tv = { s->connect_ms / 1000, (suseconds_t)(s->connect_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot connect: %s", strerror(errno));
        close(fd);
        return MS_ERR_IO;
    }
    tv = (struct timeval){ MS_SINK_IO_MS / 1000, (suseconds_t)(MS_SINK_IO_MS % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    s->fd = fd;
    ms_sink_set_shut_fd(s, fd);
    return MS_OK;
}

static enum ms_rc stream_connect(struct ms_sink *s, char *err, size_t errlen)
{
    return sock_connect(s, SOCK_STREAM, err, errlen);
}

static enum ms_rc dgram_connect(struct ms_sink *s, char *err, size_t errlen)
{
    return sock_connect(s, SOCK_DGRAM, err, errlen);
}

static void sock_close(struct ms_sink *s)
{
    if (s->fd < 0)
        return;
    ms_sink_set_shut_fd(s, -1);
    close(s->fd);
    s->fd = -1;
}

/* Sends iov whole (a stream may take it in parts). A timeout counts as a
 * reader that stopped only before the record's first byte: once part of
 * it is sent, giving up would leave the reader half a line (and send it
 * whole again on the next connection), so the send waits on until the
 * record is out or the end of the run shuts the socket down (EPIPE). */
static enum ms_sink_wr send_all(struct ms_sink *s, struct iovec *iov, size_t n, char *err,
                                size_t errlen)
{
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = n;
    bool started = false;
    while (mh.msg_iovlen > 0) {
        ssize_t w = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || (errno == EAGAIN && started)))
            continue;
        if (w > 0)
            started = true;
        if (w < 0) {
            if (errno == EMSGSIZE)
                return MS_SINK_WR_TOO_LARGE;
            snprintf(err, errlen, "%s",
                     errno == EAGAIN ? "the reader stopped reading (send timed out)"
                                     : strerror(errno));
            return MS_SINK_WR_LOST;
        }
        size_t left = (size_t)w;
        while (mh.msg_iovlen > 0 && left >= mh.msg_iov->iov_len) {
            left -= mh.msg_iov->iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen > 0) {
            mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + left;
            mh.msg_iov->iov_len -= left;
        }
    }
    return MS_SINK_WR_OK;
}

static enum ms_sink_wr stream_write(struct ms_sink *s, const struct iovec *rec, char *err,
                                    size_t errlen)
{
    struct iovec iov[2] = { *rec, { "\n", 1 } };
    return send_all(s, iov, 2, err, errlen);
}

static enum ms_sink_wr dgram_write(struct ms_sink *s, const struct iovec *rec, char *err,
                                   size_t errlen)
{
    struct iovec iov = *rec;
    return send_all(s, &iov, 1, err, errlen);
}

/* "<PRI>Mmm dd hh:mm:ss TAG[PID]: ", local time, as glibc writes it. */
static size_t syslog_header(const struct ms_sink *s, char *out, size_t n)
{
    static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        memset(&tm, 0, sizeof(tm));
    int len = snprintf(out, n, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: ", s->pri,
                       mon[(unsigned)tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       s->o->ident ? s->o->ident : "mailspill", (long)getpid());
    return len < 0 ? 0 : (size_t)len < n ? (size_t)len : n - 1;
}

size_t ms_sink_syslog_header_len(const struct ms_sink *s)
{
    char h[128];
    return syslog_header(s, h, sizeof(h));
}

static enum ms_sink_wr syslog_write(struct ms_sink *s, const struct iovec *rec, char *err,
                                    size_t errlen)
{
    char h[128];
    struct iovec iov[2] = { { h, syslog_header(s, h, sizeof(h)) }, *rec };
    return send_all(s, iov, 2, err, errlen);
}

const struct ms_sink_ops ms_sink_unix_ops = {
    .connect = stream_connect,
    .write = stream_write,
    .disconnect = sock_close,
};

const struct ms_sink_ops ms_sink_unixgram_ops = {
    .connect = dgram_connect,
    .write = dgram_write,
    .disconnect = sock_close,
};

const struct ms_sink_ops ms_sink_syslog_ops = {
    .connect = dgram_connect,
    .write = syslog_write,
    .disconnect = sock_close,
};
