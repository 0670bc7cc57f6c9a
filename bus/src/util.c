/* SPDX-License-Identifier: MIT */
/* Clocks and randomness. */
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

FBUS_EXTERN int64_t fbus_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t fbus__realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t fbus__age_ns(int64_t now, int64_t then)
{
    int64_t d;

    if (__builtin_sub_overflow(now, then, &d))
        return then > now ? 0 : INT64_MAX;
    return d < 0 ? 0 : d;
}

void fbus__sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int64_t fbus__deadline(int64_t timeout_ns)
{
    int64_t now = fbus_now_ns();

    return timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

uint64_t fbus__random64(void)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        /* No entropy yet (early boot): a session id only has to differ from
         * the previous producer's, which time and pid make sure of. */
        v = (uint64_t)fbus__realtime_ns() ^ ((uint64_t)getpid() << 32);
    }
    return v ? v : 1;
}
