/* SPDX-License-Identifier: MIT */
/*
 * Which bus pixel formats SDL can take straight from the shared mapping, and
 * as which SDL texture format. Everything else goes through libswscale.
 */
#include <string.h>

#include "viewer.h"

/* The 32-bit orders are named by their bytes in memory, as libavutil names
 * them; SDL names packed 32-bit words, so the mapping depends on the host's
 * byte order. SDL 2.26 has byte-order aliases for the alpha formats only. */
#if SDL_BYTEORDER == SDL_BIG_ENDIAN
#define FMT_RGB0 SDL_PIXELFORMAT_RGBX8888
#define FMT_BGR0 SDL_PIXELFORMAT_BGRX8888
#define FMT_0RGB SDL_PIXELFORMAT_XRGB8888
#define FMT_0BGR SDL_PIXELFORMAT_XBGR8888
#else
#define FMT_RGB0 SDL_PIXELFORMAT_XBGR8888
#define FMT_BGR0 SDL_PIXELFORMAT_XRGB8888
#define FMT_0RGB SDL_PIXELFORMAT_BGRX8888
#define FMT_0BGR SDL_PIXELFORMAT_RGBX8888
#endif

static const struct viewer_pixfmt formats[] = {
    {"yuv420p", SDL_PIXELFORMAT_IYUV, VIEWER_UPLOAD_YUV, 0},
    {"yuvj420p", SDL_PIXELFORMAT_IYUV, VIEWER_UPLOAD_YUV, 1},
    {"nv12", SDL_PIXELFORMAT_NV12, VIEWER_UPLOAD_NV, 0},
    {"nv21", SDL_PIXELFORMAT_NV21, VIEWER_UPLOAD_NV, 0},
    {"yuyv422", SDL_PIXELFORMAT_YUY2, VIEWER_UPLOAD_PACKED, 0},
    {"uyvy422", SDL_PIXELFORMAT_UYVY, VIEWER_UPLOAD_PACKED, 0},
    {"rgb24", SDL_PIXELFORMAT_RGB24, VIEWER_UPLOAD_PACKED, 0},
    {"bgr24", SDL_PIXELFORMAT_BGR24, VIEWER_UPLOAD_PACKED, 0},
    {"rgba", SDL_PIXELFORMAT_RGBA32, VIEWER_UPLOAD_PACKED, 0},
    {"bgra", SDL_PIXELFORMAT_BGRA32, VIEWER_UPLOAD_PACKED, 0},
    {"argb", SDL_PIXELFORMAT_ARGB32, VIEWER_UPLOAD_PACKED, 0},
    {"abgr", SDL_PIXELFORMAT_ABGR32, VIEWER_UPLOAD_PACKED, 0},
    {"rgb0", FMT_RGB0, VIEWER_UPLOAD_PACKED, 0},
    {"bgr0", FMT_BGR0, VIEWER_UPLOAD_PACKED, 0},
    {"0rgb", FMT_0RGB, VIEWER_UPLOAD_PACKED, 0},
    {"0bgr", FMT_0BGR, VIEWER_UPLOAD_PACKED, 0},
};

/* libswscale writes BGRA bytes, which is ARGB8888 on a little-endian host. */
static const struct viewer_pixfmt convert = {NULL, SDL_PIXELFORMAT_BGRA32, VIEWER_UPLOAD_CONVERT,
                                             0};

const struct viewer_pixfmt *viewer_pixfmt_find(const char *name)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (!strcmp(formats[i].name, name))
            return &formats[i];
    return &convert;
}

const struct viewer_pixfmt *viewer_pixfmt_converted(void)
{
    return &convert;
}

int viewer_yuv_mode(const struct viewer_pixfmt *pf, const fbus_color *c, int height,
                    SDL_YUV_CONVERSION_MODE *mode)
{
    int full = c->range == FBUS_RANGE_FULL || (c->range == FBUS_RANGE_UNKNOWN && pf->full_range);
    int bt709;

    switch (c->matrix) {
    case 1: /* BT.709 */
        bt709 = 1;
        break;
    case 5: /* BT.470BG (BT.601 625) */
    case 6: /* SMPTE 170M (BT.601 525): the same matrix */
        bt709 = 0;
        break;
    case 0: /* unknown: what players assume, by height (JPEG is BT.601) */
    case 2:
        bt709 = !full && height > 576;
        break;
    default: /* BT.2020, SMPTE 240M, ...: SDL2 has no such mode */
        return -1;
    }
    if (full && bt709)
        return -1; /* SDL2's only full-range mode is JPEG (BT.601) */
    *mode = full    ? SDL_YUV_CONVERSION_JPEG
            : bt709 ? SDL_YUV_CONVERSION_BT709
                    : SDL_YUV_CONVERSION_BT601;
    return 0;
}
