/* redis://HOST:PORT/KEY (RPUSH to a list) and redis+pub://HOST:PORT/CHANNEL
 * (PUBLISH), as Suricata's redis output does, with hiredis's blocking API
 * in the sink's own writer thread. Connects, sends and replies time out
 * after MS_SINK_IO_MS. A connection lost before the reply came leaves it
 * unknown whether the server ran the command: the record is sent again
 * after reconnecting, so delivery is at least once (README "Sinks"). */
#include <hiredis/hiredis.h>
#include <string.h>

#include "../common/limits.h"
#include "sink_int.h"

static enum ms_rc redis_connect(struct ms_sink *s, char *err, size_t errlen)
{
    struct timeval ctv = { s->connect_ms / 1000, (suseconds_t)(s->connect_ms % 1000) * 1000 };
    struct timeval tv = { MS_SINK_IO_MS / 1000, (suseconds_t)(MS_SINK_IO_MS % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(s->path, s->port, ctv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return MS_ERR_IO;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "cannot set a timeout: %s", c->errstr);
        redisFree(c);
        return MS_ERR_IO;
    }
    s->redis = c;
    ms_sink_set_shut_fd(s, c->fd);
    return MS_OK;
}

static void redis_close(struct ms_sink *s)
{
    if (!s->redis)
        return;
    ms_sink_set_shut_fd(s, -1);
    redisFree(s->redis);
    s->redis = NULL;
}

/* Errors a server says while it cannot serve yet (a restart loading its
 * data, a script running, a replica that a failover left behind and that
 * a reconnect may find a master again): the command is tried again, as
 * after a loss. */
static bool transient(const char *msg)
{
    static const char *const words[] = { "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY" };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (strncmp(msg, words[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
            return true;
    }
    return false;
}

static enum ms_sink_wr redis_write(struct ms_sink *s, const struct iovec *rec, char *err,
                                   size_t errlen)
{
    redisContext *c = s->redis;
    const char *argv[3] = { s->publish ? "PUBLISH" : "RPUSH", s->key, rec->iov_base };
    size_t lens[3] = { strlen(argv[0]), strlen(s->key), rec->iov_len };
    redisReply *r = redisCommandArgv(c, 3, argv, lens);
    if (!r) {
        snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection lost");
        return MS_SINK_WR_LOST;
    }
    enum ms_sink_wr w = MS_SINK_WR_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        const char *msg = r->str ? r->str : "error";
        if (transient(msg)) {
            snprintf(err, errlen, "%s", msg);
            w = MS_SINK_WR_LOST;
        } else {
            /* WRONGTYPE, OOM, NOAUTH: sending again would fail again. */
            if (!s->error_said)
                ms_progress_warn(s->o->progress, "mailspill: %s: the server refused a record: %s\n",
                                 s->name, msg);
            s->error_said = true;
            w = MS_SINK_WR_FAILED;
        }
    }
    freeReplyObject(r);
    return w;
}

const struct ms_sink_ops ms_sink_redis_ops = {
    .connect = redis_connect,
    .write = redis_write,
    .disconnect = redis_close,
};
