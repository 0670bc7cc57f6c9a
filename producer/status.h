/* SPDX-License-Identifier: MIT */
/*
 * The producer's live status line on stderr (refreshed in place with \r,
 * like ffmpeg's) and its summary at the end.
 */
#ifndef PROD_STATUS_H
#define PROD_STATUS_H

#include <stdint.h>

#include <framebus/framebus.h>

typedef struct prod_status {
    int quiet;
    const char *bus;
    fbus_transport transport;
    int64_t start_ns; /* first publish */
    int64_t last_print_ns;
    uint64_t last_frames; /* at the previous refresh, for the recent fps */
    double fps;
    int line_open;  /* a status line is on screen without its newline */
    uint64_t drops; /* frames skipped by latest readers */
    uint64_t overruns;
    int readers;
} prod_status;

void prod_status_init(prod_status *s, const char *bus, fbus_transport transport, int quiet);

/* Refresh the line if half a second passed (or force). media_t is the
 * stream time of the newest frame in seconds from the first. */
void prod_status_update(prod_status *s, fbus_writer *w, uint64_t frames, double media_t,
                        uint64_t corrupt, int force);

/* Put a newline after a status line so an error message starts clean. */
void prod_status_break(prod_status *s);

/* The last line: totals for the run. */
void prod_status_summary(prod_status *s, const fbus_format *fmt, uint64_t frames, double media_t,
                         uint64_t corrupt, int truncated);

#endif
