/* SPDX-License-Identifier: MIT */
/*
 * The one table between GStreamer's video formats and the bus's pixel-format
 * names, and the conversions of layout and colour description both elements
 * of the framebus plugin share.
 */
#ifndef GST_FRAMEBUS_FORMATS_H
#define GST_FRAMEBUS_FORMATS_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "framebus/framebus.h"

G_BEGIN_DECLS

/* The bus name of a GStreamer format, or NULL if the bus has none. */
const char *gst_framebus_pixfmt_from_video(GstVideoFormat format);

/* The GStreamer format of a bus name, or GST_VIDEO_FORMAT_UNKNOWN. Sets
 * *full_range for the "yuvj" names, which are I420/Y42B/Y444 in full range. */
GstVideoFormat gst_framebus_video_from_pixfmt(const char *pix_fmt, gboolean *full_range);

/* video/x-raw caps with every format of the table (any size and rate). */
GstCaps *gst_framebus_all_caps(void);

/*
 * Fill fmt for info. With bus_layout, the planes are laid out the bus's way
 * (fbus_format_init: rows aligned to 64 bytes); otherwise with info's own
 * offsets and strides (GStreamer's layout, so a buffer without GstVideoMeta
 * matches it byte for byte). Returns 0 or an fbus error code.
 */
int gst_framebus_format_from_info(const GstVideoInfo *info, gboolean bus_layout, fbus_format *fmt);

/* Whether fmt's planes sit at info's offsets with info's strides. */
gboolean gst_framebus_layout_matches(const fbus_format *fmt, const GstVideoInfo *info);

/* Frame metadata (rate, aspect, colour) from caps-derived info. */
void gst_framebus_meta_from_info(const GstVideoInfo *info, fbus_meta *meta);

/*
 * Caps for a frame read from the bus: format, size, framerate (0/1 when the
 * bus does not know it), pixel-aspect-ratio and colorimetry where the frame
 * carries them. NULL if the pixel format has no GStreamer equivalent. info
 * (may be NULL) gets the matching GstVideoInfo with the frame's own plane
 * offsets and strides.
 */
GstCaps *gst_framebus_caps_from_frame(const fbus_frame *frame, GstVideoInfo *info);

G_END_DECLS

#endif
