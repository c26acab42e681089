/* Runs one command of make bench and reports its own resource use.
 *
 *   runner REPORT CMD [ARG]...   writes "status user_s sys_s maxrss_kib"
 *                                to the file REPORT when CMD ends
 *
 * Why not Python's wait4: a child's ru_maxrss keeps the high-water mark
 * of the address space it had before exec, and a child of the benchmark
 * starts as a copy of the Python process (tens of MiB of truth tables),
 * so a 2 MiB loop would be reported at Python's size. This process is
 * small, so its child's peak is the command's own.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rusage ru;
    int status = 0;
    pid_t pid;
    FILE *f;

    if (argc < 3) {
        fprintf(stderr, "usage: runner REPORT CMD [ARG]...\n");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("wait4");
        return 2;
    }
    f = fopen(argv[1], "w");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    fprintf(f, "%d %ld.%06ld %ld.%06ld %ld\n", status, (long)ru.ru_utime.tv_sec,
            (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
            ru.ru_maxrss);
    return fclose(f) == 0 ? 0 : 2;
}
