/* SPDX-License-Identifier: MIT */
/*
 * Futex wait and wake on words inside the shared region. The words are shared
 * between processes, so the private flag is never used; callers re-check their
 * condition after every return, whatever the reason (wake, EINTR, EAGAIN,
 * timeout).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int fbus__futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts;

    if (timeout_ns < 0)
        timeout_ns = 0;
    ts.tv_sec = timeout_ns / 1000000000LL;
    ts.tv_nsec = timeout_ns % 1000000000LL;
    if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, &ts, NULL, 0) == -1)
        return -errno;
    return 0;
}

int fbus__futex_wait_chunk(_Atomic uint32_t *word, uint32_t val, int64_t left_ns)
{
    /* Never longer than a chunk: callers look at liveness between sleeps. */
    return fbus__futex_wait(word, val,
                            left_ns < FBUS__WAIT_CHUNK_NS ? left_ns : FBUS__WAIT_CHUNK_NS);
}

void fbus__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}
