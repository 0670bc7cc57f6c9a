/* SPDX-License-Identifier: MIT */
/*
 * Frame checks against libavutil's idea of each pixel format, and the
 * libswscale fallback for formats SDL cannot upload directly. The fallback
 * converts into a private BGRA buffer: this is the one place the viewer
 * copies a frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "viewer.h"

struct viewer_convert {
    struct SwsContext *sws;
    uint8_t *buf;
    size_t buf_size;
    int stride;
    fbus_color color; /* what the context is set up for: colour, */
    int w, h;         /* size */
    int pix_fmt;      /* and source format */
};

/* libswscale's coefficient table for an H.273 matrix; unknown: BT.601 up
 * to 576 rows and BT.709 above, as for direct uploads. */
static int sws_matrix(int matrix, int height)
{
    switch (matrix) {
    case 1:
        return SWS_CS_ITU709;
    case 5:
    case 6:
        return SWS_CS_ITU601;
    case 7:
        return SWS_CS_SMPTE240M;
    case 9:
    case 10:
        return SWS_CS_BT2020;
    default:
        return height > 576 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    }
}

/* Decode YUV with the frame's matrix, and its range when it says one (else
 * the one libswscale chose: full for yuvj and gray). */
static void set_colorspace(struct SwsContext *sws, const AVPixFmtDescriptor *desc,
                           const fbus_color *c, int height)
{
    int *inv, *table, src_range, dst_range, bri, con, sat;

    if ((desc->flags & AV_PIX_FMT_FLAG_RGB) || desc->nb_components < 3 ||
        sws_getColorspaceDetails(sws, &inv, &src_range, &table, &dst_range, &bri, &con, &sat) < 0)
        return;
    if (c->range != FBUS_RANGE_UNKNOWN)
        src_range = c->range == FBUS_RANGE_FULL;
    sws_setColorspaceDetails(sws, sws_getCoefficients(sws_matrix(c->matrix, height)), src_range,
                             table, dst_range, bri, con, sat);
}

int viewer_frame_check(const fbus_format *fmt)
{
    enum AVPixelFormat pf = av_get_pix_fmt(fmt->pix_fmt);
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(pf);
    int linesize[4];

    if (pf == AV_PIX_FMT_NONE || !desc ||
        (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL)))
        return FBUS_EFORMAT;
    if (fmt->width == 0 || fmt->height == 0 || fmt->width > 32768 || fmt->height > 32768)
        return FBUS_EFORMAT;
    int planes = av_pix_fmt_count_planes(pf);
    if (planes < 1 || (uint32_t)planes != fmt->nb_planes || planes > FBUS_MAX_PLANES)
        return FBUS_EFORMAT;
    if (av_image_fill_linesizes(linesize, pf, (int)fmt->width) < 0)
        return FBUS_EFORMAT;
    /* Whatever the plane table says, it must hold every byte that SDL or
     * libswscale will read for this format and size, or a lying producer
     * would make us read past its planes. */
    for (int i = 0; i < planes; i++) {
        uint32_t rows = fmt->height;
        if (i == 1 || i == 2)
            rows = (uint32_t)AV_CEIL_RSHIFT((int)fmt->height, desc->log2_chroma_h);
        if (fmt->planes[i].row_bytes < (uint32_t)linesize[i] || fmt->planes[i].rows < rows ||
            fmt->planes[i].stride < fmt->planes[i].row_bytes || fmt->planes[i].stride > INT32_MAX)
            return FBUS_EFORMAT;
    }
    return 0;
}

int viewer_convert_frame(struct viewer_convert **cvp, const fbus_frame *f, const uint8_t **out,
                         int *out_stride)
{
    struct viewer_convert *cv = *cvp;
    enum AVPixelFormat pf = av_get_pix_fmt(f->format.pix_fmt);
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(pf);
    int w = (int)f->format.width, h = (int)f->format.height;
    const uint8_t *src[4] = {NULL, NULL, NULL, NULL};
    int src_stride[4] = {0, 0, 0, 0};

    if (!desc || viewer_frame_check(&f->format) < 0)
        return FBUS_EFORMAT;
    if (!cv) {
        cv = calloc(1, sizeof(*cv));
        if (!cv)
            return -ENOMEM;
        *cvp = cv;
    }
    int stride = FFALIGN(w * 4, 64);
    size_t need = (size_t)stride * (size_t)h;
    if (need > cv->buf_size) {
        free(cv->buf);
        cv->buf = malloc(need);
        cv->buf_size = cv->buf ? need : 0;
        if (!cv->buf)
            return -ENOMEM;
    }
    cv->stride = stride;

    /* A context is made once per size and format: sws_getCachedContext
     * would reset the colourspace details set below on every call. */
    if (!cv->sws || cv->w != w || cv->h != h || cv->pix_fmt != (int)pf) {
        sws_freeContext(cv->sws);
        cv->sws = sws_getContext(w, h, pf, w, h, AV_PIX_FMT_BGRA, SWS_BILINEAR, NULL, NULL, NULL);
        if (!cv->sws)
            return FBUS_EFORMAT;
        cv->w = w;
        cv->h = h;
        cv->pix_fmt = (int)pf;
        set_colorspace(cv->sws, desc, &f->color, h);
        cv->color = f->color;
    } else if (memcmp(&cv->color, &f->color, sizeof(f->color)) != 0) {
        set_colorspace(cv->sws, desc, &f->color, h);
        cv->color = f->color;
    }
    struct SwsContext *sws = cv->sws;
    for (uint32_t i = 0; i < f->format.nb_planes; i++) {
        src[i] = f->data[i];
        src_stride[i] = (int)f->format.planes[i].stride;
    }
    uint8_t *dst[4] = {cv->buf, NULL, NULL, NULL};
    int dst_stride[4] = {stride, 0, 0, 0};
    if (sws_scale(sws, src, src_stride, 0, h, dst, dst_stride) != h)
        return FBUS_EFORMAT;
    *out = cv->buf;
    *out_stride = stride;
    return 0;
}

void viewer_convert_free(struct viewer_convert *cv)
{
    if (!cv)
        return;
    sws_freeContext(cv->sws);
    free(cv->buf);
    free(cv);
}
