/* SPDX-License-Identifier: MIT */
/*
 * Bus plane tables for libav pixel formats, and the one copy of a decoded
 * frame into a bus slot.
 */
#ifndef PROD_PLANES_H
#define PROD_PLANES_H

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include <framebus/framebus.h>

/*
 * Fill fmt for a frame of pix_fmt at width x height, every row 64-byte
 * aligned. Uses fbus_format_init() for the formats the bus library knows and
 * libavutil's plane geometry for every other one. Returns 0 or FBUS_EFORMAT
 * (hardware, bitstream or otherwise unpublishable formats), FBUS_ETOOBIG.
 */
int prod_format_from_av(fbus_format *fmt, enum AVPixelFormat pix_fmt, int width, int height);

/* Copy every plane of frame into slot, honouring both sides' strides. The
 * slot's format must have been made by prod_format_from_av() for the frame. */
void prod_copy_frame(const fbus_slot *slot, const AVFrame *frame);

#endif
