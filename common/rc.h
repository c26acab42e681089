/* Return codes shared by every module. Results travel through out-params. */
#ifndef MS_RC_H
#define MS_RC_H

enum ms_rc {
    MS_OK = 0,
    MS_ERR_NOMEM = -1,  /* allocation failed */
    MS_ERR_LIMIT = -2,  /* a configured cap was reached; data was dropped */
    MS_ERR_PROTO = -3,  /* input violates the protocol; an anomaly was raised */
    MS_ERR_IO = -4,     /* file or capture device error */
    MS_ERR_ARG = -5,    /* caller passed something invalid */
};

#endif
