/* SPDX-License-Identifier: MIT */
/*
 * Screenshots: packed RGB24 pixels to a PNG (libavcodec's encoder, already
 * linked for libswscale's sake), a 24-bit BMP or a binary PPM, chosen by the
 * file name's extension; any other extension is refused. Also the names the
 * s key gives its files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>

#include "viewer.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int viewer_screenshot_kind(const char *path)
{
    if (ends_with(path, ".png"))
        return VIEWER_SHOT_PNG;
    if (ends_with(path, ".bmp"))
        return VIEWER_SHOT_BMP;
    if (ends_with(path, ".ppm"))
        return VIEWER_SHOT_PPM;
    return -EINVAL;
}

int viewer_screenshot_dir_check(const char *path, int is_dir, char *dir, size_t dirlen)
{
    struct stat st;
    const char *slash = strrchr(path, '/');

    if (is_dir)
        snprintf(dir, dirlen, "%s", path);
    else if (!slash)
        snprintf(dir, dirlen, ".");
    else if (slash == path)
        snprintf(dir, dirlen, "/");
    else
        snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int viewer_screenshot_name(char *buf, size_t len, const char *dir, const char *bus,
                           const struct timespec *now)
{
    struct tm tm;
    char stamp[32];
    time_t t = now->tv_sec;

    if (!localtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0)
        return -EINVAL;
    int n = snprintf(buf, len, "%s/framebus-%s-%s.%03ld.png", dir, bus, stamp,
                     (long)(now->tv_nsec / 1000000));
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The error of a failed stdio call, never 0. */
static int io_error(void)
{
    return errno ? -errno : -EIO;
}

/* Write head (head_size bytes, may be 0) then `rows` rows of row_bytes from
 * data, `stride` apart (negative: bottom-up), each followed by pad zeros.
 * Returns 0 or a negative errno; a failed write leaves no file behind. */
static int write_file(const char *path, const void *head, size_t head_size, const uint8_t *data,
                      ptrdiff_t stride, size_t row_bytes, size_t rows, size_t pad)
{
    static const uint8_t zeros[4];
    FILE *f;
    int rc = 0;

    errno = 0;
    f = fopen(path, "wb");
    if (!f)
        return io_error();
    if (head_size && fwrite(head, 1, head_size, f) != head_size)
        rc = io_error();
    for (size_t y = 0; y < rows && rc == 0; y++) {
        if (fwrite(data + (ptrdiff_t)y * stride, 1, row_bytes, f) != row_bytes ||
            (pad && fwrite(zeros, 1, pad, f) != pad))
            rc = io_error();
    }
    if (fclose(f) != 0 && rc == 0)
        rc = io_error();
    if (rc < 0)
        unlink(path);
    return rc;
}

static void le16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

/* A 24-bit uncompressed BMP: BITMAPFILEHEADER + BITMAPINFOHEADER, rows
 * bottom-up in B, G, R order, each padded to 4 bytes. */
static int write_bmp(const char *path, const uint8_t *rgb, int w, int h)
{
    size_t row = (size_t)w * 3, pad = (4 - row % 4) % 4;
    uint64_t image = (uint64_t)(row + pad) * (uint64_t)h;
    uint8_t head[54] = {'B', 'M'};
    uint8_t *bgr;
    int rc;

    if (image + sizeof(head) > UINT32_MAX)
        return -EFBIG;
    bgr = malloc(row * (size_t)h);
    if (!bgr)
        return -ENOMEM;
    for (size_t i = 0; i < row * (size_t)h; i += 3) {
        bgr[i] = rgb[i + 2];
        bgr[i + 1] = rgb[i + 1];
        bgr[i + 2] = rgb[i];
    }
    le32(head + 2, (uint32_t)(image + sizeof(head))); /* file size */
    le32(head + 10, sizeof(head));                    /* pixel data offset */
    le32(head + 14, 40);                              /* info header size */
    le32(head + 18, (uint32_t)w);
    le32(head + 22, (uint32_t)h); /* positive: bottom-up */
    le16(head + 26, 1);           /* planes */
    le16(head + 28, 24);          /* bits per pixel */
    le32(head + 34, (uint32_t)image);
    le32(head + 38, 2835); /* 72 dpi */
    le32(head + 42, 2835);
    rc = write_file(path, head, sizeof(head), bgr + (size_t)(h - 1) * row, -(ptrdiff_t)row, row,
                    (size_t)h, pad);
    free(bgr);
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
    rc = write_file(path, NULL, 0, pkt->data, pkt->size, (size_t)pkt->size, 1, 0);
out:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return rc;
}

int viewer_screenshot_write(const char *path, const uint8_t *rgb, int w, int h)
{
    char head[64];

    switch (viewer_screenshot_kind(path)) {
    case VIEWER_SHOT_PPM:
        snprintf(head, sizeof(head), "P6\n%d %d\n255\n", w, h);
        return write_file(path, head, strlen(head), rgb, (ptrdiff_t)w * 3, (size_t)w * 3, (size_t)h,
                          0);
    case VIEWER_SHOT_BMP:
        return write_bmp(path, rgb, w, h);
    case VIEWER_SHOT_PNG:
        return write_png(path, rgb, w, h);
    default:
        return -EINVAL;
    }
}
