/* SPDX-License-Identifier: MIT */
/*
 * Pixel-format names and plane tables for put. The bus knows the common
 * formats by itself; libavutil supplies the plane table of any other format
 * it can describe as plain planes of bytes.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#define ROW_ALIGN 64u

const char *tool_pix_fmt_canonical(const char *name)
{
    enum AVPixelFormat id = av_get_pix_fmt(name);

    if (id == AV_PIX_FMT_NONE)
        return NULL;
    return av_get_pix_fmt_name(id);
}

/* The plane table libavutil gives for a format the bus does not know. */
static int format_from_libav(fbus_format *fmt, enum AVPixelFormat id, const char *name, uint32_t w,
                             uint32_t h, char *err, size_t errsz)
{
    int linesizes[4];
    ptrdiff_t ls[4];
    size_t sizes[4];
    uint64_t off = 0;

    if (av_image_fill_linesizes(linesizes, id, (int)w) < 0) {
        snprintf(err, errsz, "pixel format \"%s\" cannot be %ux%u", name, w, h);
        return -EINVAL;
    }
    for (int i = 0; i < 4; i++)
        ls[i] = linesizes[i];
    if (av_image_fill_plane_sizes(sizes, id, (int)h, ls) < 0) {
        snprintf(err, errsz, "pixel format \"%s\" cannot be %ux%u", name, w, h);
        return -EINVAL;
    }
    memset(fmt, 0, sizeof(*fmt));
    fmt->width = w;
    fmt->height = h;
    snprintf(fmt->pix_fmt, sizeof(fmt->pix_fmt), "%s", name);
    for (int i = 0; i < 4 && linesizes[i] > 0; i++) {
        fbus_plane *p = &fmt->planes[i];
        uint64_t stride = ((uint64_t)linesizes[i] + ROW_ALIGN - 1) & ~(uint64_t)(ROW_ALIGN - 1);

        off = (off + ROW_ALIGN - 1) & ~(uint64_t)(ROW_ALIGN - 1);
        p->offset = off;
        p->stride = (uint32_t)stride;
        p->row_bytes = (uint32_t)linesizes[i];
        p->rows = (uint32_t)(sizes[i] / (size_t)linesizes[i]);
        off += stride * p->rows;
        fmt->nb_planes++;
    }
    fmt->size = off;
    if (fbus_format_check(fmt, 0) < 0) {
        snprintf(err, errsz, "pixel format \"%s\" cannot be %ux%u", name, w, h);
        return FBUS_EFORMAT;
    }
    return 0;
}

int tool_format_init(fbus_format *fmt, const char *pix_fmt, uint32_t w, uint32_t h, char *err,
                     size_t errsz)
{
    enum AVPixelFormat id = av_get_pix_fmt(pix_fmt);
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(id);
    const char *name;
    int rc;

    if (id == AV_PIX_FMT_NONE || !desc) {
        snprintf(err, errsz, "unknown pixel format \"%s\"", pix_fmt);
        return FBUS_EFORMAT;
    }
    name = av_get_pix_fmt_name(id);
    if (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_PAL)) {
        snprintf(err, errsz, "pixel format \"%s\" is not supported (%s)", name,
                 (desc->flags & AV_PIX_FMT_FLAG_PAL) ? "paletted" : "hardware frames");
        return FBUS_EFORMAT;
    }
    rc = fbus_format_init(fmt, name, w, h, ROW_ALIGN);
    if (rc == 0)
        return 0;
    if (rc == FBUS_ETOOBIG || w > 32768 || h > 32768) {
        snprintf(err, errsz, "size %ux%u is too big (at most 32768 a side)", w, h);
        return FBUS_ETOOBIG;
    }
    if (w == 0 || h == 0) {
        snprintf(err, errsz, "bad size %ux%u", w, h);
        return -EINVAL;
    }
    return format_from_libav(fmt, id, name, w, h, err, errsz);
}
