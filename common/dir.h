/* Direction of a byte or a packet within a connection: the one definition,
 * shared by capture/ (flow table, TCP sessions), app/ and dissectors/.
 * The client is whoever opened the connection (capture/flow.h). The values
 * index two-element arrays ("dir[2]") everywhere, so they stay 0 and 1. */
#ifndef MS_DIR_H
#define MS_DIR_H

enum ms_dir {
    MS_TO_SERVER = 0, /* client -> server */
    MS_TO_CLIENT = 1, /* server -> client */
};

#endif
