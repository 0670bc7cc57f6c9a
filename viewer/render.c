/* SPDX-License-Identifier: MIT */
/*
 * The SDL side of the viewer: window, renderer, one streaming texture that
 * frames are uploaded into straight from the bus mapping, letterboxed
 * drawing, fullscreen, and reading the current frame back for screenshots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "viewer.h"

SDL_Rect viewer_letterbox(int out_w, int out_h, int src_w, int src_h)
{
    SDL_Rect r = {0, 0, out_w, out_h};

    if (src_w <= 0 || src_h <= 0 || out_w <= 0 || out_h <= 0)
        return r;
    if ((int64_t)out_w * src_h > (int64_t)out_h * src_w) {
        /* The area is wider than the picture: bars left and right. */
        r.w = (int)(((int64_t)out_h * src_w + src_h / 2) / src_h);
        r.x = (out_w - r.w) / 2;
    } else {
        r.h = (int)(((int64_t)out_w * src_h + src_w / 2) / src_w);
        r.y = (out_h - r.h) / 2;
    }
    if (r.w < 1)
        r.w = 1;
    if (r.h < 1)
        r.h = 1;
    return r;
}

void viewer_display_size(int w, int h, int32_t sar_num, int32_t sar_den, int *dw, int *dh)
{
    *dw = w;
    *dh = h;
    /* Unknown (0/0), invalid or absurd ratios show the pixels square. */
    if (sar_num <= 0 || sar_den <= 0 || sar_num == sar_den || (int64_t)sar_num > 100LL * sar_den ||
        (int64_t)sar_den > 100LL * sar_num)
        return;
    /* Widen (or heighten) the picture rather than shrink it, as ffplay
     * does, so no coded row or column is lost at 1:1 zoom. */
    if (sar_num > sar_den) {
        int64_t v = ((int64_t)w * sar_num + sar_den / 2) / sar_den;
        *dw = v > 65536 ? 65536 : (int)v;
    } else {
        int64_t v = ((int64_t)h * sar_den + sar_num / 2) / sar_num;
        *dh = v > 65536 ? 65536 : (int)v;
    }
}

int viewer_render_open(struct viewer_render *rd, const struct viewer_opts *o, char *err,
                       size_t errlen)
{
    SDL_RendererInfo info;
    uint32_t wflags = SDL_WINDOW_RESIZABLE;

    memset(rd, 0, sizeof(*rd));
    rd->headless = o->headless;
    rd->show_overlay = o->overlay;
    /* main() owns SIGINT and SIGTERM; SDL would turn them into SDL_QUIT
     * only while events are pumped. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    if (rd->headless) {
        SDL_SetHintWithPriority(SDL_HINT_VIDEODRIVER, "offscreen", SDL_HINT_OVERRIDE);
        SDL_SetHintWithPriority(SDL_HINT_RENDER_DRIVER, "software", SDL_HINT_OVERRIDE);
        /* Otherwise SDL backs the offscreen window with an OpenGL (EGL)
         * context, which costs seconds of start-up and a GPU stack. */
        SDL_SetHintWithPriority(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0", SDL_HINT_OVERRIDE);
        wflags |= SDL_WINDOW_HIDDEN;
    } else {
        /* A window the user can see, or an error: without this, SDL falls
         * back to its offscreen driver when DISPLAY names no server. An
         * SDL_VIDEODRIVER in the environment still wins. */
        const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
        int has_x = x && *x, has_wl = wl && *wl;
        SDL_SetHint(SDL_HINT_VIDEODRIVER, has_x && has_wl ? "x11,wayland"
                                          : has_wl        ? "wayland"
                                                          : "x11");
    }
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) < 0) {
        const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
        snprintf(err, errlen, "cannot open display %s%s%s: %s (try --headless)", x && *x ? x : "",
                 x && *x && wl && *wl ? " / " : "", wl && *wl ? wl : "", SDL_GetError());
        return -EIO;
    }
    rd->window = SDL_CreateWindow(VIEWER_NAME, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, 640,
                                  360, wflags);
    if (!rd->window) {
        snprintf(err, errlen, "cannot create a window: %s", SDL_GetError());
        goto fail;
    }
    /* Off screen there is no display refresh to wait for. */
    uint32_t rflags = o->vsync && !rd->headless ? SDL_RENDERER_PRESENTVSYNC : 0;
    if (rd->headless)
        rflags |= SDL_RENDERER_SOFTWARE;
    rd->renderer = SDL_CreateRenderer(rd->window, -1, rflags);
    if (!rd->renderer && !rd->headless)
        rd->renderer = SDL_CreateRenderer(rd->window, -1, rflags | SDL_RENDERER_SOFTWARE);
    if (!rd->renderer) {
        snprintf(err, errlen, "cannot create a renderer: %s", SDL_GetError());
        goto fail;
    }
    snprintf(rd->renderer_name, sizeof(rd->renderer_name), "%s",
             SDL_GetRendererInfo(rd->renderer, &info) == 0 && info.name ? info.name : "unknown");
    /* Fullscreen once the renderer exists (an OpenGL renderer recreates
     * the window); how depends on whether a window manager is there. */
    rd->has_wm = rd->headless || viewer_window_manager(rd->window);
    if (o->fullscreen && !rd->headless)
        viewer_render_toggle_fullscreen(rd);
    SDL_SetRenderDrawColor(rd->renderer, 0, 0, 0, 255);
    SDL_RenderClear(rd->renderer);
    SDL_RenderPresent(rd->renderer);
    return 0;

fail:
    viewer_render_close(rd);
    return -EIO;
}

void viewer_render_close(struct viewer_render *rd)
{
    if (rd->texture)
        SDL_DestroyTexture(rd->texture);
    if (rd->renderer)
        SDL_DestroyRenderer(rd->renderer);
    if (rd->window)
        SDL_DestroyWindow(rd->window);
    viewer_convert_free(rd->convert);
    if (SDL_WasInit(SDL_INIT_VIDEO))
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
    SDL_Quit();
    memset(rd, 0, sizeof(*rd));
}

/* Size a new window to its first frame, shrunk to fit the screen. A
 * fullscreen window keeps the screen; the size is what leaving
 * fullscreen by hand restores. */
static void fit_window(struct viewer_render *rd, int w, int h)
{
    SDL_Rect usable;
    int display = SDL_GetWindowDisplayIndex(rd->window);

    rd->sized = 1;
    if (rd->fullscreen && !rd->manual_fs)
        return;
    if (display >= 0 && SDL_GetDisplayUsableBounds(display, &usable) == 0 && usable.w > 0 &&
        usable.h > 0) {
        SDL_Rect fit = viewer_letterbox(usable.w * 9 / 10, usable.h * 9 / 10, w, h);
        if (fit.w < w) {
            w = fit.w;
            h = fit.h;
        }
        if (rd->manual_fs) {
            rd->windowed =
                (SDL_Rect){usable.x + (usable.w - w) / 2, usable.y + (usable.h - h) / 2, w, h};
            return;
        }
    }
    SDL_SetWindowSize(rd->window, w, h);
    if (!rd->headless)
        SDL_SetWindowPosition(rd->window, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED);
}

static int make_texture(struct viewer_render *rd, const fbus_format *fmt,
                        const struct viewer_pixfmt *pf, SDL_YUV_CONVERSION_MODE mode,
                        int32_t sar_num, int32_t sar_den, char *err, size_t errlen)
{
    int w = (int)fmt->width, h = (int)fmt->height;

    if (rd->texture)
        SDL_DestroyTexture(rd->texture);
    rd->texture = NULL;
    rd->have_image = 0;
    /* SDL reads the YUV matrix when a texture is created (GPU renderers)
     * or converted (software renderer); there is only ever one texture,
     * so the global setting is this texture's. */
    SDL_SetYUVConversionMode(mode);
    rd->yuv_mode = mode;
    rd->texture =
        SDL_CreateTexture(rd->renderer, pf->sdl_format, SDL_TEXTUREACCESS_STREAMING, w, h);
    if (!rd->texture) {
        snprintf(err, errlen, "cannot create a %dx%d %s texture: %s", w, h, fmt->pix_fmt,
                 SDL_GetError());
        rd->pix_fmt[0] = '\0';
        return FBUS_EFORMAT;
    }
    /* Alpha in rgba/argb frames is not transparency against the window. */
    SDL_SetTextureBlendMode(rd->texture, SDL_BLENDMODE_NONE);
    rd->tex_w = w;
    rd->tex_h = h;
    viewer_display_size(w, h, sar_num, sar_den, &rd->disp_w, &rd->disp_h);
    rd->pf = pf;
    snprintf(rd->pix_fmt, sizeof(rd->pix_fmt), "%s", fmt->pix_fmt);
    if (!rd->sized)
        fit_window(rd, rd->disp_w, rd->disp_h);
    return 0;
}

int viewer_render_upload(struct viewer_render *rd, const fbus_frame *f, char *err, size_t errlen)
{
    const fbus_format *fmt = &f->format;
    const struct viewer_pixfmt *pf;
    int rc;

    if (viewer_frame_check(fmt) < 0) {
        snprintf(err, errlen,
                 "cannot display %ux%u \"%.*s\" frames: unknown pixel format or "
                 "its planes do not fit its size",
                 fmt->width, fmt->height, FBUS_PIXFMT_MAX - 1, fmt->pix_fmt);
        return FBUS_EFORMAT;
    }
    /* YUV is decoded with the matrix and range the frame says it uses;
     * what SDL has no mode for goes through libswscale. */
    SDL_YUV_CONVERSION_MODE mode = SDL_YUV_CONVERSION_AUTOMATIC;
    pf = viewer_pixfmt_find(fmt->pix_fmt);
    if (pf->upload != VIEWER_UPLOAD_CONVERT && SDL_ISPIXELFORMAT_FOURCC(pf->sdl_format) &&
        viewer_yuv_mode(pf, &f->color, (int)fmt->height, &mode) < 0)
        pf = viewer_pixfmt_converted();
    if (!rd->texture || rd->tex_w != (int)fmt->width || rd->tex_h != (int)fmt->height ||
        strcmp(rd->pix_fmt, fmt->pix_fmt) != 0 || pf != rd->pf || mode != rd->yuv_mode) {
        rc = make_texture(rd, fmt, pf, mode, f->sar_num, f->sar_den, err, errlen);
        if (rc < 0)
            return rc;
    } else {
        /* The pixel aspect may change without the format (a new producer
         * on the same slots): it only changes the drawing. */
        viewer_display_size(rd->tex_w, rd->tex_h, f->sar_num, f->sar_den, &rd->disp_w, &rd->disp_h);
    }

    /* The frame's planes are read in place from the shared mapping with
     * the producer's own strides. */
    switch (pf->upload) {
    case VIEWER_UPLOAD_YUV:
        rc = SDL_UpdateYUVTexture(rd->texture, NULL, f->data[0], (int)fmt->planes[0].stride,
                                  f->data[1], (int)fmt->planes[1].stride, f->data[2],
                                  (int)fmt->planes[2].stride);
        break;
    case VIEWER_UPLOAD_NV:
        rc = SDL_UpdateNVTexture(rd->texture, NULL, f->data[0], (int)fmt->planes[0].stride,
                                 f->data[1], (int)fmt->planes[1].stride);
        break;
    case VIEWER_UPLOAD_PACKED:
        rc = SDL_UpdateTexture(rd->texture, NULL, f->data[0], (int)fmt->planes[0].stride);
        break;
    default: {
        const uint8_t *buf;
        int stride;
        rc = viewer_convert_frame(&rd->convert, f, &buf, &stride);
        if (rc < 0) {
            snprintf(err, errlen, "cannot convert \"%s\" frames: %s", fmt->pix_fmt,
                     rc == -ENOMEM ? "out of memory" : "libswscale refused the format");
            return rc;
        }
        rc = SDL_UpdateTexture(rd->texture, NULL, buf, stride);
        break;
    }
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot upload a %s frame: %s", fmt->pix_fmt, SDL_GetError());
        return FBUS_EFORMAT;
    }
    rd->have_image = 1;
    return 0;
}

void viewer_render_draw(struct viewer_render *rd)
{
    int ow = 0, oh = 0;

    SDL_SetRenderDrawColor(rd->renderer, 0, 0, 0, 255);
    SDL_RenderClear(rd->renderer);
    if (SDL_GetRendererOutputSize(rd->renderer, &ow, &oh) < 0)
        ow = oh = 0;
    if (rd->texture && rd->have_image && ow > 0 && oh > 0) {
        SDL_Rect dst = viewer_letterbox(ow, oh, rd->disp_w, rd->disp_h);
        SDL_RenderCopy(rd->renderer, rd->texture, NULL, &dst);
    }
    if (rd->show_overlay && rd->overlay[0] && oh > 0)
        viewer_overlay_draw(rd->renderer, rd->overlay, oh);
    SDL_RenderPresent(rd->renderer);
}

/* Fullscreen by hand, for X11 without a window manager: SDL would ask a WM
 * that is not there, keep the window's size and draw for the whole screen
 * (a zoomed, cropped picture). Without a WM the window takes the geometry
 * it asks for: no border, the display's bounds; back to what it was. */
static void manual_fullscreen(struct viewer_render *rd, int on)
{
    SDL_Rect b;
    int display = SDL_GetWindowDisplayIndex(rd->window);

    if (on) {
        if (display < 0 || SDL_GetDisplayBounds(display, &b) < 0)
            return;
        SDL_GetWindowPosition(rd->window, &rd->windowed.x, &rd->windowed.y);
        SDL_GetWindowSize(rd->window, &rd->windowed.w, &rd->windowed.h);
        SDL_SetWindowBordered(rd->window, SDL_FALSE);
        SDL_SetWindowPosition(rd->window, b.x, b.y);
        SDL_SetWindowSize(rd->window, b.w, b.h);
        SDL_RaiseWindow(rd->window);
    } else {
        SDL_SetWindowBordered(rd->window, SDL_TRUE);
        SDL_SetWindowSize(rd->window, rd->windowed.w, rd->windowed.h);
        SDL_SetWindowPosition(rd->window, rd->windowed.x, rd->windowed.y);
    }
    rd->manual_fs = on;
    rd->fullscreen = on;
}

void viewer_render_toggle_fullscreen(struct viewer_render *rd)
{
    if (rd->headless)
        return;
    if (!rd->has_wm) {
        manual_fullscreen(rd, !rd->fullscreen);
        return;
    }
    if (SDL_SetWindowFullscreen(rd->window, rd->fullscreen ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP) ==
        0)
        rd->fullscreen = !rd->fullscreen;
}

void viewer_render_title(struct viewer_render *rd, const char *title)
{
    SDL_SetWindowTitle(rd->window, title);
}

int viewer_render_read_frame(struct viewer_render *rd, uint8_t **rgb, int *w, int *h)
{
    SDL_Texture *target = NULL;
    uint8_t *buf = NULL;
    int rc = -EIO;

    *rgb = NULL;
    if (!rd->texture || !rd->have_image)
        return -EAGAIN;
    /* Draw the texture 1:1 into a target of the frame's size: this reads
     * back exactly what the texture holds, whatever the window size. */
    target = SDL_CreateTexture(rd->renderer, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_TARGET,
                               rd->tex_w, rd->tex_h);
    if (!target)
        goto out;
    buf = malloc((size_t)rd->tex_w * (size_t)rd->tex_h * 3);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    if (SDL_SetRenderTarget(rd->renderer, target) < 0)
        goto out;
    SDL_SetRenderDrawColor(rd->renderer, 0, 0, 0, 255);
    SDL_RenderClear(rd->renderer);
    if (SDL_RenderCopy(rd->renderer, rd->texture, NULL, NULL) == 0 &&
        SDL_RenderReadPixels(rd->renderer, NULL, SDL_PIXELFORMAT_RGB24, buf, rd->tex_w * 3) == 0)
        rc = 0;
    SDL_SetRenderTarget(rd->renderer, NULL);
out:
    if (target)
        SDL_DestroyTexture(target);
    if (rc == 0) {
        *rgb = buf;
        *w = rd->tex_w;
        *h = rd->tex_h;
    } else {
        free(buf);
    }
    return rc;
}
