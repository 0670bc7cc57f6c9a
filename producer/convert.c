/* SPDX-License-Identifier: MIT */
/*
 * Conversion with libswscale, writing into the slot's planes directly so a
 * converted frame still costs one pass over the pixels.
 */
#include "convert.h"

#include <errno.h>

#include <libswscale/swscale.h>

int prod_convert_frame(struct SwsContext **ctx, const AVFrame *src, const fbus_slot *slot,
                       enum AVPixelFormat dst_fmt)
{
    const fbus_format *fmt = &slot->format;
    uint8_t *dst[4] = {NULL};
    int dst_linesize[4] = {0};
    int ret;

    *ctx = sws_getCachedContext(*ctx, src->width, src->height, src->format, (int)fmt->width,
                                (int)fmt->height, dst_fmt, PROD_SWS_FLAGS, NULL, NULL, NULL);
    if (!*ctx)
        return AVERROR(EINVAL);
    for (uint32_t i = 0; i < fmt->nb_planes && i < 4; i++) {
        dst[i] = slot->data[i];
        dst_linesize[i] = (int)fmt->planes[i].stride;
    }
    ret = sws_scale(*ctx, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst,
                    dst_linesize);
    return ret < 0 ? ret : 0;
}
