/* SPDX-License-Identifier: MIT */
/*
 * Demux and decode the video stream of any libavformat input, with seamless
 * looping: timestamps keep increasing across restarts.
 */
#ifndef PROD_DECODE_H
#define PROD_DECODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "direct.h"

typedef struct prod_decoder prod_decoder;

/*
 * Open url and its best video stream's decoder (frame and slice threads).
 * loop: restart at the end. stop: optional flag that aborts blocking I/O.
 * direct: optional lender of frame buffers (direct.h), attached to the
 * decoder before it opens.
 * Returns 0 and *out, or a negative AVERROR with a one-line reason in err
 * ("x.mkv: no video stream").
 */
int prod_decoder_open(const char *url, int loop, const volatile sig_atomic_t *stop,
                      prod_direct *direct, prod_decoder **out, char *err, size_t errlen);

/*
 * The next decoded frame (drained at the end, restarted when looping), with
 * frame->pts set to a timestamp in prod_decoder_time_base() units that only
 * increases across loops (AV_NOPTS_VALUE when the input has none).
 * Returns 0, AVERROR_EOF at the end, or a negative AVERROR (err says why).
 */
int prod_decoder_next(prod_decoder *d, AVFrame *frame, char *err, size_t errlen);

/* The video stream's display matrix (9 values), or NULL if it has none. */
const int32_t *prod_decoder_display_matrix(const prod_decoder *d);

/* Time base of the timestamps prod_decoder_next() returns. */
AVRational prod_decoder_time_base(const prod_decoder *d);

/* The stream's nominal frame rate, as ffmpeg guesses it for its output
 * (r_frame_rate, or avg_frame_rate when that is the better guess); 0/1 when
 * the input does not say. */
AVRational prod_decoder_frame_rate(const prod_decoder *d);

/* The sample (pixel) aspect ratio of a decoded frame: the container's, else
 * the codec's; 0/1 when neither says. */
AVRational prod_decoder_sar(const prod_decoder *d, AVFrame *frame);

/* Packets the decoder refused or failed on (counted, then skipped). */
uint64_t prod_decoder_corrupt(const prod_decoder *d);

/* Whether reading stopped on an error rather than a clean end of file. */
int prod_decoder_truncated(const prod_decoder *d);

/* Codec name, e.g. "h264". */
const char *prod_decoder_codec(const prod_decoder *d);

void prod_decoder_close(prod_decoder *d);

#endif
