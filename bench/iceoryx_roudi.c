/* SPDX-License-Identifier: MIT */
/*
 * bench_iceoryx's RouDi: finding a running one by its lock, starting
 * iox-roudi with a configuration sized for the frames and waiting until it
 * takes clients, stopping it, and the lock that serialises our runs.
 */
#include "iceoryx_roudi.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "framebus/framebus.h"

#define BENCH_LOCK     "/tmp/framebus-iceoryx.lock"
#define ROUDI_LOCK     "/tmp/iox-unique-roudi.lock" /* flock'ed by a running RouDi */
#define ROUDI_READY    "RouDi is ready for clients"
#define ROUDI_START_NS (20 * 1000000000LL)
#define STOP_WAIT_MS   10000
#define PAYLOAD_ALIGN  64u

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int ice_roudi_lock(int wait_s, volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    int fd = open(BENCH_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0666);

    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", BENCH_LOCK, strerror(errno));
        return -1;
    }
    /* Two runs would share one RouDi, and the first to end would stop it
     * under the other. */
    for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
        if (errno != EWOULDBLOCK || i >= wait_s * 10 || (stop && *stop)) {
            snprintf(err, errsz, "another run held %s for %d s", BENCH_LOCK, wait_s);
            close(fd);
            return -1;
        }
        if (i == 0)
            fprintf(stderr, "bench_iceoryx: waiting for another run to end (%s)\n", BENCH_LOCK);
        sleep_ms(100);
    }
    return fd;
}

int ice_roudi_running(void)
{
    int fd = open(ROUDI_LOCK, O_RDWR | O_CLOEXEC), busy = 0;

    if (fd < 0)
        return errno == EACCES; /* another user's RouDi: not ours to start */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        busy = errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

/* The last line of RouDi's log without its colour codes, into buf. */
static void last_line(const struct ice_roudi *rd, char *buf, size_t size)
{
    char line[512];
    FILE *f = fopen(rd->log, "r");

    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        size_t k = 0;

        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        for (const char *s = line; *s && k + 1 < size; s++) {
            if (*s == '\033') {
                s += strcspn(s, "m");
                if (!*s)
                    break;
                continue;
            }
            buf[k++] = *s;
        }
        buf[k] = '\0';
    }
    fclose(f);
}

static int log_says(const struct ice_roudi *rd, const char *what)
{
    char line[512];
    FILE *f = fopen(rd->log, "r");
    int found = 0;

    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

void ice_roudi_stop(struct ice_roudi *rd)
{
    if (rd->pid > 0) {
        int st, gone = 0;

        kill(rd->pid, SIGTERM);
        for (int ms = 0; ms < STOP_WAIT_MS && !gone; ms += 10) {
            gone = waitpid(rd->pid, &st, WNOHANG) == rd->pid;
            if (!gone)
                sleep_ms(10);
        }
        if (!gone) {
            kill(rd->pid, SIGKILL);
            waitpid(rd->pid, &st, 0);
        }
        rd->pid = 0;
    }
    if (rd->dir[0]) {
        unlink(rd->config);
        unlink(rd->log);
        rmdir(rd->dir);
        rd->dir[0] = '\0';
    }
}

/* The configuration: one segment for this user, one mempool whose chunks
 * hold a frame and the padding its alignment may need. */
static int write_config(const struct ice_roudi *rd, uint64_t frame_size, uint64_t count)
{
    FILE *f = fopen(rd->config, "w");
    uint64_t size = (frame_size + PAYLOAD_ALIGN + 4095) & ~(uint64_t)4095;

    if (!f)
        return -1;
    fprintf(f,
            "[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\nsize = %" PRIu64
            "\ncount = %" PRIu64 "\n",
            size, count);
    return fclose(f) == 0 ? 0 : -1;
}

static void exec_roudi(const struct ice_roudi *rd)
{
    int fd = open(rd->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    /* Its own process group: Ctrl-C reaches our processes only, and RouDi
     * is stopped after them. */
    setpgid(0, 0);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    /* Monitoring off: on a loaded machine a process's keep-alive can be
     * later than RouDi's 1.5 s, and RouDi would drop a live process. */
    execlp("iox-roudi", "iox-roudi", "-c", rd->config, "-m", "off", "-l", "warning", (char *)NULL);
    fprintf(stderr, "exec iox-roudi: %s\n", strerror(errno));
    _exit(127);
}

/* Wait until RouDi's log says it takes clients: 0, or -1 with err. */
static int wait_ready(struct ice_roudi *rd, volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    int64_t give_up = fbus_now_ns() + ROUDI_START_NS;
    int st;

    while (!log_says(rd, ROUDI_READY)) {
        char last[300];

        if (waitpid(rd->pid, &st, WNOHANG) == rd->pid) {
            rd->pid = 0;
            last_line(rd, last, sizeof(last));
            if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
                snprintf(err, errsz,
                         "cannot start RouDi: iox-roudi not found (Debian: apt-get install "
                         "iceoryx)");
            else
                snprintf(err, errsz, "cannot start RouDi (iox-roudi -c %s): %s", rd->config,
                         last[0] ? last : "it exited at once");
            return -1;
        }
        if (fbus_now_ns() > give_up || (stop && *stop)) {
            snprintf(err, errsz, "cannot start RouDi: not ready for clients after %d s",
                     (int)(ROUDI_START_NS / 1000000000LL));
            return -1;
        }
        sleep_ms(10);
    }
    return 0;
}

int ice_roudi_start(struct ice_roudi *rd, uint64_t frame_size, uint64_t count,
                    volatile sig_atomic_t *stop, char *err, size_t errsz)
{
    memset(rd, 0, sizeof(*rd));
    snprintf(rd->dir, sizeof(rd->dir), "/tmp/fbus-iceoryx.XXXXXX");
    if (!mkdtemp(rd->dir)) {
        snprintf(err, errsz, "cannot make a directory for RouDi's configuration: %s",
                 strerror(errno));
        rd->dir[0] = '\0';
        return -1;
    }
    snprintf(rd->config, sizeof(rd->config), "%s/roudi.toml", rd->dir);
    snprintf(rd->log, sizeof(rd->log), "%s/roudi.log", rd->dir);
    if (write_config(rd, frame_size, count) < 0) {
        snprintf(err, errsz, "cannot write %s: %s", rd->config, strerror(errno));
        goto fail;
    }
    fflush(NULL);
    rd->pid = fork();
    if (rd->pid < 0) {
        snprintf(err, errsz, "cannot start RouDi: fork: %s", strerror(errno));
        rd->pid = 0;
        goto fail;
    }
    if (rd->pid == 0)
        exec_roudi(rd);
    if (wait_ready(rd, stop, err, errsz) < 0)
        goto fail;
    return 0;
fail:
    ice_roudi_stop(rd);
    return -1;
}
