/* SPDX-License-Identifier: MIT */
/*
 * The built-in test pattern: moving colour bars, a moving band and the frame
 * number, so stale, dropped and torn frames are visible.
 */
#ifndef PROD_PATTERN_H
#define PROD_PATTERN_H

#include <stdint.h>

/*
 * Draw frame n into a yuv420p picture (BT.601 limited range) of
 * width x height; data/linesize as libav lays planes out (the bus slot's own
 * planes work as they are).
 */
void prod_pattern_draw(uint8_t *const data[3], const int linesize[3], int width, int height,
                       uint64_t n);

#endif
