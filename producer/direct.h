/* SPDX-License-Identifier: MIT */
/*
 * Decoding straight into bus slots ("direct rendering", libavcodec's DR1):
 * the decoder's frame buffers are slots the bus lends (fbus_writer_lend),
 * so a decoded frame is published where the decoder wrote it and the
 * producer copies nothing. A buffer the bus cannot lend at that moment
 * comes from libav as before, and that frame is copied.
 */
#ifndef PROD_DIRECT_H
#define PROD_DIRECT_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include <framebus/framebus.h>

typedef struct prod_direct prod_direct;

/* A new, idle lender: NULL when out of memory. */
prod_direct *prod_direct_new(void);

/* Make avctx ask d for its frame buffers (call before avcodec_open2()). */
void prod_direct_attach(prod_direct *d, AVCodecContext *avctx);

/* Lend from w from now on; NULL stops lending (buffers already lent stay
 * valid until libav frees them). Returns once no decoder thread is lending
 * from the previous writer any more. */
void prod_direct_set_writer(prod_direct *d, fbus_writer *w);

/* The bytes a lent slot needs for the attached decoder's frames at their
 * current pixel format and coded size: libavcodec's buffers are taller and
 * wider than the picture (its alignment and padding). Sizes the bus. 0 if
 * the decoder's frames cannot be lent. */
uint64_t prod_direct_slot_size(prod_direct *d);

/* How many frames the attached decoder may hold at once beyond the one
 * being published: reference frames, reordering and frame threads. */
uint32_t prod_direct_frames_held(const prod_direct *d);

/*
 * Publish frame f where it lies if the decoder decoded it into a lent slot,
 * with the plane table `packed` (fbav_format()'s for the frame) at the
 * decoder's offsets and strides:
 * 0 (published), 1 (it is not in a lent slot, or cannot be published
 * there: copy it), or a negative error of fbus_writer_publish_lent().
 */
int prod_direct_publish(prod_direct *d, fbus_writer *w, const AVFrame *f, const fbus_format *packed,
                        const fbus_meta *meta);

/* Frames published in place, and buffers the bus could not lend. */
uint64_t prod_direct_published(const prod_direct *d);
uint64_t prod_direct_refused(const prod_direct *d);

/* Free d; call after the decoder is freed. NULL-safe. */
void prod_direct_free(prod_direct *d);

#endif
