/* SPDX-License-Identifier: MIT */
/*
 * Conversion with libswscale straight into a bus slot (--pix-fmt, --size,
 * and the test pattern in formats other than yuv420p).
 */
#ifndef PROD_CONVERT_H
#define PROD_CONVERT_H

#include <libavutil/frame.h>

#include <framebus/framebus.h>

struct SwsContext;

/* Flags every conversion uses; the tests convert with the same ones. */
#define PROD_SWS_FLAGS SWS_BICUBIC

/*
 * Scale and convert src into the slot, whose format is dst_fmt at the slot's
 * width x height. *ctx is a cached context (NULL at first, freed with
 * sws_freeContext()). Returns 0 or a negative AVERROR.
 */
int prod_convert_frame(struct SwsContext **ctx, const AVFrame *src, const fbus_slot *slot,
                       enum AVPixelFormat dst_fmt);

#endif
