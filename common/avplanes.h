/* SPDX-License-Identifier: MIT */
/*
 * The libav adapter: the bus plane table of any libavutil pixel format, by
 * value or by name, and the one copy of a decoded frame into a bus slot.
 * Used by the producer, `framebus put`/`cat` and bench_producer, so they
 * accept the same formats with the same tables.
 */
#ifndef FBUS_COMMON_AVPLANES_H
#define FBUS_COMMON_AVPLANES_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include <framebus/framebus.h>

/* Every table made here aligns each plane and each row to this many bytes. */
#define FBAV_ALIGN 64u

/*
 * Fill fmt for a frame of pix_fmt at width x height. The bus library's own
 * table when it knows the format and describes the same bytes as libavutil
 * (readers without libav recognise it); else the planes
 * av_image_fill_linesizes() and av_image_fill_plane_sizes() give, a paletted
 * format's palette being plane 1 (1024 bytes, as libav keeps it and as
 * ffmpeg's rawvideo writes it after the picture).
 * Returns 0, FBUS_EFORMAT (unknown or hardware format, or one libavutil
 * cannot lay out as planes of bytes), FBUS_ETOOBIG (a side over 32768 or a
 * frame the bus cannot hold) or -EINVAL (a side of 0 or less).
 */
int fbav_format(fbus_format *fmt, enum AVPixelFormat pix_fmt, int width, int height);

/*
 * The same by name ("yuv420p10" or "yuv420p10le", what av_get_pix_fmt()
 * takes): 0, or the code above with one sentence in err ("unknown pixel
 * format \"foo\"", "pixel format \"vaapi\" is not supported (hardware
 * frames)"...).
 */
int fbav_format_by_name(fbus_format *fmt, const char *pix_fmt, uint32_t width, uint32_t height,
                        char *err, size_t errsz);

/* libavutil's own name for a name or alias ("yuv420p10" -> "yuv420p10le"),
 * or NULL if libavutil does not know it. */
const char *fbav_pix_fmt_canonical(const char *name);

/* Copy every plane of frame into slot, honouring both sides' strides. The
 * slot's format must have been made by fbav_format() for the frame. */
void fbav_copy_frame(const fbus_slot *slot, const AVFrame *frame);

#endif /* FBUS_COMMON_AVPLANES_H */
