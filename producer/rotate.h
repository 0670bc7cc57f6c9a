/* SPDX-License-Identifier: MIT */
/* Standing decoded frames upright by their stream's display matrix. */
#ifndef PROD_ROTATE_H
#define PROD_ROTATE_H

#include <stdint.h>

#include <libavutil/frame.h>

/*
 * What stands a picture upright, as bits: transposed (row y becomes column
 * y), then mirrored left-right, then upside down. 0 keeps it as stored; the
 * eight combinations are every quarter turn, with or without a mirror:
 * 90 degrees clockwise is TRANSPOSE | HFLIP, 180 is HFLIP | VFLIP, 270 is
 * TRANSPOSE | VFLIP.
 */
enum {
    PROD_TURN_TRANSPOSE = 1,
    PROD_TURN_HFLIP = 2,
    PROD_TURN_VFLIP = 4,
};

/* The PROD_TURN_* bits that stand a picture with this display matrix
 * upright, as ffmpeg's autorotate picks them; 0 for none, or for a matrix
 * that is not a quarter turn (with or without a mirror). */
int prod_turn_of(const int32_t *matrix);
/* Whether frames of fmt can be turned by `turn` without conversion. */
int prod_turnable(enum AVPixelFormat fmt, int turn);
/* dst = src turned by `turn` (not 0): 0 or an AVERROR. */
int prod_turn(AVFrame *dst, const AVFrame *src, int turn);

#endif
