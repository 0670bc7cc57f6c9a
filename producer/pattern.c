/* SPDX-License-Identifier: MIT */
/*
 * The built-in test pattern, drawn straight into a yuv420p slot: eight colour
 * bars (BT.709 for HD, BT.601 for SD) scrolling sideways (a torn frame shows as a broken edge), a
 * grey ramp band moving down, and the frame number in big digits top-left.
 */
#include "pattern.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "font.h"

/* 75% colour bars, limited range: white, yellow, cyan, green, magenta,
 * red, blue, black; [0] in BT.601, [1] in BT.709 (green is (0,191,0) in
 * RGB either way, once decoded with the matrix it was encoded with). */
static const uint8_t bar_y[2][8] = {{180, 162, 131, 112, 84, 65, 35, 16},
                                    {180, 168, 145, 133, 63, 51, 28, 16}};
static const uint8_t bar_u[2][8] = {{128, 44, 156, 72, 184, 100, 212, 128},
                                    {128, 44, 147, 63, 193, 109, 212, 128}};
static const uint8_t bar_v[2][8] = {{128, 142, 44, 58, 198, 212, 114, 128},
                                    {128, 136, 44, 52, 204, 212, 120, 128}};

/* HD (720 rows and more) is BT.709, SD BT.601, as players assume for
 * untagged video and as the frame's colour description then says. */
static int is_hd(int height)
{
    return height >= 720;
}

void prod_pattern_color(int height, fbus_color *c)
{
    memset(c, 0, sizeof(*c));
    c->range = FBUS_RANGE_LIMITED;
    /* H.273: 1 is BT.709 for matrix, primaries and transfer; 6 is SMPTE
     * 170M (BT.601 525) for all three. */
    c->matrix = c->primaries = c->transfer = is_hd(height) ? 1 : 6;
}

#define BLACK_Y 16
#define WHITE_Y 235
#define GREY_C  128

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* The bar under column x (in pixels of a row `width` wide) at scroll `shift`. */
static int bar_at(int x, int width, int shift)
{
    int p = (x + shift) % width;
    return p * 8 / width;
}

static int in_band(int y, int band_y, int band_h, int height)
{
    int d = (y - band_y + height) % height;
    return d < band_h;
}

static void draw_rows(uint8_t *const data[3], const int linesize[3], int width, int height,
                      uint64_t n)
{
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    int shift = (int)((n * (uint64_t)max_int(1, width / 160)) % (uint64_t)width);
    int band_h = max_int(2, height / 10) & ~1;
    int band_y = (int)((n * (uint64_t)max_int(2, height / 60)) % (uint64_t)height) & ~1;
    uint8_t *bars = NULL, *ramp = NULL;
    int m = is_hd(height);

    /* Template rows first, then copy them down. */
    for (int y = 0; y < height; y++) {
        uint8_t *row = data[0] + (ptrdiff_t)y * linesize[0];
        int band = in_band(y, band_y, band_h, height);

        if (band && ramp) {
            memcpy(row, ramp, (size_t)width);
        } else if (!band && bars) {
            memcpy(row, bars, (size_t)width);
        } else if (band) {
            for (int x = 0; x < width; x++)
                row[x] = (uint8_t)(BLACK_Y + (((x + shift) % width) * (WHITE_Y - BLACK_Y)) / width);
            ramp = row;
        } else {
            for (int x = 0; x < width; x++)
                row[x] = bar_y[m][bar_at(x, width, shift)];
            bars = row;
        }
    }
    for (int p = 1; p <= 2; p++) {
        const uint8_t *tab = p == 1 ? bar_u[m] : bar_v[m];
        uint8_t *cbars = NULL;

        for (int y = 0; y < ch; y++) {
            uint8_t *row = data[p] + (ptrdiff_t)y * linesize[p];

            if (in_band(2 * y, band_y, band_h, height)) {
                memset(row, GREY_C, (size_t)cw);
            } else if (cbars) {
                memcpy(row, cbars, (size_t)cw);
            } else {
                for (int x = 0; x < cw; x++)
                    row[x] = tab[bar_at(2 * x, width, shift)];
                cbars = row;
            }
        }
    }
}

static void fill_rect(uint8_t *plane, int linesize, int x0, int y0, int w, int h, int pw, int ph,
                      uint8_t v)
{
    if (x0 >= pw || y0 >= ph)
        return;
    if (x0 + w > pw)
        w = pw - x0;
    if (y0 + h > ph)
        h = ph - y0;
    for (int y = y0; y < y0 + h; y++)
        memset(plane + (ptrdiff_t)y * linesize + x0, v, (size_t)w);
}

static void draw_number(uint8_t *const data[3], const int linesize[3], int width, int height,
                        uint64_t n)
{
    int s = PROD_PATTERN_SCALE(height);
    int org = PROD_PATTERN_ORIGIN(s);
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
    int places = len > PROD_PATTERN_MIN_DIGITS ? len : PROD_PATTERN_MIN_DIGITS;
    int bx = org - s, by = org - s;
    int bw = (places * PROD_FONT_ADVANCE + 1) * s, bh = (PROD_FONT_ROWS + 2) * s;

    /* A black box with neutral chroma, then white cells. */
    fill_rect(data[0], linesize[0], bx, by, bw, bh, width, height, BLACK_Y);
    for (int p = 1; p <= 2; p++)
        fill_rect(data[p], linesize[p], bx / 2, by / 2, (bw + 1) / 2 + 1, (bh + 1) / 2 + 1,
                  (width + 1) / 2, (height + 1) / 2, GREY_C);
    for (int i = 0; i < len; i++) {
        const uint8_t *glyph = prod_font_digits[digits[i] - '0'];
        int gx = org + i * PROD_FONT_ADVANCE * s;

        for (int cy = 0; cy < PROD_FONT_ROWS; cy++) {
            for (int cx = 0; cx < PROD_FONT_COLS; cx++) {
                if (glyph[cy] & (0x10 >> cx))
                    fill_rect(data[0], linesize[0], gx + cx * s, org + cy * s, s, s, width, height,
                              WHITE_Y);
            }
        }
    }
}

void prod_pattern_draw(uint8_t *const data[3], const int linesize[3], int width, int height,
                       uint64_t n)
{
    draw_rows(data, linesize, width, height, n);
    draw_number(data, linesize, width, height, n);
}
