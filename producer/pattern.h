/* SPDX-License-Identifier: MIT */
/*
 * The built-in test pattern: moving colour bars, a moving band and the frame
 * number, so stale, dropped and torn frames are visible.
 */
#ifndef PROD_PATTERN_H
#define PROD_PATTERN_H

#include <stdint.h>

#include "framebus/framebus.h"

/*
 * Draw frame n into a yuv420p picture of width x height, limited range,
 * BT.709 from 720 rows up and BT.601 below; data/linesize as libav lays
 * planes out (the bus slot's own planes work as they are).
 */
void prod_pattern_draw(uint8_t *const data[3], const int linesize[3], int width, int height,
                       uint64_t n);

/* The colour description of a pattern frame `height` rows high, as the bus
 * metadata carries it (H.273 code points). */
void prod_pattern_color(int height, fbus_color *c);

#endif
