/* SPDX-License-Identifier: MIT */
/*
 * The producer's pipeline (publish.h): one frame at a time from the decoder
 * or the test pattern, through the libav adapter or libswscale into a slot,
 * paced, then published; the end of the stream waits for lossless readers.
 */
#include "publish.h"
#include "rotate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "avplanes.h"
#include "convert.h"
#include "decode.h"
#include "leftovers.h"
#include "pattern.h"
#include "status.h"

#define NS 1000000000LL
/* Blocking bus calls wake up this often to notice a signal. */
#define POLL_NS (100 * 1000000LL)
/* How long the end of the stream waits for lossless readers to catch up. */
#define DRAIN_NS (5 * NS)

/* Everything one run holds; freed by producer_free(). */
struct producer {
    const struct prod_options *o;
    volatile sig_atomic_t *stop; /* set by the caller's signal handler */
    prod_decoder *dec;
    prod_direct *direct; /* lends slots to the decoder; NULL with --copy */
    int lending;         /* direct is lending from w */
    AVFrame *frame;      /* the decoded frame being published */
    AVFrame *scratch;    /* the test pattern before conversion */
    AVFrame *turned;     /* a decoded frame turned upright */
    int turn;            /* PROD_TURN_* bits that stand the source upright */
    struct SwsContext *sws;
    fbus_writer *w;
    prod_pace pace;
    prod_status status;
    fbus_format fmt;           /* of the frame being published */
    int fmt_w, fmt_h, fmt_src; /* what fmt was made for */
    AVRational tb;
    AVRational rate; /* nominal frame rate published in the metadata */
    int64_t first_pts;
    uint64_t published;
    double media_t;
    char err[512];
};

static int is_pattern(const struct producer *p)
{
    return p->dec == NULL;
}

/* The pixel format published for a source frame of format src. */
static enum AVPixelFormat out_pix_fmt(const struct producer *p, enum AVPixelFormat src)
{
    return p->o->pix_fmt != AV_PIX_FMT_NONE ? p->o->pix_fmt : src;
}

static int converting(const struct producer *p)
{
    const AVFrame *f = p->frame;

    if (is_pattern(p))
        return out_pix_fmt(p, AV_PIX_FMT_YUV420P) != AV_PIX_FMT_YUV420P;
    return (p->o->pix_fmt != AV_PIX_FMT_NONE && p->o->pix_fmt != f->format) ||
           (p->o->width && (p->o->width != f->width || p->o->height != f->height));
}

/* Make p->fmt describe the frame about to be published. */
static int update_format(struct producer *p)
{
    int w, h, src, ret;

    if (is_pattern(p)) {
        w = p->o->width ? p->o->width : PATTERN_W;
        h = p->o->height ? p->o->height : PATTERN_H;
        src = AV_PIX_FMT_YUV420P;
    } else {
        w = p->o->width ? p->o->width : p->frame->width;
        h = p->o->height ? p->o->height : p->frame->height;
        src = p->frame->format;
    }
    if (w == p->fmt_w && h == p->fmt_h && src == p->fmt_src)
        return 0;
    ret = fbav_format(&p->fmt, out_pix_fmt(p, src), w, h);
    if (ret < 0) {
        const char *name = av_get_pix_fmt_name(out_pix_fmt(p, src));

        snprintf(p->err, sizeof(p->err), "cannot publish %dx%d %s frames: %s", w, h,
                 name ? name : "(unknown format)", fbus_strerror(ret));
        return ret;
    }
    p->fmt_w = w;
    p->fmt_h = h;
    p->fmt_src = src;
    return 0;
}

/* Fetch the next source frame: 0, AVERROR_EOF, or an error in p->err. */
static int next_frame(struct producer *p)
{
    int ret;

    if (is_pattern(p))
        return 0;
    av_frame_unref(p->frame);
    ret = prod_decoder_next(p->dec, p->frame, p->err, sizeof(p->err));
    if (ret == AVERROR_EOF || ret == AVERROR_EXIT)
        return AVERROR_EOF;
    if (ret < 0 || !p->turn || !prod_turnable(p->frame->format, p->turn))
        return ret;
    /* Upright, as ffmpeg outputs it: everything after sees the turned frame. */
    ret = prod_turn(p->turned, p->frame, p->turn);
    if (ret < 0) {
        snprintf(p->err, sizeof(p->err), "cannot turn the frame upright: %s", av_err2str(ret));
        return ret;
    }
    av_frame_unref(p->frame);
    av_frame_move_ref(p->frame, p->turned);
    return 0;
}

static int fill_slot(struct producer *p, const fbus_slot *slot)
{
    int ret;

    if (is_pattern(p)) {
        uint8_t *data[3] = {slot->data[0], slot->data[1], slot->data[2]};
        int linesize[3] = {(int)slot->format.planes[0].stride, (int)slot->format.planes[1].stride,
                           (int)slot->format.planes[2].stride};

        if (!converting(p)) {
            prod_pattern_draw(data, linesize, p->fmt_w, p->fmt_h, p->published);
            return 0;
        }
        prod_pattern_draw(p->scratch->data, p->scratch->linesize, p->fmt_w, p->fmt_h, p->published);
        ret = prod_convert_frame(&p->sws, p->scratch, slot, p->o->pix_fmt);
    } else if (converting(p)) {
        ret = prod_convert_frame(&p->sws, p->frame, slot, out_pix_fmt(p, p->frame->format));
    } else {
        fbav_copy_frame(slot, p->frame);
        return 0;
    }
    if (ret < 0)
        snprintf(p->err, sizeof(p->err), "cannot convert to %s: %s", slot->format.pix_fmt,
                 av_err2str(ret));
    return ret;
}

/* The colour description of the published frame in H.273 code points
 * (libavutil's enums use the same numbers). libswscale keeps a YUV source's
 * matrix, makes RGB from YUV, and makes YUV from RGB with BT.601 limited. */
static void frame_color(const struct producer *p, fbus_color *c)
{
    const AVFrame *f = p->frame;
    const AVPixFmtDescriptor *in = av_pix_fmt_desc_get(f->format);
    const AVPixFmtDescriptor *out = av_pix_fmt_desc_get(out_pix_fmt(p, f->format));
    int in_rgb = in && (in->flags & AV_PIX_FMT_FLAG_RGB);
    int out_rgb = out && (out->flags & AV_PIX_FMT_FLAG_RGB);

    c->primaries = f->color_primaries == AVCOL_PRI_UNSPECIFIED ? 0 : (uint8_t)f->color_primaries;
    c->transfer = f->color_trc == AVCOL_TRC_UNSPECIFIED ? 0 : (uint8_t)f->color_trc;
    if (out_rgb) {
        c->matrix = 0;
        c->range = FBUS_RANGE_FULL;
    } else if (in_rgb) {
        c->matrix = AVCOL_SPC_SMPTE170M;
        c->range = FBUS_RANGE_LIMITED;
    } else {
        c->matrix = f->colorspace == AVCOL_SPC_UNSPECIFIED ? 0 : (uint8_t)f->colorspace;
        c->range = f->color_range == AVCOL_RANGE_JPEG   ? FBUS_RANGE_FULL
                   : f->color_range == AVCOL_RANGE_MPEG ? FBUS_RANGE_LIMITED
                                                        : FBUS_RANGE_UNKNOWN;
    }
}

/* The pattern's colour description: its own (BT.709 for HD, BT.601 for
 * SD, limited) unless libswscale made RGB of it. */
static void pattern_color(const struct producer *p, fbus_color *c)
{
    const AVPixFmtDescriptor *out = av_pix_fmt_desc_get(out_pix_fmt(p, AV_PIX_FMT_YUV420P));

    prod_pattern_color(p->fmt_h, c);
    if (out && (out->flags & AV_PIX_FMT_FLAG_RGB)) {
        c->matrix = 0;
        c->range = FBUS_RANGE_FULL;
    }
}

/* The decoded frame's pixel aspect, as published: scaling to --size changes
 * it the way ffmpeg's scale filter does, so the picture keeps its shape. */
static AVRational frame_sar(const struct producer *p)
{
    AVRational sar = prod_decoder_sar(p->dec, p->frame);

    if (sar.num > 0 && (p->fmt_w != p->frame->width || p->fmt_h != p->frame->height))
        av_reduce(&sar.num, &sar.den, (int64_t)sar.num * p->fmt_h * p->frame->width,
                  (int64_t)sar.den * p->fmt_w * p->frame->height, INT32_MAX);
    return sar;
}

static void frame_meta(struct producer *p, fbus_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (is_pattern(p)) {
        meta->pts = (int64_t)p->published;
        meta->flags = FBUS_FRAME_KEY;
        meta->sar_num = meta->sar_den = 1;
        pattern_color(p, &meta->color);
        p->media_t = (double)p->published * av_q2d(p->tb);
    } else {
        AVRational sar = frame_sar(p);

        if (sar.num > 0) {
            meta->sar_num = sar.num;
            meta->sar_den = sar.den;
        }
        frame_color(p, &meta->color);
        meta->pts = p->frame->pts == AV_NOPTS_VALUE ? INT64_MIN : p->frame->pts;
        meta->flags = p->frame->key_frame ? FBUS_FRAME_KEY : 0;
        if (p->frame->pts != AV_NOPTS_VALUE) {
            if (p->first_pts == AV_NOPTS_VALUE)
                p->first_pts = p->frame->pts;
            p->media_t = (double)(p->frame->pts - p->first_pts) * av_q2d(p->tb);
        } else if (p->published > 0) {
            p->media_t += 1.0 / 25; /* no timestamps at all: assume 25 fps */
        }
    }
    meta->tb_num = p->tb.num;
    meta->tb_den = p->tb.den;
    if (p->rate.num > 0) {
        meta->rate_num = p->rate.num;
        meta->rate_den = p->rate.den;
    }
}

static void bus_error(struct producer *p, int err)
{
    snprintf(p->err, sizeof(p->err), "bus \"%s\": %s", p->o->bus, fbus_strerror(err));
}

/* Publish the frame where the decoder decoded it, if that was a lent
 * slot: 0, 1 to copy it instead, or an error. */
static int publish_in_place(struct producer *p)
{
    fbus_meta meta;
    int ret;

    if (!p->lending || converting(p))
        return 1;
    frame_meta(p, &meta);
    prod_pace_wait(&p->pace, p->published, p->media_t, p->stop);
    if (*p->stop)
        return 1;
    ret = prod_direct_publish(p->direct, p->w, p->frame, &p->fmt, &meta);
    if (ret < 0)
        bus_error(p, ret);
    return ret;
}

/* Publish one frame. Returns 0, 1 when stopped by a signal, or an error. */
static int publish_one(struct producer *p)
{
    fbus_format afmt;
    fbus_slot slot;
    fbus_meta meta;
    int ret;

    ret = update_format(p);
    if (ret < 0)
        return ret;
    ret = publish_in_place(p);
    if (ret <= 0 || *p->stop) {
        if (ret == 0) {
            p->published++;
            prod_status_update(&p->status, p->w, p->published, p->media_t,
                               prod_decoder_corrupt(p->dec), 0);
        }
        return ret < 0 ? ret : *p->stop ? 1 : 0;
    }
    /* A frame that needs bigger slots moves the bus to a region sized by
     * what acquire is asked for: while lending, the decoder's padded
     * buffers' size, so that its frames are lent there too (sized for the
     * copy, every later lend was refused). */
    afmt = p->fmt;
    if (p->lending)
        afmt.size = FFMAX(afmt.size, prod_direct_slot_size(p->direct));
    do {
        ret = fbus_writer_acquire(p->w, &afmt, POLL_NS, &slot);
        if (ret == 0 || ret != -ETIMEDOUT)
            break;
        prod_status_update(&p->status, p->w, p->published, p->media_t,
                           p->dec ? prod_decoder_corrupt(p->dec) : 0, 0);
    } while (!*p->stop);
    if (ret == -ETIMEDOUT)
        return 1;
    if (ret < 0) {
        bus_error(p, ret);
        return ret;
    }
    slot.format.size = p->fmt.size;
    ret = fill_slot(p, &slot);
    if (ret < 0) {
        fbus_writer_cancel(p->w, &slot);
        return ret;
    }
    frame_meta(p, &meta);
    prod_pace_wait(&p->pace, p->published, p->media_t, p->stop);
    if (*p->stop) {
        fbus_writer_cancel(p->w, &slot);
        return 1;
    }
    ret = fbus_writer_publish(p->w, &slot, &meta);
    if (ret < 0) {
        bus_error(p, ret);
        return ret;
    }
    p->published++;
    prod_status_update(&p->status, p->w, p->published, p->media_t,
                       p->dec ? prod_decoder_corrupt(p->dec) : 0, 0);
    return 0;
}

/* Before ending the stream, let lossless readers take the frames still in
 * the slots (bounded, and cut short by a signal). */
static void drain_readers(struct producer *p)
{
    int64_t deadline = fbus_now_ns() + DRAIN_NS;
    fbus_stats *st = malloc(sizeof(*st));

    while (st && !*p->stop && fbus_now_ns() < deadline) {
        int behind = 0;

        if (fbus_stat(p->o->bus, p->o->transport, st) < 0)
            break;
        if (st->session != fbus_writer_session(p->w))
            break;
        for (uint32_t i = 0; i < st->nb_readers && i < FBUS_MAX_READERS; i++) {
            const fbus_reader_info *r = &st->readers[i];
            if (r->alive && r->policy == FBUS_POLICY_LOSSLESS && r->lag > 0)
                behind = 1;
        }
        if (!behind)
            break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(st);
}

static int wait_for_readers(struct producer *p)
{
    int ret;

    if (p->o->wait_readers <= 0)
        return 0;
    if (!p->o->quiet) {
        fprintf(stderr, PROG ": bus \"%s\": waiting for %d reader%s...\r", p->o->bus,
                p->o->wait_readers, p->o->wait_readers == 1 ? "" : "s");
        p->status.line_open = 1;
    }
    do {
        ret = fbus_writer_wait_readers(p->w, p->o->wait_readers, POLL_NS);
    } while (ret == -ETIMEDOUT && !*p->stop);
    return ret == 0 ? 0 : 1;
}

static int open_source(struct producer *p)
{
    const struct prod_options *o = p->o;
    int ret;

    p->first_pts = AV_NOPTS_VALUE;
    p->frame = av_frame_alloc();
    if (!p->frame) {
        snprintf(p->err, sizeof(p->err), "out of memory");
        return AVERROR(ENOMEM);
    }
    if (!o->input) {
        /* The pattern's clock: its own rate, or the one asked for. */
        p->tb = o->pace == PROD_PACE_RATE ? av_inv_q(o->rate) : (AVRational){1, PATTERN_FPS};
        p->rate = av_inv_q(p->tb);
        ret = update_format(p);
        if (ret < 0)
            return ret;
        if (converting(p)) {
            p->scratch = av_frame_alloc();
            if (!p->scratch)
                return AVERROR(ENOMEM);
            p->scratch->format = AV_PIX_FMT_YUV420P;
            p->scratch->width = p->fmt_w;
            p->scratch->height = p->fmt_h;
            ret = av_frame_get_buffer(p->scratch, 64);
            if (ret < 0) {
                snprintf(p->err, sizeof(p->err), "out of memory");
                return ret;
            }
        }
        return 0;
    }
    if (!o->copy) {
        p->direct = prod_direct_new();
        if (!p->direct) {
            snprintf(p->err, sizeof(p->err), "out of memory");
            return AVERROR(ENOMEM);
        }
    }
    /* "-" is standard input, as for ffmpeg. */
    ret = prod_decoder_open(strcmp(o->input, "-") == 0 ? "pipe:0" : o->input, o->loop, p->stop,
                            p->direct, &p->dec, p->err, sizeof(p->err));
    if (ret < 0)
        return ret;
    p->tb = prod_decoder_time_base(p->dec);
    if (!o->no_autorotate) {
        p->turn = prod_turn_of(prod_decoder_display_matrix(p->dec));
        p->turned = p->turn ? av_frame_alloc() : NULL;
        if (p->turn && !p->turned)
            return AVERROR(ENOMEM);
    }
    /* --fps N plays the frames at N per second: that is their rate now. */
    p->rate = o->pace == PROD_PACE_RATE ? o->rate : prod_decoder_frame_rate(p->dec);
    /* The first frame sizes the bus. */
    ret = next_frame(p);
    if (ret == AVERROR_EOF && !*p->stop) {
        snprintf(p->err, sizeof(p->err), "%s: could not decode any video frame", o->input);
        return AVERROR_INVALIDDATA;
    }
    if (ret < 0)
        return ret;
    return update_format(p);
}

static int open_bus(struct producer *p)
{
    fbus_writer_opts wo;
    uint64_t lent_size;
    uint32_t held = 0;
    int ret;

    memset(&wo, 0, sizeof(wo));
    wo.transport = p->o->transport;
    wo.slots = p->o->slots;
    wo.format = &p->fmt;
    wo.mode = p->o->mode;
    /* Decoding straight into the slots: each must hold the decoder's
     * bigger buffer, and the bus as many more slots as the decoder keeps
     * frames (else most buffers are copied after all). Not for frames
     * that are converted or turned anyway. */
    lent_size = p->direct && !p->turn && !converting(p) ? prod_direct_slot_size(p->direct) : 0;
    if (lent_size) {
        held = prod_direct_frames_held(p->direct);
        wo.slot_size = lent_size > p->fmt.size ? lent_size : p->fmt.size;
        if (!wo.slots)
            wo.slots = FBUS_DEFAULT_SLOTS + held > FBUS_MAX_SLOTS ? FBUS_MAX_SLOTS
                                                                  : FBUS_DEFAULT_SLOTS + held;
    }
    ret = fbus_writer_open(p->o->bus, &wo, &p->w);
    if (ret == -ENOSPC && held && !p->o->slots) {
        /* No room for the extra slots (a container's small /dev/shm):
         * the default count, and most frames copied. */
        wo.slots = FBUS_DEFAULT_SLOTS;
        ret = fbus_writer_open(p->o->bus, &wo, &p->w);
    }
    if (ret == 0 && lent_size) {
        prod_direct_set_writer(p->direct, p->w);
        p->lending = 1;
    }
    if (ret == -EEXIST) {
        tool_leftover l;

        /* Say what holds the name, and how to free it. */
        if (tool_find_broken_bus(p->o->bus, p->o->transport, &l))
            snprintf(p->err, sizeof(p->err),
                     "bus \"%s\": " TOOL_SHM_DIR "/%s is not a bus (%s); `framebus rm %s` "
                     "removes it",
                     p->o->bus, l.file, l.why, p->o->bus);
        else
            snprintf(p->err, sizeof(p->err),
                     "bus \"%s\": the name is held by another user's bus, or one still being "
                     "created",
                     p->o->bus);
    } else if (ret == -ENOSPC) {
        uint64_t size = wo.slot_size ? wo.slot_size : p->fmt.size;
        uint32_t n = wo.slots ? wo.slots : FBUS_DEFAULT_SLOTS;

        snprintf(p->err, sizeof(p->err),
                 "bus \"%s\": no room in shared memory for %u slots of %.1f MB (%s); "
                 "try fewer --slots",
                 p->o->bus, n, (double)size / 1e6, fbus_strerror(ret));
    } else if (ret < 0) {
        bus_error(p, ret);
    }
    return ret;
}

static void producer_free(struct producer *p)
{
    /* The decoder and its frames first: they give the lent slots back, so
     * the writer's close frees everything at once. */
    if (p->direct)
        prod_direct_set_writer(p->direct, NULL);
    prod_decoder_close(p->dec);
    av_frame_free(&p->scratch);
    av_frame_free(&p->turned);
    av_frame_free(&p->frame);
    fbus_writer_close(p->w);
    sws_freeContext(p->sws);
    prod_direct_free(p->direct);
}

int prod_run(const struct prod_options *o, volatile sig_atomic_t *stop)
{
    struct producer p;
    int ret;

    memset(&p, 0, sizeof(p));
    p.o = o;
    p.stop = stop;
    prod_status_init(&p.status, o->bus, o->transport, o->quiet);
    prod_pace_init(&p.pace, o->pace, av_q2d(o->rate));

    ret = open_source(&p);
    if (ret < 0 && *stop)
        ret = 0;
    if (ret < 0 || *stop)
        goto out;
    ret = open_bus(&p);
    if (ret < 0)
        goto out;
    if (wait_for_readers(&p) != 0)
        goto out;

    while (!*stop) {
        ret = publish_one(&p);
        if (ret != 0)
            break;
        if (o->frames && p.published >= o->frames)
            break;
        ret = next_frame(&p);
        if (ret < 0)
            break;
    }
    if (ret == AVERROR_EOF || ret == 1)
        ret = 0;
    if (ret == 0 && !*stop)
        drain_readers(&p);
    prod_status_update(&p.status, p.w, p.published, p.media_t,
                       p.dec ? prod_decoder_corrupt(p.dec) : 0, 1);

out:
    if (ret < 0) {
        prod_status_break(&p.status);
        fprintf(stderr, PROG ": %s\n", p.err[0] ? p.err : av_err2str(ret));
    } else if (p.w) {
        prod_status_summary(&p.status, &p.fmt, p.published, p.media_t,
                            p.dec ? prod_decoder_corrupt(p.dec) : 0,
                            p.dec ? prod_decoder_truncated(p.dec) : 0);
    } else {
        prod_status_break(&p.status);
    }
    if (o->verbose && p.direct)
        fprintf(stderr,
                PROG ": %" PRIu64 " of %" PRIu64 " frames published where the decoder "
                     "decoded them, the others copied (%" PRIu64
                     " buffers the bus had no slot for)\n",
                prod_direct_published(p.direct), p.published, prod_direct_refused(p.direct));
    producer_free(&p);
    return ret < 0 ? 1 : 0;
}
