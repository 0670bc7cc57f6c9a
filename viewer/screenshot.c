/* SPDX-License-Identifier: MIT */
/*
 * Screenshots: packed RGB24 pixels to a PNG (libavcodec's encoder, already
 * linked for libswscale's sake), a BMP (SDL) or a binary PPM.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>

#include "viewer.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int write_file(const char *path, const char *head, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    int rc = 0;

    if (!f)
        return -errno;
    if ((head && fputs(head, f) == EOF) || fwrite(data, 1, size, f) != size)
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        unlink(path);
    return rc;
}

static int write_png(const char *path, const uint8_t *rgb, int w, int h)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *ctx = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    int rc = -ENOSYS;

    if (!codec)
        goto out;
    rc = -ENOMEM;
    ctx = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!ctx || !frame || !pkt)
        goto out;
    ctx->width = w;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){1, 25};
    rc = -EIO;
    if (avcodec_open2(ctx, codec, NULL) < 0)
        goto out;
    frame->format = AV_PIX_FMT_RGB24;
    frame->width = w;
    frame->height = h;
    frame->data[0] = (uint8_t *)rgb;
    frame->linesize[0] = w * 3;
    if (avcodec_send_frame(ctx, frame) < 0 || avcodec_send_frame(ctx, NULL) < 0 ||
        avcodec_receive_packet(ctx, pkt) < 0)
        goto out;
    rc = write_file(path, NULL, pkt->data, (size_t)pkt->size);
out:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return rc;
}

int viewer_screenshot_write(const char *path, const uint8_t *rgb, int w, int h)
{
    if (ends_with(path, ".ppm")) {
        char head[64];
        snprintf(head, sizeof(head), "P6\n%d %d\n255\n", w, h);
        return write_file(path, head, rgb, (size_t)w * (size_t)h * 3);
    }
    if (ends_with(path, ".bmp")) {
        SDL_Surface *s =
            SDL_CreateRGBSurfaceWithFormatFrom((void *)rgb, w, h, 24, w * 3, SDL_PIXELFORMAT_RGB24);
        int rc = s && SDL_SaveBMP(s, path) == 0 ? 0 : -EIO;
        SDL_FreeSurface(s);
        return rc;
    }
    return write_png(path, rgb, w, h);
}
