/* SPDX-License-Identifier: MIT */
/*
 * Test clips made with libavcodec/libavformat, small and quick to encode.
 */
#include "clipgen.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

int clipgen_have_encoder(const char *encoder)
{
    return avcodec_find_encoder_by_name(encoder) != NULL;
}

/* Frame n of a moving picture drawn in yuv420p: diagonal ramps that shift
 * with n, plus a bright square walking across. */
static void draw(AVFrame *f, int n)
{
    for (int y = 0; y < f->height; y++) {
        for (int x = 0; x < f->width; x++) {
            int v = (x * 3 + y * 2 + n * 7) & 0xff;
            int sq = x / 16 == n % (f->width / 16 + 1) && y / 16 == (n / 3) % (f->height / 16 + 1);
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(sq ? 235 : 16 + v * 200 / 255);
        }
    }
    for (int y = 0; y < (f->height + 1) / 2; y++) {
        for (int x = 0; x < (f->width + 1) / 2; x++) {
            f->data[1][y * f->linesize[1] + x] = (uint8_t)(64 + ((x + n * 3) & 0x7f));
            f->data[2][y * f->linesize[2] + x] = (uint8_t)(64 + ((y * 2 + n) & 0x7f));
        }
    }
}

static AVFrame *alloc_frame(enum AVPixelFormat fmt, int w, int h)
{
    AVFrame *f = av_frame_alloc();

    if (!f)
        return NULL;
    f->format = fmt;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

static int write_packets(AVCodecContext *enc, AVFrame *frame, AVFormatContext *oc, AVStream *st)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;

    if (!pkt)
        return AVERROR(ENOMEM);
    ret = avcodec_send_frame(enc, frame);
    while (ret >= 0) {
        ret = avcodec_receive_packet(enc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0)
            break;
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(oc, pkt);
    }
    av_packet_free(&pkt);
    return ret;
}

static AVCodecContext *open_encoder(const AVCodec *codec, enum AVPixelFormat pix_fmt, int w, int h,
                                    int fps, int global_header)
{
    AVCodecContext *enc = avcodec_alloc_context3(codec);

    if (!enc)
        return NULL;
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = pix_fmt;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = 5;
    enc->max_b_frames = 0;
    enc->thread_count = 1;
    if (strcmp(codec->name, "mpeg4") == 0) {
        enc->max_b_frames = 1; /* so decode order differs from display order */
        enc->bit_rate = 400000;
    }
    if (global_header)
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (strcmp(codec->name, "libx264") == 0) {
        av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
        enc->max_b_frames = 2;
    }
    if (avcodec_open2(enc, codec, NULL) < 0)
        avcodec_free_context(&enc);
    return enc;
}

int clipgen_encode(const char *path, const char *encoder, enum AVPixelFormat pix_fmt, int fps,
                   const struct clipgen_seg *segs, int nsegs)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *yuv = NULL, *out = NULL;
    struct SwsContext *sws = NULL;
    AVStream *st;
    int64_t pts = 0;
    int ret, global;

    if (!codec)
        return AVERROR_ENCODER_NOT_FOUND;
    ret = avformat_alloc_output_context2(&oc, NULL, NULL, path);
    if (ret < 0)
        return ret;
    /* A size change needs the stream headers in the bitstream itself. */
    global = (oc->oformat->flags & AVFMT_GLOBALHEADER) && nsegs == 1;
    st = avformat_new_stream(oc, NULL);
    if (!st) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (int s = 0; s < nsegs; s++) {
        const struct clipgen_seg *seg = &segs[s];

        if (enc) {
            ret = write_packets(enc, NULL, oc, st);
            avcodec_free_context(&enc);
            if (ret < 0)
                goto out;
        }
        enc = open_encoder(codec, pix_fmt, seg->width, seg->height, fps, global);
        if (!enc) {
            ret = AVERROR(EINVAL);
            goto out;
        }
        if (s == 0) {
            ret = avcodec_parameters_from_context(st->codecpar, enc);
            if (ret < 0)
                goto out;
            st->time_base = enc->time_base;
            if (!(oc->oformat->flags & AVFMT_NOFILE)) {
                ret = avio_open(&oc->pb, path, AVIO_FLAG_WRITE);
                if (ret < 0)
                    goto out;
            }
            ret = avformat_write_header(oc, NULL);
            if (ret < 0)
                goto out;
        }
        av_frame_free(&yuv);
        av_frame_free(&out);
        yuv = alloc_frame(AV_PIX_FMT_YUV420P, seg->width, seg->height);
        out = alloc_frame(pix_fmt, seg->width, seg->height);
        if (!yuv || !out) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
        for (int i = 0; i < seg->frames; i++) {
            ret = av_frame_make_writable(out);
            if (ret < 0)
                goto out;
            draw(yuv, (int)pts);
            if (pix_fmt == AV_PIX_FMT_YUV420P) {
                ret = av_frame_copy(out, yuv);
            } else {
                sws = sws_getCachedContext(sws, seg->width, seg->height, AV_PIX_FMT_YUV420P,
                                           seg->width, seg->height, pix_fmt, SWS_BICUBIC, NULL,
                                           NULL, NULL);
                ret = sws ? sws_scale(sws, (const uint8_t *const *)yuv->data, yuv->linesize, 0,
                                      seg->height, out->data, out->linesize)
                          : AVERROR(EINVAL);
            }
            if (ret < 0)
                goto out;
            out->pts = pts++;
            ret = write_packets(enc, out, oc, st);
            if (ret < 0)
                goto out;
        }
    }
    ret = write_packets(enc, NULL, oc, st);
    if (ret >= 0)
        ret = av_write_trailer(oc);

out:
    sws_freeContext(sws);
    av_frame_free(&yuv);
    av_frame_free(&out);
    avcodec_free_context(&enc);
    if (oc && oc->pb)
        avio_closep(&oc->pb);
    avformat_free_context(oc);
    return ret < 0 ? ret : 0;
}

/* Open an output with one stream of the given parameters and write its
 * header. */
static int open_output(const char *path, const AVCodecParameters *par, AVRational tb,
                       AVFormatContext **out, AVStream **stp)
{
    AVFormatContext *oc = NULL;
    AVStream *st;
    int ret = avformat_alloc_output_context2(&oc, NULL, NULL, path);

    if (ret < 0)
        return ret;
    st = avformat_new_stream(oc, NULL);
    if (!st) {
        avformat_free_context(oc);
        return AVERROR(ENOMEM);
    }
    avcodec_parameters_copy(st->codecpar, par);
    st->time_base = tb;
    ret = avio_open(&oc->pb, path, AVIO_FLAG_WRITE);
    if (ret >= 0)
        ret = avformat_write_header(oc, NULL);
    if (ret < 0) {
        avio_closep(&oc->pb);
        avformat_free_context(oc);
        return ret;
    }
    *out = oc;
    *stp = st;
    return 0;
}

static int close_output(AVFormatContext *oc, int ret)
{
    if (ret >= 0)
        ret = av_write_trailer(oc);
    avio_closep(&oc->pb);
    avformat_free_context(oc);
    return ret < 0 ? ret : 0;
}

static int write_raw(AVFormatContext *oc, AVStream *st, const uint8_t *data, int size, int64_t pts,
                     int64_t dur)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;

    if (!pkt)
        return AVERROR(ENOMEM);
    ret = av_new_packet(pkt, size);
    if (ret >= 0) {
        memcpy(pkt->data, data, (size_t)size);
        pkt->pts = pkt->dts = pts;
        pkt->duration = dur;
        pkt->flags |= AV_PKT_FLAG_KEY;
        pkt->stream_index = st->index;
        ret = av_write_frame(oc, pkt);
    }
    av_packet_free(&pkt);
    return ret;
}

int clipgen_raw(const char *path, int width, int height, int frames, int bad)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVFormatContext *oc = NULL;
    AVFrame *f = alloc_frame(AV_PIX_FMT_YUV420P, width, height);
    uint8_t *buf = NULL;
    AVStream *st;
    int size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, width, height, 1);
    int ret;

    if (!par || !f || size <= 0 || !(buf = av_malloc((size_t)size))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_RAWVIDEO;
    par->format = AV_PIX_FMT_YUV420P;
    par->codec_tag = avcodec_pix_fmt_to_codec_tag(AV_PIX_FMT_YUV420P);
    par->width = width;
    par->height = height;
    ret = open_output(path, par, (AVRational){1, 25}, &oc, &st);
    if (ret < 0)
        goto out;
    for (int i = 0; i < frames && ret >= 0; i++) {
        int cut = bad == -2 || bad == i;

        draw(f, i);
        av_image_copy_to_buffer(buf, size, (const uint8_t *const *)f->data, f->linesize,
                                AV_PIX_FMT_YUV420P, width, height, 1);
        ret = write_raw(oc, st, buf, cut ? size / 3 : size,
                        av_rescale_q(i, (AVRational){1, 25}, st->time_base),
                        av_rescale_q(1, (AVRational){1, 25}, st->time_base));
    }
    ret = close_output(oc, ret);
out:
    av_free(buf);
    av_frame_free(&f);
    avcodec_parameters_free(&par);
    return ret;
}

int clipgen_audio_only(const char *path)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVFormatContext *oc = NULL;
    AVStream *st;
    uint8_t silence[1600] = {0};
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_PCM_S16LE;
    par->sample_rate = 8000;
    par->format = AV_SAMPLE_FMT_S16;
    av_channel_layout_default(&par->ch_layout, 1);
    par->bits_per_coded_sample = 16;
    par->block_align = 2;
    ret = open_output(path, par, (AVRational){1, 8000}, &oc, &st);
    for (int i = 0; i < 10 && ret >= 0; i++)
        ret = write_raw(oc, st, silence, sizeof(silence), i * 800, 800);
    if (oc)
        ret = close_output(oc, ret);
    avcodec_parameters_free(&par);
    return ret;
}

int clipgen_unknown_codec(const char *path)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVFormatContext *oc = NULL;
    AVStream *st;
    uint8_t junk[256];
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_NONE;
    par->codec_tag = MKTAG('Z', 'Q', 'X', '9');
    par->width = 64;
    par->height = 48;
    ret = open_output(path, par, (AVRational){1, 25}, &oc, &st);
    for (int i = 0; i < 5 && ret >= 0; i++)
        ret = write_raw(oc, st, junk, sizeof(junk), i, 1);
    if (oc)
        ret = close_output(oc, ret);
    avcodec_parameters_free(&par);
    return ret;
}

int clipgen_truncate(const char *path, int percent)
{
    struct stat sb;

    if (stat(path, &sb) < 0)
        return AVERROR(errno);
    if (truncate(path, sb.st_size * percent / 100) < 0)
        return AVERROR(errno);
    return 0;
}
