/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the viewer's files: options, the pixel-format
 * table, key bindings, the SDL renderer wrapper, screenshots and the
 * frame loop.
 */
#ifndef FBUS_VIEWER_H
#define FBUS_VIEWER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <SDL.h>

#include "cli.h"
#include "framebus/framebus.h"

#define VIEWER_NAME        "framebus-viewer"
#define VIEWER_DEFAULT_BUS "framebus"
#ifndef VIEWER_VERSION
#define VIEWER_VERSION "unknown"
#endif

/* Exit statuses, the framebus command's (common/cli.h): 0 done, 1 runtime
 * error (a bad bus name included), 2 bad command line. */
enum {
    VIEWER_EXIT_OK = TOOL_EXIT_OK,
    VIEWER_EXIT_ERROR = TOOL_EXIT_ERROR,
    VIEWER_EXIT_USAGE = TOOL_EXIT_USAGE,
};

/* ------------------------------------------------------------- options */

struct viewer_opts {
    const char *bus;
    fbus_transport transport;
    fbus_policy policy;
    int fullscreen;
    int has_wm;        /* a window manager does fullscreen (always, but X11 without one) */
    int manual_fs;     /* fullscreen done by hand (no window manager) */
    SDL_Rect windowed; /* the window to go back to from manual fullscreen */
    int vsync;
    int headless;          /* forced by --headless or by a missing display */
    int headless_forced;   /* --headless was given */
    int overlay;           /* start with the stats overlay on */
    int same_user;         /* refuse buses of another user (--same-user) */
    int low_latency;       /* FBUS_READER_LOW_LATENCY (--low-latency) */
    uint64_t frames;       /* stop after this many shown frames; 0: never */
    double timeout;        /* give up when no producer is there this long; 0: at
                            * once (one look); < 0 (default): never */
    double stats_interval; /* seconds between stderr stats lines; 0: headless only */
    const char *screenshot_on_exit;
    const char *screenshot_dir;
};

/* viewer_parse_args() returns this when the viewer should run. */
#define VIEWER_RUN (-1)

/* Parse argv into o. Returns VIEWER_RUN, or the exit status to exit with:
 * 0 after --help or --version, VIEWER_EXIT_USAGE or VIEWER_EXIT_ERROR (bad
 * bus name) after printing one error line on stderr. */
int viewer_parse_args(int argc, char **argv, struct viewer_opts *o);
void viewer_print_help(FILE *f);
void viewer_print_version(FILE *f);

/* ------------------------------------------------------------ formats */

enum viewer_upload {
    VIEWER_UPLOAD_YUV,    /* three planes: SDL_UpdateYUVTexture */
    VIEWER_UPLOAD_NV,     /* luma + interleaved chroma: SDL_UpdateNVTexture */
    VIEWER_UPLOAD_PACKED, /* one plane: SDL_UpdateTexture */
    VIEWER_UPLOAD_CONVERT /* libswscale into a private buffer, then upload */
};

struct viewer_pixfmt {
    const char *name;    /* bus pixel-format name */
    uint32_t sdl_format; /* SDL_PIXELFORMAT_*; ARGB8888 for CONVERT */
    enum viewer_upload upload;
    int full_range; /* JPEG (full-range) YUV */
};

/* How a bus pixel format is displayed. Never NULL: formats SDL cannot take
 * directly get the CONVERT entry (whose name is NULL). */
const struct viewer_pixfmt *viewer_pixfmt_find(const char *name);
/* The CONVERT entry (libswscale to BGRA). */
const struct viewer_pixfmt *viewer_pixfmt_converted(void);

/* The SDL YUV conversion mode for a frame of YUV format pf, colour c and
 * height rows: c's matrix and range when known; unknown matrix: BT.601
 * up to 576 rows, BT.709 above; unknown range: full for yuvj*, else
 * limited. Returns 0, or -1 when SDL2 has no mode for it (full-range
 * BT.709, BT.2020...): such frames go through libswscale. */
int viewer_yuv_mode(const struct viewer_pixfmt *pf, const fbus_color *c, int height,
                    SDL_YUV_CONVERSION_MODE *mode);

/* ---------------------------------------------------------------- keys */

enum viewer_action {
    VIEWER_ACTION_NONE = 0,
    VIEWER_ACTION_QUIT,
    VIEWER_ACTION_FULLSCREEN,
    VIEWER_ACTION_PAUSE,
    VIEWER_ACTION_SCREENSHOT,
    VIEWER_ACTION_OVERLAY,
};

/* The action bound to a key press (SDL keycode and modifier state). */
enum viewer_action viewer_key_action(SDL_Keycode key, uint16_t mod);

/* The largest rectangle with the aspect ratio src_w:src_h centred in an
 * out_w x out_h area (letterbox or pillarbox). */
SDL_Rect viewer_letterbox(int out_w, int out_h, int src_w, int src_h);

/* The size a w x h frame of sample aspect ratio sar_num:sar_den shows at
 * (720x576 at 64:45 is 1024x576, i.e. 16:9): the wider side is stretched,
 * nothing shrunk. 0/0 (unknown), invalid or beyond 100:1 is taken as 1:1. */
void viewer_display_size(int w, int h, int32_t sar_num, int32_t sar_den, int *dw, int *dh);

/* ------------------------------------------------------------- convert */

struct viewer_convert;

/* Check a frame's plane table against what its pixel format needs at its
 * size (every byte SDL or libswscale will read): 0 or FBUS_EFORMAT. */
int viewer_frame_check(const fbus_format *fmt);

/* Convert a frame of a pixel format SDL cannot take into a private BGRA
 * buffer (one copy, the only one the viewer makes). Returns 0 and the
 * buffer and its stride (valid until the next call or free), or
 * FBUS_EFORMAT for a format libswscale does not know, or -ENOMEM. */
int viewer_convert_frame(struct viewer_convert **cv, const fbus_frame *f, const uint8_t **out,
                         int *out_stride);
void viewer_convert_free(struct viewer_convert *cv);

/* --------------------------------------------------------------- render */

struct viewer_render {
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    struct viewer_convert *convert;
    const struct viewer_pixfmt *pf;
    SDL_YUV_CONVERSION_MODE yuv_mode; /* the texture's, for YUV textures */
    char pix_fmt[FBUS_PIXFMT_MAX];
    int tex_w, tex_h;   /* the frame's size in pixels */
    int disp_w, disp_h; /* its size on screen at 1:1, pixel aspect applied */
    int have_image;     /* the texture holds a frame */
    int fullscreen;
    int has_wm;        /* a window manager does fullscreen (always, but X11 without one) */
    int manual_fs;     /* fullscreen done by hand (no window manager) */
    SDL_Rect windowed; /* the window to go back to from manual fullscreen */
    int sized;         /* the window was fitted to a frame (or by the user) */
    int headless;
    char renderer_name[32]; /* SDL's name: "software", "opengl"... */
    int show_overlay;
    char overlay[512]; /* the stats text drawn over the picture */
};

/* Open the window and renderer. On failure, writes a message to err. */
int viewer_render_open(struct viewer_render *rd, const struct viewer_opts *o, char *err,
                       size_t errlen);
void viewer_render_close(struct viewer_render *rd);
/* Upload a frame held by the reader into the texture, straight from the
 * shared mapping when SDL takes the format. Returns 0, FBUS_EFORMAT (not
 * displayable; the texture keeps its previous image), or -ENOMEM; err says
 * why. */
int viewer_render_upload(struct viewer_render *rd, const fbus_frame *f, char *err, size_t errlen);
/* Clear, draw the texture letterboxed and present. */
void viewer_render_draw(struct viewer_render *rd);
void viewer_render_toggle_fullscreen(struct viewer_render *rd);
void viewer_render_title(struct viewer_render *rd, const char *title);
/* Read the current frame back at its own size as packed RGB24 (malloc'd,
 * stride w * 3). Returns 0, -EAGAIN before the first frame, -ENOMEM or
 * -EIO. */
int viewer_render_read_frame(struct viewer_render *rd, uint8_t **rgb, int *w, int *h);

/* 1 if a window manager will honour a fullscreen request for window (on
 * X11: an EWMH window manager is running; elsewhere always), else 0. */
int viewer_window_manager(SDL_Window *window);

/* ------------------------------------------------------------- overlay */

/* The 5x7 bitmap of c (case-insensitive): 7 rows of 5 bits, most
 * significant bit leftmost; NULL if the font lacks it. */
const uint8_t *viewer_overlay_glyph(char c);
/* Draw text over the top-left corner, one ", "-separated item a line,
 * scaled for an output out_h pixels high. */
void viewer_overlay_draw(SDL_Renderer *r, const char *text, int out_h);

/* ---------------------------------------------------------- screenshot */

enum { VIEWER_SHOT_PNG, VIEWER_SHOT_BMP, VIEWER_SHOT_PPM };

/* The file format a screenshot name asks for by its extension (.png, .bmp,
 * .ppm, any case), or -EINVAL for any other name. */
int viewer_screenshot_kind(const char *path);

/* Check that the directory a screenshot goes to exists: path itself if
 * is_dir, else the directory part of path ("." if none). Copies that
 * directory's name to dir. Returns 0, -ENOTDIR or stat's negative errno. */
int viewer_screenshot_dir_check(const char *path, int is_dir, char *dir, size_t dirlen);

/* The name the s key saves to: DIR/framebus-BUS-YYYYMMDD-HHMMSS.mmm.png
 * (local time, milliseconds zero-padded). Returns 0 or -ENAMETOOLONG. */
int viewer_screenshot_name(char *buf, size_t len, const char *dir, const char *bus,
                           const struct timespec *now);

/* Write packed RGB24 pixels to path as PNG (libavcodec), BMP (24-bit) or
 * PPM (binary), as its extension says. Returns 0 or a negative errno:
 * -EINVAL for an unknown extension, -ENOENT when the directory does not
 * exist. */
int viewer_screenshot_write(const char *path, const uint8_t *rgb, int w, int h);

/* ---------------------------------------------------------------- loop */

/* Counters of one stats interval and of the whole run. */
struct viewer_stats {
    uint64_t shown;     /* frames presented */
    uint64_t skipped;   /* frames the producer published that we never saw */
    uint64_t overruns;  /* frames torn by the writer, not shown */
    int64_t latency_ns; /* sum of publish -> present */
    int64_t upload_ns;  /* sum of acquire + upload + release */
    int64_t since_ns;   /* start of the interval */
};

/* Format the window title / stats line. */
void viewer_stats_line(char *buf, size_t len, const char *bus, const char *status,
                       const fbus_format *fmt, const struct viewer_stats *st, int64_t now_ns);

extern volatile sig_atomic_t viewer_stop;

/* Run the viewer until quit, a signal or --frames. Returns the exit code. */
int viewer_run(const struct viewer_opts *o);

#endif /* FBUS_VIEWER_H */
