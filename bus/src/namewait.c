/* SPDX-License-Identifier: MIT */
/*
 * Waiting for a bus name to appear is an event, not a poll: an inotify watch
 * on /dev/shm wakes a waiting reader when a producer links or renames a region
 * into place, so it attaches within a millisecond. Without inotify (a
 * restricted sandbox, no watches left) it falls back to looking every 20 ms.
 */
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "internal.h"

#define POLL_NS    (20 * 1000000LL)
#define REWATCH_NS (100 * 1000000LL) /* look anyway, in case an event was lost */

int fbus__name_watch_open(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    if (fd < 0)
        return -1;
    /* Creation covers link(2) of a new region and of a SysV key file;
     * moved-to covers rename(2) of a region that replaces another. */
    if (inotify_add_watch(fd, FBUS__SHM_DIR, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void fbus__name_watch_wait(int fd, int64_t ns)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char buf[4096];

    if (fd < 0) {
        fbus__sleep_ns(ns < POLL_NS ? ns : POLL_NS);
        return;
    }
    if (ns > REWATCH_NS)
        ns = REWATCH_NS;
    if (poll(&pfd, 1, (int)((ns + 999999) / 1000000)) > 0) {
        /* Any event is worth a look; drain them all. */
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
    }
}
