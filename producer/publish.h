/* SPDX-License-Identifier: MIT */
/*
 * The producer's pipeline: open the source (a decoder or the test pattern),
 * size and open the bus from its first frame, then publish every frame,
 * paced, with the status line, until the end, a limit or a signal.
 */
#ifndef PROD_PUBLISH_H
#define PROD_PUBLISH_H

#include <signal.h>
#include <stdint.h>

#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>

#include <framebus/framebus.h>

#include "pace.h"

#define PROG        "framebus-producer"
#define DEFAULT_BUS "framebus"
#define PATTERN_W   1280
#define PATTERN_H   720
#define PATTERN_FPS 30

/* What the command line asks for (main.c fills it). */
struct prod_options {
    const char *input;
    const char *bus;
    fbus_transport transport;
    uint32_t slots; /* 0: the default, and the decoder's frames */
    prod_pace_mode pace;
    AVRational rate; /* for PROD_PACE_RATE */
    int loop;
    enum AVPixelFormat pix_fmt; /* AV_PIX_FMT_NONE: the source's own */
    int width, height;          /* 0: the source's own */
    uint64_t frames;            /* 0: all */
    uint32_t mode;
    int wait_readers;
    int quiet;
    int verbose;
    int no_autorotate; /* publish as stored, ignoring the display matrix */
    int copy;          /* no decoding straight into slots */
};

/*
 * Run the whole pipeline for o until the stream ends, o->frames are out, or
 * *stop is set (by a SIGINT/SIGTERM handler). Prints its one error line or
 * the summary on stderr. Returns the exit code: 0, or 1 on an error.
 */
int prod_run(const struct prod_options *o, volatile sig_atomic_t *stop);

#endif
