/* SPDX-License-Identifier: MIT */
/*
 * The test pattern's digits: a 5x7 bitmap font and where the frame number
 * sits, shared with the tests that read the number back.
 */
#ifndef PROD_FONT_INCLUDED
#define PROD_FONT_INCLUDED

#include <stdint.h>

/* Each glyph is 7 rows of 5 bits, most significant bit leftmost. */
static const uint8_t prod_font_digits[10][7] = {
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* 9 */
};

#define PROD_FONT_COLS    5
#define PROD_FONT_ROWS    7
#define PROD_FONT_ADVANCE 6 /* cells from one digit to the next */

/* Pixels per font cell for a picture `height` rows high. */
#define PROD_PATTERN_SCALE(height) ((height) / 60 > 1 ? (height) / 60 : 1)
/* Top-left corner of the first digit, in pixels, both axes. */
#define PROD_PATTERN_ORIGIN(scale) (2 * (scale))
/* The number box shows at least this many digit places. */
#define PROD_PATTERN_MIN_DIGITS 6

#endif
