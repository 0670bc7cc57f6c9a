/* SPDX-License-Identifier: MIT */
/*
 * framebus-producer: decode a video (or draw the built-in test pattern) and
 * publish every frame on a bus. This file parses the options and wires the
 * parts: decode.c, pattern.c, planes.c, convert.c, pace.c, status.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <framebus/framebus.h>

#include "convert.h"
#include "decode.h"
#include "pace.h"
#include "pattern.h"
#include "avplanes.h"
#include "status.h"

#define PROG        "framebus-producer"
#define DEFAULT_BUS "framebus"
#define PATTERN_W   1280
#define PATTERN_H   720
#define PATTERN_FPS 30
#define NS          1000000000LL
/* Blocking bus calls wake up this often to notice a signal. */
#define POLL_NS (100 * 1000000LL)
/* How long the end of the stream waits for lossless readers to catch up. */
#define DRAIN_NS (5 * NS)

struct options {
    const char *input;
    const char *bus;
    fbus_transport transport;
    uint32_t slots;
    prod_pace_mode pace;
    AVRational rate; /* for PROD_PACE_RATE */
    int loop;
    enum AVPixelFormat pix_fmt; /* AV_PIX_FMT_NONE: the source's own */
    int width, height;          /* 0: the source's own */
    uint64_t frames;            /* 0: all */
    uint32_t mode;
    int wait_readers;
    int quiet;
    int verbose;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " [INPUT] [options]\n"
            "Decode INPUT (any file or URL libavformat opens, - for standard input) and\n"
            "publish every video frame on a framebus bus. Without INPUT, play a moving test\n"
            "pattern.\n"
            "\n"
            "Options:\n"
            "  -b, --bus NAME           bus name, [A-Za-z0-9._-]{1,64} (default \"" DEFAULT_BUS
            "\")\n"
            "      --transport T        posix (default) or sysv\n"
            "      --slots N            frame slots in the bus, 2..64 (default 3)\n"
            "      --fps native|max|N   pace by the stream's timestamps (default), as\n"
            "                           fast as possible, or at N frames per second\n"
            "      --loop               start over at the end, timestamps keep increasing\n"
            "      --pix-fmt F          convert to pixel format F (e.g. rgb24, nv12)\n"
            "      --size WxH           scale to W x H (test pattern: its size)\n"
            "      --frames N           stop after N frames\n"
            "      --mode MODE          permission bits of the bus, octal (default 0600)\n"
            "      --wait-readers N     hold the first frame until N readers attach\n"
            "  -q, --quiet              no status line and no summary\n"
            "  -v, --verbose            show libav's own log messages\n"
            "  -h, --help               this help\n"
            "\n"
            "Examples:\n"
            "  " PROG "                                  test pattern on bus \"" DEFAULT_BUS "\"\n"
            "  " PROG " movie.mkv --bus cam --loop       a file, forever, in real time\n"
            "  " PROG " movie.mkv --fps max --wait-readers 1 --bus enc\n"
            "                                   as fast as the slowest lossless reader\n"
            "  " PROG " rtsp://host/stream --pix-fmt rgb24 --size 640x360\n"
            "  " PROG " --size 1920x1080 --fps 60 --mode 0640   pattern for a group\n"
            "\n"
            "Readers: framebus-viewer --bus NAME, framebus cat NAME --y4m | ffplay -\n"
            "Signals: SIGINT/SIGTERM end the stream cleanly and remove the bus.\n");
}

/* Parse a whole decimal number in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int bad_value(const char *opt, const char *val, const char *expected)
{
    fprintf(stderr, PROG ": invalid %s \"%s\" (expected %s)\n", opt, val, expected);
    return -1;
}

static int parse_option(struct options *o, int c, const char *arg)
{
    uint64_t v;

    switch (c) {
    case 'b':
        o->bus = arg;
        return 0;
    case 'T':
        if (strcmp(arg, "posix") == 0)
            o->transport = FBUS_TRANSPORT_POSIX;
        else if (strcmp(arg, "sysv") == 0)
            o->transport = FBUS_TRANSPORT_SYSV;
        else
            return bad_value("--transport", arg, "posix or sysv");
        return 0;
    case 'S':
        if (parse_u64(arg, 2, FBUS_MAX_SLOTS, &v) < 0)
            return bad_value("--slots", arg, "a number from 2 to 64");
        o->slots = (uint32_t)v;
        return 0;
    case 'r':
        if (strcmp(arg, "native") == 0) {
            o->pace = PROD_PACE_NATIVE;
        } else if (strcmp(arg, "max") == 0) {
            o->pace = PROD_PACE_MAX;
        } else if (av_parse_video_rate(&o->rate, arg) < 0 || o->rate.num <= 0 || o->rate.den <= 0 ||
                   av_q2d(o->rate) > 10000.0) {
            return bad_value("--fps", arg, "native, max or frames per second, e.g. 25");
        } else {
            o->pace = PROD_PACE_RATE;
        }
        return 0;
    case 'l':
        o->loop = 1;
        return 0;
    case 'p':
        o->pix_fmt = av_get_pix_fmt(arg);
        if (o->pix_fmt == AV_PIX_FMT_NONE)
            return bad_value("--pix-fmt", arg, "a pixel format name, e.g. rgb24 or nv12");
        if (!sws_isSupportedOutput(o->pix_fmt) ||
            (av_pix_fmt_desc_get(o->pix_fmt)->flags &
             (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL)))
            return bad_value("--pix-fmt", arg, "a pixel format libswscale can write");
        return 0;
    case 's':
        if (av_parse_video_size(&o->width, &o->height, arg) < 0 || o->width > 32768 ||
            o->height > 32768)
            return bad_value("--size", arg, "WIDTHxHEIGHT, e.g. 1280x720");
        return 0;
    case 'n':
        if (parse_u64(arg, 1, UINT64_MAX, &v) < 0)
            return bad_value("--frames", arg, "a number of frames, 1 or more");
        o->frames = v;
        return 0;
    case 'm': {
        char *end;
        unsigned long m;

        errno = 0;
        m = strtoul(arg, &end, 8);
        if (!*arg || *arg == '-' || *arg == '+' || errno || *end || m > 0777)
            return bad_value("--mode", arg, "octal permission bits, e.g. 0640");
        o->mode = (uint32_t)m;
        return 0;
    }
    case 'w':
        if (parse_u64(arg, 0, FBUS_MAX_READERS, &v) < 0)
            return bad_value("--wait-readers", arg, "a number from 0 to 64");
        o->wait_readers = (int)v;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'v':
        o->verbose = 1;
        return 0;
    }
    return -1;
}

/* Returns 0 to run, 1 after --help, -1 on a bad command line. */
static int parse_args(struct options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bus", required_argument, NULL, 'b'},   {"transport", required_argument, NULL, 'T'},
        {"slots", required_argument, NULL, 'S'}, {"fps", required_argument, NULL, 'r'},
        {"loop", no_argument, NULL, 'l'},        {"pix-fmt", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},  {"frames", required_argument, NULL, 'n'},
        {"mode", required_argument, NULL, 'm'},  {"wait-readers", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},       {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->bus = DEFAULT_BUS;
    o->slots = FBUS_DEFAULT_SLOTS;
    o->pix_fmt = AV_PIX_FMT_NONE;
    o->mode = 0600;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:qvh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == ':') {
            fprintf(stderr, PROG ": option %s needs a value\n", argv[optind - 1]);
            return -1;
        }
        if (c == '?') {
            fprintf(stderr, PROG ": unknown option \"%s\" (see --help)\n", argv[optind - 1]);
            return -1;
        }
        if (parse_option(o, c, optarg) < 0)
            return -1;
    }
    if (optind < argc)
        o->input = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, PROG ": more than one input (\"%s\" and \"%s\")\n", o->input, argv[optind]);
        return -1;
    }
    if (fbus_name_check(o->bus) < 0) {
        fprintf(stderr, PROG ": bus \"%s\": %s\n", o->bus, fbus_strerror(FBUS_EBADNAME));
        return -1;
    }
    return 0;
}

/* Everything one run holds; freed by producer_free(). */
struct producer {
    const struct options *o;
    prod_decoder *dec;
    AVFrame *frame;   /* the decoded frame being published */
    AVFrame *scratch; /* the test pattern before conversion */
    struct SwsContext *sws;
    fbus_writer *w;
    prod_pace pace;
    prod_status status;
    fbus_format fmt;           /* of the frame being published */
    int fmt_w, fmt_h, fmt_src; /* what fmt was made for */
    AVRational tb;
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
    return ret;
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

static void frame_meta(struct producer *p, fbus_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (is_pattern(p)) {
        meta->pts = (int64_t)p->published;
        meta->flags = FBUS_FRAME_KEY;
        p->media_t = (double)p->published * av_q2d(p->tb);
    } else {
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
}

static void bus_error(struct producer *p, int err)
{
    snprintf(p->err, sizeof(p->err), "bus \"%s\": %s", p->o->bus, fbus_strerror(err));
}

/* Publish one frame. Returns 0, 1 when stopped by a signal, or an error. */
static int publish_one(struct producer *p)
{
    fbus_slot slot;
    fbus_meta meta;
    int ret;

    ret = update_format(p);
    if (ret < 0)
        return ret;
    do {
        ret = fbus_writer_acquire(p->w, &p->fmt, POLL_NS, &slot);
        if (ret == 0 || ret != -ETIMEDOUT)
            break;
        prod_status_update(&p->status, p->w, p->published, p->media_t,
                           p->dec ? prod_decoder_corrupt(p->dec) : 0, 0);
    } while (!stop_requested);
    if (ret == -ETIMEDOUT)
        return 1;
    if (ret < 0) {
        bus_error(p, ret);
        return ret;
    }
    ret = fill_slot(p, &slot);
    if (ret < 0) {
        fbus_writer_cancel(p->w, &slot);
        return ret;
    }
    frame_meta(p, &meta);
    prod_pace_wait(&p->pace, p->published, p->media_t, &stop_requested);
    if (stop_requested) {
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

    while (st && !stop_requested && fbus_now_ns() < deadline) {
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
    } while (ret == -ETIMEDOUT && !stop_requested);
    return ret == 0 ? 0 : 1;
}

static int open_source(struct producer *p)
{
    const struct options *o = p->o;
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
    /* "-" is standard input, as for ffmpeg. */
    ret = prod_decoder_open(strcmp(o->input, "-") == 0 ? "pipe:0" : o->input, o->loop,
                            &stop_requested, &p->dec, p->err, sizeof(p->err));
    if (ret < 0)
        return ret;
    p->tb = prod_decoder_time_base(p->dec);
    /* The first frame sizes the bus. */
    ret = next_frame(p);
    if (ret == AVERROR_EOF && !stop_requested) {
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
    int ret;

    memset(&wo, 0, sizeof(wo));
    wo.transport = p->o->transport;
    wo.slots = p->o->slots;
    wo.format = &p->fmt;
    wo.mode = p->o->mode;
    ret = fbus_writer_open(p->o->bus, &wo, &p->w);
    if (ret < 0)
        bus_error(p, ret);
    return ret;
}

static void producer_free(struct producer *p)
{
    fbus_writer_close(p->w);
    sws_freeContext(p->sws);
    av_frame_free(&p->scratch);
    av_frame_free(&p->frame);
    prod_decoder_close(p->dec);
}

static int run(const struct options *o)
{
    struct producer p;
    int ret;

    memset(&p, 0, sizeof(p));
    p.o = o;
    prod_status_init(&p.status, o->bus, o->transport, o->quiet);
    prod_pace_init(&p.pace, o->pace, av_q2d(o->rate));

    ret = open_source(&p);
    if (ret < 0 && stop_requested)
        ret = 0;
    if (ret < 0 || stop_requested)
        goto out;
    ret = open_bus(&p);
    if (ret < 0)
        goto out;
    if (wait_for_readers(&p) != 0)
        goto out;

    while (!stop_requested) {
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
    if (ret == 0 && !stop_requested)
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
    producer_free(&p);
    return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct sigaction sa;
    int ret;

    ret = parse_args(&o, argc, argv);
    if (ret != 0)
        return ret > 0 ? 0 : 2;

    av_log_set_level(o.verbose ? AV_LOG_INFO : AV_LOG_QUIET);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return run(&o);
}
