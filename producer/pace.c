/* SPDX-License-Identifier: MIT */
/*
 * Pacing against CLOCK_MONOTONIC. The sleep is cut into short pieces so a
 * signal that lands on another thread still stops the producer promptly.
 */
#include "pace.h"

#include <errno.h>
#include <time.h>

#include <framebus/framebus.h>

#define NS 1000000000LL
/* Later than this behind schedule, or a timestamp jump bigger than this
 * ahead, and the schedule starts over from the current frame. */
#define MAX_LATE_NS (NS / 2)
#define MAX_JUMP_NS (2 * NS)
#define SLICE_NS    (50 * 1000000LL)

void prod_pace_init(prod_pace *p, prod_pace_mode mode, double rate)
{
    p->mode = mode;
    p->rate = rate;
    p->started = 0;
    p->origin_ns = 0;
    p->origin_t = 0;
    p->origin_n = 0;
    p->last_t = 0;
}

static void reset(prod_pace *p, uint64_t n, double t, int64_t now)
{
    p->started = 1;
    p->origin_ns = now;
    p->origin_t = t;
    p->origin_n = n;
}

void prod_pace_wait(prod_pace *p, uint64_t n, double t, const volatile sig_atomic_t *stop)
{
    int64_t now, due;

    if (p->mode == PROD_PACE_MAX)
        return;
    now = fbus_now_ns();
    if (!p->started || (p->mode == PROD_PACE_NATIVE && t < p->last_t)) {
        reset(p, n, t, now);
        p->last_t = t;
        return;
    }
    p->last_t = t;
    if (p->mode == PROD_PACE_NATIVE)
        due = p->origin_ns + (int64_t)((t - p->origin_t) * (double)NS);
    else
        due = p->origin_ns + (int64_t)((double)(n - p->origin_n) * (double)NS / p->rate);
    if (due < now - MAX_LATE_NS || due > now + MAX_JUMP_NS) {
        reset(p, n, t, now);
        return;
    }
    while (!(stop && *stop)) {
        struct timespec ts;
        int64_t left = due - fbus_now_ns();

        if (left <= 0)
            break;
        if (left > SLICE_NS)
            left = SLICE_NS;
        ts.tv_sec = (time_t)(left / NS);
        ts.tv_nsec = (long)(left % NS);
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !(stop && *stop))
            ;
    }
}
