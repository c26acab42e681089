/* Return codes shared by every module. Results travel through out-params. */
#ifndef MS_RC_H
#define MS_RC_H

enum ms_rc {
    MS_OK = 0,
    MS_ERR_NOMEM = -1, /* allocation failed */
    MS_ERR_LIMIT = -2, /* a configured cap was reached; data was dropped */
    MS_ERR_PROTO = -3, /* input violates the protocol; an anomaly was raised */
    MS_ERR_IO = -4,    /* file or capture device error */
    MS_ERR_ARG = -5,   /* caller passed something invalid */
};

/* A word for messages: "ok", "out of memory", ... */
static inline const char *ms_rc_str(enum ms_rc rc)
{
    switch (rc) {
    case MS_OK:
        return "ok";
    case MS_ERR_NOMEM:
        return "out of memory";
    case MS_ERR_LIMIT:
        return "limit reached";
    case MS_ERR_PROTO:
        return "protocol error";
    case MS_ERR_IO:
        return "I/O error";
    case MS_ERR_ARG:
        return "invalid argument";
    }
    return "error";
}

#endif
