/* SPDX-License-Identifier: MIT */
/*
 * Test clips made with libavcodec/libavformat: encoded video in any
 * container, raw video with damaged packets, audio-only files and streams
 * no decoder understands.
 */
#ifndef CLIPGEN_H
#define CLIPGEN_H

#include <libavutil/pixfmt.h>

/* A run of frames at one size; a clip of several changes size mid-way. */
struct clipgen_seg {
    int width;
    int height;
    int frames;
};

/*
 * Encode segs with encoder (e.g. "ffv1", "mpeg4", "libx264") in pix_fmt at
 * fps into path; the container comes from the file name. Every frame is
 * different. Returns 0 or a negative AVERROR.
 */
int clipgen_encode(const char *path, const char *encoder, enum AVPixelFormat pix_fmt, int fps,
                   const struct clipgen_seg *segs, int nsegs);

/* Whether libavcodec has an encoder of that name. */
int clipgen_have_encoder(const char *encoder);

/*
 * Raw yuv420p video in NUT: `frames` frames of width x height at 25 fps.
 * Packet number `bad` (0-based; -1 none) is cut short, which the rawvideo
 * decoder refuses; bad == -2 cuts every packet short.
 */
int clipgen_raw(const char *path, int width, int height, int frames, int bad);

/* One second of silent 8 kHz PCM in a WAV file: no video stream. */
int clipgen_audio_only(const char *path);

/* A NUT file whose video stream has a codec tag no decoder knows. */
int clipgen_unknown_codec(const char *path);

/* Cut a file to `percent` of its size. */
int clipgen_truncate(const char *path, int percent);

#endif
