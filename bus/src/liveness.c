/* SPDX-License-Identifier: MIT */
/*
 * Is a producer or reader still there? Its liveness lock answers (lock.c);
 * pids, paired with their start time from /proc/PID/stat against reuse, are
 * the fallback where no lock can be tested, and diagnostics. A zombie counts
 * as gone: it will never touch the region again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/*
 * Read the start time of pid: 1 and *start if it runs, 0 if it is gone or a
 * zombie, -1 if /proc could not tell (no /proc, another pid namespace, out of
 * descriptors): "cannot tell" must never be taken for "dead", or a writer
 * would reclaim a live lossless reader's entry and overwrite its frames.
 */
static int proc_stat(pid_t pid, uint64_t *start)
{
    char path[64], buf[1024], *p;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? 0 : -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return errno == ESRCH ? 0 : -1;
    if (n == 0)
        return 0; /* reaped while we read */
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: skip to the last ')'. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return 0;
    /* p is at field 3 (state); starttime is field 22. */
    for (field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return -1;
    *start = strtoull(p, NULL, 10);
    if (!*start)
        *start = 1;
    return 1;
}

uint64_t fbus__proc_start(pid_t pid)
{
    uint64_t start = 0;

    return proc_stat(pid, &start) == 1 ? start : 0;
}

int fbus__pid_alive(pid_t pid, uint64_t start)
{
    uint64_t now = 0;
    int st;

    if (pid <= 0)
        return 0;
    st = proc_stat(pid, &now);
    if (st == 0)
        return 0;
    if (st < 0) {
        /* /proc cannot tell: ask the kernel whether the pid exists at all
         * (a zombie would pass, which only delays its reclaim). */
        return kill(pid, 0) == 0 || errno == EPERM;
    }
    return start == 0 || now == start;
}

int fbus__producer_status(const struct fbus__region *rg, int64_t timeout_ns, int64_t now)
{
    uint32_t state = atomic_load_explicit(&rg->hdr->state, memory_order_acquire);
    int64_t age;
    int held;

    if (state == FBUS__STATE_ENDED || state == FBUS__STATE_REPLACED)
        return (int)state;
    if (state != FBUS__STATE_LIVE)
        return 0;
    /* The producer's lock is the truth: free means its process is gone
     * (a crash is seen at once, in any pid namespace). Only where it cannot
     * be tested do the pid and the heartbeat's age decide. */
    held = fbus__lock_held(rg->map.lockfd, FBUS__LOCK_PRODUCER);
    if (held == 0)
        return 0;
    age = fbus__age_ns(now, atomic_load_explicit(&rg->hdr->heartbeat_ns, memory_order_relaxed));
    if (held < 0 && age > FBUS__STALE_NS && !fbus__pid_alive(rg->producer_pid, rg->producer_start))
        return 0;
    /* Alive but not beating: stopped (SIGSTOP, a debugger), or we were. */
    if (age > timeout_ns)
        return FBUS__STATE_STALLED;
    return FBUS__STATE_LIVE;
}

int fbus__entry_alive(const struct fbus__region *rg, uint32_t i)
{
    const struct fbus__reader_entry *e = &rg->readers[i];
    int held = fbus__lock_held(rg->map.lockfd, FBUS__LOCK_ENTRY(i));

    if (held >= 0)
        return held;
    return fbus__pid_alive(atomic_load_explicit(&e->pid, memory_order_relaxed),
                           atomic_load_explicit(&e->start, memory_order_relaxed));
}
