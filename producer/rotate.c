/* SPDX-License-Identifier: MIT */
/*
 * Apply a stream's display matrix to decoded frames, as ffmpeg does by
 * default: a phone video stored 1280x720 with "rotate 90" is published as
 * 720x1280, a mirrored one (a selfie camera's) mirrored back. Whole pixels
 * (or interleaved chroma pairs) move as units, so any planar or packed
 * format whose chroma is subsampled alike in both directions turns
 * losslessly; others are published as stored.
 */
#include "rotate.h"

#include <math.h>
#include <string.h>

#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

int prod_turn_of(const int32_t *m)
{
    double theta;

    if (!m)
        return 0;
    /* Clockwise degrees in [0, 360), rounded, as ffmpeg's get_rotation():
     * av_display_rotation_get is counterclockwise. NaN: not a rotation. */
    theta = -round(av_display_rotation_get(m));
    if (theta != theta)
        return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    /*
     * A mirror makes the determinant negative; the angle alone then names
     * two matrices, which the signs of their entries tell apart (what
     * ffmpeg 5.1's configure_input_video_filter() inserts for each:
     * transpose, hflip, vflip). m[0] m[1] / m[3] m[4] is the 2x2 part.
     */
    if (fabs(theta - 90) < 1.0) /* [0 1; -1 0] clockwise, [0 1; 1 0] transposed */
        return m[3] > 0 ? PROD_TURN_TRANSPOSE : PROD_TURN_TRANSPOSE | PROD_TURN_HFLIP;
    if (fabs(theta - 180) < 1.0) /* [-1 0; 0 -1] half a turn, [-1 0; 0 1] mirrored */
        return (m[0] < 0 ? PROD_TURN_HFLIP : 0) | (m[4] < 0 ? PROD_TURN_VFLIP : 0);
    if (fabs(theta - 270) < 1.0) /* [0 -1; 1 0] counterclockwise, [0 -1; -1 0] */
        return m[3] < 0 ? PROD_TURN_TRANSPOSE | PROD_TURN_HFLIP | PROD_TURN_VFLIP
                        : PROD_TURN_TRANSPOSE | PROD_TURN_VFLIP;
    if (fabs(theta) < 1.0) /* [1 0; 0 -1] upside down */
        return m[4] < 0 ? PROD_TURN_VFLIP : 0;
    /* Any other angle: ffmpeg would rotate and interpolate; not lossless. */
    return 0;
}

int prod_turnable(enum AVPixelFormat fmt, int turn)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);

    if (!d ||
        (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL)))
        return 0;
    /* Packed YUV (yuyv) shares chroma between neighbours in a row. */
    if (!(d->flags & AV_PIX_FMT_FLAG_PLANAR) && d->nb_components > 2 && d->log2_chroma_w)
        return 0;
    /* A transpose swaps the axes, so their subsampling must agree. */
    return !(turn & PROD_TURN_TRANSPOSE) || d->log2_chroma_w == d->log2_chroma_h;
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

/* One plane of w x h units of `unit` bytes, turned. */
static void turn_plane(uint8_t *dst, int dst_stride, const uint8_t *src, int src_stride, int w,
                       int h, int unit, int turn)
{
    int swap = turn & PROD_TURN_TRANSPOSE;
    int dw = swap ? h : w, dh = swap ? w : h;

    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (ptrdiff_t)y * src_stride;

        if (!(turn & (PROD_TURN_TRANSPOSE | PROD_TURN_HFLIP))) {
            /* Upside down only: whole rows. */
            memcpy(dst + (ptrdiff_t)(dh - 1 - y) * dst_stride, row, (size_t)w * (size_t)unit);
            continue;
        }
        for (int x = 0; x < w; x++) {
            int dx = swap ? y : x, dy = swap ? x : y;

            if (turn & PROD_TURN_HFLIP)
                dx = dw - 1 - dx;
            if (turn & PROD_TURN_VFLIP)
                dy = dh - 1 - dy;
            memcpy(dst + (ptrdiff_t)dy * dst_stride + (ptrdiff_t)dx * unit,
                   row + (ptrdiff_t)x * unit, (size_t)unit);
        }
    }
}

int prod_turn(AVFrame *dst, const AVFrame *src, int turn)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    int swap = turn & PROD_TURN_TRANSPOSE, ret;

    av_frame_unref(dst);
    dst->format = src->format;
    dst->width = swap ? src->height : src->width;
    dst->height = swap ? src->width : src->height;
    ret = av_frame_get_buffer(dst, 0);
    if (ret < 0)
        return ret;
    ret = av_frame_copy_props(dst, src);
    if (ret < 0)
        return ret;
    /* A transpose swaps what a sample's width and height are. */
    if (swap && src->sample_aspect_ratio.num > 0)
        dst->sample_aspect_ratio =
            (AVRational){src->sample_aspect_ratio.den, src->sample_aspect_ratio.num};
    for (int p = 0; p < 4 && src->data[p]; p++) {
        int chroma = p == 1 || p == 2;
        int w = chroma ? AV_CEIL_RSHIFT(src->width, d->log2_chroma_w) : src->width;
        int h = chroma ? AV_CEIL_RSHIFT(src->height, d->log2_chroma_h) : src->height;

        turn_plane(dst->data[p], dst->linesize[p], src->data[p], src->linesize[p], w, h,
                   unit_of(d, p), turn);
    }
    return 0;
}
