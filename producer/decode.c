/* SPDX-License-Identifier: MIT */
/*
 * Demux and decode the video stream of any libavformat input: send packets,
 * receive frames, drain at the end of the input, and restart from the start
 * when looping with timestamps that keep increasing.
 */
#include "decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* After this many decode errors in a row without a single frame the input
 * is not video this decoder can handle. */
#define MAX_ERRORS_IN_A_ROW 1000

struct prod_decoder {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    const char *url;
    int stream;
    int loop;
    int draining;     /* the decoder was sent the end of input */
    int truncated;    /* reading stopped on an error, or short of the duration */
    int64_t read_end; /* end of the last video packet read, AV_TIME_BASE units */
    int rebase;       /* next frame starts a new pass: recompute the offset */
    int errors_in_a_row;
    AVRational tb;
    int64_t pts_offset; /* added to the input's pts, grows with each loop */
    int64_t last_pts;   /* last pts returned (offset applied) */
    int64_t last_dur;
    uint64_t pass_frames;
    uint64_t total_frames;
    uint64_t corrupt;
    const volatile sig_atomic_t *stop;
};

static int interrupted(void *opaque)
{
    const prod_decoder *d = opaque;
    return d->stop && *d->stop;
}

static void set_err(char *err, size_t errlen, const char *url, const char *what, int ret)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];

    if (ret == 0) {
        snprintf(err, errlen, "%s: %s", url, what);
        return;
    }
    av_strerror(ret, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s (%s)", url, what, buf);
}

/* What libav said last at error level while an input was being opened:
 * its demuxers give their reason only in the log ("moov atom not found"). */
static char open_log[160];

/* fmt is libav's own format string, passed on as av_log's callback gets it. */
__attribute__((format(printf, 3, 0))) static void capture_log(void *avcl, int level,
                                                              const char *fmt, va_list vl)
{
    if (level <= AV_LOG_ERROR) {
        va_list copy;
        size_t n;

        va_copy(copy, vl);
        vsnprintf(open_log, sizeof(open_log), fmt, copy);
        va_end(copy);
        n = strlen(open_log);
        while (n && (open_log[n - 1] == '\n' || open_log[n - 1] == '.'))
            open_log[--n] = '\0';
    }
    av_log_default_callback(avcl, level, fmt, vl);
}

/* "not a media file", with libav's own reason when it gave one. */
static void not_media(char *err, size_t errlen, const char *url)
{
    if (open_log[0])
        snprintf(err, errlen, "%s: not a media file (%s)", url, open_log);
    else
        set_err(err, errlen, url, "not a media file", 0);
}

/* Open the input with libav's error log captured for the messages. */
static int probe_input(prod_decoder *d, char *err, size_t errlen)
{
    const char *url = d->url;
    int ret;

    open_log[0] = '\0';
    av_log_set_callback(capture_log);
    ret = avformat_open_input(&d->fmt, url, NULL, NULL);
    if (ret < 0) {
        /* avformat_open_input frees the context on failure. */
        if (ret == AVERROR_INVALIDDATA || ret == AVERROR_EOF)
            not_media(err, errlen, url);
        else
            set_err(err, errlen, url, av_err2str(ret), 0);
    } else {
        ret = avformat_find_stream_info(d->fmt, NULL);
        if (ret < 0)
            not_media(err, errlen, url);
    }
    av_log_set_callback(av_log_default_callback);
    return ret;
}

/* Open the input and pick its best video stream (the others discarded):
 * 0 or a negative AVERROR with err set. */
static int open_input(prod_decoder *d, char *err, size_t errlen)
{
    const char *url = d->url;
    int ret = probe_input(d, err, errlen);

    if (ret < 0)
        return ret;
    /* Looping seeks back to the start: refuse now what could only play once
     * (a pipe, a live stream), rather than end quietly after one pass. */
    if (d->loop && (!d->fmt->pb || !(d->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL))) {
        set_err(err, errlen, url, "cannot loop: input is not seekable", 0);
        return AVERROR(ESPIPE);
    }
    ret = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (ret < 0) {
        /* AVERROR_DECODER_NOT_FOUND comes only with a decoder to look up. */
        set_err(err, errlen, url, "no video stream", 0);
        return AVERROR_STREAM_NOT_FOUND;
    }
    d->stream = ret;
    d->tb = d->fmt->streams[d->stream]->time_base;
    for (unsigned i = 0; i < d->fmt->nb_streams; i++) {
        if ((int)i != d->stream)
            d->fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    return 0;
}

/* Open the chosen stream's decoder (frame and slice threads): 0 or a
 * negative AVERROR with err set. */
static int open_decoder(prod_decoder *d, prod_direct *direct, char *err, size_t errlen)
{
    const AVStream *st = d->fmt->streams[d->stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    const char *url = d->url;
    int ret;

    if (!codec) {
        snprintf(err, errlen, "%s: no decoder for video codec '%s'", url,
                 avcodec_get_name(st->codecpar->codec_id));
        return AVERROR_DECODER_NOT_FOUND;
    }
    d->dec = avcodec_alloc_context3(codec);
    if (!d->dec) {
        snprintf(err, errlen, "%s: out of memory", url);
        return AVERROR(ENOMEM);
    }
    ret = avcodec_parameters_to_context(d->dec, st->codecpar);
    if (ret < 0) {
        set_err(err, errlen, url, "bad codec parameters", ret);
        return ret;
    }
    d->dec->pkt_timebase = st->time_base;
    d->dec->thread_count = 0; /* one per core */
    d->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (direct)
        prod_direct_attach(direct, d->dec);
    ret = avcodec_open2(d->dec, codec, NULL);
    if (ret < 0) {
        char what[128];
        snprintf(what, sizeof(what), "cannot open the '%s' decoder", codec->name);
        set_err(err, errlen, url, what, ret);
    }
    return ret;
}

int prod_decoder_open(const char *url, int loop, const volatile sig_atomic_t *stop,
                      prod_direct *direct, prod_decoder **out, char *err, size_t errlen)
{
    prod_decoder *d;
    int ret;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "%s: out of memory", url);
        return AVERROR(ENOMEM);
    }
    d->url = url;
    d->loop = loop;
    d->stop = stop;
    d->last_pts = AV_NOPTS_VALUE;
    d->read_end = AV_NOPTS_VALUE;
    d->stream = -1;

    d->fmt = avformat_alloc_context();
    d->pkt = av_packet_alloc();
    if (!d->fmt || !d->pkt) {
        ret = AVERROR(ENOMEM);
        snprintf(err, errlen, "%s: out of memory", url);
        goto fail;
    }
    d->fmt->interrupt_callback.callback = interrupted;
    d->fmt->interrupt_callback.opaque = d;
    ret = open_input(d, err, errlen);
    if (ret < 0)
        goto fail;
    ret = open_decoder(d, direct, err, errlen);
    if (ret < 0)
        goto fail;
    *out = d;
    return 0;

fail:
    prod_decoder_close(d);
    return ret;
}

/* Go back to the start of the input for another pass. */
static int restart(prod_decoder *d, char *err, size_t errlen)
{
    int64_t start = d->fmt->start_time != AV_NOPTS_VALUE ? d->fmt->start_time : 0;
    int ret;

    ret = avformat_seek_file(d->fmt, -1, INT64_MIN, start, start, 0);
    if (ret < 0)
        ret = av_seek_frame(d->fmt, d->stream, 0, AVSEEK_FLAG_BYTE | AVSEEK_FLAG_BACKWARD);
    if (ret < 0) {
        set_err(err, errlen, d->url, "cannot loop: input is not seekable", ret);
        return ret;
    }
    avcodec_flush_buffers(d->dec);
    d->draining = 0;
    d->truncated = 0;
    d->read_end = AV_NOPTS_VALUE;
    d->rebase = 1;
    d->pass_frames = 0;
    return 0;
}

static int64_t frame_duration(const prod_decoder *d, const AVFrame *frame, int64_t prev_pts,
                              int64_t pts)
{
    AVRational rate = d->fmt->streams[d->stream]->avg_frame_rate;
    int64_t dur;

    if (frame->pkt_duration > 0)
        return frame->pkt_duration;
    if (rate.num > 0 && rate.den > 0) {
        dur = av_rescale_q(1, av_inv_q(rate), d->tb);
        if (dur > 0)
            return dur;
    }
    if (prev_pts != AV_NOPTS_VALUE && pts > prev_pts)
        return pts - prev_pts;
    return 1;
}

/* Turn the input's timestamp into one that keeps increasing across loops. */
static void stamp(prod_decoder *d, AVFrame *frame)
{
    int64_t raw = frame->best_effort_timestamp;
    int64_t prev = d->last_pts;
    int64_t pts;

    if (raw == AV_NOPTS_VALUE) {
        pts = prev == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : prev + d->last_dur;
    } else {
        if (d->rebase && prev != AV_NOPTS_VALUE)
            d->pts_offset = prev + d->last_dur - raw;
        pts = raw + d->pts_offset;
    }
    d->rebase = 0;
    d->last_dur = frame_duration(d, frame, prev, pts);
    d->last_pts = pts;
    frame->pts = pts;
}

static void note_read_end(prod_decoder *d, const AVPacket *pkt)
{
    int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;

    if (t == AV_NOPTS_VALUE)
        return;
    t = av_rescale_q(t + (pkt->duration > 0 ? pkt->duration : 0), d->tb, AV_TIME_BASE_Q);
    if (d->read_end == AV_NOPTS_VALUE || t > d->read_end)
        d->read_end = t;
}

/*
 * Whether a clean end of file came well short of the duration the
 * container declares: a truncated Matroska or WebM file ends cleanly as far
 * as its demuxer is concerned. The video stream's own duration, else the
 * file's.
 */
static int ended_early(const prod_decoder *d)
{
    const AVStream *st = d->fmt->streams[d->stream];
    int64_t start = 0, dur = AV_NOPTS_VALUE, slack;

    if (d->read_end == AV_NOPTS_VALUE)
        return 0;
    if (st->duration > 0) {
        dur = av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q);
        if (st->start_time != AV_NOPTS_VALUE)
            start = av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q);
    } else if (d->fmt->duration > 0) {
        dur = d->fmt->duration;
        if (d->fmt->start_time != AV_NOPTS_VALUE)
            start = d->fmt->start_time;
    }
    if (dur == AV_NOPTS_VALUE)
        return 0;
    /* Allow two frames (a tenth of a second if the rate is unknown) or 5%,
     * whichever is more: durations are rounded, last frames vary. Against
     * the whole file's duration, which another stream may stretch (audio
     * that runs on), a second or 10%. */
    slack = st->avg_frame_rate.num > 0
                ? av_rescale_q(2, av_inv_q(st->avg_frame_rate), AV_TIME_BASE_Q)
                : AV_TIME_BASE / 10;
    slack = FFMAX(slack, dur / 20);
    if (st->duration <= 0 && d->fmt->nb_streams > 1)
        slack = FFMAX(AV_TIME_BASE, dur / 10);
    return d->read_end < start + dur - slack;
}

int prod_decoder_next(prod_decoder *d, AVFrame *frame, char *err, size_t errlen)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_frame(d->dec, frame);
        if (ret == 0) {
            d->errors_in_a_row = 0;
            d->pass_frames++;
            d->total_frames++;
            stamp(d, frame);
            return 0;
        }
        if (ret == AVERROR_EOF) {
            if (d->total_frames == 0) {
                set_err(err, errlen, d->url, "could not decode any video frame", 0);
                return AVERROR_INVALIDDATA;
            }
            /* A pass without a single frame would loop forever. */
            if (!d->loop || d->pass_frames == 0)
                return AVERROR_EOF;
            ret = restart(d, err, errlen);
            if (ret < 0)
                return ret;
            continue;
        }
        if (ret != AVERROR(EAGAIN)) {
            if (ret == AVERROR(ENOMEM)) {
                snprintf(err, errlen, "%s: out of memory", d->url);
                return ret;
            }
            /* A damaged packet: count it and go on with the next one. */
            d->corrupt++;
            if (++d->errors_in_a_row > MAX_ERRORS_IN_A_ROW && d->total_frames == 0) {
                set_err(err, errlen, d->url, "could not decode any video frame", ret);
                return ret;
            }
            continue;
        }

        ret = av_read_frame(d->fmt, d->pkt);
        if (ret == AVERROR_EXIT) {
            snprintf(err, errlen, "%s: interrupted", d->url);
            return ret;
        }
        if (ret < 0) {
            if (ret != AVERROR_EOF || ended_early(d))
                d->truncated = 1;
            if (d->draining)
                return AVERROR_EOF; /* the decoder already has it all */
            d->draining = 1;
            avcodec_send_packet(d->dec, NULL);
            continue;
        }
        if (d->pkt->stream_index != d->stream) {
            av_packet_unref(d->pkt);
            continue;
        }
        note_read_end(d, d->pkt);
        ret = avcodec_send_packet(d->dec, d->pkt);
        av_packet_unref(d->pkt);
        if (ret == AVERROR(ENOMEM)) {
            snprintf(err, errlen, "%s: out of memory", d->url);
            return ret;
        }
        if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
            d->corrupt++;
            if (++d->errors_in_a_row > MAX_ERRORS_IN_A_ROW && d->total_frames == 0) {
                set_err(err, errlen, d->url, "could not decode any video frame", ret);
                return ret;
            }
        }
    }
}

const int32_t *prod_decoder_display_matrix(const prod_decoder *d)
{
    return (const int32_t *)av_stream_get_side_data(d->fmt->streams[d->stream],
                                                    AV_PKT_DATA_DISPLAYMATRIX, NULL);
}

AVRational prod_decoder_time_base(const prod_decoder *d)
{
    return d->tb;
}

AVRational prod_decoder_frame_rate(const prod_decoder *d)
{
    AVRational r = av_guess_frame_rate(d->fmt, d->fmt->streams[d->stream], NULL);

    if (r.num <= 0 || r.den <= 0)
        return (AVRational){0, 1};
    av_reduce(&r.num, &r.den, r.num, r.den, INT32_MAX);
    return r;
}

AVRational prod_decoder_sar(const prod_decoder *d, AVFrame *frame)
{
    AVRational sar = av_guess_sample_aspect_ratio(d->fmt, d->fmt->streams[d->stream], frame);

    if (sar.num <= 0 || sar.den <= 0)
        return (AVRational){0, 1};
    return sar;
}

uint64_t prod_decoder_corrupt(const prod_decoder *d)
{
    return d->corrupt;
}

int prod_decoder_truncated(const prod_decoder *d)
{
    return d->truncated;
}

const char *prod_decoder_codec(const prod_decoder *d)
{
    return d->dec->codec->name;
}

void prod_decoder_close(prod_decoder *d)
{
    if (!d)
        return;
    avcodec_free_context(&d->dec);
    avformat_close_input(&d->fmt);
    av_packet_free(&d->pkt);
    free(d);
}
