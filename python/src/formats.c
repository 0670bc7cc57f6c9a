/* SPDX-License-Identifier: MIT */
/*
 * What numpy needs to know about a pixel format that the library's plane
 * table does not say: the sample size (uint8 or uint16) and how the samples
 * of a row group into pixels.
 */
#include "pyfbus.h"

#include <stdio.h>
#include <string.h>

int fbpy_sample_bytes(const char *pix_fmt)
{
    static const char *const deep[] = {"9le", "10le", "12le", "14le", "16le"};
    size_t n = strlen(pix_fmt);

    /* p010le, p016le, p210le, p410le: semi-planar 16-bit containers. */
    if (pix_fmt[0] == 'p' && n >= 6 && strcmp(pix_fmt + n - 2, "le") == 0)
        return 2;
    for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
        size_t k = strlen(deep[i]);
        if (n > k && strcmp(pix_fmt + n - k, deep[i]) == 0)
            return 2;
    }
    return 1;
}

uint32_t fbpy_components(const fbus_format *fmt)
{
    uint32_t bps = (uint32_t)fbpy_sample_bytes(fmt->pix_fmt);
    const fbus_plane *p = &fmt->planes[0];

    if (fmt->nb_planes != 1 || fmt->width == 0 || p->row_bytes % (fmt->width * bps) != 0)
        return 0;
    return p->row_bytes / (fmt->width * bps);
}

void fbpy_plane_shape_text(const fbus_format *fmt, uint32_t i, char *buf, size_t size)
{
    uint32_t bps = (uint32_t)fbpy_sample_bytes(fmt->pix_fmt);
    const fbus_plane *p = &fmt->planes[i];

    snprintf(buf, size, "(%u, %u)", p->rows, p->row_bytes / bps);
}

void fbpy_array_shape_text(const fbus_format *fmt, char *buf, size_t size)
{
    uint32_t c = fbpy_components(fmt);

    if (c > 1)
        snprintf(buf, size, "(%u, %u, %u)", fmt->height, fmt->width, c);
    else if (c == 1)
        snprintf(buf, size, "(%u, %u)", fmt->height, fmt->width);
    else
        fbpy_plane_shape_text(fmt, 0, buf, size);
}

uint64_t fbpy_packed_size(const fbus_format *fmt)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < fmt->nb_planes && i < FBUS_MAX_PLANES; i++)
        n += (uint64_t)fmt->planes[i].rows * fmt->planes[i].row_bytes;
    return n;
}
