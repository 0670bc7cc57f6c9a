/* SPDX-License-Identifier: MIT */
/*
 * The plane table of a libav pixel format, and the one copy of a decoded
 * frame into a bus slot. The bus carries formats by name plus an explicit
 * plane table, so any libavutil format can cross it even when the bus
 * library itself has never heard of it.
 */
#include "avplanes.h"

#include <errno.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#define MAX_SIDE 32768

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* The plane table libavutil implies for pix_fmt: each plane's row bytes from
 * av_image_fill_linesizes(), its rows from av_image_fill_plane_sizes() (for
 * a paletted format, plane 1 is the palette as one row). */
static int format_from_libav(fbus_format *fmt, enum AVPixelFormat pix_fmt, const char *name,
                             int width, int height)
{
    int linesizes[4];
    ptrdiff_t ls[4];
    size_t sizes[4];
    uint64_t off = 0;

    if (av_image_fill_linesizes(linesizes, pix_fmt, width) < 0)
        return FBUS_EFORMAT;
    for (int i = 0; i < 4; i++)
        ls[i] = linesizes[i];
    if (av_image_fill_plane_sizes(sizes, pix_fmt, height, ls) < 0)
        return FBUS_EFORMAT;
    memset(fmt, 0, sizeof(*fmt));
    fmt->width = (uint32_t)width;
    fmt->height = (uint32_t)height;
    snprintf(fmt->pix_fmt, sizeof(fmt->pix_fmt), "%s", name);
    for (int i = 0; i < 4 && sizes[i] > 0; i++) {
        fbus_plane *p = &fmt->planes[i];
        /* The palette has no linesize: libav sizes it 1024 bytes. */
        uint64_t row = linesizes[i] > 0 ? (uint64_t)linesizes[i] : sizes[i];

        if (row > UINT32_MAX || sizes[i] % row)
            return FBUS_EFORMAT;
        off = align_up(off, FBAV_ALIGN);
        p->offset = off;
        p->row_bytes = (uint32_t)row;
        p->stride = (uint32_t)align_up(row, FBAV_ALIGN);
        p->rows = (uint32_t)(sizes[i] / row);
        off += (uint64_t)p->stride * p->rows;
        fmt->nb_planes++;
    }
    if (fmt->nb_planes == 0)
        return FBUS_EFORMAT;
    fmt->size = off;
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

int fbav_format(fbus_format *fmt, enum AVPixelFormat pix_fmt, int width, int height)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(pix_fmt);
    fbus_format own;
    int ret;

    if (!desc || (desc->flags & AV_PIX_FMT_FLAG_HWACCEL))
        return FBUS_EFORMAT;
    if (width <= 0 || height <= 0)
        return -EINVAL;
    if (width > MAX_SIDE || height > MAX_SIDE)
        return FBUS_ETOOBIG;
    ret = format_from_libav(&own, pix_fmt, desc->name, width, height);
    if (ret < 0)
        return ret;
    /* Prefer the library's own table, but only when it describes the same
     * bytes. */
    if (fbus_format_init(fmt, desc->name, (uint32_t)width, (uint32_t)height, FBAV_ALIGN) == 0 &&
        same_geometry(fmt, &own))
        return 0;
    *fmt = own;
    return 0;
}

const char *fbav_pix_fmt_canonical(const char *name)
{
    enum AVPixelFormat id = av_get_pix_fmt(name);

    if (id == AV_PIX_FMT_NONE)
        return NULL;
    return av_get_pix_fmt_name(id);
}

int fbav_format_by_name(fbus_format *fmt, const char *pix_fmt, uint32_t width, uint32_t height,
                        char *err, size_t errsz)
{
    enum AVPixelFormat id = av_get_pix_fmt(pix_fmt);
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(id);
    int ret;

    if (id == AV_PIX_FMT_NONE || !desc) {
        snprintf(err, errsz, "unknown pixel format \"%s\"", pix_fmt);
        return FBUS_EFORMAT;
    }
    if (desc->flags & AV_PIX_FMT_FLAG_HWACCEL) {
        snprintf(err, errsz, "pixel format \"%s\" is not supported (hardware frames)", desc->name);
        return FBUS_EFORMAT;
    }
    if (width > MAX_SIDE || height > MAX_SIDE) {
        snprintf(err, errsz, "size %ux%u is too big (at most %d a side)", width, height, MAX_SIDE);
        return FBUS_ETOOBIG;
    }
    ret = fbav_format(fmt, id, (int)width, (int)height);
    if (ret == -EINVAL)
        snprintf(err, errsz, "bad size %ux%u", width, height);
    else if (ret == FBUS_ETOOBIG)
        snprintf(err, errsz, "size %ux%u is too big for pixel format \"%s\"", width, height,
                 desc->name);
    else if (ret < 0)
        snprintf(err, errsz, "pixel format \"%s\" cannot be %ux%u", desc->name, width, height);
    return ret;
}

void fbav_copy_frame(const fbus_slot *slot, const AVFrame *frame)
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
