/* SPDX-License-Identifier: MIT */
/*
 * Plane tables for the pixel formats the bus knows by name, and the check
 * every frame description passes before anyone trusts it.
 */
#include <errno.h>
#include <string.h>

#include "framebus/framebus.h"

#define MAX_SIDE 32768u

/* One plane: bytes per sample and the log2 subsampling of the plane. */
struct plane_shape {
    uint8_t bytes;
    uint8_t log2_w;
    uint8_t log2_h;
};

struct pixfmt_shape {
    const char *name;
    uint8_t nb_planes;
    struct plane_shape p[FBUS_MAX_PLANES];
};

/* Shapes follow libavutil's av_image_fill_linesizes(): a subsampled plane
 * has ceil(width / 2^log2_w) samples of `bytes` each. */
static const struct pixfmt_shape shapes[] = {
    {"gray", 1, {{1, 0, 0}}},
    {"gray16le", 1, {{2, 0, 0}}},
    {"yuv420p", 3, {{1, 0, 0}, {1, 1, 1}, {1, 1, 1}}},
    {"yuvj420p", 3, {{1, 0, 0}, {1, 1, 1}, {1, 1, 1}}},
    {"yuv422p", 3, {{1, 0, 0}, {1, 1, 0}, {1, 1, 0}}},
    {"yuvj422p", 3, {{1, 0, 0}, {1, 1, 0}, {1, 1, 0}}},
    {"yuv444p", 3, {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}}},
    {"yuvj444p", 3, {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}}},
    {"yuva420p", 4, {{1, 0, 0}, {1, 1, 1}, {1, 1, 1}, {1, 0, 0}}},
    {"yuv420p10le", 3, {{2, 0, 0}, {2, 1, 1}, {2, 1, 1}}},
    {"yuv422p10le", 3, {{2, 0, 0}, {2, 1, 0}, {2, 1, 0}}},
    {"yuv444p10le", 3, {{2, 0, 0}, {2, 0, 0}, {2, 0, 0}}},
    {"nv12", 2, {{1, 0, 0}, {2, 1, 1}}},
    {"nv21", 2, {{1, 0, 0}, {2, 1, 1}}},
    {"p010le", 2, {{2, 0, 0}, {4, 1, 1}}},
    {"yuyv422", 1, {{4, 1, 0}}},
    {"uyvy422", 1, {{4, 1, 0}}},
    {"rgb24", 1, {{3, 0, 0}}},
    {"bgr24", 1, {{3, 0, 0}}},
    {"rgba", 1, {{4, 0, 0}}},
    {"bgra", 1, {{4, 0, 0}}},
    {"argb", 1, {{4, 0, 0}}},
    {"abgr", 1, {{4, 0, 0}}},
    {"rgb0", 1, {{4, 0, 0}}},
    {"bgr0", 1, {{4, 0, 0}}},
    {"0rgb", 1, {{4, 0, 0}}},
    {"0bgr", 1, {{4, 0, 0}}},
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

FBUS_EXTERN int fbus_format_init(fbus_format *fmt, const char *pix_fmt, uint32_t width,
                                 uint32_t height, uint32_t align)
{
    const struct pixfmt_shape *s = NULL;
    uint64_t off = 0;

    if (!fmt || !pix_fmt)
        return -EINVAL;
    if (align == 0)
        align = 64;
    if (align & (align - 1))
        return -EINVAL;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        if (strcmp(shapes[i].name, pix_fmt) == 0) {
            s = &shapes[i];
            break;
        }
    }
    if (!s)
        return FBUS_EFORMAT;
    if (width == 0 || height == 0)
        return -EINVAL;
    if (width > MAX_SIDE || height > MAX_SIDE)
        return FBUS_ETOOBIG;

    memset(fmt, 0, sizeof(*fmt));
    fmt->width = width;
    fmt->height = height;
    strcpy(fmt->pix_fmt, s->name);
    fmt->nb_planes = s->nb_planes;
    for (unsigned i = 0; i < s->nb_planes; i++) {
        const struct plane_shape *p = &s->p[i];
        uint32_t samples = (width + (1u << p->log2_w) - 1) >> p->log2_w;
        uint32_t rows = (height + (1u << p->log2_h) - 1) >> p->log2_h;
        uint64_t row_bytes = (uint64_t)samples * p->bytes;
        uint64_t stride = align_up(row_bytes, align);

        off = align_up(off, align);
        fmt->planes[i].offset = off;
        fmt->planes[i].stride = (uint32_t)stride;
        fmt->planes[i].row_bytes = (uint32_t)row_bytes;
        fmt->planes[i].rows = rows;
        off += stride * rows;
    }
    fmt->size = off;
    return 0;
}

FBUS_EXTERN int fbus_format_check(const fbus_format *fmt, uint64_t capacity)
{
    size_t n;

    if (!fmt)
        return -EINVAL;
    if (fmt->width == 0 || fmt->height == 0 || fmt->width > MAX_SIDE || fmt->height > MAX_SIDE)
        return FBUS_EFORMAT;
    n = strnlen(fmt->pix_fmt, sizeof(fmt->pix_fmt));
    if (n == 0 || n == sizeof(fmt->pix_fmt))
        return FBUS_EFORMAT;
    for (size_t i = 0; i < n; i++) {
        char c = fmt->pix_fmt[i];
        if (c < 0x21 || c > 0x7e)
            return FBUS_EFORMAT;
    }
    if (fmt->nb_planes == 0 || fmt->nb_planes > FBUS_MAX_PLANES)
        return FBUS_EFORMAT;
    if (capacity && fmt->size > capacity)
        return FBUS_EFORMAT;
    for (uint32_t i = 0; i < fmt->nb_planes; i++) {
        const fbus_plane *p = &fmt->planes[i];
        uint64_t end;

        if (p->rows == 0 || p->row_bytes == 0 || p->row_bytes > p->stride || p->rows > 4 * MAX_SIDE)
            return FBUS_EFORMAT;
        /* rows and stride are 32-bit, so the product cannot overflow. A
         * plane owns stride * rows bytes, so a reader may copy it in one go. */
        end = (uint64_t)p->stride * p->rows;
        if (p->offset > fmt->size || end > fmt->size - p->offset)
            return FBUS_EFORMAT;
    }
    return 0;
}
