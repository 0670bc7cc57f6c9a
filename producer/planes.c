/* SPDX-License-Identifier: MIT */
/*
 * Bus plane tables for libav pixel formats, and the one copy of a decoded
 * frame into a bus slot. The bus carries formats by name plus an explicit
 * plane table, so any libavutil format can cross it even when the bus
 * library itself has never heard of it.
 */
#include "planes.h"

#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#define ALIGN 64u

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* The plane table libavutil implies for pix_fmt, rows aligned to ALIGN. */
static int format_from_desc(fbus_format *fmt, enum AVPixelFormat pix_fmt, int width, int height)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(pix_fmt);
    int linesizes[4];
    uint64_t offset = 0;

    if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)))
        return FBUS_EFORMAT;
    if (av_image_fill_linesizes(linesizes, pix_fmt, width) < 0)
        return FBUS_EFORMAT;

    memset(fmt, 0, sizeof(*fmt));
    fmt->width = (uint32_t)width;
    fmt->height = (uint32_t)height;
    snprintf(fmt->pix_fmt, sizeof(fmt->pix_fmt), "%s", desc->name);
    for (int i = 0; i < 4; i++) {
        fbus_plane *p = &fmt->planes[i];
        int chroma = (i == 1 || i == 2) && !(desc->flags & AV_PIX_FMT_FLAG_RGB);
        uint32_t rows;

        if (i == 1 && (desc->flags & AV_PIX_FMT_FLAG_PAL)) {
            /* The palette: 256 32-bit entries, as libav keeps it. */
            p->offset = offset;
            p->stride = AVPALETTE_SIZE;
            p->row_bytes = AVPALETTE_SIZE;
            p->rows = 1;
            offset += AVPALETTE_SIZE;
            fmt->nb_planes = 2;
            break;
        }
        if (linesizes[i] <= 0)
            break;
        rows = chroma ? (uint32_t)AV_CEIL_RSHIFT(height, desc->log2_chroma_h) : (uint32_t)height;
        p->offset = offset;
        p->row_bytes = (uint32_t)linesizes[i];
        p->stride = (uint32_t)align_up((uint64_t)linesizes[i], ALIGN);
        p->rows = rows;
        offset = align_up(offset + (uint64_t)p->stride * rows, ALIGN);
        fmt->nb_planes = (uint32_t)i + 1;
    }
    if (fmt->nb_planes == 0)
        return FBUS_EFORMAT;
    fmt->size = 0;
    for (uint32_t i = 0; i < fmt->nb_planes; i++) {
        const fbus_plane *p = &fmt->planes[i];
        uint64_t end = p->offset + (uint64_t)p->stride * p->rows;
        if (end > fmt->size)
            fmt->size = end;
    }
    return fbus_format_check(fmt, 0);
}

/* Whether the library's table for a format carries the same bytes per plane
 * as libav's, so a frame copied with it is the frame libav decoded. */
static int same_geometry(const fbus_format *a, const fbus_format *b)
{
    if (a->nb_planes != b->nb_planes)
        return 0;
    for (uint32_t i = 0; i < a->nb_planes; i++) {
        if (a->planes[i].row_bytes != b->planes[i].row_bytes ||
            a->planes[i].rows != b->planes[i].rows)
            return 0;
    }
    return 1;
}

int prod_format_from_av(fbus_format *fmt, enum AVPixelFormat pix_fmt, int width, int height)
{
    fbus_format own;
    const char *name = av_get_pix_fmt_name(pix_fmt);
    int ret;

    if (!name || width <= 0 || height <= 0)
        return FBUS_EFORMAT;
    if (width > 32768 || height > 32768)
        return FBUS_ETOOBIG;
    ret = format_from_desc(&own, pix_fmt, width, height);
    if (ret < 0)
        return ret;
    /* Prefer the library's own table (readers without libav recognise it),
     * but only when it describes the same bytes. */
    if (fbus_format_init(fmt, name, (uint32_t)width, (uint32_t)height, ALIGN) == 0 &&
        same_geometry(fmt, &own))
        return 0;
    *fmt = own;
    return 0;
}

void prod_copy_frame(const fbus_slot *slot, const AVFrame *frame)
{
    const fbus_format *fmt = &slot->format;

    for (uint32_t i = 0; i < fmt->nb_planes && i < 4; i++) {
        const fbus_plane *p = &fmt->planes[i];

        if (!frame->data[i])
            continue;
        fbus_copy_plane(slot->data[i], (ptrdiff_t)p->stride, frame->data[i], frame->linesize[i],
                        p->row_bytes, p->rows);
    }
}
