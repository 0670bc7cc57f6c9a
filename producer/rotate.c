/* SPDX-License-Identifier: MIT */
/*
 * Apply a stream's display rotation to decoded frames, as ffmpeg does by
 * default: a phone video stored 1280x720 with "rotate 90" is published as
 * 720x1280. Whole pixels (or interleaved chroma pairs) move as units, so any
 * planar or packed format whose chroma is subsampled alike in both
 * directions turns losslessly; others are published as stored.
 */
#include "rotate.h"

#include <string.h>

#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

int prod_rotation_of(const int32_t *matrix)
{
    double theta;
    int deg;

    if (!matrix)
        return 0;
    /* av_display_rotation_get is counterclockwise; the picture must turn
     * the other way to stand up. */
    theta = -av_display_rotation_get(matrix);
    if (theta != theta) /* NaN: not a rotation */
        return 0;
    deg = (int)((theta < 0 ? theta - 0.5 : theta + 0.5)) % 360;
    if (deg < 0)
        deg += 360;
    /* Only quarter turns are published turned. */
    return deg % 90 == 0 ? deg : 0;
}

int prod_rotatable(enum AVPixelFormat fmt, int degrees)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);

    if (!d ||
        (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL)))
        return 0;
    /* Packed YUV (yuyv) shares chroma between neighbours in a row. */
    if (!(d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components > 2 && d->log2_chroma_w)
        return 0;
    /* A quarter turn swaps the axes, so their subsampling must agree. */
    return degrees == 180 || d->log2_chroma_w == d->log2_chroma_h;
}

/* Bytes a unit of plane p takes: the step of its components. */
static int unit_of(const AVPixFmtDescriptor *d, int p)
{
    int unit = 0;

    for (int c = 0; c < d->nb_components; c++)
        if (d->comp[c].plane == p && d->comp[c].step > unit)
            unit = d->comp[c].step;
    return unit;
}

int prod_rotate(AVFrame *dst, const AVFrame *src, int degrees)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    int quarter = degrees == 90 || degrees == 270, ret;

    av_frame_unref(dst);
    dst->format = src->format;
    dst->width = quarter ? src->height : src->width;
    dst->height = quarter ? src->width : src->height;
    ret = av_frame_get_buffer(dst, 0);
    if (ret < 0)
        return ret;
    ret = av_frame_copy_props(dst, src);
    if (ret < 0)
        return ret;
    /* A quarter turn swaps what a sample's width and height are. */
    if (quarter && src->sample_aspect_ratio.num > 0)
        dst->sample_aspect_ratio =
            (AVRational){src->sample_aspect_ratio.den, src->sample_aspect_ratio.num};
    for (int p = 0; p < 4 && src->data[p]; p++) {
        int chroma = p == 1 || p == 2;
        int w = chroma ? AV_CEIL_RSHIFT(src->width, d->log2_chroma_w) : src->width;
        int h = chroma ? AV_CEIL_RSHIFT(src->height, d->log2_chroma_h) : src->height;
        int unit = unit_of(d, p);

        for (int y = 0; y < h; y++) {
            const uint8_t *row = src->data[p] + (ptrdiff_t)y * src->linesize[p];
            for (int x = 0; x < w; x++) {
                int dx, dy;
                if (degrees == 90) { /* clockwise */
                    dx = h - 1 - y;
                    dy = x;
                } else if (degrees == 270) {
                    dx = y;
                    dy = w - 1 - x;
                } else {
                    dx = w - 1 - x;
                    dy = h - 1 - y;
                }
                memcpy(dst->data[p] + (ptrdiff_t)dy * dst->linesize[p] + (ptrdiff_t)dx * unit,
                       row + (ptrdiff_t)x * unit, (size_t)unit);
            }
        }
    }
    return 0;
}
