/* SPDX-License-Identifier: MIT */
/*
 * Pacing: hold each frame until its time on the monotonic clock, from the
 * stream's timestamps (native), a fixed rate, or not at all (max).
 */
#ifndef PROD_PACE_H
#define PROD_PACE_H

#include <signal.h>
#include <stdint.h>

typedef enum prod_pace_mode {
    PROD_PACE_NATIVE = 0,
    PROD_PACE_RATE = 1,
    PROD_PACE_MAX = 2,
} prod_pace_mode;

typedef struct prod_pace {
    prod_pace_mode mode;
    double rate; /* frames per second for PROD_PACE_RATE */
    int started;
    int64_t origin_ns; /* monotonic time of the origin frame */
    double origin_t;   /* its media time, seconds */
    uint64_t origin_n; /* its frame count (fixed rate) */
    double last_t;
} prod_pace;

void prod_pace_init(prod_pace *p, prod_pace_mode mode, double rate);

/*
 * Sleep until frame number n (0, 1, 2...) with media time t seconds is due.
 * Returns early if *stop becomes set. A producer that falls behind (a slow
 * reader, a slow decoder) or meets a timestamp jump starts a new origin
 * instead of bursting to catch up.
 */
void prod_pace_wait(prod_pace *p, uint64_t n, double t, const volatile sig_atomic_t *stop);

#endif
