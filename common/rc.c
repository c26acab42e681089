#include "rc.h"

const char *ms_rc_str(enum ms_rc rc)
{
    switch (rc) {
    case MS_OK: return "ok";
    case MS_ERR_NOMEM: return "out of memory";
    case MS_ERR_LIMIT: return "limit reached";
    case MS_ERR_PROTO: return "protocol violation";
    case MS_ERR_IO: return "input/output error";
    case MS_ERR_ARG: return "invalid argument";
    }
    return "unknown error";
}
