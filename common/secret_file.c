#include "secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

enum ms_rc ms_secret_file_read(const char *path, const char *what, uint8_t *buf, size_t cap,
                               size_t *len, bool *exposed, char *err, size_t errlen)
{
    *len = 0;
    *exposed = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            snprintf(err, errlen,
                     "cannot open the %s file: %s (its name is not shown, in case the %s "
                     "itself was given)",
                     what, strerror(errno), what);
        else
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return MS_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
        *exposed = true;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, n);
            return MS_ERR_IO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return MS_OK;
}
