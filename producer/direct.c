/* SPDX-License-Identifier: MIT */
/*
 * Decoding straight into bus slots (direct.h). libavcodec asks for each
 * frame buffer through get_buffer2, from its frame threads one at a time,
 * and frees buffers from any thread. Each buffer is a lent slot wrapped in
 * an AVBufferRef whose free gives the slot back; the lends alive are kept
 * in a list so that a frame coming out of the decoder can be told from one
 * in libav's own memory.
 */
#include "direct.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

/* Bytes after each plane: libav's own pools add 16 + STRIDE_ALIGN - 1,
 * for SIMD code that reads a little past a row's end. */
#define PLANE_PAD 128
/* Plane offsets in a lent slot: libav's STRIDE_ALIGN is at most 64
 * (AVX-512). */
#define LEND_ALIGN 64

struct lend {
    fbus_slot slot;
    fbus_writer *w;
    uint8_t *base; /* the slot's first byte: the AVBufferRef's data */
    prod_direct *d;
    struct lend *prev, *next;
};

struct prod_direct {
    pthread_mutex_t mu; /* guards w and the list; held while lending */
    fbus_writer *w;
    struct lend *live; /* lent and not freed by libav yet */
    AVCodecContext *avctx;
    _Atomic uint64_t published;
    _Atomic uint64_t refused;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/*
 * The lent-slot format of a pix_fmt frame of width x height for avctx's
 * codec: each plane as tall as libavcodec's aligned height
 * (avcodec_align_dimensions2: H.264 wants 1080 lines as 1088 + 2), and the
 * linesizes exactly those of libav's own buffers (the width widened until
 * every linesize is a multiple of the codec's alignment, as
 * avcodec_default_get_buffer2 does): some decoders (mpegvideo) refuse a
 * buffer whose linesize differs from the last one's, and a producer mixes
 * lent buffers with libav's.
 */
static int lend_format(AVCodecContext *avctx, enum AVPixelFormat pix_fmt, int width, int height,
                       fbus_format *fmt)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(pix_fmt);
    int w = width, h = height, align[AV_NUM_DATA_POINTERS], ls[4], rb[4], unaligned;
    ptrdiff_t lsp[4];
    size_t sizes[4];
    uint64_t off = 0;

    if (!desc ||
        (desc->flags &
         (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) ||
        width <= 0 || height <= 0)
        return FBUS_EFORMAT;
    avcodec_align_dimensions2(avctx, &w, &h, align);
    do {
        if (w <= 0 || w > 4 * 32768 || av_image_fill_linesizes(ls, pix_fmt, w) < 0)
            return FBUS_EFORMAT;
        w += w & ~(w - 1);
        unaligned = 0;
        for (int i = 0; i < 4; i++)
            unaligned |= align[i] > 0 ? ls[i] % align[i] : 0;
    } while (unaligned);
    if (av_image_fill_linesizes(rb, pix_fmt, width) < 0)
        return FBUS_EFORMAT;
    for (int i = 0; i < 4; i++)
        lsp[i] = ls[i];
    if (av_image_fill_plane_sizes(sizes, pix_fmt, h, lsp) < 0)
        return FBUS_EFORMAT;
    memset(fmt, 0, sizeof(*fmt));
    fmt->width = (uint32_t)width;
    fmt->height = (uint32_t)height;
    snprintf(fmt->pix_fmt, sizeof(fmt->pix_fmt), "%s", desc->name);
    for (int i = 0; i < 4 && sizes[i] > 0; i++) {
        fbus_plane *p = &fmt->planes[i];

        off = align_up(off, LEND_ALIGN);
        p->offset = off;
        p->stride = (uint32_t)ls[i];
        p->row_bytes = (uint32_t)rb[i];
        p->rows = (uint32_t)(sizes[i] / (size_t)ls[i]);
        off += sizes[i] + PLANE_PAD;
        fmt->nb_planes++;
    }
    fmt->size = off;
    return fbus_format_check(fmt, 0);
}

/* libav's free of a buffer: the slot goes back to the bus. */
static void give_back(void *opaque, uint8_t *data)
{
    struct lend *l = opaque;
    prod_direct *d = l->d;

    (void)data;
    pthread_mutex_lock(&d->mu);
    if (l->prev)
        l->prev->next = l->next;
    else
        d->live = l->next;
    if (l->next)
        l->next->prev = l->prev;
    pthread_mutex_unlock(&d->mu);
    fbus_writer_give_back(l->w, &l->slot);
    free(l);
}

/* Lend a slot for frame, or 0 without one (the caller uses libav's own
 * buffers). Under d->mu. */
static int lend(prod_direct *d, AVCodecContext *avctx, AVFrame *frame)
{
    fbus_format fmt;
    struct lend *l;
    AVBufferRef *buf;

    if (!d->w || frame->format != avctx->pix_fmt ||
        lend_format(avctx, frame->format, frame->width, frame->height, &fmt) < 0)
        return 0;
    l = calloc(1, sizeof(*l));
    if (!l)
        return 0;
    if (fbus_writer_lend(d->w, &fmt, &l->slot) < 0) {
        atomic_fetch_add_explicit(&d->refused, 1, memory_order_relaxed);
        free(l);
        return 0;
    }
    l->w = d->w;
    l->d = d;
    l->base = l->slot.data[0] - fmt.planes[0].offset;
    buf = av_buffer_create(l->base, fmt.size, give_back, l, 0);
    if (!buf) {
        fbus_writer_give_back(l->w, &l->slot);
        free(l);
        return 0;
    }
    l->next = d->live;
    if (d->live)
        d->live->prev = l;
    d->live = l;
    frame->buf[0] = buf;
    for (uint32_t i = 0; i < fmt.nb_planes; i++) {
        frame->data[i] = l->slot.data[i];
        frame->linesize[i] = (int)fmt.planes[i].stride;
    }
    frame->extended_data = frame->data;
    return 1;
}

static int get_buffer(AVCodecContext *avctx, AVFrame *frame, int flags)
{
    prod_direct *d = avctx->opaque;
    int lent;

    pthread_mutex_lock(&d->mu);
    lent = lend(d, avctx, frame);
    pthread_mutex_unlock(&d->mu);
    return lent ? 0 : avcodec_default_get_buffer2(avctx, frame, flags);
}

prod_direct *prod_direct_new(void)
{
    prod_direct *d = calloc(1, sizeof(*d));

    if (d)
        pthread_mutex_init(&d->mu, NULL);
    return d;
}

/*
 * Whether a decoder leaves a frame alone once it has output it, so that
 * readers may read it in place. Not every one does: some (RoQ, and others
 * that refill one persistent frame with ff_reget_buffer) decode the next
 * frame into the same buffer when the caller let go of it, which would
 * rewrite a published frame under its readers (found by a stress test:
 * RoQ's frame 2 became frame 4). Frame-threaded decoders cannot: another
 * thread may be reading the frame as a reference. MPEG-1/2 (slice threads
 * only) allocate every picture afresh.
 */
static int output_read_only(const AVCodec *codec)
{
    return (codec->capabilities & AV_CODEC_CAP_FRAME_THREADS) ||
           codec->id == AV_CODEC_ID_MPEG1VIDEO || codec->id == AV_CODEC_ID_MPEG2VIDEO;
}

void prod_direct_attach(prod_direct *d, AVCodecContext *avctx)
{
    d->avctx = avctx;
    /* Decoders without DR1 allocate their own way, and some write into
     * frames they output: copy their frames. */
    if (!avctx->codec || !(avctx->codec->capabilities & AV_CODEC_CAP_DR1) ||
        !output_read_only(avctx->codec))
        return;
    avctx->opaque = d;
    avctx->get_buffer2 = get_buffer;
#if FF_API_THREAD_SAFE_CALLBACKS
    /* Deprecated, and what libavcodec 59 still asks of a custom
     * get_buffer2 with frame threads (it warns otherwise): get_buffer is
     * thread-safe (d->mu, and the writer's own lock). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    avctx->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
}

void prod_direct_set_writer(prod_direct *d, fbus_writer *w)
{
    pthread_mutex_lock(&d->mu);
    d->w = w;
    pthread_mutex_unlock(&d->mu);
}

uint64_t prod_direct_slot_size(prod_direct *d)
{
    AVCodecContext *c = d->avctx;
    fbus_format fmt;

    if (!c || c->get_buffer2 != get_buffer)
        return 0;
    /* libavcodec asks for buffers of the coded size where that is bigger
     * (ff_get_buffer). */
    if (lend_format(c, c->pix_fmt, c->width > c->coded_width ? c->width : c->coded_width,
                    c->height > c->coded_height ? c->height : c->coded_height, &fmt) < 0)
        return 0;
    return fmt.size;
}

uint32_t prod_direct_frames_held(const prod_direct *d)
{
    const AVCodecContext *c = d->avctx;
    uint32_t refs, reorder, threads;

    if (!c || c->get_buffer2 != get_buffer)
        return 0;
    /* References (H.264: up to 16; codec parameters often say 1), frames
     * waiting to be reordered, and per frame thread the frame in progress
     * and the one it hands over. A rule of thumb: measured on H.264 with 3
     * frame threads, a 1080p clip needed 10 slots lent at once (13 in
     * all). Too few only means some frames are copied. */
    refs = (uint32_t)(c->refs > 0 ? (c->refs < 16 ? c->refs : 16) : 1);
    reorder = (uint32_t)(c->has_b_frames > 0 ? (c->has_b_frames < 16 ? c->has_b_frames : 16) : 0);
    threads = (c->active_thread_type & FF_THREAD_FRAME) && c->thread_count > 1
                  ? (uint32_t)(c->thread_count < 16 ? c->thread_count : 16)
                  : 0;
    return refs + reorder + 2 * threads + 2;
}

int prod_direct_publish(prod_direct *d, fbus_writer *w, const AVFrame *f, const fbus_format *packed,
                        const fbus_meta *meta)
{
    const struct lend *l;
    fbus_writer *lw = NULL;
    fbus_slot s;
    fbus_format fmt;
    uint8_t *base = NULL;
    int ret;

    if (!f->buf[0] || f->buf[1])
        return 1;
    pthread_mutex_lock(&d->mu);
    for (l = d->live; l && l->base != f->buf[0]->data; l = l->next)
        ;
    if (l) {
        s = l->slot;
        base = l->base;
        lw = l->w;
    }
    pthread_mutex_unlock(&d->mu);
    if (!l || lw != w)
        return 1;
    /* What a reader gets: the table the copy would publish, at the
     * offsets and strides where the decoder left the picture (cropping
     * moves the plane pointers). */
    fmt = *packed;
    fmt.size = 0;
    for (uint32_t i = 0; i < fmt.nb_planes; i++) {
        fbus_plane *p = &fmt.planes[i];

        if (i >= AV_NUM_DATA_POINTERS || !f->data[i] || f->data[i] < base || f->linesize[i] <= 0 ||
            (uint32_t)f->linesize[i] < p->row_bytes)
            return 1;
        p->offset = (uint64_t)(f->data[i] - base);
        p->stride = (uint32_t)f->linesize[i];
        if (p->offset + (uint64_t)p->stride * p->rows > fmt.size)
            fmt.size = p->offset + (uint64_t)p->stride * p->rows;
    }
    s.format = fmt;
    ret = fbus_writer_publish_lent(w, &s, meta);
    if (ret == -ESTALE || ret == -EALREADY || ret == FBUS_EFORMAT)
        return 1;
    if (ret == 0)
        atomic_fetch_add_explicit(&d->published, 1, memory_order_relaxed);
    return ret;
}

uint64_t prod_direct_published(const prod_direct *d)
{
    return d ? atomic_load_explicit(&d->published, memory_order_relaxed) : 0;
}

uint64_t prod_direct_refused(const prod_direct *d)
{
    return d ? atomic_load_explicit(&d->refused, memory_order_relaxed) : 0;
}

void prod_direct_free(prod_direct *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}
